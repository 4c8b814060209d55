// Package mapped is the one place where forkless turns bytes of a mapped
// region into typed words and structs.
//
// Every other package reaches shared memory through these accessors, never
// through unsafe arithmetic of its own. Each checks, where the word is
// used, that it lies wholly inside the mapping and is aligned for its type;
// an offset that fails either check was computed from bytes another
// process wrote, and the accessor answers with an error wrapping
// errs.ErrCorrupt instead of faulting or panicking.
//
// The types laid over shared memory must be fixed-size and pointer-free
// (atomic words, byte arrays, padding): a Go pointer in shared memory means
// nothing to another process, and the garbage collector must never see one.
package mapped
