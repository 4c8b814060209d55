package ring

import (
	"errors"
	"unsafe"

	"github.com/forkless-go/forkless/shm"
)

func unsafeBytes(b []uint64) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(&b[0])), len(b)*8)
}

func isTypeErr(err error) bool { return errors.Is(err, shm.ErrType) }
