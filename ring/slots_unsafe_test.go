package ring

import (
	"errors"
	"unsafe"

	"github.com/forkless-go/forkless/shm"
)

// alignedBytes returns n zero bytes at an 8-aligned address, as a mapping
// would give them.
func alignedBytes(n int) []byte {
	if n == 0 {
		return []byte{}
	}
	buf := make([]uint64, (n+7)/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), n)
}

func isTypeErr(err error) bool { return errors.Is(err, shm.ErrType) }
