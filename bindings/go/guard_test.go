package tether_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tether.dev/tether"
)

// TestAKilledProgramsTreesAreEnded: a Go program that started a tree is SIGKILLed, so nothing
// of it runs again; its guard (one per program, see the README's C ABI section) ends the tree,
// escapers included, and removes the program's cgroup pool. Inside a PID namespace, so that
// nothing outside the test is touched.
func TestAKilledProgramsTreesAreEnded(t *testing.T) {
	switch os.Getenv("TETHER_GO_GUARD") {
	case "host":
		guardHost(t)
		return
	case "ns":
		guardInsideNamespace(t)
		return
	}
	rerunInPIDNamespace(t, "TestAKilledProgramsTreesAreEnded", "TETHER_GO_GUARD=ns")
}

// guardHost is the program that is killed: it starts a tree, says where it is, and waits.
func guardHost(t *testing.T) {
	p, err := tether.Start(tether.Options{Name: "sh", Args: []string{"-c", "setsid sleep 300 & sleep 300 & wait"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range append(members(t, p, 2), p.Identity()) {
		fmt.Printf("id %s\n", id)
	}
	cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", p.PID()))
	for _, l := range strings.Split(string(cg), "\n") {
		// The unified hierarchy's line: "0::/path/tether-PID-pool/N".
		if rel, ok := strings.CutPrefix(l, "0::"); ok {
			fmt.Printf("cgroup %s\n", rel)
		}
	}
	fmt.Println("ready")
	time.Sleep(300 * time.Second)
}

func guardInsideNamespace(t *testing.T) {
	host := exec.Command(os.Args[0], "-test.run=^TestAKilledProgramsTreesAreEnded$", "-test.count=1", "-test.v")
	host.Env = append(os.Environ(), "TETHER_GO_GUARD=host")
	stdout, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = host.Process.Kill(); _ = host.Wait() }()
	var ids []tether.Identity
	pool := ""
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		line := lines.Text()
		if text, ok := strings.CutPrefix(line, "id "); ok {
			id, err := tether.ParseIdentity(strings.TrimSpace(text))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		if rel, ok := strings.CutPrefix(line, "cgroup "); ok {
			pool = filepath.Dir(rel)
		}
		if line == "ready" {
			break
		}
	}
	if len(ids) != 3 || !strings.Contains(filepath.Base(pool), "-pool") {
		t.Fatalf("ids %v, pool %q", ids, pool)
	}
	if err := host.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = host.Wait()
	allGone(t, ids)
	deadline := time.Now().Add(10 * time.Second)
	for {
		// The pool's directory under the cgroup2 mount (found through our own cgroup file).
		gone := true
		for _, mnt := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
			if _, err := os.Stat(filepath.Join(mnt, pool, "cgroup.procs")); err == nil {
				gone = false
			}
		}
		if gone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pool %s not removed", pool)
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Println("inside the namespace: done")
}
