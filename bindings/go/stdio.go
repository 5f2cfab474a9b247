package tether

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// DefaultWaitDelay is the Options.WaitDelay used when it is zero: how long, after the command
// has exited, its output may still take to reach StdoutTo and StderrTo.
const DefaultWaitDelay = time.Second

// plumbing connects the streams of one start or run to Options.StdinFrom, StdoutTo and
// StderrTo. An *os.File gives its descriptor directly; any other reader or writer gets a pipe,
// whose other end is copied from or to it by a goroutine, as exec.Cmd does. The library
// duplicates every descriptor it is given ({"fd": N} in the query), so the pipe ends meant for
// the command are closed here as soon as the C call has returned.
type plumbing struct {
	// The descriptor given to the command for stdin, stdout, stderr (-1: none).
	fd [3]int
	// The caller's own files, kept alive (their descriptors open) through the C call.
	keep []*os.File
	// The command's ends of the pipes, closed once the library holds its copies.
	child []*os.File
	// This program's ends of the pipes, closed when the copies end or WaitDelay passes.
	parent []*os.File
	copies []func() error

	delay time.Duration
	done  chan struct{}
	mu    sync.Mutex
	err   error
}

// plumb validates the streams of o and makes the pipes they need (nil: none is set).
func (o *Options) plumb() (p *plumbing, err error) {
	if o.StdinFrom == nil && o.StdoutTo == nil && o.StderrTo == nil {
		return nil, nil
	}
	if o.WaitDelay < 0 {
		return nil, invalid(fmt.Sprintf("Options.WaitDelay is negative (%v)", o.WaitDelay))
	}
	p = &plumbing{fd: [3]int{-1, -1, -1}, delay: o.WaitDelay, done: make(chan struct{})}
	if p.delay == 0 {
		p.delay = DefaultWaitDelay
	}
	defer func() {
		if err != nil {
			p.closeAll()
		}
	}()
	streams := []struct {
		name, field string
		stdio       Stdio
		set         bool
		reader      io.Reader
		writer      io.Writer
	}{
		{"StdinFrom", "Stdin", o.Stdin, o.StdinFrom != nil, o.StdinFrom, nil},
		{"StdoutTo", "Stdout", o.Stdout, o.StdoutTo != nil, nil, o.StdoutTo},
		{"StderrTo", "Stderr", o.Stderr, o.StderrTo != nil, nil, o.StderrTo},
	}
	for i, s := range streams {
		if !s.set {
			continue
		}
		if s.stdio != StdioDefault {
			return nil, invalid(fmt.Sprintf("Options.%s (%q) and Options.%s are both set: use one", s.field, s.stdio, s.name))
		}
		if i == 2 && p.fd[1] >= 0 && sameWriter(o.StderrTo, o.StdoutTo) {
			// One writer for both, as exec.Cmd: one descriptor, one copy, so that Write is
			// never called from two goroutines at once.
			p.fd[2] = p.fd[1]
			continue
		}
		f, isFile := s.reader.(*os.File)
		if w, ok := s.writer.(*os.File); ok {
			f, isFile = w, true
		}
		if isFile {
			if f == nil {
				return nil, invalid(fmt.Sprintf("Options.%s is a nil *os.File", s.name))
			}
			// Fd, as exec.Cmd uses it: the file is put in blocking mode, as the command
			// expects its streams to be.
			fd := f.Fd()
			if fd == ^uintptr(0) {
				return nil, invalid(fmt.Sprintf("Options.%s is a closed file (%s)", s.name, f.Name()))
			}
			p.fd[i] = int(fd)
			p.keep = append(p.keep, f)
			continue
		}
		r, w, err := os.Pipe()
		if err != nil {
			return nil, systemErr(fmt.Sprintf("a pipe for Options.%s: %v", s.name, err))
		}
		if i == 0 {
			p.addPipe(r, w, func() error { return copyIn(w, s.reader) })
		} else {
			p.addPipe(w, r, func() error { return copyOut(s.writer, r, s.name) })
		}
		// Blocking, as the command expects its streams to be (Fd does that).
		p.fd[i] = int(p.child[len(p.child)-1].Fd())
	}
	return p, nil
}

// sameWriter is whether a and b are the same writer (false for writers that cannot be
// compared).
func sameWriter(a, b io.Writer) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}

func (p *plumbing) addPipe(child, parent *os.File, copy func() error) {
	p.child = append(p.child, child)
	p.parent = append(p.parent, parent)
	p.copies = append(p.copies, copy)
}

// copyIn copies the caller's reader into the command's stdin and closes it, so the command
// sees end of file. The command closing its stdin first (EPIPE) is not an error, as for
// exec.Cmd; nor is the pipe closed here once WaitDelay passed.
func copyIn(w *os.File, r io.Reader) error {
	_, err := io.Copy(w, r)
	if cerr := w.Close(); err == nil && !errors.Is(cerr, os.ErrClosed) {
		err = cerr
	}
	if errors.Is(err, syscall.EPIPE) || errors.Is(err, os.ErrClosed) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("copying Options.StdinFrom to the command: %w", err)
	}
	return nil
}

// copyOut copies a stream of the command to the caller's writer, until end of file (or the
// pipe closed here once WaitDelay passed).
func copyOut(w io.Writer, r *os.File, name string) error {
	_, err := io.Copy(w, r)
	if err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("copying to Options.%s: %w", name, err)
	}
	return nil
}

// query sets the streams' descriptors in q.
func (p *plumbing) query(q *commandQuery) {
	if p == nil {
		return
	}
	for i, to := range []*any{&q.Stdin, &q.Stdout, &q.Stderr} {
		if p.fd[i] >= 0 {
			*to = map[string]int{"fd": p.fd[i]}
		}
	}
}

// start starts the copies.
func (p *plumbing) start() {
	if p == nil {
		return
	}
	var wg sync.WaitGroup
	for _, c := range p.copies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c(); err != nil {
				p.mu.Lock()
				if p.err == nil {
					p.err = err
				}
				p.mu.Unlock()
			}
		}()
	}
	go func() {
		wg.Wait()
		close(p.done)
	}()
}

// release closes the command's ends, once the C call that took its copies has returned, and
// lets the caller's files go.
func (p *plumbing) release() {
	if p == nil {
		return
	}
	for _, f := range p.child {
		f.Close()
	}
	p.child = nil
	runtime.KeepAlive(p.keep)
	p.keep = nil
}

// finish waits, once the command has exited, for the copies to end, at most WaitDelay: end of
// file comes at once unless something the command started still holds a pipe. Then this
// program's ends are closed (a copy blocked on a pipe ends; one blocked in the caller's own
// Read or Write ends when that call returns). The first copy error is returned (nil when
// WaitDelay passed first).
func (p *plumbing) finish() error {
	if p == nil {
		return nil
	}
	t := time.NewTimer(p.delay)
	defer t.Stop()
	drained := false
	select {
	case <-p.done:
		drained = true
	case <-t.C:
	}
	for _, f := range p.parent {
		f.Close()
	}
	if !drained {
		// Closed pipes end the copies at once, unless one is inside the caller's Read or Write.
		select {
		case <-p.done:
		case <-time.After(100 * time.Millisecond):
		}
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// closeAll closes every descriptor made here, when the command could not be given them.
func (p *plumbing) closeAll() {
	if p == nil {
		return
	}
	p.release()
	for _, f := range p.parent {
		f.Close()
	}
}
