// Package arch holds no code: its tests hold the library to the shape the
// design promises (docs/design.md, "Layers"), so that a change that breaks
// it fails go test instead of waiting for a reviewer:
//
//   - floors: a package imports only packages of a lower floor
//     (internal → shm → sync → ring and shared → queue → spawn → pool);
//   - only internal/ and shm/ import golang.org/x/sys/unix, and the module
//     requires nothing but x/sys and mmap-go;
//   - unsafe pointer arithmetic lives in internal/mapped (and the futex
//     system call's arguments) only;
//   - no library file over 600 lines, no function over 80, no doc.go over
//     about 80.
package arch
