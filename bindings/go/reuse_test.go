package tether_test

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"tether.dev/tether"
)

// TestPIDReuseIsRefused forces a real PID reuse, inside a new PID namespace (so that no other
// process can be touched), as crates/tether/tests/pid_reuse.rs does: a process is started
// and ended, the kernel is made to hand out its PID again through
// /proc/sys/kernel/ns_last_pid, and then the old identity is refused with ErrReused and a
// handle taken before the reuse reaches nobody.
func TestPIDReuseIsRefused(t *testing.T) {
	if os.Getenv("TETHER_GO_IN_PIDNS") == "1" {
		reuseInsideNamespace(t)
		return
	}
	rerunInPIDNamespace(t, "TestPIDReuseIsRefused", "TETHER_GO_IN_PIDNS=1")
}

// rerunInPIDNamespace runs the test named test again, alone, as PID 1's child in a new PID
// namespace (so that it can touch no process outside), with env set; it fails unless that run
// passed and printed "inside the namespace: done".
func rerunInPIDNamespace(t *testing.T, test, env string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for a PID namespace")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare (util-linux)")
	}
	cmd := exec.Command("unshare", "--pid", "--fork", "--mount-proc", os.Args[0],
		"-test.run=^"+test+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), env)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "inside the namespace: done") {
		t.Fatalf("inside the namespace: %v\n%s", err, out)
	}
}

func reuseInsideNamespace(t *testing.T) {
	first := exec.Command("sleep", "300")
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	pid := first.Process.Pid
	held, err := tether.Get(pid)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	id := held.Identity()
	_ = first.Process.Kill()
	_ = first.Wait()

	var second *exec.Cmd
	for i := 0; i < 50 && second == nil; i++ {
		if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(pid-1)), 0); err != nil {
			t.Fatal(err)
		}
		c := exec.Command("sleep", "300")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		if c.Process.Pid == pid {
			second = c
		} else {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}
	if second == nil {
		t.Fatal("the kernel did not hand out the PID again")
	}
	defer func() {
		_ = second.Process.Kill()
		_ = second.Wait()
	}()
	if st, err := id.Check(); err != nil || st != tether.Reused {
		t.Fatalf("check: %v, %v", st, err)
	}
	_, err = tether.GetIdentity(id)
	wantErr(t, err, tether.ErrReused, "open the reused identity")
	// The handle taken before the reuse reaches nobody, although the PID names a live process.
	if held.Alive() {
		t.Fatal("the old handle calls the new process alive")
	}
	wantErr(t, held.Signal(syscall.SIGKILL), tether.ErrNotFound, "signal through the old handle")
	_, err = held.Info("name")
	wantErr(t, err, tether.ErrReused, "read through the old handle")
	// The new process was not touched.
	if err := second.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the new process was hit: %v", err)
	}
	now, err := tether.Get(pid)
	if err != nil || now.ID() == id.String() {
		t.Fatalf("%v, %v", now, err)
	}
	now.Close()
	t.Log("inside the namespace: done")
}
