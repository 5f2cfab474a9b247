package tether

/*
#include <stdlib.h>
#include "tether.h"
*/
import "C"

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"runtime"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// Containment says how a started tree is held, so that all of it can be found and ended.
type Containment string

const (
	// ContainAuto (the default): a cgroup v2 leaf where possible, else a new session whose
	// parent is a subreaper watchdog.
	ContainAuto Containment = "auto"
	// ContainCgroup: a cgroup v2 leaf, or an error.
	ContainCgroup Containment = "cgroup"
	// ContainGroup: a new session under a subreaper watchdog, even where a cgroup is possible.
	ContainGroup Containment = "group"
	// ContainNone: no containment (GNU timeout --foreground): the tree is the command alone.
	ContainNone Containment = "none"
)

// Stdio says where a standard stream of the command goes.
type Stdio string

const (
	// StdioDefault: inherited for Start; for a run, stdin is /dev/null and stdout and stderr
	// are captured.
	StdioDefault Stdio = ""
	// StdioInherit: this process's own stream.
	StdioInherit Stdio = "inherit"
	// StdioNull: /dev/null.
	StdioNull Stdio = "null"
	// StdioCapture: captured into the Result (stdout and stderr of a run only).
	StdioCapture Stdio = "capture"
)

// Options describe a command to start as a contained tree (Start) or to run to the end
// (RunWith).
type Options struct {
	// Name is the program, looked up in PATH unless it has a '/'.
	Name string
	// Args are its arguments (without the program).
	Args []string
	// Dir is the working directory (empty: this process's).
	Dir string
	// Env is the environment as KEY=VALUE entries; nil inherits this process's, as os/exec.
	Env []string
	// Contain is the containment to ask for (empty: ContainAuto).
	Contain Containment
	// Stdin, Stdout and Stderr say where the streams go, unless StdinFrom, StdoutTo or
	// StderrTo is set.
	Stdin, Stdout, Stderr Stdio
	// StdinFrom, StdoutTo and StderrTo connect a stream to this program, as exec.Cmd's Stdin,
	// Stdout and Stderr do (for Start and RunWith; a stream set here must have its Stdio
	// field left at StdioDefault, or the call fails with ErrInvalid). An *os.File gives the
	// command its descriptor directly (a copy: the file stays the caller's; like exec.Cmd,
	// it is put in blocking mode); a closed or nil one is ErrInvalid. Any other reader or
	// writer is connected through a pipe and a goroutine that copies, which Wait (and Done)
	// and RunWith wait for: the command's exit is reported once its output has been written
	// to the writer, and stdin is closed when the reader is exhausted. When StdoutTo and
	// StderrTo are the same writer (==), both streams share one pipe and one goroutine, so
	// its Write is never called concurrently (as exec.Cmd). With RunWith, a stream sent here
	// is not captured; the others still are.
	StdinFrom io.Reader
	StdoutTo  io.Writer
	StderrTo  io.Writer
	// WaitDelay bounds how long, after the command has exited, the copying for StdinFrom,
	// StdoutTo and StderrTo may go on (0: DefaultWaitDelay, 1 s). End of file comes at once
	// unless something the command left running (a background grandchild of a Start) still
	// holds a pipe; when WaitDelay passes, the pipes are closed, what such a process writes
	// later is lost (it gets EPIPE), and the exit is reported without error (exec.Cmd's
	// WaitDelay, but never unbounded). A copy blocked in the caller's own Read or Write is not
	// waited for beyond that. An error of the caller's reader or writer is returned by Wait
	// (with the exit status) or RunWith (with the Result).
	WaitDelay time.Duration
	// Timeout is GNU timeout's time limit (0: none): when it passes, TimeoutSignal (default
	// SIGTERM) goes to the whole tree, and SIGKILL KillAfter later (0: never) if the command
	// still runs. A run then reports TimedOut and exit code 124.
	Timeout, KillAfter time.Duration
	// TimeoutSignal is sent when Timeout passes (0: SIGTERM).
	TimeoutSignal syscall.Signal
	// CaptureLimit is how many bytes of stdout and of stderr a run keeps, each: the last
	// ones (0: 1 MiB). What is dropped is counted in the Result.
	CaptureLimit int
	// Context, for Start: when it is done, the whole tree is killed (SIGKILL), as
	// exec.CommandContext kills its process. Nil: never. RunWith takes its own context.
	Context context.Context
}

// commandQuery is a tether.command-query/v1 document (Schema empty: the command object of
// another query, such as tether.retry-query/v1).
type commandQuery struct {
	Schema   string            `json:"schema,omitempty"`
	Argv     []string          `json:"argv"`
	Cwd      string            `json:"cwd,omitempty"`
	EnvClear bool              `json:"env_clear"`
	Env      map[string]string `json:"env,omitempty"`
	// A Stdio, or {"fd": N} for a descriptor of this program (nil: the default).
	Stdin         any         `json:"stdin,omitempty"`
	Stdout        any         `json:"stdout,omitempty"`
	Stderr        any         `json:"stderr,omitempty"`
	Contain       Containment `json:"contain,omitempty"`
	TimeoutMS     *uint64     `json:"timeout_ms,omitempty"`
	TimeoutSignal string      `json:"timeout_signal,omitempty"`
	KillAfterMS   *uint64     `json:"kill_after_ms,omitempty"`
	CaptureLimit  *uint64     `json:"capture_limit,omitempty"`
}

// query is Options as a tether.command-query/v1 document, with the streams of p (may be
// nil).
func (o *Options) query(p *plumbing) (string, error) {
	q, err := o.command()
	if err != nil {
		return "", err
	}
	q.Schema = "tether.command-query/v1"
	p.query(q)
	return jsonString(q)
}

// stdioJSON is s in a query (nil: the default).
func stdioJSON(s Stdio) any {
	if s == StdioDefault {
		return nil
	}
	return s
}

// command is Options as a command query.
func (o *Options) command() (*commandQuery, error) {
	if o.Name == "" {
		return nil, invalid("Options.Name is empty: name a program")
	}
	q := &commandQuery{Argv: append([]string{o.Name}, o.Args...), Cwd: o.Dir,
		Stdin: stdioJSON(o.Stdin), Stdout: stdioJSON(o.Stdout), Stderr: stdioJSON(o.Stderr),
		Contain: o.Contain}
	if o.Env != nil {
		q.EnvClear = true
		q.Env = make(map[string]string, len(o.Env))
		for _, kv := range o.Env {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, invalid(fmt.Sprintf("Env entry %q is not KEY=VALUE", kv))
			}
			q.Env[k] = v
		}
	}
	var err error
	if q.TimeoutMS, err = millis("Timeout", o.Timeout); err != nil {
		return nil, err
	}
	if q.KillAfterMS, err = millis("KillAfter", o.KillAfter); err != nil {
		return nil, err
	}
	if o.TimeoutSignal != 0 {
		q.TimeoutSignal = fmt.Sprint(int(o.TimeoutSignal))
	}
	if o.CaptureLimit < 0 {
		return nil, invalid(fmt.Sprintf("CaptureLimit is negative (%d)", o.CaptureLimit))
	}
	if o.CaptureLimit > 0 {
		n := uint64(o.CaptureLimit)
		q.CaptureLimit = &n
	}
	return q, nil
}

// ExitStatus is how a process ended: its exit code, or the signal that killed it.
type ExitStatus struct {
	Code       *int `json:"code"`
	Signal     *int `json:"signal"`
	CoreDumped bool `json:"core_dumped"`
}

// ExitCode is the code a shell shows: the exit code, or 128 + the signal.
func (e *ExitStatus) ExitCode() int {
	switch {
	case e == nil:
		return -1
	case e.Code != nil:
		return *e.Code
	case e.Signal != nil:
		return 128 + *e.Signal
	}
	return 0
}

// Success is whether it exited with code 0.
func (e *ExitStatus) Success() bool { return e != nil && e.Code != nil && *e.Code == 0 }

// Result is what a run did, with its captured output.
type Result struct {
	// Command is the command line.
	Command []string
	// PID and Identity of the command.
	PID      int
	Identity string
	// ExitCode is GNU timeout's: the command's code, 128+N for a death by signal N, 124 when
	// Timeout passed, 137 when SIGKILL had to be sent to the tree.
	ExitCode int
	// Exit is how the command ended (nil when its status is unknown).
	Exit *ExitStatus
	// TimedOut: Options.Timeout passed.
	TimedOut bool
	// Stdout and Stderr are the last CaptureLimit bytes of each (nil when not captured).
	Stdout, Stderr []byte
	// StdoutDropped and StderrDropped count the bytes dropped before them.
	StdoutDropped, StderrDropped uint64
	// LeftoversKilled are the processes the command left running, ended when it exited.
	LeftoversKilled []int
	// Elapsed is the wall time of the run.
	Elapsed time.Duration
}

// Run runs name with args to the end as a contained tree, capturing stdout and stderr (the
// last 1 MiB of each), and returns how it ended. A command that ran returns a nil error
// whatever its exit code (see Result.ExitCode). It could not start: the Result (exit code
// 127 or 126) with an error matching ErrNotFound or ErrPermission. When ctx is done first,
// the whole tree is killed and the error is ctx.Err().
func Run(ctx context.Context, name string, args ...string) (*Result, error) {
	return RunWith(ctx, Options{Name: name, Args: args})
}

// RunIn is Run in the working directory dir.
func RunIn(ctx context.Context, dir, name string, args ...string) (*Result, error) {
	return RunWith(ctx, Options{Name: name, Args: args, Dir: dir})
}

// RunWith is Run with every option (opts.Context is not used: ctx is). With StdoutTo or
// StderrTo, that stream goes to the writer instead of the Result; an error writing to it is
// returned with the Result.
func RunWith(ctx context.Context, opts Options) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
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
	pl.start()
	out, err := cancellable(ctx, func(token *C.TetherCancel, o **C.char) C.int32_t { return C.tether_run(q, token, o) })
	// The run is over and its tree ended: the pipes see end of file once this program's
	// copies of the command's ends are closed.
	pl.release()
	copyErr := pl.finish()
	if err != nil {
		if e, ok := err.(*Error); ok && e.Code == int(C.TETHER_E_CANCELLED) && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	var r struct {
		Command         []string    `json:"command"`
		PID             *int        `json:"pid"`
		TimedOut        bool        `json:"timed_out"`
		ChildExit       *ExitStatus `json:"child_exit"`
		LeftoversKilled []int       `json:"leftovers_killed"`
		ExitCode        int         `json:"exit_code"`
		Error           *string     `json:"error"`
		ElapsedMS       uint64      `json:"elapsed_ms"`
		Stdout          string      `json:"stdout"`
		Stderr          string      `json:"stderr"`
		StdoutDropped   uint64      `json:"stdout_dropped"`
		StderrDropped   uint64      `json:"stderr_dropped"`
	}
	if err := decode(out, &r); err != nil {
		return nil, err
	}
	res := &Result{Command: r.Command, ExitCode: r.ExitCode, Exit: r.ChildExit,
		TimedOut: r.TimedOut, StdoutDropped: r.StdoutDropped, StderrDropped: r.StderrDropped,
		LeftoversKilled: r.LeftoversKilled, Elapsed: time.Duration(r.ElapsedMS) * time.Millisecond}
	for _, s := range []struct {
		b64 string
		to  *[]byte
	}{{r.Stdout, &res.Stdout}, {r.Stderr, &res.Stderr}} {
		if s.b64 == "" {
			continue
		}
		if *s.to, err = base64.StdEncoding.DecodeString(s.b64); err != nil {
			return nil, &Error{Code: int(C.TETHER_E_INTERNAL), Kind: "system", Message: fmt.Sprintf("reading the captured output: %v", err)}
		}
	}
	if r.PID == nil {
		// Not started: 127 not found, 126 not executable, 125 anything else.
		msg := "the command could not be started"
		if r.Error != nil {
			msg = *r.Error
		}
		code := int(C.TETHER_E_SYSTEM)
		switch r.ExitCode {
		case 127:
			code = int(C.TETHER_E_NOT_FOUND)
		case 126:
			code = int(C.TETHER_E_PERMISSION_DENIED)
		}
		return res, &Error{Code: code, Kind: kindOf(code), Message: msg}
	}
	res.PID = *r.PID
	return res, copyErr
}

// kindOf is the library's name of a code's kind.
func kindOf(code int) string {
	switch code {
	case int(C.TETHER_E_NOT_FOUND):
		return "not_found"
	case int(C.TETHER_E_PERMISSION_DENIED):
		return "permission_denied"
	}
	return "system"
}

// callSize runs a C function that gives a size_t through an out-pointer.
func callSize(f func(out *C.size_t) C.int32_t) (int, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var out C.size_t
	if rc := f(&out); rc != C.TETHER_OK {
		return 0, lastError(rc)
	}
	return int(out), nil
}

// call runs a C function that gives nothing but its code.
func call(f func() C.int32_t) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if rc := f(); rc != C.TETHER_OK {
		return lastError(rc)
	}
	return nil
}
