package shared_test

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/forkless-go/forkless/shared"
)

// FuzzCorruptContainers scribbles over the heap that holds a dict and a
// list (tables, entries, items, block headers, free lists) and then uses
// them: every operation must return (an error, or some value), never panic,
// fault or hang. Corruption by a stray writer is not survivable in general,
// but it must not turn into a wild memory access.
func FuzzCorruptContainers(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 1, 0xff, 0, 0, 0, 9, 0x80})
	f.Add([]byte("\x40\x01\x00\x00\x07\x48\x01\x00\x00\xff\x10\x02\x00\x00\x00"))
	f.Add(binary.LittleEndian.AppendUint32(nil, 200))
	for i := range 64 {
		b := make([]byte, 0, 50)
		for j := range 10 {
			b = binary.LittleEndian.AppendUint32(b, uint32(i*97+j*331))
			b = append(b, byte(i*j+1))
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := shared.NewManager(64 << 10)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		h := m.Heap()
		d, err := shared.NewDict[string, []byte](h)
		if err != nil {
			t.Fatal(err)
		}
		l, err := shared.NewList[string](h)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			d.Set(fmt.Sprint("k", i), []byte(fmt.Sprint("value", i)))
			l.Append(fmt.Sprint("item", i))
		}
		d.Delete("k3")
		d.SetTimeout(20 * time.Millisecond)
		l.SetTimeout(20 * time.Millisecond)
		st, _ := h.Stats()
		arena := st.Carved
		const arenaStart = 1024 // below it: the heap header, not scribbled
		for len(data) >= 5 {
			off := arenaStart + int64(binary.LittleEndian.Uint32(data))%arena
			if b, err := h.Bytes(off, 1); err == nil {
				b[0] = data[4]
			}
			data = data[5:]
		}
		for i := range 25 {
			k := fmt.Sprint("k", i)
			d.Get(k)
			d.Set(k, []byte("new"))
			d.Delete(fmt.Sprint("k", i+1))
			l.Get(i)
			l.Set(i%5, "x")
			l.Append("y")
		}
		d.Range(func(string, []byte) bool { return true })
		l.Range(func(int, string) bool { return true })
		l.Pop()
		d.Clear()
		l.Clear()
		d.Len()
		h.Stats()
	})
}
