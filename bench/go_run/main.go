// Command gorun measures the Go binding's Run of /bin/true against os/exec's cmd.Run() (issue
// 11: overhead <= 1.2x), alternating the two in one run, per containment mode (the default,
// auto, is what Run uses; group and none are shown for comparison). Also exec's cmd.Output(),
// which captures stdout as Run does.
//
// Build the static library first (cd bindings/go && go generate), then, as root:
//
//	python3 /work/shared/tools/crowd.py 5000 --ns -- sh -c 'cd bench/go_run && go run . -rounds 300'
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"time"

	"tether.dev/tether"
)

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func ms(d time.Duration) string { return fmt.Sprintf("%7.3f ms", float64(d)/1e6) }

func procs() int {
	ents, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range ents {
		if e.Name()[0] >= '0' && e.Name()[0] <= '9' {
			n++
		}
	}
	return n
}

func load() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.Fields(string(b) + " ?")[0]
}

func main() {
	rounds := flag.Int("rounds", 300, "measured runs of each side per mode")
	flag.Parse()
	ctx := context.Background()
	fmt.Printf("command: go run ./bench/go_run -rounds %d\n", *rounds)
	fmt.Printf("tether %s (Go binding, cgo, libtether.a bindings profile); %s; %d CPUs; %d processes in /proc; load average %s at start\n",
		tether.Version(), runtime.Version(), runtime.NumCPU(), procs(), load())
	type side struct {
		name string
		run  func() error
	}
	peerRun := side{"os/exec cmd.Run()", func() error { return exec.Command("/bin/true").Run() }}
	peerOut := side{"os/exec cmd.Output()", func() error { _, err := exec.Command("/bin/true").Output(); return err }}
	runMode := func(mode tether.Containment) side {
		return side{"tether.Run, contain " + string(mode), func() error {
			r, err := tether.RunWith(ctx, tether.Options{Name: "/bin/true", Contain: mode})
			if err == nil && r.ExitCode != 0 {
				err = fmt.Errorf("exit %d", r.ExitCode)
			}
			return err
		}}
	}
	sides := []side{peerRun, peerOut, {"tether.Run (default: auto)", func() error {
		r, err := tether.Run(ctx, "/bin/true")
		if err == nil && r.ExitCode != 0 {
			err = fmt.Errorf("exit %d", r.ExitCode)
		}
		return err
	}}, runMode(tether.ContainGroup), runMode(tether.ContainNone)}
	times := make([][]time.Duration, len(sides))
	// Warm up (page cache, thread pools), then alternate: one of each per round.
	for i := 0; i < 20; i++ {
		for _, s := range sides {
			if err := s.run(); err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", s.name, err)
				os.Exit(1)
			}
		}
	}
	for i := 0; i < *rounds; i++ {
		for k, s := range sides {
			t0 := time.Now()
			if err := s.run(); err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", s.name, err)
				os.Exit(1)
			}
			times[k] = append(times[k], time.Since(t0))
		}
	}
	base := median(times[0])
	fmt.Printf("median wall time of one run of /bin/true, %d rounds alternated:\n", *rounds)
	for k, s := range sides {
		m := median(times[k])
		fmt.Printf("  %-32s %s   ratio to cmd.Run() %5.2f\n", s.name, ms(m), float64(m)/float64(base))
	}
	ratio := float64(median(times[2])) / float64(base)
	verdict := "met"
	if ratio > 1.2 {
		verdict = "missed"
	}
	fmt.Printf("Run (default containment) / cmd.Run(): %.2f (target <= 1.2: %s); load average %s at the end\n", ratio, verdict, load())
}
