package tether

/*
#include <stdint.h>
#include <stdlib.h>
#include "tether.h"

// Exported in callbacks.go (a file with //export may only declare in its preamble, so the C
// that calls it is here).
extern int32_t tetherFollowData(uintptr_t handle, uint8_t *data, size_t len);

// followData is tether_job_logs_follow's on_data: ctx is a runtime/cgo.Handle.
static int32_t followData(void *ctx, const uint8_t *data, size_t len) {
	return tetherFollowData((uintptr_t)ctx, (uint8_t *)data, len);
}

// jobLogsFollow follows with followData; the handle goes as an integer, as no Go pointer
// may be kept by C.
static int32_t jobLogsFollow(const char *state_dir, const char *name, const char *stream,
                             int64_t lines, uintptr_t handle, const TetherCancel *cancel) {
	return tether_job_logs_follow(state_dir, name, stream, lines, followData, (void *)handle,
	                              cancel);
}
*/
import "C"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/cgo"
	"time"
	"unsafe"
)

// Jobs are daemonless background jobs (`tether start`, `status`, `list`, `logs`, `stop`,
// `restart`, `rm`): each job runs under a small supervisor, the tether program
// (`tether __job-supervisor`), detached in its own session, which runs the command
// contained, writes its stdout and stderr to size-bounded logs, restarts it as its spec says,
// keeps its status current in the state directory, and outlives this process.
//
// The zero value uses the default state directory and program.
type Jobs struct {
	// StateDir is the state directory (empty: $TETHER_STATE_DIR, else $XDG_STATE_HOME/tether,
	// else ~/.local/state/tether). It is created 0700; one that is a symbolic link or another
	// user's is refused (ErrRefused).
	StateDir string
	// Program is the tether program that supervises the jobs Start and Restart start (empty:
	// $TETHER_BIN, else tether in PATH; none found is ErrNotFound).
	Program string
}

// RestartPolicy says when a job's command is started again after it exits.
type RestartPolicy string

const (
	// RestartNo (the default): never.
	RestartNo RestartPolicy = "no"
	// RestartOnFailure: after a non-zero exit or a death by signal.
	RestartOnFailure RestartPolicy = "on-failure"
	// RestartAlways: after every exit.
	RestartAlways RestartPolicy = "always"
)

// JobState is where a job is in its life.
type JobState string

const (
	JobPending JobState = "pending" // the supervisor runs, the command has not started yet
	JobRunning JobState = "running" // the command runs
	JobExited  JobState = "exited"  // it exited with code 0 and will not be started again
	JobFailed  JobState = "failed"  // it exited non-zero (or never started or became ready)
	JobKilled  JobState = "killed"  // a signal killed it, or its supervisor was lost
	JobBackoff JobState = "backoff" // it exited and will be started again after a delay
	JobStopped JobState = "stopped" // stopped on request
)

// DefaultGrace is the time a stopped job's tree gets between SIGTERM and SIGKILL when a
// negative grace is given (as `tether stop`).
const DefaultGrace = 10 * time.Second

// JobSpec is a job to start: its name and command, and what differs from the defaults (the
// zero value of a field means its default).
type JobSpec struct {
	// Name: letters, digits, '.', '_', '-', starting with a letter or '_'.
	Name string
	// Command is the program and its arguments (at least the program).
	Command []string
	// Dir is the working directory (empty: this process's).
	Dir string
	// Env sets variables on top of this process's environment (kept in the job's spec file,
	// mode 0600, for Restart).
	Env map[string]string
	// Restart is the restart policy (empty: RestartNo).
	Restart RestartPolicy
	// MaxRestarts: give up after this many restarts (0: never give up).
	MaxRestarts int
	// BackoffMin and BackoffMax bound the restart delay, which doubles from the first to the
	// second (0: 100ms and 30s).
	BackoffMin, BackoffMax time.Duration
	// MinUptime: a run this long resets the delay (0: 1s).
	MinUptime time.Duration
	// LogMaxSize rotates a log past this many bytes (0: 10 MiB); LogKeep rotated files are
	// kept per log (0: 3).
	LogMaxSize int64
	LogKeep    int
	// Ready are readiness targets (as WaitFor takes them) that must be ready before Start
	// returns.
	Ready []string
	// Requires are jobs that must be running and ready before the command starts.
	Requires []string
	// Timeout is how long Start waits for Requires and Ready (0: 30s, or the context's
	// deadline when nearer).
	Timeout time.Duration
	// PIDFile is a tether PID file written for each run of the command.
	PIDFile string
}

// JobSupervisor is the supervisor process of a job.
type JobSupervisor struct {
	PID      int    `json:"pid"`
	Identity string `json:"identity"`
}

// JobRun is one run of a job's command, as its history keeps it.
type JobRun struct {
	PID       int
	StartedAt time.Time
	EndedAt   time.Time // zero while it runs
	ExitCode  *int      // nil unless it exited
	Signal    string    // the signal that killed it (e.g. "SIGKILL"), if one did
}

// JobStatus is a job's status (the job of a tether.job/v1 report), and what the call did.
type JobStatus struct {
	Name string
	// ID is this start's unique id (new at each Start, kept across restarts).
	ID     string
	Status JobState
	// PID and Identity are the command's (of the current run, or the last one; 0 and "" when
	// none).
	PID      int
	Identity string
	// ExitCode is the last run's exit code (nil unless it exited); Signal the signal that
	// killed it (e.g. "SIGTERM"), if one did.
	ExitCode *int
	Signal   string
	// StartedAt is when the current (or last) run started (zero when none).
	StartedAt time.Time
	// Duration is how long the current run has been running, or the last one ran.
	Duration time.Duration
	// Restarts counts the times the command was started again.
	Restarts int
	// LastExitReason says why the last run ended (also why the job gave up or did not start).
	LastExitReason string
	// Ready: the readiness targets were met (true at once when there are none).
	Ready bool
	// NextStartAt is when the next start is due, in JobBackoff (zero otherwise).
	NextStartAt time.Time
	// Supervisor is the job's supervisor (nil when none).
	Supervisor *JobSupervisor
	// SupervisorLost: the supervisor was killed while the job was active; its watchdog ended
	// the command, and the status says JobKilled.
	SupervisorLost bool
	Command        []string
	Restart        RestartPolicy
	// UpdatedAt is when the status was last written.
	UpdatedAt time.Time
	// History holds the latest runs, oldest first (at most 20).
	History []JobRun
	// AlreadyRunning (Start, Restart): the job was running already; nothing was started.
	AlreadyRunning bool
	// AlreadyStopped (Stop): the job was not running; nothing was signalled.
	AlreadyStopped bool
	// Removed (Remove): its directory (spec, status, logs) was removed.
	Removed bool
}

// jobJSON is a job's status as tether.job/v1 and tether.jobs/v1 have it.
type jobJSON struct {
	Name           string         `json:"name"`
	ID             string         `json:"id"`
	Status         JobState       `json:"status"`
	PID            *int           `json:"pid"`
	Identity       *string        `json:"identity"`
	ExitCode       *int           `json:"exitCode"`
	Signal         *string        `json:"signal"`
	StartedAt      *string        `json:"startedAt"`
	Duration       *string        `json:"duration"`
	Restarts       int            `json:"restarts"`
	LastExitReason *string        `json:"lastExitReason"`
	Ready          bool           `json:"ready"`
	NextStartAt    *string        `json:"nextStartAt"`
	Supervisor     *JobSupervisor `json:"supervisor"`
	SupervisorLost bool           `json:"supervisorLost"`
	Command        []string       `json:"command"`
	Restart        RestartPolicy  `json:"restart"`
	UpdatedAt      string         `json:"updatedAt"`
	History        []struct {
		PID       int     `json:"pid"`
		StartedAt string  `json:"startedAt"`
		EndedAt   *string `json:"endedAt"`
		ExitCode  *int    `json:"exitCode"`
		Signal    *string `json:"signal"`
	} `json:"history"`
}

// status converts the report's job.
func (j *jobJSON) status() (JobStatus, error) {
	s := JobStatus{Name: j.Name, ID: j.ID, Status: j.Status, ExitCode: j.ExitCode,
		Restarts: j.Restarts, Ready: j.Ready, Supervisor: j.Supervisor,
		SupervisorLost: j.SupervisorLost, Command: j.Command, Restart: j.Restart,
		PID: deref(j.PID), Identity: deref(j.Identity), Signal: deref(j.Signal),
		LastExitReason: deref(j.LastExitReason)}
	var err error
	for _, t := range []struct {
		from *string
		to   *time.Time
	}{{j.StartedAt, &s.StartedAt}, {j.NextStartAt, &s.NextStartAt}, {&j.UpdatedAt, &s.UpdatedAt}} {
		if *t.to, err = timestamp(t.from); err != nil {
			return s, err
		}
	}
	if j.Duration != nil {
		if s.Duration, err = time.ParseDuration(*j.Duration); err != nil {
			return s, internal(fmt.Sprintf("reading the job's duration: %v", err))
		}
	}
	for _, h := range j.History {
		r := JobRun{PID: h.PID, ExitCode: h.ExitCode, Signal: deref(h.Signal)}
		if r.StartedAt, err = timestamp(&h.StartedAt); err != nil {
			return s, err
		}
		if r.EndedAt, err = timestamp(h.EndedAt); err != nil {
			return s, err
		}
		s.History = append(s.History, r)
	}
	return s, nil
}

// deref is *p, or the zero value for nil.
func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// timestamp reads an RFC 3339 time (nil or empty: the zero time).
func timestamp(s *string) (time.Time, error) {
	if s == nil || *s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		return t, internal(fmt.Sprintf("reading a job's time: %v", err))
	}
	return t, nil
}

// internal is an ErrInternal error: a report the package cannot read.
func internal(message string) error {
	return &Error{Code: int(C.TETHER_E_INTERNAL), Kind: "system", Message: message}
}

// jobReport decodes a tether.job/v1 document.
func jobReport(doc string) (JobStatus, error) {
	var r struct {
		Job            jobJSON `json:"job"`
		AlreadyRunning bool    `json:"already_running"`
		AlreadyStopped bool    `json:"already_stopped"`
		Removed        bool    `json:"removed"`
	}
	if err := decode(doc, &r); err != nil {
		return JobStatus{}, err
	}
	s, err := r.Job.status()
	s.AlreadyRunning, s.AlreadyStopped, s.Removed = r.AlreadyRunning, r.AlreadyStopped, r.Removed
	return s, err
}

// cStrings converts strings for C (empty: NULL) and returns the function that frees them.
func cStrings(ss ...struct{ what, s string }) ([]*C.char, func(), error) {
	out := make([]*C.char, len(ss))
	free := func() {
		for _, p := range out {
			if p != nil {
				C.free(unsafe.Pointer(p))
			}
		}
	}
	for i, s := range ss {
		if s.s == "" {
			continue
		}
		p, err := cString(s.what, s.s)
		if err != nil {
			free()
			return nil, nil, err
		}
		out[i] = p
	}
	return out, free, nil
}

// arg is a named string argument for cStrings.
func arg(what, s string) struct{ what, s string } { return struct{ what, s string }{what, s} }

// jobName checks a job name argument (the library checks its form).
func jobName(name string) error {
	if name == "" {
		return invalid("the job name is empty")
	}
	return nil
}

// graceMS is a stop's grace in milliseconds for C: negative gives the default.
func graceMS(grace time.Duration) C.int64_t {
	if grace < 0 {
		return -1
	}
	return C.int64_t((grace + time.Millisecond - 1) / time.Millisecond)
}

// startCall runs a start or restart (call, given a cancel token) that ctx's end cancels:
// the supervisor then stops the job. A start so cancelled is an error matching ctx.Err()
// (after a deadline, ErrTimeout too).
func startCall(ctx context.Context, call func(token *C.TetherCancel, out **C.char) C.int32_t) (string, error) {
	out, err := cancellable(ctx, call)
	var e *Error
	if errors.As(err, &e) && e.Code == int(C.TETHER_E_CANCELLED) && ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			timedOut := &Error{Code: int(C.TETHER_E_TIMED_OUT), Kind: e.Kind, Message: e.Message}
			return "", fmt.Errorf("%w: %w", timedOut, ctx.Err())
		}
		return "", fmt.Errorf("%w: %w", err, ctx.Err())
	}
	return out, err
}

// Start starts a job and waits until its command runs and, with Ready targets, is ready.
// A name that is running already starts nothing: the status then has AlreadyRunning, and the
// error is nil.
//
// When ctx is done before the job is running and ready, the supervisor stops the job (its
// tree ends; status JobStopped) and Start returns, once the supervisor has finished, an error
// matching ctx.Err(), also when ctx was done before the call. The deadline of ctx, when
// nearer than spec.Timeout, is the readiness
// timeout (the error then matches ErrTimeout and context.DeadlineExceeded). Errors:
// ErrInvalid (a bad spec), ErrNotFound (no tether program, or the command's program is
// missing), ErrRefused (the state directory), ErrTimeout (Requires or Ready did not come in
// time; the job was stopped).
func (j Jobs) Start(ctx context.Context, spec JobSpec) (JobStatus, error) {
	if err := ctx.Err(); err != nil {
		return JobStatus{}, err
	}
	timeout := spec.Timeout
	if timeout < 0 {
		return JobStatus{}, invalid(fmt.Sprintf("Timeout is negative (%v)", timeout))
	}
	byContext := false
	if deadline, ok := ctx.Deadline(); ok {
		left := time.Until(deadline)
		if left <= 0 {
			return JobStatus{}, context.DeadlineExceeded
		}
		if timeout == 0 || left < timeout {
			timeout, byContext = left, true
		}
	}
	for _, n := range []struct {
		what string
		v    int64
	}{{"MaxRestarts", int64(spec.MaxRestarts)}, {"LogMaxSize", spec.LogMaxSize}, {"LogKeep", int64(spec.LogKeep)}} {
		if n.v < 0 {
			return JobStatus{}, invalid(fmt.Sprintf("%s is negative (%d)", n.what, n.v))
		}
	}
	q := struct {
		Schema       string            `json:"schema"`
		Name         string            `json:"name"`
		Argv         []string          `json:"argv"`
		Cwd          string            `json:"cwd,omitempty"`
		Env          map[string]string `json:"env,omitempty"`
		Restart      RestartPolicy     `json:"restart,omitempty"`
		MaxRestarts  *int              `json:"max_restarts,omitempty"`
		BackoffMinMS *uint64           `json:"backoff_min_ms,omitempty"`
		BackoffMaxMS *uint64           `json:"backoff_max_ms,omitempty"`
		MinUptimeMS  *uint64           `json:"min_uptime_ms,omitempty"`
		LogMaxSize   *int64            `json:"log_max_size,omitempty"`
		LogKeep      *int              `json:"log_keep,omitempty"`
		Ready        []string          `json:"ready,omitempty"`
		Requires     []string          `json:"requires,omitempty"`
		TimeoutMS    *uint64           `json:"timeout_ms,omitempty"`
		PIDFile      string            `json:"pidfile,omitempty"`
	}{Schema: "tether.job-query/v1", Name: spec.Name, Argv: spec.Command, Cwd: spec.Dir,
		Env: spec.Env, Restart: spec.Restart, Ready: spec.Ready, Requires: spec.Requires,
		PIDFile: spec.PIDFile}
	if q.Argv == nil {
		q.Argv = []string{}
	}
	if spec.MaxRestarts > 0 {
		q.MaxRestarts = &spec.MaxRestarts
	}
	if spec.LogMaxSize > 0 {
		q.LogMaxSize = &spec.LogMaxSize
	}
	if spec.LogKeep > 0 {
		q.LogKeep = &spec.LogKeep
	}
	var err error
	for _, d := range []struct {
		name string
		v    time.Duration
		to   **uint64
	}{
		{"BackoffMin", spec.BackoffMin, &q.BackoffMinMS},
		{"BackoffMax", spec.BackoffMax, &q.BackoffMaxMS},
		{"MinUptime", spec.MinUptime, &q.MinUptimeMS},
		{"Timeout", timeout, &q.TimeoutMS},
	} {
		if *d.to, err = millis(d.name, d.v); err != nil {
			return JobStatus{}, err
		}
	}
	doc, err := jsonString(q)
	if err != nil {
		return JobStatus{}, err
	}
	args, free, err := cStrings(arg("StateDir", j.StateDir), arg("the job spec", doc), arg("Program", j.Program))
	if err != nil {
		return JobStatus{}, err
	}
	defer free()
	out, err := startCall(ctx, func(token *C.TetherCancel, o **C.char) C.int32_t {
		return C.tether_job_start(args[0], args[1], args[2], token, o)
	})
	if err != nil {
		if byContext && errors.Is(err, ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			return JobStatus{}, fmt.Errorf("%w: %w", err, context.DeadlineExceeded)
		}
		return JobStatus{}, err
	}
	return jobReport(out)
}

// Status is the status of job name. A job whose supervisor is gone while it was active is
// reported JobKilled, with SupervisorLost. Errors: ErrNotFound (no such job), ErrInvalid (a
// bad name), ErrRefused (the state directory).
func (j Jobs) Status(name string) (JobStatus, error) {
	return j.onJob(name, func(state, name *C.char, o **C.char) C.int32_t {
		return C.tether_job_status(state, name, o)
	})
}

// onJob runs a C function that takes the state directory and a job's name and gives a
// tether.job/v1 document.
func (j Jobs) onJob(name string, call func(state, name *C.char, out **C.char) C.int32_t) (JobStatus, error) {
	if err := jobName(name); err != nil {
		return JobStatus{}, err
	}
	args, free, err := cStrings(arg("StateDir", j.StateDir), arg("name", name))
	if err != nil {
		return JobStatus{}, err
	}
	defer free()
	out, err := callString(func(o **C.char) C.int32_t { return call(args[0], args[1], o) })
	if err != nil {
		return JobStatus{}, err
	}
	return jobReport(out)
}

// List is the status of every job, by name (empty when there are none).
func (j Jobs) List() ([]JobStatus, error) {
	args, free, err := cStrings(arg("StateDir", j.StateDir))
	if err != nil {
		return nil, err
	}
	defer free()
	out, err := callString(func(o **C.char) C.int32_t { return C.tether_job_list(args[0], o) })
	if err != nil {
		return nil, err
	}
	var r struct {
		Jobs []jobJSON `json:"jobs"`
	}
	if err := decode(out, &r); err != nil {
		return nil, err
	}
	list := make([]JobStatus, 0, len(r.Jobs))
	for i := range r.Jobs {
		s, err := r.Jobs[i].status()
		if err != nil {
			return nil, err
		}
		list = append(list, s)
	}
	return list, nil
}

// Stop stops job name: its supervisor sends SIGTERM to the command's whole tree, waits up to
// grace (negative: DefaultGrace), sends SIGKILL to what is left and records JobStopped; Stop
// returns once the supervisor has exited. A job that is not running is a success with
// AlreadyStopped. Errors: ErrNotFound (no such job), ErrTimeout (the supervisor did not
// finish within the grace plus 15 s).
func (j Jobs) Stop(name string, grace time.Duration) (JobStatus, error) {
	return j.onJob(name, func(state, name *C.char, o **C.char) C.int32_t {
		return C.tether_job_stop(state, name, graceMS(grace), o)
	})
}

// Restart stops job name if it runs (as Stop) and starts it again with the spec it was last
// started with (as Start, with j.Program). The stop is not interrupted; when ctx is done
// before the new start is running and ready, the job is stopped and the error matches
// ctx.Err(), as for Start (the spec's Timeout stays the readiness timeout).
func (j Jobs) Restart(ctx context.Context, name string, grace time.Duration) (JobStatus, error) {
	if err := ctx.Err(); err != nil {
		return JobStatus{}, err
	}
	if err := jobName(name); err != nil {
		return JobStatus{}, err
	}
	args, free, err := cStrings(arg("StateDir", j.StateDir), arg("name", name), arg("Program", j.Program))
	if err != nil {
		return JobStatus{}, err
	}
	defer free()
	out, err := startCall(ctx, func(token *C.TetherCancel, o **C.char) C.int32_t {
		return C.tether_job_restart(args[0], args[1], graceMS(grace), args[2], token, o)
	})
	if err != nil {
		return JobStatus{}, err
	}
	return jobReport(out)
}

// Remove stops job name if it runs (as Stop) and removes its directory (spec, status and
// logs); it returns the job's last status, with Removed. ErrNotFound when there is no such
// job.
func (j Jobs) Remove(name string, grace time.Duration) (JobStatus, error) {
	return j.onJob(name, func(state, name *C.char, o **C.char) C.int32_t {
		return C.tether_job_remove(state, name, graceMS(grace), o)
	})
}

// Logs is the last lines lines of job name's stdout (stderr: its stderr), exactly as the
// command wrote them (newlines included), from the rotated files too when needed. Errors:
// ErrNotFound (no such job or log), ErrInvalid (a bad name, negative lines).
func (j Jobs) Logs(name string, stderr bool, lines int) ([]byte, error) {
	if err := jobName(name); err != nil {
		return nil, err
	}
	if lines < 0 {
		return nil, invalid(fmt.Sprintf("lines is negative (%d)", lines))
	}
	args, free, err := cStrings(arg("StateDir", j.StateDir), arg("name", name), arg("stream", streamName(stderr)))
	if err != nil {
		return nil, err
	}
	defer free()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var out *C.uint8_t
	var n C.size_t
	if rc := C.tether_job_logs_bytes(args[0], args[1], args[2], C.int64_t(lines), &out, &n); rc != C.TETHER_OK {
		return nil, lastError(rc)
	}
	if out == nil {
		return []byte{}, nil
	}
	defer C.tether_free_bytes(out, n)
	return bytes.Clone(unsafe.Slice((*byte)(unsafe.Pointer(out)), int(n))), nil
}

// streamName is a log's stream argument for C.
func streamName(stderr bool) string {
	if stderr {
		return "stderr"
	}
	return "stdout"
}

// Follow writes the last lines lines of job name's stdout (stderr: its stderr) to w, then
// what the job writes after them, as `tether logs -f`: nothing lost or repeated in between,
// across log rotations. It returns nil once the job is no longer supervised (it stopped or
// exited; what it wrote is written first), ctx.Err() at once when ctx is done,
// or the error of w (a short write is io.ErrShortWrite). w is called on Follow's goroutine
// (a panic of w is raised again by Follow), and must not keep the slice it is given.
// Errors: ErrNotFound (no such job or log), ErrInvalid (a bad name, negative lines, a nil w).
//
//	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
//	defer stop()
//	err := tether.Jobs{}.Follow(ctx, "web", false, 10, os.Stdout)
func (j Jobs) Follow(ctx context.Context, name string, stderr bool, lines int, w io.Writer) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := jobName(name); err != nil {
		return err
	}
	if lines < 0 {
		return invalid(fmt.Sprintf("lines is negative (%d)", lines))
	}
	if w == nil {
		return invalid("the writer is nil")
	}
	args, free, err := cStrings(arg("StateDir", j.StateDir), arg("name", name), arg("stream", streamName(stderr)))
	if err != nil {
		return err
	}
	defer free()
	f := &follower{w: w}
	h := cgo.NewHandle(f)
	defer h.Delete()
	err = withToken(ctx, func(token *C.TetherCancel) error {
		// The callbacks run on this thread, and the last error is read on it.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		rc := C.jobLogsFollow(args[0], args[1], args[2], C.int64_t(lines), C.uintptr_t(h), token)
		if rc != C.TETHER_OK {
			return lastError(rc)
		}
		return nil
	})
	if f.panicked {
		panic(f.panicValue)
	}
	if f.err != nil {
		return f.err
	}
	var e *Error
	if errors.As(err, &e) && e.Code == int(C.TETHER_E_CANCELLED) && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// follower is a Follow's writer, and what stopped it.
type follower struct {
	w          io.Writer
	err        error
	panicked   bool
	panicValue any
}

// write gives b to the writer, and says whether to go on. A panic of the writer is kept for
// Follow to raise again once the C call has returned: unwinding through the library's frames
// would skip its clean-up.
func (f *follower) write(b []byte) (goOn bool) {
	defer func() {
		if r := recover(); r != nil {
			f.panicked, f.panicValue, goOn = true, r, false
		}
	}()
	n, err := f.w.Write(b)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	f.err = err
	return err == nil
}
