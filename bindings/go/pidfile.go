package tether

/*
#include <stdlib.h>
#include "tether.h"
*/
import "C"

import "unsafe"

// PIDFileStatus is the verdict on the process a PID file names (`tether alive --pidfile`).
type PIDFileStatus struct {
	// Alive: the process the file names runs (only "alive" is alive).
	Alive bool `json:"alive"`
	// Status is "alive", "stale" (the process is gone and its PID may belong to another one)
	// or "gone".
	Status string `json:"status"`
	// StaleReason says why it is stale: "rebooted", "reused", "exe_changed" or
	// "started_after_file".
	StaleReason string `json:"stale_reason"`
	// Message is the verdict in words.
	Message string `json:"message"`
	// PID is the PID the file names.
	PID int `json:"pid"`
	// Identity is the identity string of the running process, when alive.
	Identity string `json:"identity"`
	// IdentityStrength is "strong" (the file's full identity matched) or "weak" (a bare PID:
	// a legacy file), when alive.
	IdentityStrength string `json:"identity_strength"`
	// File is the file as read.
	File struct {
		Path   string `json:"path"`
		Format string `json:"format"` // "tether" or "legacy" (a bare PID)
		Locked bool   `json:"locked"` // its owner held its lock (the owner is alive)
	} `json:"pidfile"`
}

// CheckPIDFile reads the PID file at path and checks the process it names, its identity
// included (a tether PID file records one; a legacy file holds a bare PID). A stale or gone
// process is a verdict, not an error. Errors: ErrNotFound (no such file), ErrInvalid (a
// malformed file).
func CheckPIDFile(path string) (*PIDFileStatus, error) {
	p, err := cString("path", path)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(p))
	out, err := callString(func(o **C.char) C.int32_t { return C.tether_pidfile_check(p, o) })
	if err != nil {
		return nil, err
	}
	var s PIDFileStatus
	if err := decode(out, &s); err != nil {
		return nil, err
	}
	return &s, nil
}
