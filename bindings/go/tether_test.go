package tether_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"tether.dev/tether"
)

// sleeper starts a child that sleeps until the test ends it (tests signal only their own
// children), optionally handing it extra files to hold.
func sleeper(t *testing.T, files ...*os.File) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "300")
	cmd.ExtraFiles = files
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

// deadPID is the PID of a child that has exited and been reaped.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func wantErr(t *testing.T, err error, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got %v, want an error matching %v", what, err, target)
	}
	var te *tether.Error
	if errors.Is(target, tether.ErrInvalid) && !errors.As(err, &te) {
		t.Fatalf("%s: %T is not a *tether.Error", what, err)
	}
}

func TestVersions(t *testing.T) {
	if v := tether.Version(); !strings.Contains(v, ".") {
		t.Errorf("Version() = %q", v)
	}
	if tether.ABIVersion() != 1 {
		t.Errorf("ABIVersion() = %d", tether.ABIVersion())
	}
}

func TestSnapshotInspectsItself(t *testing.T) {
	procs, err := tether.Snapshot(tether.Query{
		Fields: []string{"pid", "ppid", "name", "cmdline", "rss", "start", "elapsed", "identity"},
		Filter: tether.Filter{PIDs: []int{os.Getpid()}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(procs) != 1 {
		t.Fatalf("got %d processes", len(procs))
	}
	p := procs[0]
	if p.PID != os.Getpid() || p.PPID == nil || *p.PPID != os.Getppid() {
		t.Errorf("pid/ppid: %+v", p)
	}
	exe, _ := os.Executable()
	if len(p.Cmdline) == 0 || filepath.Base(p.Cmdline[0]) != filepath.Base(exe) {
		t.Errorf("cmdline %q, executable %q", p.Cmdline, exe)
	}
	if p.RSSBytes == nil || *p.RSSBytes == 0 || p.StartTime.IsZero() || time.Since(p.StartTime) > time.Hour {
		t.Errorf("rss/start: %+v", p)
	}
	if !strings.HasPrefix(p.Identity, fmt.Sprintf("%d:", os.Getpid())) {
		t.Errorf("identity %q", p.Identity)
	}
	if p.Exe != "" || p.Environ != nil {
		t.Errorf("fields not asked for were read: %+v", p)
	}
}

func TestSnapshotFilters(t *testing.T) {
	child := sleeper(t)
	procs, err := tether.Snapshot(tether.Query{
		Fields: []string{},
		Filter: tether.Filter{
			Name:   tether.NameIs("sleep"),
			PPID:   tether.Ptr(os.Getpid()),
			States: []string{"S", "running"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(procs) != 1 || procs[0].PID != child.Process.Pid {
		t.Fatalf("got %+v, want only %d", procs, child.Process.Pid)
	}
	// The name was read for the filter, and is returned.
	if procs[0].Name != "sleep" {
		t.Errorf("name %q", procs[0].Name)
	}
	none, err := tether.Snapshot(tether.Query{Filter: tether.Filter{Name: tether.NameMatches("^no such name$")}})
	if err != nil || len(none) != 0 {
		t.Errorf("no match: %v, %v", none, err)
	}
}

func TestSnapshotBadInput(t *testing.T) {
	for name, q := range map[string]tether.Query{
		"unknown field":   {Fields: []string{"colour"}},
		"PID 0":           {Filter: tether.Filter{PIDs: []int{0}}},
		"negative PID":    {Filter: tether.Filter{PIDs: []int{-1}}},
		"bad regex":       {Filter: tether.Filter{Cmdline: "("}},
		"bad name regex":  {Filter: tether.Filter{Name: tether.NameMatches("[")}},
		"unknown state":   {Filter: tether.Filter{States: []string{"Q"}}},
		"uid and user":    {Filter: tether.Filter{UID: tether.Ptr(0), User: "root"}},
		"unknown user":    {Filter: tether.Filter{User: "no-such-user-x"}},
		"negative MinAge": {Filter: tether.Filter{MinAge: -time.Second}},
	} {
		_, err := tether.Snapshot(q)
		wantErr(t, err, tether.ErrInvalid, name)
	}
}

func TestGetAndIdentity(t *testing.T) {
	info, err := tether.Inspect(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if info.Process.PID != os.Getpid() || info.Identity.PID != os.Getpid() || len(info.Ancestors) == 0 || info.Ancestors[0] != os.Getppid() {
		t.Fatalf("%+v", info)
	}
	id, err := tether.IdentityOf(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if id.String() != info.Identity.String() || id.StartTicks != info.Identity.StartTicks || len(id.BootID) != 32 {
		t.Fatalf("%+v vs %+v", id, info.Identity)
	}
	parsed, err := tether.ParseIdentity(id.String())
	if err != nil || parsed.String() != id.String() || parsed.PID != id.PID {
		t.Fatalf("parse %q: %+v, %v", id, parsed, err)
	}
	if st, err := id.Check(); err != nil || st != tether.Same {
		t.Fatalf("check self: %v, %v", st, err)
	}
	byID, err := tether.InspectIdentity(id, "name")
	if err != nil || byID.Process.Name == "" || byID.Process.RSSBytes != nil {
		t.Fatalf("get by identity: %+v, %v", byID, err)
	}
}

func TestIdentityRefusesAReusedPID(t *testing.T) {
	id, err := tether.IdentityOf(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// The same PID with another start time: what a reused PID looks like.
	parts := strings.SplitN(id.String(), ":", 3)
	other, err := tether.ParseIdentity(fmt.Sprintf("%s:%d:%s", parts[0], id.StartTicks+1, parts[2]))
	if err != nil {
		t.Fatal(err)
	}
	if st, err := other.Check(); err != nil || st != tether.Reused {
		t.Fatalf("check: %v, %v", st, err)
	}
	_, err = tether.InspectIdentity(other)
	wantErr(t, err, tether.ErrReused, "get a reused identity")
}

func TestIdentityOfAnExitedChildIsGone(t *testing.T) {
	child := sleeper(t)
	id, err := tether.IdentityOf(child.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	_ = child.Process.Kill()
	_ = child.Wait()
	if st, err := id.Check(); err != nil || st != tether.Gone {
		t.Fatalf("check: %v, %v", st, err)
	}
	_, err = tether.InspectIdentity(id)
	wantErr(t, err, tether.ErrNotFound, "get an exited identity")
}

func TestGetBadInput(t *testing.T) {
	dead := deadPID(t)
	_, err := tether.Inspect(dead)
	wantErr(t, err, tether.ErrNotFound, "get a dead PID")
	_, err = tether.IdentityOf(dead)
	wantErr(t, err, tether.ErrNotFound, "identity of a dead PID")
	for _, pid := range []int{0, -1, 1 << 40} {
		_, err = tether.Inspect(pid)
		wantErr(t, err, tether.ErrInvalid, fmt.Sprint("get ", pid))
		_, err = tether.IdentityOf(pid)
		wantErr(t, err, tether.ErrInvalid, fmt.Sprint("identity of ", pid))
	}
	_, err = tether.Inspect(os.Getpid(), "colour")
	wantErr(t, err, tether.ErrInvalid, "bad field")
	for _, s := range []string{"", "abc", "1:2", "1:2:zz", "0:1:ab", "1:2:ab\x00"} {
		_, err = tether.ParseIdentity(s)
		wantErr(t, err, tether.ErrInvalid, "parse "+s)
	}
	_, err = tether.Identity{}.Check()
	wantErr(t, err, tether.ErrInvalid, "check an empty identity")
}

// listener is a listening TCP socket on 127.0.0.1 held by a child (the library's owner scan
// leaves out the calling process itself), and its port.
func listener(t *testing.T) (*exec.Cmd, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	child := sleeper(t, f)
	f.Close()
	t.Cleanup(func() { ln.Close() })
	return child, ln.Addr().(*net.TCPAddr).Port
}

func hasOwner(owners []tether.Owner, pid int) bool {
	for _, o := range owners {
		if o.PID == pid && strings.HasPrefix(o.Identity, fmt.Sprintf("%d:", pid)) && len(o.FDs) > 0 {
			return true
		}
	}
	return false
}

func TestPortsAndWho(t *testing.T) {
	child, port := listener(t)
	pid := child.Process.Pid
	list, err := tether.Ports(tether.PortsQuery{Protos: []tether.Proto{tether.TCP}, Port: port, PIDs: []string{fmt.Sprint(pid)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Sockets) != 1 || list.Sockets[0].LocalPort != port || list.Sockets[0].State != "LISTEN" || !hasOwner(list.Sockets[0].Owners, pid) {
		t.Fatalf("%+v", list)
	}
	who, err := tether.Who(port, tether.TCP)
	if err != nil {
		t.Fatal(err)
	}
	if who.Port != port || !hasOwner(who.Owners, pid) {
		t.Fatalf("%+v", who)
	}
	both, err := tether.Who(port, "")
	if err != nil || len(both.Protos) != 2 {
		t.Fatalf("%+v, %v", both, err)
	}
}

func TestPortsBadInput(t *testing.T) {
	for name, q := range map[string]tether.PortsQuery{
		"port too large": {Port: 65536},
		"negative port":  {Port: -1},
		"unknown proto":  {Protos: []tether.Proto{"sctp"}},
		"PID 0":          {PIDs: []string{"0"}},
		"not a PID":      {PIDs: []string{"x"}},
	} {
		_, err := tether.Ports(q)
		wantErr(t, err, tether.ErrInvalid, name)
	}
	_, err := tether.Ports(tether.PortsQuery{PIDs: []string{fmt.Sprint(deadPID(t))}})
	wantErr(t, err, tether.ErrNotFound, "a dead PID")
	for _, port := range []int{0, -1, 65536} {
		_, err := tether.Who(port, "")
		wantErr(t, err, tether.ErrInvalid, fmt.Sprint("who ", port))
	}
	_, err = tether.Who(80, "sctp")
	wantErr(t, err, tether.ErrInvalid, "who 80/sctp")
}

func TestWaitForReady(t *testing.T) {
	_, port := listener(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "ready")
	go func() {
		time.Sleep(50 * time.Millisecond)
		_ = os.WriteFile(file, []byte("x"), 0o600)
	}()
	r, err := tether.WaitFor(context.Background(), []string{fmt.Sprintf(":%d", port), "file:" + file},
		&tether.WaitOptions{Timeout: 30 * time.Second, File: tether.FileOptions{NonEmpty: true}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != "ready" || len(r.Targets) != 2 || !r.Targets[1].Ready || r.Targets[1].TimeToReady <= 0 {
		t.Fatalf("%+v", r)
	}
}

func TestWaitForTimesOut(t *testing.T) {
	r, err := tether.WaitFor(context.Background(), []string{"file:/nonexistent/tether-go-test"},
		&tether.WaitOptions{Timeout: 100 * time.Millisecond})
	wantErr(t, err, tether.ErrTimeout, "timeout")
	if r == nil || r.Outcome != "timed_out" || r.Elapsed < 100*time.Millisecond || r.Targets[0].Ready {
		t.Fatalf("%+v", r)
	}
	// The context's deadline ends it the same way, and says so.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	r, err = tether.WaitFor(ctx, []string{"file:/nonexistent/tether-go-test"}, nil)
	wantErr(t, err, tether.ErrTimeout, "context deadline")
	wantErr(t, err, context.DeadlineExceeded, "context deadline")
	if r == nil || r.Outcome != "timed_out" {
		t.Fatalf("%+v", r)
	}
}

func TestWaitForCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	r, err := tether.WaitFor(ctx, []string{"cmd:sleep 300"}, nil)
	if !errors.Is(err, context.Canceled) || r != nil {
		t.Fatalf("got %+v, %v", r, err)
	}
	// Ended soon after the cancellation (generous: other builds load the machine).
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("took %v", d)
	}
	// Cancelled before it starts: at once.
	_, err = tether.WaitFor(ctx, []string{":1"}, nil)
	wantErr(t, err, context.Canceled, "already cancelled")
}

func TestWaitForWatchedProcessDies(t *testing.T) {
	child := sleeper(t)
	time.AfterFunc(100*time.Millisecond, func() { _ = child.Process.Kill() })
	r, err := tether.WaitFor(context.Background(), []string{"file:/nonexistent/x"},
		&tether.WaitOptions{Watch: fmt.Sprint(child.Process.Pid), Timeout: 60 * time.Second})
	wantErr(t, err, tether.ErrProcessDied, "watched process")
	if r == nil || r.Outcome != "process_died" || !strings.HasPrefix(r.Watched, fmt.Sprint(child.Process.Pid)) {
		t.Fatalf("%+v", r)
	}
}

func TestWaitForBadInput(t *testing.T) {
	ctx := context.Background()
	for name, c := range map[string]struct {
		targets []string
		opts    *tether.WaitOptions
	}{
		"no target":        {nil, nil},
		"bad target":       {[]string{"nonsense"}, nil},
		"port 0":           {[]string{":0"}, nil},
		"negative timeout": {[]string{":1"}, &tether.WaitOptions{Timeout: -time.Second}},
		"bad watch":        {[]string{":1"}, &tether.WaitOptions{Watch: "0"}},
		"bad status":       {[]string{"http://127.0.0.1:1/"}, &tether.WaitOptions{HTTP: tether.HTTPOptions{Status: "700"}}},
		"HEAD with body":   {[]string{"http://127.0.0.1:1/"}, &tether.WaitOptions{HTTP: tether.HTTPOptions{Method: "HEAD", Body: "x"}}},
		"NUL in target":    {[]string{"file:/a\x00b"}, nil},
	} {
		_, err := tether.WaitFor(ctx, c.targets, c.opts)
		wantErr(t, err, tether.ErrInvalid, name)
	}
}

func TestSignals(t *testing.T) {
	for s, want := range map[string]syscall.Signal{"TERM": syscall.SIGTERM, "sigkill": syscall.SIGKILL, "1": syscall.SIGHUP} {
		if got, err := tether.ParseSignal(s); err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %v, %v", s, got, err)
		}
	}
	if name, err := tether.SignalName(syscall.SIGKILL); err != nil || name != "KILL" {
		t.Errorf("SignalName(9) = %q, %v", name, err)
	}
	for _, s := range []string{"FOO", "0", "-9", "32", "", "TE\x00RM"} {
		_, err := tether.ParseSignal(s)
		wantErr(t, err, tether.ErrInvalid, "ParseSignal "+s)
	}
	for _, n := range []syscall.Signal{0, -1, 32, 1000} {
		_, err := tether.SignalName(n)
		wantErr(t, err, tether.ErrInvalid, fmt.Sprint("SignalName ", int(n)))
	}
}

func TestErrorsMatchOnlyTheirOwnKind(t *testing.T) {
	_, err := tether.Inspect(deadPID(t))
	var te *tether.Error
	if !errors.As(err, &te) || te.Kind != "not_found" || te.Message == "" || !strings.HasPrefix(err.Error(), "tether: ") {
		t.Fatalf("%#v", err)
	}
	for _, other := range []error{tether.ErrInvalid, tether.ErrReused, tether.ErrTimeout, tether.ErrPermission, fs.ErrPermission} {
		if errors.Is(err, other) {
			t.Errorf("%v matches %v", err, other)
		}
	}
}
