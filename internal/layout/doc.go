// Package layout decides whether a Go type may live in shared memory and
// describes it for the checks that run when another process binds it again.
//
// A type may be shared when its bytes mean the same thing in every process
// that maps them: it has a fixed size and holds no Go pointer of any sort.
// Pointers, strings, slices, maps, interfaces, channels and funcs all refer
// to memory of one process's heap, so they are refused, with the path of the
// first offending field in the error.
package layout
