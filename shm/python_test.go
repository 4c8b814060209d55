package shm_test

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/forkless-go/forkless/shm"
)

func python(t *testing.T, args ...string) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	out, err := exec.Command(py, append([]string{"testdata/pyshm.py"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("python3 pyshm.py %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestPythonReadsWhatGoWrote: Python's SharedMemory(name=...) opens a
// forkless region, finds the array at the offset its handle names, checks
// Go's data and writes its own, which Go then reads.
func TestPythonReadsWhatGoWrote(t *testing.T) {
	name := uniqueName(t)
	r, err := shm.Create(name, 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	shm.NewValue[uint32](r) // so the array is not the first object
	arr, err := shm.NewArray[uint64](r, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for i := range arr.Slice() {
		arr.Slice()[i] = uint64(i)*3 + 1
	}
	if out := python(t, "read", name, arr.Handle().String()); out != "ok 1000" {
		t.Fatalf("python said %q", out)
	}
	for i, v := range arr.Slice() {
		if v != uint64(i)*5+2 {
			t.Fatalf("element %d = %d after Python wrote, want %d", i, v, uint64(i)*5+2)
		}
	}
	if _, err := shm.Open(name); err != nil {
		t.Fatalf("the region is gone after Python closed it: %v", err)
	}
}

// TestGoReadsWhatPythonWrote: Python makes a plain SharedMemory; Go maps it
// raw and reads it through a typed view.
func TestGoReadsWhatPythonWrote(t *testing.T) {
	name := uniqueName(t)
	const count = 5000
	if out := python(t, "create", name, strconv.Itoa(count)); out != "ok" {
		t.Fatalf("python said %q", out)
	}
	r, err := shm.OpenRaw(name)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := shm.Open(name); err == nil {
		t.Fatal("a plain Python segment was accepted as a forkless region")
	}
	arr, err := shm.ArrayAt[uint64](r, 0, count)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range arr.Slice() {
		if v != uint64(i)*7+3 {
			t.Fatalf("element %d = %d, want %d", i, v, uint64(i)*7+3)
		}
	}
	if _, err := r.Alloc(shm.Layout{Kind: shm.KindBytes, Size: 8}); err == nil {
		t.Fatal("Alloc in a raw region succeeded")
	}
}
