package tether

/*
#include <stdlib.h>
#include "tether.h"
*/
import "C"

import "unsafe"

// Identity names one process over time: PID + start time in clock ticks + boot id (+ the
// pidfs inode of its pidfd, on Linux 6.9+). A reused PID never passes for the process it once
// named. Get one from IdentityOf, ParseIdentity or a ProcessInfo's Identity string.
type Identity struct {
	PID        int
	StartTicks uint64
	BootID     string  // the kernel's boot id, lower-case hex
	PIDFSInode *uint64 // nil where the kernel has no pidfs
	text       string
}

// String is the identity's string form, PID:START_TICKS:BOOT8[:INODE], which the tether
// command line and every binding accept.
func (id Identity) String() string { return id.text }

// IdentityState is what Check finds.
type IdentityState int

const (
	// Same: the process is the one the identity was taken from, and alive (or a zombie).
	Same IdentityState = C.TETHER_IDENTITY_SAME
	// Gone: no process has that PID (or the machine rebooted since).
	Gone IdentityState = C.TETHER_IDENTITY_GONE
	// Reused: the PID now belongs to a different process.
	Reused IdentityState = C.TETHER_IDENTITY_REUSED
)

func (s IdentityState) String() string {
	switch s {
	case Same:
		return "same"
	case Gone:
		return "gone"
	case Reused:
		return "reused"
	}
	return "unknown"
}

type identityParts struct {
	PID        int     `json:"pid"`
	StartTicks uint64  `json:"start_ticks"`
	BootID     string  `json:"boot_id"`
	PIDFSInode *uint64 `json:"pidfs_inode"`
}

func (p identityParts) identity(text string) Identity {
	return Identity{PID: p.PID, StartTicks: p.StartTicks, BootID: p.BootID, PIDFSInode: p.PIDFSInode, text: text}
}

type identityReport struct {
	Identity       identityParts `json:"identity"`
	IdentityString string        `json:"identity_string"`
}

func identityFrom(doc string, err error) (Identity, error) {
	if err != nil {
		return Identity{}, err
	}
	var r identityReport
	if err := decode(doc, &r); err != nil {
		return Identity{}, err
	}
	return r.Identity.identity(r.IdentityString), nil
}

// IdentityOf takes the identity of the running process pid. Errors: ErrNotFound, ErrInvalid
// (PID 0, negative or above the PID range).
func IdentityOf(pid int) (Identity, error) {
	return identityFrom(callString(func(out **C.char) C.int32_t {
		return C.tether_identity_of(C.int64_t(pid), out)
	}))
}

// ParseIdentity parses the string form PID:START_TICKS:BOOT8[:INODE]; anything else is
// ErrInvalid.
func ParseIdentity(s string) (Identity, error) {
	cs, err := cString("identity", s)
	if err != nil {
		return Identity{}, err
	}
	defer C.free(unsafe.Pointer(cs))
	return identityFrom(callString(func(out **C.char) C.int32_t {
		return C.tether_identity_parse(cs, out)
	}))
}

// Check says whether the identity still names its process: Same, Gone or Reused.
func (id Identity) Check() (IdentityState, error) {
	cs, err := cString("identity", id.String())
	if err != nil {
		return 0, err
	}
	defer C.free(unsafe.Pointer(cs))
	n, err := callInt(func(out *C.int32_t) C.int32_t { return C.tether_identity_check(cs, out) })
	return IdentityState(n), err
}
