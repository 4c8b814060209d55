package shm

// Kind tells what an object in a region is. It is stored in the object's
// header and in every handle to it, so that binding a handle as the wrong
// kind of object fails with ErrKind instead of misreading memory.
//
// Kinds are numbered by the package that owns them, in ranges fixed here so
// that two packages never pick the same number:
//
//	0x0001-0x00ff  shm    (bytes, values, arrays, heaps)
//	0x0100-0x01ff  sync   (mutexes, semaphores, events, ...)
//	0x0200-0x02ff  ring and queue (rings, record rings, spilled messages)
//	0x0300-0x03ff  spawn and pool (task tables, pool control)
//	0x0400-0x04ff  shared (dicts, lists, shareable lists, records)
//	0x8000-0xffff  applications
type Kind uint16

const (
	KindInvalid Kind = 0
	KindBytes   Kind = 0x0001 // untyped bytes
	KindValue   Kind = 0x0002 // a Value[T]
	KindArray   Kind = 0x0003 // an Array[T]
)

func (k Kind) String() string {
	switch k {
	case KindInvalid:
		return "invalid"
	case KindBytes:
		return "bytes"
	case KindValue:
		return "value"
	case KindArray:
		return "array"
	case KindHeap:
		return "heap"
	}
	return "kind(0x" + hex16(uint16(k)) + ")"
}

func hex16(v uint16) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[v>>12&15], digits[v>>8&15], digits[v>>4&15], digits[v&15]})
}
