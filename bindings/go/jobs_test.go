package tether_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"tether.dev/tether"
)

// TestMain points TETHER_BIN at the tether program built from this repository when it is
// not set (scripts/test-go.sh sets it): jobs need it to supervise them.
func TestMain(m *testing.M) {
	if os.Getenv("TETHER_BIN") == "" {
		if p, err := filepath.Abs("../../target/debug/tether"); err == nil {
			if _, err := os.Stat(p); err == nil {
				os.Setenv("TETHER_BIN", p)
			}
		}
	}
	os.Exit(m.Run())
}

// jobs is a Jobs in a state directory of the test's own, whose jobs are removed when the
// test ends, also when it fails.
func jobs(t *testing.T) tether.Jobs {
	t.Helper()
	if os.Getenv("TETHER_BIN") == "" {
		t.Fatal("jobs need the tether program: cargo build -p tether-cli, or set TETHER_BIN")
	}
	j := tether.Jobs{StateDir: t.TempDir()}
	t.Cleanup(func() {
		list, err := j.List()
		if err != nil {
			t.Errorf("listing the jobs to remove them: %v", err)
			return
		}
		for _, s := range list {
			if _, err := j.Remove(s.Name, 0); err != nil {
				t.Errorf("removing job %s: %v", s.Name, err)
			}
		}
	})
	return j
}

// pidGone reports whether pid has ended (gone, or a zombie), waiting up to 10 s. Only
// signal 0, which sends nothing, goes to it.
func pidGone(pid int) bool {
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) || zombie(pid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func alive(pid int) bool { return pid > 0 && syscall.Kill(pid, 0) == nil && !zombie(pid) }

func TestJobRoundTrip(t *testing.T) {
	j := jobs(t)
	ctx := context.Background()
	spec := tether.JobSpec{Name: "web", Command: []string{"sh", "-c", "echo hello-out; echo hello-err >&2; exec sleep 300"},
		Env: map[string]string{"GREETING": "hi"}, Restart: tether.RestartOnFailure}
	s, err := j.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != tether.JobRunning || !alive(s.PID) || s.AlreadyRunning || s.Name != "web" || s.ID == "" {
		t.Fatalf("started: %+v", s)
	}
	if s.StartedAt.IsZero() || time.Since(s.StartedAt) > time.Minute || s.UpdatedAt.IsZero() ||
		s.Supervisor == nil || s.Restart != tether.RestartOnFailure || s.Identity == "" {
		t.Fatalf("started: %+v", s)
	}
	pid := s.PID

	st, err := j.Status("web")
	if err != nil || st.Status != tether.JobRunning || st.PID != pid {
		t.Fatalf("status: %+v, %v", st, err)
	}

	// The logs show the command's output, as it wrote it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := j.Logs("web", false, 10)
		if err != nil {
			t.Fatal(err)
		}
		errOut, err := j.Logs("web", true, 10)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(out, []byte("hello-out\n")) && bytes.Equal(errOut, []byte("hello-err\n")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs: %q, %q", out, errOut)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out, err := j.Logs("web", false, 0); err != nil || len(out) != 0 {
		t.Fatalf("no lines: %q, %v", out, err)
	}

	// Started again while it runs: nothing new.
	again, err := j.Start(ctx, tether.JobSpec{Name: "web", Command: []string{"sleep", "300"}})
	if err != nil || !again.AlreadyRunning || again.PID != pid {
		t.Fatalf("start again: %+v, %v", again, err)
	}

	list, err := j.List()
	if err != nil || len(list) != 1 || list[0].Name != "web" || list[0].PID != pid {
		t.Fatalf("list: %+v, %v", list, err)
	}

	stopped, err := j.Stop("web", 5*time.Second)
	if err != nil || stopped.Status != tether.JobStopped || stopped.AlreadyStopped {
		t.Fatalf("stop: %+v, %v", stopped, err)
	}
	if !pidGone(pid) {
		t.Fatalf("the stopped job's PID %d is alive", pid)
	}
	if st, err := j.Status("web"); err != nil || st.Status != tether.JobStopped || len(st.History) != 1 ||
		st.History[0].PID != pid || st.History[0].EndedAt.IsZero() {
		t.Fatalf("status after stop: %+v, %v", st, err)
	}
	if st, err := j.Stop("web", -1); err != nil || !st.AlreadyStopped {
		t.Fatalf("stop again: %+v, %v", st, err)
	}

	restarted, err := j.Restart(ctx, "web", time.Second)
	if err != nil || restarted.Status != tether.JobRunning || restarted.PID == pid || !alive(restarted.PID) {
		t.Fatalf("restart: %+v, %v", restarted, err)
	}

	removed, err := j.Remove("web", time.Second)
	if err != nil || !removed.Removed {
		t.Fatalf("remove: %+v, %v", removed, err)
	}
	if !pidGone(restarted.PID) {
		t.Fatalf("the removed job's PID %d is alive", restarted.PID)
	}
	_, err = j.Status("web")
	wantErr(t, err, tether.ErrNotFound, "status of a removed job")
	_, err = j.Logs("web", false, 1)
	wantErr(t, err, tether.ErrNotFound, "logs of a removed job")
}

func TestJobNeverReadyTimesOut(t *testing.T) {
	j := jobs(t)
	_, err := j.Start(context.Background(), tether.JobSpec{Name: "never", Command: []string{"sleep", "300"},
		Ready: []string{"file:/nonexistent/tether-go-never"}, Timeout: 300 * time.Millisecond})
	wantErr(t, err, tether.ErrTimeout, "a job never ready")
	s, err := j.Status("never")
	if err != nil || s.Status == tether.JobRunning || s.Status == tether.JobPending || (s.PID != 0 && !pidGone(s.PID)) {
		t.Fatalf("after the timeout: %+v, %v", s, err)
	}

	// The context's deadline is the readiness timeout.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = j.Start(ctx, tether.JobSpec{Name: "never2", Command: []string{"sleep", "300"},
		Ready: []string{"file:/nonexistent/tether-go-never"}})
	wantErr(t, err, tether.ErrTimeout, "a job never ready by the context's deadline")
	wantErr(t, err, context.DeadlineExceeded, "a job never ready by the context's deadline")
	cancelled, stop := context.WithCancel(context.Background())
	stop()
	_, err = j.Start(cancelled, tether.JobSpec{Name: "x", Command: []string{"true"}})
	wantErr(t, err, context.Canceled, "a cancelled context")
}

// cancelWhenRunning calls cancel once job name's command runs (up to 10 s), and returns its
// PID (0 when it never ran).
func cancelWhenRunning(j tether.Jobs, name string, cancel context.CancelFunc) int {
	defer cancel()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if s, err := j.Status(name); err == nil && s.Status == tether.JobRunning && s.PID > 0 {
			return s.PID
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0
}

func TestJobStartCancelled(t *testing.T) {
	j := jobs(t)
	spec := tether.JobSpec{Name: "waiting", Command: []string{"sleep", "300"},
		Ready: []string{"file:/nonexistent/tether-go-never"}, Timeout: 60 * time.Second}
	// cancelled runs Start (restart false) or Restart with a context cancelled once the job's
	// command runs, and checks that it ended soon, stopped, with its command gone.
	cancelled := func(what string, restart bool) int {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		pids := make(chan int, 1)
		go func() { pids <- cancelWhenRunning(j, spec.Name, cancel) }()
		began := time.Now()
		var err error
		if restart {
			_, err = j.Restart(ctx, spec.Name, time.Second)
		} else {
			_, err = j.Start(ctx, spec)
		}
		took := time.Since(began)
		pid := <-pids
		if pid == 0 {
			t.Fatalf("%s: the job's command never ran (%v)", what, err)
		}
		wantErr(t, err, context.Canceled, what)
		if !strings.Contains(err.Error(), "cancelled") {
			t.Fatalf("%s: %v", what, err)
		}
		if took > 10*time.Second {
			t.Fatalf("%s took %v, the timeout is %v", what, took, spec.Timeout)
		}
		s, err := j.Status(spec.Name)
		if err != nil || s.Status != tether.JobStopped {
			t.Fatalf("%s: status %+v, %v", what, s, err)
		}
		if !pidGone(pid) {
			t.Fatalf("%s: the job's PID %d is alive", what, pid)
		}
		t.Logf("%s: returned after %v", what, took.Round(time.Millisecond))
		return pid
	}
	first := cancelled("a cancelled start", false)
	if again := cancelled("a cancelled restart", true); again == first {
		t.Fatalf("the restart ran the same PID %d", again)
	}
	done, stop := context.WithCancel(context.Background())
	stop()
	_, err := j.Restart(done, spec.Name, time.Second)
	wantErr(t, err, context.Canceled, "a restart with a cancelled context")
}

func TestJobsBadInput(t *testing.T) {
	j := jobs(t)
	ctx := context.Background()
	for _, spec := range []tether.JobSpec{
		{Name: "a/b", Command: []string{"true"}},
		{Name: ".hidden", Command: []string{"true"}},
		{Name: "", Command: []string{"true"}},
		{Name: "ok"},
		{Name: "ok", Command: []string{"true"}, Restart: "sometimes"},
		{Name: "ok", Command: []string{"true"}, Ready: []string{"nonsense"}},
		{Name: "ok", Command: []string{"true"}, BackoffMin: time.Second, BackoffMax: time.Millisecond},
		{Name: "ok", Command: []string{"true"}, Timeout: -time.Second},
		{Name: "ok", Command: []string{"true"}, LogKeep: -1},
		{Name: "ok", Command: []string{"true"}, Env: map[string]string{"A=B": "1"}},
		{Name: "ok", Command: []string{"tr\x00ue"}},
	} {
		_, err := j.Start(ctx, spec)
		wantErr(t, err, tether.ErrInvalid, spec.Name)
	}
	for _, name := range []string{"a/b", "..", "", "x y"} {
		_, err := j.Status(name)
		wantErr(t, err, tether.ErrInvalid, "status "+name)
		_, err = j.Stop(name, -1)
		wantErr(t, err, tether.ErrInvalid, "stop "+name)
		_, err = j.Remove(name, -1)
		wantErr(t, err, tether.ErrInvalid, "remove "+name)
	}
	_, err := j.Logs("web", false, -1)
	wantErr(t, err, tether.ErrInvalid, "negative lines")
	_, err = j.Status("nope")
	wantErr(t, err, tether.ErrNotFound, "no such job")
	_, err = j.Restart(ctx, "nope", -1)
	wantErr(t, err, tether.ErrNotFound, "restart no such job")

	// No tether program: not found, saying how to name one.
	missing := tether.Jobs{StateDir: j.StateDir, Program: "/nonexistent/tether"}
	_, err = missing.Start(ctx, tether.JobSpec{Name: "x", Command: []string{"true"}})
	wantErr(t, err, tether.ErrNotFound, "no tether program")
	if !strings.Contains(err.Error(), "TETHER_BIN") {
		t.Fatalf("the message does not name TETHER_BIN: %v", err)
	}

	// A state directory that is a symbolic link is refused.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(j.StateDir, link); err != nil {
		t.Fatal(err)
	}
	linked := tether.Jobs{StateDir: link}
	_, err = linked.List()
	wantErr(t, err, tether.ErrRefused, "a symlinked state dir")
	_, err = linked.Start(ctx, tether.JobSpec{Name: "x", Command: []string{"true"}})
	wantErr(t, err, tether.ErrRefused, "start in a symlinked state dir")
}

// chunks is a writer that hands each chunk over to the test.
type chunks chan []byte

func (c chunks) Write(p []byte) (int, error) {
	c <- bytes.Clone(p)
	return len(p), nil
}

// writerFunc is a writer made of a function.
type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// waitLogs waits (up to 10 s) until job name's stdout ends with want.
func waitLogs(t *testing.T, j tether.Jobs, name, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := j.Logs(name, false, 10)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(string(out), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs of %s: %q, want them to end with %q", name, out, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestJobFollow(t *testing.T) {
	j := jobs(t)
	// The job writes "four" once the test has received the last lines and made the flag.
	flag := filepath.Join(t.TempDir(), "flag")
	_, err := j.Start(context.Background(), tether.JobSpec{Name: "follow", Command: []string{"sh", "-c",
		"echo one; echo two; echo three; while [ ! -e '" + flag + "' ]; do sleep 0.05; done; echo four; exec sleep 300"}})
	if err != nil {
		t.Fatal(err)
	}
	waitLogs(t, j, "follow", "three\n")

	ctx, cancel := context.WithCancel(context.Background())
	got := make(chunks, 100)
	finished := make(chan struct{})
	var followErr error
	go func() {
		defer close(finished)
		followErr = j.Follow(ctx, "follow", false, 2, got)
	}()
	// Registered after jobs(t)'s clean-up, so run before it: the follow ends first.
	t.Cleanup(func() {
		cancel()
		select {
		case <-finished:
		case <-time.After(10 * time.Second):
			t.Error("the follow did not end")
		}
	})
	receive := func() []byte {
		t.Helper()
		select {
		case b := <-got:
			return b
		case <-finished:
			t.Fatalf("the follow ended: %v", followErr)
		case <-time.After(10 * time.Second):
			t.Fatal("nothing followed in 10 s")
		}
		return nil
	}
	if first := receive(); string(first) != "two\nthree\n" {
		t.Fatalf("the last lines: %q", first)
	}
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	all := "two\nthree\n"
	for !strings.Contains(all, "four\n") {
		all += string(receive())
	}
	if all != "two\nthree\nfour\n" {
		t.Fatalf("followed: %q", all)
	}

	// A done context ends the follow with its error; the job runs on.
	cancel()
	select {
	case <-finished:
	case <-time.After(10 * time.Second):
		t.Fatal("the cancelled follow did not return in 10 s")
	}
	if !errors.Is(followErr, context.Canceled) {
		t.Fatalf("the cancelled follow: %v", followErr)
	}
	if s, err := j.Status("follow"); err != nil || s.Status != tether.JobRunning {
		t.Fatalf("after the follow: %+v, %v", s, err)
	}

	// The writer's error ends the follow, and is Follow's; its panic comes back in Follow's
	// goroutine. (The deadline only ends a follow that would miss the last line.)
	bounded, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	errFull := errors.New("full")
	err = j.Follow(bounded, "follow", false, 1, writerFunc(func(p []byte) (int, error) { return 0, errFull }))
	if err != errFull {
		t.Fatalf("a failing writer: %v", err)
	}
	err = j.Follow(bounded, "follow", false, 1, writerFunc(func(p []byte) (int, error) { return len(p) - 1, nil }))
	if err != io.ErrShortWrite {
		t.Fatalf("a short write: %v", err)
	}
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v, want the writer's panic", r)
			}
		}()
		err := j.Follow(bounded, "follow", false, 1, writerFunc(func([]byte) (int, error) { panic("boom") }))
		t.Fatalf("no panic: %v", err)
	}()
}

func TestJobFollowToTheEnd(t *testing.T) {
	j := jobs(t)
	_, err := j.Start(context.Background(), tether.JobSpec{Name: "brief", Command: []string{"sh", "-c",
		"echo a; echo e >&2; echo b; sleep 0.5; echo c"}})
	if err != nil {
		t.Fatal(err)
	}
	// The deadline only ends a follow that would not end by itself.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := j.Follow(ctx, "brief", false, 10, &out); err != nil || out.String() != "a\nb\nc\n" {
		t.Fatalf("followed: %q, %v", out.String(), err)
	}
	if s, err := j.Status("brief"); err != nil || s.Status != tether.JobExited {
		t.Fatalf("after the follow: %+v, %v", s, err)
	}
	out.Reset()
	if err := j.Follow(ctx, "brief", true, 10, &out); err != nil || out.String() != "e\n" {
		t.Fatalf("followed stderr: %q, %v", out.String(), err)
	}
}

func TestJobFollowBadInput(t *testing.T) {
	j := jobs(t)
	ctx := context.Background()
	err := j.Follow(ctx, "nope", false, 1, io.Discard)
	wantErr(t, err, tether.ErrNotFound, "follow no such job")
	for _, name := range []string{"a/b", "..", "", "x y"} {
		err := j.Follow(ctx, name, false, 1, io.Discard)
		wantErr(t, err, tether.ErrInvalid, "follow "+name)
	}
	err = j.Follow(ctx, "web", false, -1, io.Discard)
	wantErr(t, err, tether.ErrInvalid, "follow, negative lines")
	err = j.Follow(ctx, "web", false, 1, nil)
	wantErr(t, err, tether.ErrInvalid, "follow, no writer")
	done, stop := context.WithCancel(ctx)
	stop()
	err = j.Follow(done, "nope", false, 1, io.Discard)
	wantErr(t, err, context.Canceled, "follow with a cancelled context")
}
