package tether

/*
#include <stdlib.h>
#include "tether.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Proto is a transport protocol: TCP, UDP or Unix.
type Proto string

// The protocols.
const (
	TCP  Proto = "tcp"
	UDP  Proto = "udp"
	Unix Proto = "unix"
)

// Owner is a process holding a socket.
type Owner struct {
	PID      int    `json:"pid"`
	Name     string `json:"name"`
	Identity string `json:"identity"` // empty when it exited before it could be identified
	FDs      []int  `json:"fds"`      // its file descriptors found pointing at the socket
}

// Socket is one socket and every process holding it.
type Socket struct {
	Proto      Proto   `json:"proto"`
	Family     string  `json:"family"` // ipv4, ipv6 or unix
	State      string  `json:"state"`  // LISTEN, ESTAB, UNCONN, … as ss prints them
	LocalAddr  string  `json:"local_addr"`
	LocalPort  int     `json:"local_port"`
	RemoteAddr string  `json:"remote_addr"`
	RemotePort int     `json:"remote_port"`
	SocketType string  `json:"socket_type"` // unix: stream, dgram or seqpacket
	PeerInode  *uint64 `json:"peer_inode"`
	Inode      uint64  `json:"inode"`
	UID        *int    `json:"uid"`
	Owners     []Owner `json:"owners"`
}

// SocketList is what Ports found.
type SocketList struct {
	Source  string   `json:"source"` // sock_diag, or proc_net when netlink is unavailable
	Note    string   `json:"note"`   // why the fallback was used, or whose owners are hidden
	Sockets []Socket `json:"sockets"`
}

// PortsQuery says which sockets Ports lists; the zero value lists the listening TCP, bound
// UDP and listening Unix sockets.
type PortsQuery struct {
	Protos    []Proto  `json:"protos,omitempty"` // empty: all three
	AllStates bool     `json:"all_states"`       // also established, time-wait, …
	Port      int      `json:"port,omitempty"`   // only this local port (1-65535); 0: any
	PIDs      []string `json:"pids,omitempty"`   // only sockets held by these (PIDs or identity strings)
	NoOwners  bool     `json:"no_owners"`        // skip finding the processes
}

// Ports lists sockets and every process holding each (the processes of other users only
// with privilege; Note says so). No match is an empty list. A PID in q.PIDs that names no
// running process is ErrNotFound.
//
// The calling process itself is never listed as an owner (the library's owner scan skips
// the process it runs in).
func Ports(q PortsQuery) (*SocketList, error) {
	if q.Port < 0 || q.Port > 65535 {
		return nil, invalid(fmt.Sprintf("bad port %d: expected a number from 1 to 65535", q.Port))
	}
	wire := struct {
		Schema string `json:"schema"`
		PortsQuery
	}{"tether.ports-query/v1", q}
	var r SocketList
	err := callJSON(wire, func(q *C.char, out **C.char) C.int32_t { return C.tether_ports(q, out) }, &r)
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// PortHolders is what Who found.
type PortHolders struct {
	Port    int      `json:"port"`
	Protos  []Proto  `json:"protos"`
	Source  string   `json:"source"`
	Note    string   `json:"note"`
	Sockets []Socket `json:"sockets"` // the listening (TCP) or bound (UDP) sockets on the port
	Owners  []Owner  `json:"owners"`  // every process holding one of them, once each
}

// Who finds the processes holding port (1-65535): its listening TCP and bound UDP sockets,
// or only those of proto (TCP or UDP; "" for both). Nobody holding it is an empty Owners
// list, not an error.
func Who(port int, proto Proto) (*PortHolders, error) {
	spec := fmt.Sprint(port)
	if proto != "" {
		spec += "/" + string(proto)
	}
	cs, err := cString("port", spec)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cs))
	doc, err := callString(func(out **C.char) C.int32_t { return C.tether_who(cs, out) })
	if err != nil {
		return nil, err
	}
	var r PortHolders
	if err := decode(doc, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
