package shm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"
)

func testName(t testing.TB) string {
	name := fmt.Sprintf("forkless-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	t.Cleanup(func() { os.Remove(shmDir + name) })
	return name
}

// craft writes a file into /dev/shm that holds a header made by writeHeader
// and then altered by mutate, and returns its name.
func craft(t *testing.T, fileSize int64, mutate func(b []byte)) string {
	t.Helper()
	name := testName(t)
	b := make([]byte, fileSize)
	writeHeader(b, regionFields{size: fileSize, id: 42, name: name})
	if mutate != nil {
		mutate(b)
	}
	if err := os.WriteFile(shmDir+name, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestOpenRefusesBadFiles(t *testing.T) {
	const size = 2 * headerSize
	cases := []struct {
		name   string
		size   int64
		mutate func(b []byte)
		want   error
	}{
		{"valid", size, nil, nil},
		{"empty file", 0, nil, ErrNotRegion},
		{"smaller than a header", 100, nil, ErrNotRegion},
		{"foreign bytes", size, func(b []byte) { copy(b, "PK\x03\x04 a zip file, not a region") }, ErrNotRegion},
		{"newer layout", size, func(b []byte) {
			binary.LittleEndian.PutUint32(b[offVersion:], LayoutVersion+1)
			reCRC(b)
		}, ErrVersion},
		{"flipped bit", size, func(b []byte) { b[offID] ^= 1 }, ErrCorrupt},
		{"size beyond file", size, func(b []byte) {
			binary.LittleEndian.PutUint64(b[offSize:], size*4)
			reCRC(b)
		}, ErrTruncated},
		{"allocation offset past the end", size, func(b []byte) {
			binary.LittleEndian.PutUint64(b[offAllocNext:], size+Align)
		}, ErrCorrupt},
		{"misaligned allocation offset", size, func(b []byte) {
			binary.LittleEndian.PutUint64(b[offAllocNext:], headerSize+1)
		}, ErrCorrupt},
		{"wrong data offset", size, func(b []byte) {
			binary.LittleEndian.PutUint32(b[offDataOffset:], 64)
			reCRC(b)
		}, ErrCorrupt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var name string
			if c.size < headerSize {
				name = testName(t)
				if err := os.WriteFile(shmDir+name, make([]byte, c.size), 0o600); err != nil {
					t.Fatal(err)
				}
			} else {
				name = craft(t, c.size, c.mutate)
			}
			before, _ := os.ReadFile(shmDir + name)
			r, err := Open(name)
			if c.want == nil {
				if err != nil {
					t.Fatalf("Open = %v", err)
				}
				r.Close()
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("Open = %v, want %v", err, c.want)
			}
			after, _ := os.ReadFile(shmDir + name)
			if string(before) != string(after) {
				t.Fatal("a refused Open changed the file")
			}
		})
	}
}

func TestTruncatedRegionRefused(t *testing.T) {
	name := testName(t)
	r, err := Create(name, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := os.Truncate(shmDir+name, headerSize+Align); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(name); !errors.Is(err, ErrTruncated) {
		t.Fatalf("Open of a truncated region = %v, want ErrTruncated", err)
	}
}

func TestSizesRefused(t *testing.T) {
	for _, size := range []int64{0, -1, -1 << 40, MaxSize + 1, 1 << 62} {
		if _, err := New(size); !errors.Is(err, ErrSize) {
			t.Errorf("New(%d) = %v, want ErrSize", size, err)
		}
	}
	// Within MaxSize but beyond the machine: refused, not left to the OOM killer.
	if _, err := New(MaxSize); !errors.Is(err, ErrSize) {
		t.Errorf("New(1 TiB) = %v, want ErrSize on a machine with less memory", err)
	}
	name := testName(t)
	if _, err := Create(name, 1<<39); err == nil || !(errors.Is(err, ErrNoSpace) || errors.Is(err, ErrSize)) {
		t.Errorf("Create(512 GiB) = %v, want ErrNoSpace or ErrSize", err)
	}
	if _, err := os.Stat(shmDir + name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused Create left %s behind", name)
	}
}

func TestNamesRefused(t *testing.T) {
	for _, name := range []string{"", "/", "a/b", "/a/b", "..", ".", "nul\x00byte", strings.Repeat("x", 256)} {
		if _, err := Create(name, 4096); !errors.Is(err, ErrName) {
			t.Errorf("Create(%q) = %v, want ErrName", name, err)
		}
		if _, err := Open(name); !errors.Is(err, ErrName) {
			t.Errorf("Open(%q) = %v, want ErrName", name, err)
		}
	}
}

func TestNameTakenAndMissing(t *testing.T) {
	name := testName(t)
	r, err := Create("/"+name, 4096) // the POSIX spelling works too
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := Create(name, 4096); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second Create = %v, want fs.ErrExist", err)
	}
	if _, err := Open(name + "-missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open of a missing name = %v, want fs.ErrNotExist", err)
	}
}
