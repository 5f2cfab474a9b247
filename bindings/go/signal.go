package tether

/*
#include <stdlib.h>
#include "tether.h"
*/
import "C"

import (
	"syscall"
	"unsafe"
)

// ParseSignal reads a signal by name or number, as tether and kill spell them: "TERM",
// "SIGTERM", "term", "15", "RTMIN+2". Anything else is ErrInvalid.
func ParseSignal(s string) (syscall.Signal, error) {
	cs, err := cString("signal", s)
	if err != nil {
		return 0, err
	}
	defer C.free(unsafe.Pointer(cs))
	n, err := callInt(func(out *C.int32_t) C.int32_t { return C.tether_signal_number(cs, out) })
	return syscall.Signal(n), err
}

// SignalName is the name of a signal without "SIG", as kill -l spells it ("TERM",
// "RTMIN+3"). A number that is no signal is ErrInvalid.
func SignalName(sig syscall.Signal) (string, error) {
	return callString(func(out **C.char) C.int32_t { return C.tether_signal_name(C.int32_t(sig), out) })
}
