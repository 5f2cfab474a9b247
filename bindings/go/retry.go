package tether

/*
#include <stdlib.h>
#include "tether.h"
*/
import "C"

import (
	"context"
	"fmt"
	"time"
	"unsafe"
)

// Backoff says how the delays between attempts grow.
type Backoff string

const (
	// BackoffExponential (the default): Delay × 2^(n-1).
	BackoffExponential Backoff = "exponential"
	// BackoffLinear: Delay × n.
	BackoffLinear Backoff = "linear"
	// BackoffFixed: Delay every time.
	BackoffFixed Backoff = "fixed"
)

// UnlimitedAttempts, as RetryOptions.Attempts, retries until an attempt succeeds, its code is
// not retried, MaxTime passes or the context is done.
const UnlimitedAttempts = -1

// RetryOptions say how Retry runs a command again until it succeeds; the zero value is
// `tether retry`'s defaults (3 attempts, exponential delays from 1s, every non-zero code
// retried but 2, 126, 127, 130 and 143).
type RetryOptions struct {
	// Attempts is the most attempts, the first included (0: 3; UnlimitedAttempts: no limit).
	Attempts int
	// MaxTime is the overall deadline, delays included (0: none). An attempt still running
	// then is ended like a timed-out one.
	MaxTime time.Duration
	// Backoff says how delays grow (empty: BackoffExponential).
	Backoff Backoff
	// Delay is the pause before the first retry (0: 1s; negative: none).
	Delay time.Duration
	// MaxDelay caps each delay (0: no cap).
	MaxDelay time.Duration
	// Jitter spreads each delay at random over [d/2, d].
	Jitter bool
	// RetryOn retries only these exit codes, e.g. "1,6-7,28" (empty: every code but the
	// default stop codes, which RetryOn overrides).
	RetryOn string
	// StopOn never retries these codes, on top of the defaults (it wins over RetryOn; a code
	// in both is ErrInvalid).
	StopOn string
	// AttemptTimeout limits each attempt (0: none); a timed-out attempt has code 124.
	AttemptTimeout time.Duration
	// KillAfter: SIGKILL follows the timeout's SIGTERM after this long if the attempt's tree
	// still runs (0: 5s; negative: never).
	KillAfter time.Duration

	// Dir is the command's working directory (empty: this process's).
	Dir string
	// Env is its environment as KEY=VALUE entries; nil inherits this process's, as os/exec.
	Env []string
	// Stdin, Stdout and Stderr: StdioInherit (the default) or StdioNull; a retry does not
	// capture.
	Stdin, Stdout, Stderr Stdio
	// Contain is the containment of each attempt's tree (empty: ContainAuto).
	Contain Containment
}

// RetryAttempt is one attempt of a Retry.
type RetryAttempt struct {
	// Number is 1 for the first.
	Number int
	// PID of the command (0 when it could not start).
	PID int
	// Code is the exit code, 128+N when signal N killed it, 124 when a limit ended it,
	// 125/126/127 when it could not start.
	Code int
	// Signal is the signal that killed it (name without SIG), unless a limit ended it.
	Signal string
	// Limit is what ended it: "attempt_timeout" or "max_time" (empty: none).
	Limit string
	// TimedOut: a limit ended it.
	TimedOut bool
	// StartedAt is when it started, after the start of the first attempt.
	StartedAt time.Duration
	// Duration is how long it ran.
	Duration time.Duration
	// Delay is the pause after it before the next attempt (0 after the last).
	Delay time.Duration
	// Error says why it could not start, or waiting for it failed.
	Error string
}

// RetryResult is what a Retry did (a tether.retry/v1 report).
type RetryResult struct {
	// Command is the command line.
	Command []string
	// Outcome is why it ended: "succeeded", "exhausted" (every attempt made), "not_retried"
	// (the last code is not retried), "max_time" or "cancelled" (the context).
	Outcome string
	// Rule is, with "not_retried", the rule that stopped it: "default", "stop_on" or
	// "not_in_retry_on".
	Rule string
	// CancelledDuring is, with "cancelled", "attempt" or "delay".
	CancelledDuring string
	// ExitCode is the last attempt's code.
	ExitCode int
	// Attempts are every attempt, in order.
	Attempts []RetryAttempt
	// Elapsed is the wall time of the whole.
	Elapsed time.Duration
}

// Retry runs name with args until it succeeds, as `tether retry` does: each attempt runs as
// a contained tree (nothing it starts outlives it), and a failing attempt whose code is
// retried is followed, after a delay, by the next. The command's output goes to this
// process's (or /dev/null); it is not captured.
//
// A retry that ends with a failing code is not an error: the result says how it ended
// (Outcome, ExitCode). When ctx is done first, the running attempt's whole tree is killed (or
// the delay cut short) at once, and Retry returns the result (Outcome "cancelled") with an
// error matching ctx.Err(). Bad options are ErrInvalid.
func Retry(ctx context.Context, opts RetryOptions, name string, args ...string) (RetryResult, error) {
	if err := ctx.Err(); err != nil {
		return RetryResult{}, err
	}
	doc, err := opts.query(name, args)
	if err != nil {
		return RetryResult{}, err
	}
	q, err := cString("retry", doc)
	if err != nil {
		return RetryResult{}, err
	}
	defer C.free(unsafe.Pointer(q))
	out, err := cancellable(ctx, func(token *C.TetherCancel, o **C.char) C.int32_t { return C.tether_retry(q, token, o) })
	if err != nil {
		return RetryResult{}, err
	}
	var r struct {
		Command           []string `json:"command"`
		Outcome           string   `json:"outcome"`
		Rule              *string  `json:"rule"`
		InterruptedDuring *string  `json:"interrupted_during"`
		ExitCode          int      `json:"exit_code"`
		ElapsedMS         uint64   `json:"elapsed_ms"`
		Attempts          []struct {
			Number      int     `json:"number"`
			PID         *int    `json:"pid"`
			Code        int     `json:"code"`
			Signal      *string `json:"signal"`
			Limit       *string `json:"limit"`
			StartedAtMS uint64  `json:"started_at_ms"`
			DurationMS  uint64  `json:"duration_ms"`
			DelayMS     *uint64 `json:"delay_ms"`
			Error       *string `json:"error"`
		} `json:"attempts"`
	}
	if err := decode(out, &r); err != nil {
		return RetryResult{}, err
	}
	ms := func(v uint64) time.Duration { return time.Duration(v) * time.Millisecond }
	res := RetryResult{Command: r.Command, Outcome: r.Outcome, Rule: deref(r.Rule),
		CancelledDuring: deref(r.InterruptedDuring), ExitCode: r.ExitCode, Elapsed: ms(r.ElapsedMS)}
	for _, a := range r.Attempts {
		res.Attempts = append(res.Attempts, RetryAttempt{Number: a.Number, PID: deref(a.PID),
			Code: a.Code, Signal: deref(a.Signal), Limit: deref(a.Limit), TimedOut: a.Limit != nil,
			StartedAt: ms(a.StartedAtMS), Duration: ms(a.DurationMS), Delay: ms(deref(a.DelayMS)),
			Error: deref(a.Error)})
	}
	if res.Outcome == "cancelled" && ctx.Err() != nil {
		return res, fmt.Errorf("tether: retry of %s cancelled during the %s: %w", name, res.CancelledDuring, ctx.Err())
	}
	return res, nil
}

// query is the options as a tether.retry-query/v1 document for name and args.
func (o *RetryOptions) query(name string, args []string) (string, error) {
	cmd, err := (&Options{Name: name, Args: args, Dir: o.Dir, Env: o.Env, Stdin: o.Stdin,
		Stdout: o.Stdout, Stderr: o.Stderr, Contain: o.Contain}).command()
	if err != nil {
		return "", err
	}
	q := struct {
		Schema           string        `json:"schema"`
		Command          *commandQuery `json:"command"`
		Attempts         *uint32       `json:"attempts,omitempty"`
		MaxTimeMS        *uint64       `json:"max_time_ms,omitempty"`
		Backoff          Backoff       `json:"backoff,omitempty"`
		DelayMS          *uint64       `json:"delay_ms,omitempty"`
		MaxDelayMS       *uint64       `json:"max_delay_ms,omitempty"`
		Jitter           bool          `json:"jitter"`
		RetryOn          string        `json:"retry_on,omitempty"`
		StopOn           string        `json:"stop_on,omitempty"`
		AttemptTimeoutMS *uint64       `json:"attempt_timeout_ms,omitempty"`
		KillAfterMS      *uint64       `json:"kill_after_ms,omitempty"`
	}{Schema: "tether.retry-query/v1", Command: cmd, Backoff: o.Backoff, Jitter: o.Jitter,
		RetryOn: o.RetryOn, StopOn: o.StopOn}
	switch {
	case o.Attempts == UnlimitedAttempts:
		zero := uint32(0)
		q.Attempts = &zero
	case o.Attempts < 0 || int64(o.Attempts) > int64(^uint32(0)):
		return "", invalid(fmt.Sprintf("Attempts is out of range (%d)", o.Attempts))
	case o.Attempts > 0:
		n := uint32(o.Attempts)
		q.Attempts = &n
	}
	zero := uint64(0)
	// Negative: none (a zero that the document must carry, as 0 would mean the default).
	orZero := func(d time.Duration) time.Duration {
		if d < 0 {
			return 0
		}
		return d
	}
	for _, d := range []struct {
		name string
		v    time.Duration
		to   **uint64
	}{
		{"MaxTime", o.MaxTime, &q.MaxTimeMS},
		{"Delay", orZero(o.Delay), &q.DelayMS},
		{"MaxDelay", o.MaxDelay, &q.MaxDelayMS},
		{"AttemptTimeout", o.AttemptTimeout, &q.AttemptTimeoutMS},
		{"KillAfter", orZero(o.KillAfter), &q.KillAfterMS},
	} {
		if *d.to, err = millis(d.name, d.v); err != nil {
			return "", err
		}
	}
	if o.Delay < 0 {
		q.DelayMS = &zero
	}
	if o.KillAfter < 0 {
		q.KillAfterMS = &zero
	}
	return jsonString(q)
}
