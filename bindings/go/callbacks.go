package tether

/*
#include <stddef.h>
#include <stdint.h>
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// tetherFollowData is the on_data of Jobs.Follow (called through followData in jobs.go):
// handle is its follower. Non-zero stops the follow.
//
//export tetherFollowData
func tetherFollowData(handle C.uintptr_t, data *C.uint8_t, n C.size_t) C.int32_t {
	f := cgo.Handle(handle).Value().(*follower)
	if f.write(unsafe.Slice((*byte)(unsafe.Pointer(data)), int(n))) {
		return 0
	}
	return 1
}
