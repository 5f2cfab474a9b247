package tether

/*
#include "tether.h"
*/
import "C"

import (
	"encoding/json"
	"errors"
	"io/fs"
)

// Error is an error from the tether library: its stable code (the C ABI's TETHER_E_*), its
// kind as the library names it (not_found, permission_denied, identity_mismatch, refused,
// invalid_argument, timed_out, not_supported, system) and a message that says what was wrong
// and what to do. Match it with errors.Is against ErrNotFound and the others.
type Error struct {
	Code    int
	Kind    string
	Message string
}

func (e *Error) Error() string { return "tether: " + e.Message }

// The sentinel errors that errors.Is matches an *Error against, one per code.
var (
	ErrNotFound     = errors.New("tether: not found")
	ErrPermission   = errors.New("tether: permission denied")
	ErrReused       = errors.New("tether: identity mismatch (the PID was reused)")
	ErrRefused      = errors.New("tether: refused by a safety rail")
	ErrInvalid      = errors.New("tether: invalid argument")
	ErrTimeout      = errors.New("tether: timed out")
	ErrNotSupported = errors.New("tether: not supported")
	ErrSystem       = errors.New("tether: system error")
	ErrInternal     = errors.New("tether: internal error")
)

var sentinels = map[int]error{
	int(C.TETHER_E_NOT_FOUND):         ErrNotFound,
	int(C.TETHER_E_PERMISSION_DENIED): ErrPermission,
	int(C.TETHER_E_IDENTITY_MISMATCH): ErrReused,
	int(C.TETHER_E_REFUSED):           ErrRefused,
	int(C.TETHER_E_INVALID_ARGUMENT):  ErrInvalid,
	int(C.TETHER_E_TIMED_OUT):         ErrTimeout,
	int(C.TETHER_E_NOT_SUPPORTED):     ErrNotSupported,
	int(C.TETHER_E_SYSTEM):            ErrSystem,
	int(C.TETHER_E_INTERNAL):          ErrInternal,
}

// Is reports whether target is the sentinel of e's code; a permission error also matches
// fs.ErrPermission.
func (e *Error) Is(target error) bool {
	if s, ok := sentinels[e.Code]; ok && s == target {
		return true
	}
	return target == fs.ErrPermission && e.Code == int(C.TETHER_E_PERMISSION_DENIED)
}

// lastError is the calling thread's last error, after a call that returned rc.
func lastError(rc C.int32_t) error {
	e := &Error{Code: int(rc), Kind: "system", Message: "unknown error"}
	var doc struct {
		Error struct {
			Kind    string `json:"kind"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if p := C.tether_last_error_json(); p != nil && json.Unmarshal([]byte(C.GoString(p)), &doc) == nil {
		e.Kind, e.Message = doc.Error.Kind, doc.Error.Message
	}
	return e
}

// invalid is an ErrInvalid error raised on the Go side (bad input that cannot reach C).
func invalid(message string) error {
	return &Error{Code: int(C.TETHER_E_INVALID_ARGUMENT), Kind: "invalid_argument", Message: message}
}

// systemErr is an ErrSystem error.
func systemErr(message string) error {
	return &Error{Code: int(C.TETHER_E_SYSTEM), Kind: "system", Message: message}
}
