package tether_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"tether.dev/tether"
)

// start starts a contained tree that the test ends (also when it fails).
func start(t *testing.T, opts tether.Options) *tether.Process {
	t.Helper()
	p, err := tether.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// members waits until the tree under p has at least n descendants and returns their
// identities.
func members(t *testing.T, p *tether.Process, n int) []tether.Identity {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		kids, err := p.Children(true)
		if err != nil {
			t.Fatal(err)
		}
		var ids []tether.Identity
		for _, k := range kids {
			ids = append(ids, k.Identity())
			_ = k.Close()
		}
		if len(ids) >= n {
			return ids
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d members appeared", len(ids), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// allGone fails unless every identity's process is gone (or a zombie being reaped).
func allGone(t *testing.T, ids []tether.Identity) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, id := range ids {
		for {
			st, err := id.Check()
			if err != nil {
				t.Fatal(err)
			}
			if st != tether.Same || zombie(id.PID) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s survived", id)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || strings.HasPrefix(strings.TrimSpace(s[i+1:]), "Z")
}

func TestProcessInspectsItself(t *testing.T) {
	me, err := tether.Get(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	defer me.Close()
	if me.PID() != os.Getpid() || me.Identity().PID != os.Getpid() || !strings.HasPrefix(me.ID(), strconv.Itoa(os.Getpid())+":") {
		t.Fatalf("%d %s", me.PID(), me.ID())
	}
	if !me.Alive() || me.Started() {
		t.Fatal("alive, not started by us")
	}
	info, err := me.Info("name", "ppid")
	if err != nil || info.Process.PPID == nil || *info.Process.PPID != os.Getppid() || info.Process.Name == "" {
		t.Fatalf("%+v, %v", info, err)
	}
	wantErr(t, me.Signal(syscall.SIGCONT), tether.ErrRefused, "signal itself")
	again, err := tether.GetIdentity(me.Identity())
	if err != nil || again.PID() != me.PID() {
		t.Fatalf("%v %v", again, err)
	}
	again.Close()
}

func TestProcessRefusesAWrongIdentity(t *testing.T) {
	// Forcing a real PID reuse needs a PID namespace; a start time one tick off is what a
	// reused PID looks like to the check, and must be refused before anything is sent.
	child := sleeper(t)
	p, err := tether.Get(child.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	id := p.Identity()
	parts := strings.SplitN(id.String(), ":", 4)
	wrong, err := tether.ParseIdentity(fmt.Sprintf("%s:%d:%s", parts[0], id.StartTicks+1, parts[2][:8]))
	if err != nil {
		t.Fatal(err)
	}
	_, err = tether.GetIdentity(wrong)
	wantErr(t, err, tether.ErrReused, "a wrong identity")
	if !p.Alive() {
		t.Fatal("the sleeper was touched")
	}
	// The right one signals it; then the handle knows it is gone.
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if _, err := p.WaitTimeout(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	if p.Alive() {
		t.Fatal("still alive")
	}
	_ = child.Wait() // reaped: its PID is free for reuse now, and the handle never reaches it
	wantErr(t, p.Signal(syscall.SIGTERM), tether.ErrNotFound, "signal the gone")
}

func TestStartAndTerminateTheWholeTree(t *testing.T) {
	p := start(t, tether.Options{Name: "sh", Args: []string{"-c", "sleep 300 & sleep 300 & wait"}})
	if !p.Started() || p.PID() <= 1 || p.Identity().PID != p.PID() {
		t.Fatalf("%d %s", p.PID(), p.ID())
	}
	ids := members(t, p, 2)
	// A wait with a timeout, while the tree runs.
	_, err := p.WaitTimeout(50 * time.Millisecond)
	wantErr(t, err, tether.ErrTimeout, "wait 50 ms")
	if !p.Alive() {
		t.Fatal("not alive")
	}
	// Wait in another goroutine while this one ends the tree.
	waited := make(chan *tether.ExitStatus, 1)
	go func() {
		e, _ := p.Wait()
		waited <- e
	}()
	r, err := p.Terminate(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Remaining) != 0 || len(r.Signalled) < 3 || r.PID != p.PID() {
		t.Fatalf("%+v", r)
	}
	select {
	case e := <-waited:
		if e == nil || e.Signal == nil || *e.Signal != int(syscall.SIGTERM) {
			t.Fatalf("exit %+v", e)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Wait did not return")
	}
	<-p.Done()
	if p.Alive() {
		t.Fatal("alive after Terminate")
	}
	allGone(t, append(ids, p.Identity()))
	// Once gone, terminating again is a success.
	r, err = p.Terminate(time.Second)
	if err != nil || !r.AlreadyGone {
		t.Fatalf("%+v, %v", r, err)
	}
}

func TestCancelledContextEndsTheTree(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := start(t, tether.Options{Name: "sh", Args: []string{"-c", "sleep 300 & sleep 300 & wait"}, Context: ctx})
	ids := members(t, p, 2)
	cancel()
	select {
	case <-p.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the tree outlived its context")
	}
	e, err := p.Wait()
	if err != nil || e == nil || e.Signal == nil || *e.Signal != int(syscall.SIGKILL) {
		t.Fatalf("%+v, %v", e, err)
	}
	allGone(t, append(ids, p.Identity()))
}

func TestRunCancelledContextEndsTheTree(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type ran struct {
		r   *tether.Result
		err error
	}
	done := make(chan ran, 1)
	go func() {
		r, err := tether.RunIn(ctx, dir, "sh", "-c", "sleep 300 & echo $! > bg; sleep 300")
		done <- ran{r, err}
	}()
	// Wait until the background sleep is there, and take its identity.
	var bg tether.Identity
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(dir, "bg"))
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			if bg, err = tether.IdentityOf(pid); err != nil {
				t.Fatal(err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the run did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case r := <-done:
		if !errors.Is(r.err, context.Canceled) || r.r != nil {
			t.Fatalf("%+v, %v", r.r, r.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run outlived its context")
	}
	allGone(t, []tether.Identity{bg})
}

func TestRunCapturesAndMapsExitCodes(t *testing.T) {
	ctx := context.Background()
	r, err := tether.Run(ctx, "sh", "-c", "echo hello; printf 'x\\000y' >&2; exit 3")
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Stdout) != "hello\n" || !bytes.Equal(r.Stderr, []byte("x\x00y")) || r.ExitCode != 3 || r.Exit.ExitCode() != 3 || r.TimedOut || r.PID <= 1 {
		t.Fatalf("%+v", r)
	}
	dir := t.TempDir()
	r, err = tether.RunIn(ctx, dir, "pwd")
	if err != nil || strings.TrimSpace(string(r.Stdout)) != dir || !r.Exit.Success() {
		t.Fatalf("%+v, %v", r, err)
	}
	r, err = tether.RunWith(ctx, tether.Options{Name: "sh", Args: []string{"-c", "seq 1 1000"}, CaptureLimit: 5, Env: []string{"PATH=/usr/bin:/bin"}})
	if err != nil || string(r.Stdout) != "1000\n" || r.StdoutDropped != 3893-5 {
		t.Fatalf("%+v, %v", r, err)
	}
	r, err = tether.RunWith(ctx, tether.Options{Name: "sh", Args: []string{"-c", "echo $FOO"}, Env: []string{"FOO=bar"}})
	if err != nil || string(r.Stdout) != "bar\n" {
		t.Fatalf("%+v, %v", r, err)
	}
}

func TestRunTimesOut(t *testing.T) {
	start := time.Now()
	r, err := tether.RunWith(context.Background(), tether.Options{Name: "sh", Args: []string{"-c", "sleep 300 & sleep 300"}, Timeout: 200 * time.Millisecond, KillAfter: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !r.TimedOut || r.ExitCode != 124 || time.Since(start) > 60*time.Second {
		t.Fatalf("%+v", r)
	}
}

func TestRunAndStartBadInput(t *testing.T) {
	ctx := context.Background()
	r, err := tether.Run(ctx, "/nonexistent/tether-test")
	wantErr(t, err, tether.ErrNotFound, "run a missing program")
	if r == nil || r.ExitCode != 127 {
		t.Fatalf("%+v", r)
	}
	_, err = tether.Run(ctx, "")
	wantErr(t, err, tether.ErrInvalid, "run nothing")
	_, err = tether.Run(ctx, "a\x00b")
	wantErr(t, err, tether.ErrInvalid, "a NUL")
	_, err = tether.RunWith(ctx, tether.Options{Name: "true", Env: []string{"NOEQUALS"}})
	wantErr(t, err, tether.ErrInvalid, "bad env")
	_, err = tether.RunWith(ctx, tether.Options{Name: "true", Contain: "box"})
	wantErr(t, err, tether.ErrInvalid, "bad containment")
	_, err = tether.RunWith(ctx, tether.Options{Name: "true", Timeout: -time.Second})
	wantErr(t, err, tether.ErrInvalid, "negative timeout")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = tether.Run(cancelled, "true")
	wantErr(t, err, context.Canceled, "an already cancelled context")

	_, err = tether.Start(tether.Options{Name: "/nonexistent/tether-test"})
	wantErr(t, err, tether.ErrNotFound, "start a missing program")
	_, err = tether.Start(tether.Options{Name: "true", Stdout: tether.StdioCapture})
	wantErr(t, err, tether.ErrInvalid, "start with capture")
	for _, pid := range []int{0, -1, 1 << 40} {
		_, err = tether.Get(pid)
		wantErr(t, err, tether.ErrInvalid, fmt.Sprint("get ", pid))
	}
	_, err = tether.Get(deadPID(t))
	wantErr(t, err, tether.ErrNotFound, "get a dead PID")
	p := start(t, tether.Options{Name: "sleep", Args: []string{"300"}, Stdin: tether.StdioNull})
	_, err = p.Terminate(-time.Second)
	wantErr(t, err, tether.ErrInvalid, "negative grace")
	wantErr(t, p.Signal(syscall.Signal(0)), tether.ErrInvalid, "signal 0")
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	wantErr(t, p.Signal(syscall.SIGTERM), tether.ErrInvalid, "a closed handle")
	if p.Alive() {
		t.Fatal("alive after Close")
	}
}

func TestStartTimeLimitAndSignal(t *testing.T) {
	p := start(t, tether.Options{Name: "sleep", Args: []string{"300"}, Timeout: 100 * time.Millisecond})
	e, err := p.WaitTimeout(30 * time.Second)
	if err != nil || e.Signal == nil || *e.Signal != int(syscall.SIGTERM) {
		t.Fatalf("%+v, %v", e, err)
	}
	q := start(t, tether.Options{Name: "sleep", Args: []string{"300"}})
	if err := q.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	e, err = q.Wait()
	if err != nil || e.ExitCode() != 128+int(syscall.SIGUSR1) {
		t.Fatalf("%+v, %v", e, err)
	}
}

func TestDoneOfAnExistingProcess(t *testing.T) {
	child := sleeper(t)
	p, err := tether.Get(child.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	select {
	case <-p.Done():
		t.Fatal("done while running")
	case <-time.After(50 * time.Millisecond):
	}
	_ = child.Process.Kill()
	select {
	case <-p.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("Done never closed")
	}
	// A child of this program: its status is known (read without reaping it).
	e, err := p.Wait()
	if err != nil || e == nil || e.Signal == nil || *e.Signal != int(syscall.SIGKILL) {
		t.Fatalf("%+v, %v", e, err)
	}
	// A handle watched but never exiting is released by Close.
	other := sleeper(t)
	q, err := tether.Get(other.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	_ = q.Done()
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestCheckPIDFile(t *testing.T) {
	child := sleeper(t)
	path := filepath.Join(t.TempDir(), "app.pid")
	if err := os.WriteFile(path, []byte(fmt.Sprintf("%d\n", child.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := tether.CheckPIDFile(path)
	if err != nil || !s.Alive || s.Status != "alive" || s.PID != child.Process.Pid || s.File.Format != "legacy" || s.IdentityStrength != "weak" {
		t.Fatalf("%+v, %v", s, err)
	}
	_ = child.Process.Kill()
	_ = child.Wait()
	s, err = tether.CheckPIDFile(path)
	if err != nil || s.Alive || s.Status == "alive" {
		t.Fatalf("%+v, %v", s, err)
	}
	_, err = tether.CheckPIDFile(filepath.Join(t.TempDir(), "none.pid"))
	wantErr(t, err, tether.ErrNotFound, "no PID file")
	bad := filepath.Join(t.TempDir(), "bad.pid")
	_ = os.WriteFile(bad, []byte("not a pid\n"), 0o644)
	_, err = tether.CheckPIDFile(bad)
	if err == nil {
		t.Fatal("a malformed PID file was read")
	}
}
