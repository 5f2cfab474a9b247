package tether

/*
#include <stdlib.h>
#include "tether.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// WaitOptions says how WaitFor waits; the zero value waits for all targets, with no
// deadline but the context's.
type WaitOptions struct {
	Timeout        time.Duration // give up after this long (0: only the context's deadline)
	Interval       time.Duration // backoff cap of network checks and command runs (0: 1s)
	AttemptTimeout time.Duration // longest one connect, request or command run may take
	Any            bool          // ready when any target is (default: all)
	Reverse        bool          // wait until the targets are not ready (a port freed, a file gone)
	Watch          string        // end the wait (ErrProcessDied) if this PID or identity exits first
	WatchPIDFile   string        // like Watch, with the process named by this PID file
	HTTP           HTTPOptions
	File           FileOptions
}

// HTTPOptions are the options of http(s):// targets.
type HTTPOptions struct {
	Status   string   `json:"status,omitempty"` // accepted statuses, e.g. "200-299,304" (default 200-399)
	Body     string   `json:"body,omitempty"`   // a regular expression the body must match
	Insecure bool     `json:"insecure"`         // do not verify certificates
	Method   string   `json:"method,omitempty"` // GET (default), HEAD, POST, PUT, DELETE, OPTIONS, PATCH
	Headers  []string `json:"headers,omitempty"`
}

// FileOptions are the options of file: targets.
type FileOptions struct {
	NonEmpty bool          // the file must be non-empty
	Stable   time.Duration // its size must not have changed for this long
}

// TargetResult is the state of one target when the wait ended.
type TargetResult struct {
	Target      string        `json:"target"`
	Kind        string        `json:"kind"` // tcp, http, file, unix, log, exit, owner, cmd
	Ready       bool          `json:"ready"`
	TimeToReady time.Duration `json:"-"` // from the start of the wait; 0 when not ready
	Attempts    int           `json:"attempts"`
	LastError   string        `json:"last_error"` // why the last check was not ready
}

// WaitResult is how a wait ended (a tether.wait-for/v1 report).
type WaitResult struct {
	Outcome string         `json:"outcome"` // ready, timed_out, process_died or failed
	Elapsed time.Duration  `json:"-"`
	Watched string         `json:"watched"` // the watched process's identity (or PID)
	Targets []TargetResult `json:"targets"`
}

// UnmarshalJSON reads the *_ms fields as durations.
func (r *WaitResult) UnmarshalJSON(b []byte) error {
	type plain WaitResult
	var w struct {
		plain
		ElapsedMS float64 `json:"elapsed_ms"`
		Targets   []struct {
			TargetResult
			TimeToReadyMS *float64 `json:"time_to_ready_ms"`
		} `json:"targets"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*r = WaitResult(w.plain)
	r.Elapsed = fromMS(w.ElapsedMS)
	r.Targets = make([]TargetResult, len(w.Targets))
	for i, t := range w.Targets {
		r.Targets[i] = t.TargetResult
		if t.TimeToReadyMS != nil {
			r.Targets[i].TimeToReady = fromMS(*t.TimeToReadyMS)
		}
	}
	return nil
}

// Errors of a wait that ended without the targets being ready; WaitFor returns them with its
// WaitResult. A timed-out wait's error matches ErrTimeout.
var (
	// ErrProcessDied: the watched process exited first (or was not running at the start).
	ErrProcessDied = errors.New("tether: the watched process exited first")
	// ErrNotReady: a target can never become ready (e.g. the PID of an owner: target exited).
	ErrNotReady = errors.New("tether: a target can never become ready")
)

// WaitFor waits until the targets are ready, as `tether wait-for` takes them: "host:port",
// ":port", "tcp://host:port", "http(s)://…", "file:PATH", "unix:PATH", "log:PATH=REGEX",
// "exit:PID|IDENTITY", "owner:PORT[/tcp|/udp]=PID", "cmd:SHELL COMMAND".
//
// It returns the result with a nil error when they are ready; with an error matching
// ErrTimeout (and context.DeadlineExceeded when the context's deadline ended it),
// ErrProcessDied or ErrNotReady when they are not. A cancelled context ends the wait at once
// (a check under way finishes first) with ctx.Err() and no result. Bad targets and options are ErrInvalid.
func WaitFor(ctx context.Context, targets []string, opts *WaitOptions) (*WaitResult, error) {
	if opts == nil {
		opts = &WaitOptions{}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	timeout := opts.Timeout
	if timeout < 0 {
		return nil, invalid(fmt.Sprintf("Timeout is negative (%v)", timeout))
	}
	// The context's deadline, when nearer, is the wait's timeout.
	byContext := false
	if deadline, ok := ctx.Deadline(); ok {
		left := time.Until(deadline)
		if left <= 0 {
			return nil, context.DeadlineExceeded
		}
		if timeout == 0 || left < timeout {
			timeout, byContext = left, true
		}
	}
	type fileQuery struct {
		NonEmpty bool    `json:"non_empty"`
		StableMS *uint64 `json:"stable_ms,omitempty"`
	}
	q := struct {
		Schema           string      `json:"schema"`
		Targets          []string    `json:"targets"`
		TimeoutMS        *uint64     `json:"timeout_ms,omitempty"`
		IntervalMS       *uint64     `json:"interval_ms,omitempty"`
		AttemptTimeoutMS *uint64     `json:"attempt_timeout_ms,omitempty"`
		Any              bool        `json:"any"`
		Reverse          bool        `json:"reverse"`
		Watch            string      `json:"watch,omitempty"`
		WatchPidfile     string      `json:"watch_pidfile,omitempty"`
		HTTP             HTTPOptions `json:"http"`
		File             fileQuery   `json:"file"`
	}{Schema: "tether.wait-for-query/v1", Targets: targets, Any: opts.Any, Reverse: opts.Reverse,
		Watch: opts.Watch, WatchPidfile: opts.WatchPIDFile, HTTP: opts.HTTP,
		File: fileQuery{NonEmpty: opts.File.NonEmpty}}
	if q.Targets == nil {
		q.Targets = []string{}
	}
	var err error
	for _, d := range []struct {
		name string
		v    time.Duration
		to   **uint64
	}{
		{"Timeout", timeout, &q.TimeoutMS},
		{"Interval", opts.Interval, &q.IntervalMS},
		{"AttemptTimeout", opts.AttemptTimeout, &q.AttemptTimeoutMS},
		{"File.Stable", opts.File.Stable, &q.File.StableMS},
	} {
		if *d.to, err = millis(d.name, d.v); err != nil {
			return nil, err
		}
	}

	// A token that a goroutine triggers when the context is done; freed only after that
	// goroutine has finished with it.
	token := C.tether_cancel_new()
	if token == nil {
		return nil, &Error{Code: int(C.TETHER_E_SYSTEM), Kind: "system", Message: "out of memory"}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
			// The context's deadline is the wait's own timeout (byContext): the wait ends
			// by itself then, with its result, rather than racing the deadline.
			if !byContext || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				C.tether_cancel_trigger(token)
			}
		case <-done:
		}
	}()
	var r WaitResult
	err = callJSON(q, func(q *C.char, out **C.char) C.int32_t { return C.tether_wait_for(q, token, out) }, &r)
	close(done)
	wg.Wait()
	C.tether_cancel_free(token)

	var te *Error
	if errors.As(err, &te) && te.Code == int(C.TETHER_E_CANCELLED) {
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	switch r.Outcome {
	case "ready":
		return &r, nil
	case "timed_out":
		if byContext {
			return &r, fmt.Errorf("%w: %w", ErrTimeout, context.DeadlineExceeded)
		}
		return &r, fmt.Errorf("%w after %v", ErrTimeout, r.Elapsed.Round(time.Millisecond))
	case "process_died":
		return &r, ErrProcessDied
	default:
		return &r, ErrNotReady
	}
}

// fromMS is a fractional *_ms value as a duration.
func fromMS(ms float64) time.Duration {
	return time.Duration(ms * float64(time.Millisecond))
}
