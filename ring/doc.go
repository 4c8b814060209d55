// Package ring moves data between processes through shared memory: lock-free
// rings of fixed-size slots (SPSC and MPMC), rings of variable-length
// records, and the blocking Queue, JoinableQueue and Pipe built on them.
//
// (The design, memory layout and caveats of each part are written below by
// the engineers building them.)
package ring
