package tether_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"tether.dev/tether"
)

// wait waits for a started process and fails unless it exited with code 0.
func waitOK(t *testing.T, p *tether.Process) {
	t.Helper()
	exit, err := p.WaitTimeout(30 * time.Second)
	if err != nil || !exit.Success() {
		t.Fatalf("exit %+v, err %v", exit, err)
	}
}

func TestStartStreamsToWriters(t *testing.T) {
	var out, errOut bytes.Buffer
	p := start(t, tether.Options{Name: "sh", Args: []string{"-c", "seq 1 20000; echo oops >&2"},
		StdoutTo: &out, StderrTo: &errOut})
	waitOK(t, p)
	// Wait returned after the copies: everything is there (more than a pipe's buffer).
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 20000 || lines[19999] != "20000" || errOut.String() != "oops\n" {
		t.Fatalf("stdout %d lines (last %q), stderr %q", len(lines), lines[len(lines)-1], errOut.String())
	}
}

func TestStartStreamsToAFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := start(t, tether.Options{Name: "sh", Args: []string{"-c", "echo hi; echo err >&2"},
		StdoutTo: f, StderrTo: f})
	waitOK(t, p)
	// The file is still the caller's, open and writable.
	if _, err := f.WriteString("mine\n"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if string(got) != "hi\nerr\nmine\n" {
		t.Fatalf("file holds %q", got)
	}
}

func TestStartStdinFromAReader(t *testing.T) {
	var out bytes.Buffer
	p := start(t, tether.Options{Name: "tr", Args: []string{"a-z", "A-Z"},
		StdinFrom: strings.NewReader("hello\nworld\n"), StdoutTo: &out})
	waitOK(t, p)
	if out.String() != "HELLO\nWORLD\n" {
		t.Fatalf("stdout %q", out.String())
	}
	// An *os.File as stdin: its descriptor directly.
	path := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(path, []byte("abc"), 0o600); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out.Reset()
	p = start(t, tether.Options{Name: "tr", Args: []string{"a-z", "A-Z"}, StdinFrom: in, StdoutTo: &out})
	waitOK(t, p)
	if out.String() != "ABC" {
		t.Fatalf("stdout %q", out.String())
	}
	// A command that does not read its stdin does not hold Wait up.
	p = start(t, tether.Options{Name: "true", StdinFrom: strings.NewReader(strings.Repeat("x", 1<<20))})
	waitOK(t, p)
}

func TestRunWithStreams(t *testing.T) {
	var out bytes.Buffer
	r, err := tether.RunWith(context.Background(), tether.Options{Name: "sh",
		Args:      []string{"-c", "cat; echo oops >&2; exit 3"},
		StdinFrom: strings.NewReader("fed\n"), StdoutTo: &out})
	if err != nil {
		t.Fatal(err)
	}
	// stdout went to the writer; stderr is still captured.
	if out.String() != "fed\n" || r.Stdout != nil || string(r.Stderr) != "oops\n" || r.ExitCode != 3 {
		t.Fatalf("out %q, result %+v", out.String(), r)
	}
	// stdout captured explicitly, stderr to a file.
	path := filepath.Join(t.TempDir(), "err")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err = tether.RunWith(context.Background(), tether.Options{Name: "sh",
		Args: []string{"-c", "echo o; echo e >&2"}, Stdout: tether.StdioCapture, StderrTo: f})
	if err != nil || string(r.Stdout) != "o\n" || r.Stderr != nil {
		t.Fatalf("result %+v, err %v", r, err)
	}
	if got, _ := os.ReadFile(path); string(got) != "e\n" {
		t.Fatalf("file holds %q", got)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestStreamsWriterErrorIsReported(t *testing.T) {
	p := start(t, tether.Options{Name: "echo", Args: []string{"hi"}, StdoutTo: failingWriter{}})
	exit, err := p.WaitTimeout(30 * time.Second)
	if err == nil || !strings.Contains(err.Error(), "disk full") || !exit.Success() {
		t.Fatalf("exit %+v, err %v", exit, err)
	}
}

func TestStreamsBadCombinations(t *testing.T) {
	closed, err := os.CreateTemp(t.TempDir(), "closed")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	var buf bytes.Buffer
	var nilFile *os.File
	for name, o := range map[string]tether.Options{
		"stdout null and a writer":   {Stdout: tether.StdioNull, StdoutTo: &buf},
		"stderr inherit and writer":  {Stderr: tether.StdioInherit, StderrTo: &buf},
		"stdout capture and writer":  {Stdout: tether.StdioCapture, StdoutTo: &buf},
		"stdin null and a reader":    {Stdin: tether.StdioNull, StdinFrom: strings.NewReader("")},
		"a closed file":              {StdoutTo: closed},
		"a closed file as stdin":     {StdinFrom: closed},
		"a nil file":                 {StderrTo: nilFile},
		"a negative WaitDelay":       {StdoutTo: &buf, WaitDelay: -time.Second},
		"no program, with a writer":  {StdoutTo: &buf, Name: "-"},
		"a NUL in an arg, and files": {StdoutTo: &buf, StdinFrom: strings.NewReader("x"), Args: []string{"a\x00b"}},
	} {
		if o.Name == "" {
			o.Name = "true"
		} else if o.Name == "-" {
			o.Name = ""
		}
		if _, err := tether.Start(o); !errors.Is(err, tether.ErrInvalid) {
			t.Errorf("Start, %s: %v", name, err)
		}
		if _, err := tether.RunWith(context.Background(), o); !errors.Is(err, tether.ErrInvalid) {
			t.Errorf("RunWith, %s: %v", name, err)
		}
	}
	// A program that is not there: the pipes are released.
	if _, err := tether.Start(tether.Options{Name: "/nonexistent/tether-test", StdoutTo: &buf}); !errors.Is(err, tether.ErrNotFound) {
		t.Fatalf("missing program: %v", err)
	}
}

func TestWaitDoesNotHangOnAGrandchildHoldingThePipe(t *testing.T) {
	var out bytes.Buffer
	began := time.Now()
	// The background sleep keeps stdout's pipe open after the shell has exited.
	p := start(t, tether.Options{Name: "sh", Args: []string{"-c", "echo first; sleep 300 & exit 0"},
		StdoutTo: &out, WaitDelay: 200 * time.Millisecond})
	waitOK(t, p)
	if took := time.Since(began); took > 10*time.Second {
		t.Fatalf("Wait took %v", took)
	}
	if out.String() != "first\n" {
		t.Fatalf("stdout %q", out.String())
	}
}

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestStreamsLeakNothing(t *testing.T) {
	var out bytes.Buffer
	run := func() {
		p, err := tether.Start(tether.Options{Name: "sh", Args: []string{"-c", "cat; echo err >&2"},
			StdinFrom: strings.NewReader("x\n"), StdoutTo: &out, StderrTo: &out})
		if err != nil {
			t.Fatal(err)
		}
		waitOK(t, p)
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// Whatever is made once (threads, the runtime's poller) is made before counting. No
	// runtime.GC here: an *os.File's finalizer would close what was leaked and hide it.
	run()
	fds, goroutines := openFDs(t), runtime.NumGoroutine()
	for i := 0; i < 50; i++ {
		run()
	}
	if want := strings.Repeat("x\nerr\n", 51); len(out.String()) != len(want) {
		t.Fatalf("output %q", out.String())
	}
	// Goroutines end just after they signal: give them a moment.
	deadline := time.Now().Add(5 * time.Second)
	for {
		f, g := openFDs(t), runtime.NumGoroutine()
		if f <= fds && g <= goroutines {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 50 starts: %d fds (was %d), %d goroutines (was %d)", f, fds, g, goroutines)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
