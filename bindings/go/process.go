package tether

/*
#include <stdlib.h>
#include "tether.h"
*/
import "C"

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// Process is a handle on one process: one this program started as a contained tree (Start),
// or any existing one (Get, GetIdentity). It names its process by identity, so that it never
// acts on a later process that reused the PID. Its methods may be called from any goroutine.
// Close it when done (a started tree is then killed, if anything of it is left).
type Process struct {
	pid      int
	identity Identity
	// One of the two: a started tree, or an existing process.
	child   *C.TetherChild
	proc    *C.TetherProcess
	started bool
	// For a started tree: the copying of Options.StdinFrom/StdoutTo/StderrTo (nil: none).
	streams *plumbing

	done     chan struct{}
	doneOnce sync.Once
	exit     *ExitStatus
	waitErr  error

	// Held (read) by every call on the C handles; free takes it to release them.
	use sync.RWMutex

	// For an existing process: the cancel token of its Done watcher, once one runs.
	mu      sync.Mutex
	watch   *C.TetherCancel
	closed  bool
	closing sync.WaitGroup
}

// StopReport is what Terminate did to the tree.
type StopReport struct {
	PID         int    `json:"pid"`
	Identity    string `json:"identity"`
	AlreadyGone bool   `json:"already_gone"`
	HeldBy      string `json:"held_by"`
	Signal      string `json:"signal"`
	KillSignal  string `json:"kill_signal"`
	Signalled   []int  `json:"signalled"`
	Survivors   []int  `json:"survivors"`
	Escalated   bool   `json:"escalated"`
	Remaining   []int  `json:"remaining"`
	GraceMS     uint64 `json:"grace_ms"`
	ElapsedMS   uint64 `json:"elapsed_ms"`
}

// Start starts a command as a contained tree and returns its handle. A background goroutine
// waits for the command (applying opts.Timeout); Done is closed when it has exited (and what
// it wrote to opts.StdoutTo and StderrTo has been copied there, see Options.WaitDelay). When
// opts.Context is done first, the whole tree is killed. Errors: ErrNotFound (no such
// program), ErrPermission (not executable), ErrInvalid (bad options).
func Start(opts Options) (*Process, error) {
	if opts.Stdout == StdioCapture || opts.Stderr == StdioCapture || opts.Stdin == StdioCapture {
		return nil, invalid("Start cannot capture a stream: use StdioInherit or StdioNull (RunWith captures)")
	}
	if ctx := opts.Context; ctx != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	pl, err := opts.plumb()
	if err != nil {
		return nil, err
	}
	doc, err := opts.query(pl)
	if err != nil {
		pl.closeAll()
		return nil, err
	}
	q, err := cString("command", doc)
	if err != nil {
		pl.closeAll()
		return nil, err
	}
	defer C.free(unsafe.Pointer(q))
	runtime.LockOSThread()
	var child *C.TetherChild
	if rc := C.tether_spawn(q, &child); rc != C.TETHER_OK {
		err := lastError(rc)
		runtime.UnlockOSThread()
		pl.closeAll()
		return nil, err
	}
	runtime.UnlockOSThread()
	// The library holds its copies of the streams: this program's are closed, so that the
	// pipes see end of file once the tree has let go of them.
	pl.release()
	pl.start()
	p := &Process{child: child, started: true, done: make(chan struct{}), streams: pl}
	var pid C.int64_t
	C.tether_child_pid(child, &pid)
	p.pid = int(pid)
	idText, err := callString(func(o **C.char) C.int32_t { return C.tether_child_identity(child, o) })
	if err == nil {
		p.identity, err = ParseIdentity(idText)
	}
	if err != nil {
		C.tether_child_free(child)
		pl.finish()
		return nil, err
	}
	p.closing.Add(1)
	go p.waitChild()
	if ctx := opts.Context; ctx != nil {
		stop := context.AfterFunc(ctx, func() { _, _ = p.Kill() })
		go func() {
			<-p.done
			stop()
		}()
	}
	runtime.SetFinalizer(p, (*Process).free)
	return p, nil
}

// waitChild waits for the started command to exit, as long as it takes (other calls on the
// handle interrupt the wait for their turn, in the library).
func (p *Process) waitChild() {
	defer p.closing.Done()
	out, err := callString(func(o **C.char) C.int32_t { return C.tether_child_wait(p.child, -1, nil, o) })
	if err == nil {
		var r struct {
			Exit *ExitStatus `json:"exit"`
		}
		err = decode(out, &r)
		p.exit = r.Exit
	}
	// The exit is reported once the output has been copied (at most WaitDelay more).
	if cerr := p.streams.finish(); err == nil {
		err = cerr
	}
	p.finish(err)
}

func (p *Process) finish(err error) {
	p.doneOnce.Do(func() {
		p.waitErr = err
		close(p.done)
	})
}

// Get returns a handle on the existing process pid (its identity taken now, on a pidfd).
// Errors: ErrNotFound (no such process, a thread id), ErrInvalid (PID 0, negative or out of
// range).
func Get(pid int) (*Process, error) {
	return open(strconv.Itoa(pid))
}

// GetIdentity returns a handle on the process id names: ErrReused once its PID belongs to
// another process, ErrNotFound once it has exited.
func GetIdentity(id Identity) (*Process, error) {
	return open(id.String())
}

// openProc opens a C process handle on target (a PID or an identity string).
func openProc(target string) (*C.TetherProcess, error) {
	t, err := cString("target", target)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(t))
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var proc *C.TetherProcess
	if rc := C.tether_process_open(t, &proc); rc != C.TETHER_OK {
		return nil, lastError(rc)
	}
	return proc, nil
}

func open(target string) (*Process, error) {
	proc, err := openProc(target)
	if err != nil {
		return nil, err
	}
	p := &Process{proc: proc, done: make(chan struct{})}
	var pid C.int64_t
	C.tether_process_pid(proc, &pid)
	p.pid = int(pid)
	idText, err := callString(func(o **C.char) C.int32_t { return C.tether_process_identity(proc, o) })
	if err == nil {
		p.identity, err = ParseIdentity(idText)
	}
	if err != nil {
		C.tether_process_free(proc)
		return nil, err
	}
	runtime.SetFinalizer(p, (*Process).free)
	return p, nil
}

// PID is the process's PID.
func (p *Process) PID() int { return p.pid }

// Identity is the process's identity, verified when the handle was made.
func (p *Process) Identity() Identity { return p.identity }

// ID is the identity string (PID:START_TICKS:BOOT8[:INODE]): a stable name for the process
// to store or hand to another program (GetIdentity and `tether` take it).
func (p *Process) ID() string { return p.identity.String() }

// Started is whether this program started the process (Start) and holds its tree.
func (p *Process) Started() bool { return p.started }

// usable is an error once the handle is closed. Call with p.use held.
func (p *Process) usable() error {
	if p.child == nil && p.proc == nil {
		return invalid(fmt.Sprintf("the handle of process %d is closed", p.pid))
	}
	return nil
}

// Done is closed once the process has exited. For an existing process (Get), the first call
// starts a watcher, which Close ends.
func (p *Process) Done() <-chan struct{} {
	if p.proc != nil {
		p.watchExisting()
	}
	return p.done
}

// watchExisting starts, once, a goroutine that waits for an existing process to exit.
func (p *Process) watchExisting() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.watch != nil || p.closed {
		return
	}
	p.watch = C.tether_cancel_new()
	p.closing.Add(1)
	go func() {
		defer p.closing.Done()
		exit, err := p.waitProc(-1, p.watch)
		if err == nil && exit == nil {
			err = &Error{Code: int(C.TETHER_E_TIMED_OUT), Kind: "timed_out", Message: "the wait ended without an exit"}
		}
		if e, ok := err.(*Error); ok && e.Code == int(C.TETHER_E_CANCELLED) {
			return
		}
		if err == nil {
			p.exit = exit.Exit
		}
		p.finish(err)
	}()
}

type procWait struct {
	Exited   bool        `json:"exited"`
	TimedOut bool        `json:"timed_out"`
	Exit     *ExitStatus `json:"exit"`
}

// waitProc waits for an existing process: nil, nil when the timeout passed.
func (p *Process) waitProc(timeoutMS int64, token *C.TetherCancel) (*procWait, error) {
	out, err := callString(func(o **C.char) C.int32_t {
		return C.tether_process_wait(p.proc, C.int64_t(timeoutMS), token, o)
	})
	if err != nil {
		return nil, err
	}
	var r procWait
	if err := decode(out, &r); err != nil {
		return nil, err
	}
	if !r.Exited {
		return nil, nil
	}
	return &r, nil
}

// Wait waits until the process exits and returns how it ended. The status is known for a
// started process (and for a child of this program); for another process it is nil with a
// nil error. For a start with Options.StdinFrom, StdoutTo or StderrTo, Wait returns once the
// copying has ended too (see Options.WaitDelay); an error of the caller's reader or writer is
// returned then, with the status.
func (p *Process) Wait() (*ExitStatus, error) {
	<-p.Done()
	return p.exit, p.waitErr
}

// WaitTimeout is Wait for at most d: an error matching ErrTimeout when d passed first.
func (p *Process) WaitTimeout(d time.Duration) (*ExitStatus, error) {
	select {
	case <-p.Done():
		return p.exit, p.waitErr
	case <-time.After(d):
		return nil, &Error{Code: int(C.TETHER_E_TIMED_OUT), Kind: "timed_out", Message: fmt.Sprintf("process %d still runs after %v", p.pid, d)}
	}
}

// Alive is whether the process still runs (an exited process that is not yet reaped is not
// alive).
func (p *Process) Alive() bool {
	p.use.RLock()
	defer p.use.RUnlock()
	if p.child != nil {
		select {
		case <-p.done:
			return false
		default:
			return true
		}
	}
	if p.proc == nil {
		return false
	}
	n, err := callInt(func(o *C.int32_t) C.int32_t { return C.tether_process_is_running(p.proc, o) })
	return err == nil && n == 1
}

// Signal sends sig: to every process of the tree for a started process, to the process itself
// otherwise (refused with ErrRefused for this program, its ancestors, PID 1; ErrNotFound once
// it has exited).
func (p *Process) Signal(sig syscall.Signal) error {
	p.use.RLock()
	defer p.use.RUnlock()
	if err := p.usable(); err != nil {
		return err
	}
	if p.child != nil {
		_, err := callSize(func(o *C.size_t) C.int32_t { return C.tether_child_signal(p.child, C.int32_t(sig), o) })
		return err
	}
	return call(func() C.int32_t { return C.tether_process_signal(p.proc, C.int32_t(sig)) })
}

// Terminate ends the process and its whole tree: SIGTERM to every member (the tree held still
// meanwhile), grace to exit, then SIGKILL to the survivors. A tree that is gone already is a
// success (AlreadyGone).
func (p *Process) Terminate(grace time.Duration) (*StopReport, error) {
	if grace < 0 {
		return nil, invalid(fmt.Sprintf("grace is negative (%v)", grace))
	}
	opts, err := jsonString(struct {
		Schema  string `json:"schema"`
		GraceMS int64  `json:"grace_ms"`
	}{"tether.stop-query/v1", grace.Milliseconds()})
	if err != nil {
		return nil, err
	}
	o := C.CString(opts)
	defer C.free(unsafe.Pointer(o))
	p.use.RLock()
	defer p.use.RUnlock()
	if err := p.usable(); err != nil {
		return nil, err
	}
	out, err := callString(func(out **C.char) C.int32_t {
		if p.child != nil {
			return C.tether_child_stop(p.child, o, out)
		}
		return C.tether_process_terminate_tree(p.proc, o, out)
	})
	if err != nil {
		return nil, err
	}
	var r StopReport
	return &r, decode(out, &r)
}

// Kill kills a started tree at once with SIGKILL and waits (up to 5 s) until it is gone;
// it returns how many processes were still alive. For an existing process it is
// Terminate(0).
func (p *Process) Kill() (int, error) {
	if !p.Started() {
		r, err := p.Terminate(0)
		if err != nil {
			return 0, err
		}
		return len(r.Signalled), nil
	}
	p.use.RLock()
	defer p.use.RUnlock()
	if err := p.usable(); err != nil {
		return 0, err
	}
	return callSize(func(o *C.size_t) C.int32_t { return C.tether_child_kill_tree(p.child, o) })
}

// Info reads the process's record (every field but the environment, or fields), by its
// identity: ErrNotFound once it has exited, ErrReused once its PID names another process.
func (p *Process) Info(fields ...string) (*Info, error) {
	return InspectIdentity(p.identity, fields...)
}

// Children returns handles on the process's children, or on all its descendants (breadth
// first) when recursive. Close them when done.
func (p *Process) Children(recursive bool) ([]*Process, error) {
	p.use.RLock()
	defer p.use.RUnlock()
	proc := p.proc
	if proc == nil {
		var err error
		if proc, err = openProc(p.identity.String()); err != nil {
			return nil, err
		}
		defer C.tether_process_free(proc)
	}
	rec := C.int32_t(0)
	if recursive {
		rec = 1
	}
	out, err := callString(func(o **C.char) C.int32_t { return C.tether_process_children(proc, rec, o) })
	if err != nil {
		return nil, err
	}
	var r struct {
		Processes []struct {
			Identity string `json:"identity"`
		} `json:"processes"`
	}
	if err := decode(out, &r); err != nil {
		return nil, err
	}
	var list []*Process
	for _, c := range r.Processes {
		h, err := open(c.Identity)
		if err != nil {
			continue // exited since it was listed
		}
		list = append(list, h)
	}
	return list, nil
}

// Close releases the handle. A started tree is killed (whatever of it is left) and its
// watcher ends; an existing process is left as it is. Safe to call more than once.
func (p *Process) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	watch := p.watch
	p.mu.Unlock()
	var err error
	if p.started {
		_, err = p.Kill()
	}
	if watch != nil {
		C.tether_cancel_trigger(watch)
	}
	p.closing.Wait()
	p.free()
	runtime.SetFinalizer(p, nil)
	return err
}

// free releases the C handles; nothing may use them any more.
func (p *Process) free() {
	p.use.Lock()
	defer p.use.Unlock()
	if p.child != nil {
		C.tether_child_free(p.child)
		p.child = nil
	}
	if p.proc != nil {
		C.tether_process_free(p.proc)
		p.proc = nil
	}
	if p.watch != nil {
		C.tether_cancel_free(p.watch)
		p.watch = nil
	}
}
