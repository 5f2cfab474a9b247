package tether

/*
#include "tether.h"
*/
import "C"

import (
	"encoding/json"
	"strconv"
	"time"
)

// Query says what Snapshot reads and which processes it keeps (the library's inspect::Query).
type Query struct {
	// Fields to read, as `tether ps --fields` names them: pid, ppid, pgid, sid, tty, user, uid,
	// state, cpu, cpu_time, rss, vsz, threads, start, elapsed, name, exe, cmdline, identity,
	// env. Nil: all but env. An empty, non-nil slice: the PID only. Only the files the fields
	// need are read; a filter reads (and returns) the fields it needs.
	Fields []string
	// Filter keeps the processes that meet all its conditions.
	Filter Filter
	// CPUSample, when positive, measures CPU % over this interval instead of the lifetime
	// average (Snapshot then takes that long).
	CPUSample time.Duration
}

// Filter holds conditions on processes; the zero value keeps every process. Pointer fields
// are conditions only when set (Ptr(0) filters on 0).
type Filter struct {
	PIDs          []int      // only these PIDs (the others are not even read)
	Name          *NameMatch // the command name (NameIs, NameContains, NameMatches)
	Cmdline       string     // a regular expression over the command line joined by spaces
	UID           *int       // effective uid
	User          string     // effective user by name (not with UID)
	PPID          *int       // parent PID
	PGID          *int       // process group id
	SID           *int       // session id
	States        []string   // any of these states: letters (R, S, D, Z, T) or names (running, zombie)
	MinCPUPercent *float64   // minimum CPU percent (of one CPU)
	MinRSSBytes   *uint64    // minimum resident memory in bytes
	MinAge        time.Duration
}

// NameMatch is how a command name is matched.
type NameMatch struct {
	kind, value string
}

// NameIs matches the whole command name.
func NameIs(name string) *NameMatch { return &NameMatch{"exact", name} }

// NameContains matches a part of the command name.
func NameContains(part string) *NameMatch { return &NameMatch{"substring", part} }

// NameMatches matches the command name against a regular expression (unanchored, as pgrep).
func NameMatches(regex string) *NameMatch { return &NameMatch{"regex", regex} }

// Ptr is a pointer to v, for the optional fields of Filter.
func Ptr[T any](v T) *T { return &v }

// ProcessInfo is one process. Fields that were not requested, or could not be read, are zero
// (nil for pointers); Denied names the requested fields this user may not read.
type ProcessInfo struct {
	PID              int           `json:"pid"`
	PPID             *int          `json:"ppid,omitempty"`
	PGID             *int          `json:"pgid,omitempty"`
	SID              *int          `json:"sid,omitempty"`
	TTY              string        `json:"tty,omitempty"`
	Name             string        `json:"name,omitempty"`
	Exe              string        `json:"exe,omitempty"`
	Cmdline          []string      `json:"cmdline,omitempty"`
	State            string        `json:"state,omitempty"`
	UID              *int          `json:"uid,omitempty"`
	User             string        `json:"user,omitempty"`
	StartTicks       *uint64       `json:"start_ticks,omitempty"`
	StartTime        time.Time     `json:"-"`
	Elapsed          time.Duration `json:"-"`
	RSSBytes         *uint64       `json:"rss_bytes,omitempty"`
	VSizeBytes       *uint64       `json:"vsize_bytes,omitempty"`
	CPUUser          time.Duration `json:"-"`
	CPUSystem        time.Duration `json:"-"`
	CPUPercent       *float64      `json:"cpu_percent,omitempty"`
	Threads          *uint64       `json:"threads,omitempty"`
	Identity         string        `json:"identity,omitempty"`
	Environ          []string      `json:"environ,omitempty"`
	EnvironTruncated bool          `json:"environ_truncated,omitempty"`
	Denied           []string      `json:"denied,omitempty"`
}

// UnmarshalJSON reads a record of a tether.ps/v1 or tether.info/v1 document, with its
// *_ms fields as time.Time and time.Duration.
func (p *ProcessInfo) UnmarshalJSON(b []byte) error {
	type plain ProcessInfo
	var w struct {
		plain
		StartTimeMS *int64 `json:"start_time_ms"`
		ElapsedMS   *int64 `json:"elapsed_ms"`
		CPUUserMS   *int64 `json:"cpu_user_ms"`
		CPUSystemMS *int64 `json:"cpu_system_ms"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*p = ProcessInfo(w.plain)
	ms := func(v *int64) time.Duration {
		if v == nil {
			return 0
		}
		return time.Duration(*v) * time.Millisecond
	}
	if w.StartTimeMS != nil {
		p.StartTime = time.UnixMilli(*w.StartTimeMS)
	}
	p.Elapsed, p.CPUUser, p.CPUSystem = ms(w.ElapsedMS), ms(w.CPUUserMS), ms(w.CPUSystemMS)
	return nil
}

type psQuery struct {
	Schema      string    `json:"schema"`
	Fields      *[]string `json:"fields,omitempty"` // nil: all but env; empty: the PID only
	Filter      psFilter  `json:"filter"`
	CPUSampleMS *uint64   `json:"cpu_sample_ms,omitempty"`
}

type psFilter struct {
	PIDs          []int             `json:"pids,omitempty"`
	Name          map[string]string `json:"name,omitempty"`
	Cmdline       string            `json:"cmdline,omitempty"`
	UID           *int              `json:"uid,omitempty"`
	User          string            `json:"user,omitempty"`
	PPID          *int              `json:"ppid,omitempty"`
	PGID          *int              `json:"pgid,omitempty"`
	SID           *int              `json:"sid,omitempty"`
	States        []string          `json:"states,omitempty"`
	MinCPUPercent *float64          `json:"min_cpu_percent,omitempty"`
	MinRSSBytes   *uint64           `json:"min_rss_bytes,omitempty"`
	MinAgeMS      *uint64           `json:"min_age_ms,omitempty"`
}

// Snapshot lists the processes that pass q.Filter, sorted by PID, with q.Fields read.
// Processes that exit while being read are left out; no match is an empty list. Bad field
// names, PIDs (0, negative), regular expressions, users and states are ErrInvalid.
func Snapshot(q Query) ([]ProcessInfo, error) {
	wire := psQuery{Schema: "tether.ps-query/v1"}
	if q.Fields != nil {
		wire.Fields = &q.Fields
	}
	f := q.Filter
	wire.Filter = psFilter{PIDs: f.PIDs, Cmdline: f.Cmdline, UID: f.UID, User: f.User,
		PPID: f.PPID, PGID: f.PGID, SID: f.SID, States: f.States,
		MinCPUPercent: f.MinCPUPercent, MinRSSBytes: f.MinRSSBytes}
	if f.Name != nil {
		wire.Filter.Name = map[string]string{f.Name.kind: f.Name.value}
	}
	var err error
	if wire.Filter.MinAgeMS, err = millis("MinAge", f.MinAge); err != nil {
		return nil, err
	}
	if wire.CPUSampleMS, err = millis("CPUSample", q.CPUSample); err != nil {
		return nil, err
	}
	var report struct {
		Processes []ProcessInfo `json:"processes"`
	}
	err = callJSON(wire, func(q *C.char, out **C.char) C.int32_t { return C.tether_snapshot(q, out) }, &report)
	return report.Processes, err
}

// Info is the full record of one process: the record, its identity (taken on a pidfd) and
// its ancestors' PIDs, nearest first.
type Info struct {
	Process   ProcessInfo `json:"process"`
	Identity  Identity    `json:"-"`
	Ancestors []int       `json:"ancestors"`
}

// Inspect reads the process pid with every field but the environment (or with fields, when
// given). Errors: ErrNotFound (no such process, a thread id, or it exited), ErrInvalid (PID 0,
// negative or above the PID range). To act on the process, Get a handle instead.
func Inspect(pid int, fields ...string) (*Info, error) {
	return get(strconv.Itoa(pid), fields)
}

// InspectIdentity reads the process id names, refused with ErrReused once its PID belongs to
// another process, and ErrNotFound once it has exited.
func InspectIdentity(id Identity, fields ...string) (*Info, error) {
	return get(id.String(), fields)
}

func get(target string, fields []string) (*Info, error) {
	q := struct {
		Schema string   `json:"schema"`
		Target string   `json:"target"`
		Fields []string `json:"fields,omitempty"`
	}{"tether.get-query/v1", target, fields}
	var report struct {
		Info
		Identity       identityParts `json:"identity"`
		IdentityString string        `json:"identity_string"`
	}
	err := callJSON(q, func(q *C.char, out **C.char) C.int32_t { return C.tether_get(q, out) }, &report)
	if err != nil {
		return nil, err
	}
	info := report.Info
	info.Identity = report.Identity.identity(report.IdentityString)
	return &info, nil
}
