package tether_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"tether.dev/tether"
)

func lines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

// fast are options that retry at once, the command's output discarded.
func fast(o tether.RetryOptions) tether.RetryOptions {
	o.Delay = 10 * time.Millisecond
	o.Stdout = tether.StdioNull
	return o
}

func TestRetryCountsAttempts(t *testing.T) {
	f := filepath.Join(t.TempDir(), "count")
	r, err := tether.Retry(context.Background(), fast(tether.RetryOptions{Attempts: 3}),
		"sh", "-c", "echo x >> "+f+"; exit 7")
	if err != nil || r.Outcome != "exhausted" || r.ExitCode != 7 || len(r.Attempts) != 3 {
		t.Fatalf("%+v, %v", r, err)
	}
	if n := lines(t, f); n != 3 {
		t.Fatalf("%d attempts ran", n)
	}
	for i, a := range r.Attempts {
		if a.Number != i+1 || a.Code != 7 || a.PID <= 0 || a.TimedOut || (i < 2) != (a.Delay > 0) {
			t.Fatalf("attempt %d: %+v", i, a)
		}
		if i > 0 && a.StartedAt < r.Attempts[i-1].StartedAt+r.Attempts[i-1].Delay {
			t.Fatalf("attempt %d started before the delay ended: %+v", i, r.Attempts)
		}
	}
	if r.Command[0] != "sh" || r.Elapsed <= 0 {
		t.Fatalf("%+v", r)
	}
}

func TestRetrySucceedsOnTheSecondAttempt(t *testing.T) {
	f := filepath.Join(t.TempDir(), "n")
	r, err := tether.Retry(context.Background(), fast(tether.RetryOptions{Attempts: 5, Backoff: tether.BackoffFixed}),
		"sh", "-c", "echo x >> "+f+"; [ $(wc -l < "+f+") -ge 2 ]")
	if err != nil || r.Outcome != "succeeded" || r.ExitCode != 0 || len(r.Attempts) != 2 || lines(t, f) != 2 {
		t.Fatalf("%+v, %v", r, err)
	}
}

func TestRetryStopsOnADoNotRetryCode(t *testing.T) {
	r, err := tether.Retry(context.Background(), fast(tether.RetryOptions{}), "sh", "-c", "exit 2")
	if err != nil || r.Outcome != "not_retried" || r.Rule != "default" || r.ExitCode != 2 || len(r.Attempts) != 1 {
		t.Fatalf("%+v, %v", r, err)
	}
	// Unless asked.
	r, err = tether.Retry(context.Background(), fast(tether.RetryOptions{Attempts: 2, RetryOn: "2"}), "sh", "-c", "exit 2")
	if err != nil || r.Outcome != "exhausted" || len(r.Attempts) != 2 {
		t.Fatalf("%+v, %v", r, err)
	}
	// A program that does not exist is an attempt (127), not retried.
	r, err = tether.Retry(context.Background(), fast(tether.RetryOptions{}), "/nonexistent/tether-go")
	if err != nil || r.ExitCode != 127 || len(r.Attempts) != 1 || r.Attempts[0].Error == "" {
		t.Fatalf("%+v, %v", r, err)
	}
}

func TestRetryAttemptTimeout(t *testing.T) {
	r, err := tether.Retry(context.Background(), fast(tether.RetryOptions{Attempts: 2, AttemptTimeout: 100 * time.Millisecond}),
		"sleep", "300")
	if err != nil || r.Outcome != "exhausted" || r.ExitCode != 124 || len(r.Attempts) != 2 {
		t.Fatalf("%+v, %v", r, err)
	}
	for _, a := range r.Attempts {
		if a.Code != 124 || !a.TimedOut || a.Limit != "attempt_timeout" {
			t.Fatalf("%+v", a)
		}
	}
}

func TestRetryCancelledContextEndsTheAttemptsTree(t *testing.T) {
	dir := t.TempDir()
	bg := filepath.Join(dir, "bg")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type ran struct {
		r   tether.RetryResult
		err error
	}
	done := make(chan ran, 1)
	go func() {
		r, err := tether.Retry(ctx, fast(tether.RetryOptions{Attempts: 3}), "sh", "-c", "sleep 300 & echo $! > "+bg+"; wait")
		done <- ran{r, err}
	}()
	var pid int
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(bg)
		if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			pid = p
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the attempt did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !alive(pid) {
		t.Fatalf("the grandchild %d is not running", pid)
	}
	cancel()
	select {
	case r := <-done:
		if !errors.Is(r.err, context.Canceled) || r.r.Outcome != "cancelled" || r.r.CancelledDuring != "attempt" ||
			len(r.r.Attempts) != 1 {
			t.Fatalf("%+v, %v", r.r, r.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Retry outlived its context")
	}
	if !pidGone(pid) {
		t.Fatalf("the attempt's grandchild %d survived", pid)
	}

	// Cancelled while waiting between attempts: at once, not after the delay.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel2()
	began := time.Now()
	r, err := tether.Retry(ctx2, tether.RetryOptions{Delay: time.Hour, Stdout: tether.StdioNull}, "false")
	if !errors.Is(err, context.DeadlineExceeded) || r.Outcome != "cancelled" || r.CancelledDuring != "delay" ||
		time.Since(began) > 20*time.Second {
		t.Fatalf("%+v, %v", r, err)
	}
	// Already done: nothing runs.
	_, err = tether.Retry(ctx, tether.RetryOptions{}, "true")
	if !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

func TestRetryBadInput(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		what string
		o    tether.RetryOptions
		name string
	}{
		{"no program", tether.RetryOptions{}, ""},
		{"a bad backoff", tether.RetryOptions{Backoff: "cubic"}, "true"},
		{"code 0", tether.RetryOptions{RetryOn: "0"}, "true"},
		{"a code in both", tether.RetryOptions{RetryOn: "3", StopOn: "3"}, "true"},
		{"negative attempts", tether.RetryOptions{Attempts: -5}, "true"},
		{"negative max time", tether.RetryOptions{MaxTime: -time.Second}, "true"},
		{"captured output", tether.RetryOptions{Stdout: tether.StdioCapture}, "true"},
		{"a bad env entry", tether.RetryOptions{Env: []string{"NOEQUALS"}}, "true"},
		{"a NUL", tether.RetryOptions{}, "tr\x00ue"},
	} {
		_, err := tether.Retry(ctx, c.o, c.name)
		wantErr(t, err, tether.ErrInvalid, c.what)
	}
}
