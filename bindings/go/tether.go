// Package tether is the Go binding of tether, process primitives that get identity,
// containment and waiting right: process snapshots and lookups, identities that survive PID
// reuse, who holds a port, readiness waits, contained runs (Run, Start), background jobs
// (Jobs, supervised by the tether program) and retries (Retry).
//
// It calls the tether library through its C ABI (cgo), linked statically from this
// repository's sources: build the library with `go generate` in this directory, which runs
// `cargo build --profile bindings -p tether-ffi` and leaves target/bindings/libtether.a at the
// repository's root (run it again after changing the Rust sources). Linux only.
//
// A started or run command's streams go where Options say: inherited, /dev/null, captured
// (RunWith), or to an io.Writer / from an io.Reader (StdoutTo, StderrTo, StdinFrom), as
// exec.Cmd's Stdout, Stderr and Stdin: an *os.File by its descriptor, anything else through a
// pipe that Wait drains (at most Options.WaitDelay after the exit).
//
// Every error is an *Error; errors.Is matches it against ErrNotFound, ErrPermission,
// ErrReused, ErrRefused, ErrInvalid, ErrTimeout, ErrNotSupported, ErrSystem and ErrInternal.
//
//	procs, err := tether.Snapshot(tether.Query{
//		Fields: []string{"pid", "name", "rss"},
//		Filter: tether.Filter{Name: tether.NameContains("worker")},
//	})
package tether

//go:generate cargo build --quiet --profile bindings -p tether-ffi --manifest-path ../../Cargo.toml

/*
#cgo CFLAGS: -I${SRCDIR}/../../crates/tether-ffi/include
#cgo LDFLAGS: ${SRCDIR}/../../target/bindings/libtether.a -lgcc_s -lutil -lrt -lpthread -lm -ldl
#include <stdlib.h>
#include "tether.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"time"
	"unsafe"
)

// ABIVersion is the version of the C ABI this package was written for; the library it is
// linked with must report the same (see ABIVersion()).
const abiVersion = 1

// Version is the version of the tether library, e.g. "0.1.0".
func Version() string {
	return C.GoString(C.tether_version())
}

// ABIVersion is the ABI version of the linked library.
func ABIVersion() int {
	return int(C.tether_abi_version())
}

func init() {
	if v := ABIVersion(); v != abiVersion {
		panic(fmt.Sprintf("tether: the linked libtether.a has ABI version %d, this package needs %d: rebuild it with go generate", v, abiVersion))
	}
}

// cString is s for C, freed by the caller with C.free. A NUL byte would cut the string short
// in C, so it is refused.
func cString(what, s string) (*C.char, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, invalid(fmt.Sprintf("%s contains a NUL byte", what))
	}
	return C.CString(s), nil
}

// callString runs a C function that gives a string through an out-pointer, and reads the
// error on the same OS thread (the last error is per thread, and a goroutine may move
// between threads from one cgo call to the next).
func callString(f func(out **C.char) C.int32_t) (string, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var out *C.char
	rc := f(&out)
	if rc != C.TETHER_OK {
		return "", lastError(rc)
	}
	defer C.tether_free_string(out)
	return C.GoString(out), nil
}

// cancellable runs call (see callString) with a cancel token that the end of ctx triggers,
// ending the call early (its tree, its wait).
func cancellable(ctx context.Context, call func(token *C.TetherCancel, out **C.char) C.int32_t) (string, error) {
	var out string
	err := withToken(ctx, func(token *C.TetherCancel) error {
		var err error
		out, err = callString(func(o **C.char) C.int32_t { return call(token, o) })
		return err
	})
	return out, err
}

// withToken runs f with a cancel token that the end of ctx triggers. A context that can never
// end (Background, TODO) gets no token (nil): the call then makes no canceller.
func withToken(ctx context.Context, f func(token *C.TetherCancel) error) error {
	if ctx.Done() == nil {
		return f(nil)
	}
	token := C.tether_cancel_new()
	if token == nil {
		return &Error{Code: int(C.TETHER_E_SYSTEM), Kind: "system", Message: "out of memory"}
	}
	defer C.tether_cancel_free(token)
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		C.tether_cancel_trigger(token)
		close(fired)
	})
	err := f(token)
	// The token may be freed only once nobody can trigger it: stop it, or let it finish.
	if !stop() {
		<-fired
	}
	return err
}

// callInt runs a C function that gives an int32 through an out-pointer (see callString).
func callInt(f func(out *C.int32_t) C.int32_t) (int, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var out C.int32_t
	rc := f(&out)
	if rc != C.TETHER_OK {
		return 0, lastError(rc)
	}
	return int(out), nil
}

// callJSON sends a query document (a struct whose first field is its schema id) to a C
// function and decodes the report it returns.
func callJSON(query any, f func(q *C.char, out **C.char) C.int32_t, report any) error {
	doc, err := json.Marshal(query)
	if err != nil {
		return invalid(err.Error())
	}
	q, err := cString("query", string(doc))
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(q))
	out, err := callString(func(o **C.char) C.int32_t { return f(q, o) })
	if err != nil {
		return err
	}
	return decode(out, report)
}

// millis is a duration as the whole milliseconds of a *_ms field, rounded up so that a short
// positive duration never becomes 0 (which means "none" for limits).
func millis(what string, d time.Duration) (*uint64, error) {
	if d < 0 {
		return nil, invalid(fmt.Sprintf("%s is negative (%v)", what, d))
	}
	if d == 0 {
		return nil, nil
	}
	ms := uint64((d + time.Millisecond - 1) / time.Millisecond)
	return &ms, nil
}

// jsonString is v as a JSON document.
func jsonString(v any) (string, error) {
	doc, err := json.Marshal(v)
	if err != nil {
		return "", invalid(err.Error())
	}
	return string(doc), nil
}

// decode reads a report; a document the package cannot read is an internal error.
func decode(doc string, report any) error {
	if err := json.Unmarshal([]byte(doc), report); err != nil {
		return &Error{Code: int(C.TETHER_E_INTERNAL), Kind: "system", Message: fmt.Sprintf("reading the library's report: %v", err)}
	}
	return nil
}
