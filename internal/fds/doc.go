// Package fds holds the descriptor system calls package spawn needs and may
// not make itself (golang.org/x/sys/unix is for internal/ and shm/ only):
//
//   - [ExecOnlyGiven] starts a child with every descriptor from a number
//     up close-on-exec for the moment of the start, so that the child gets
//     only the descriptors it is given (Python's spawn closes the others
//     in the child), while this process's descriptors keep their flags;
//   - [ReadNow] reads bytes already waiting on a descriptor, waiting at
//     most a bound, so that a process can check a start-up message without
//     hanging on a descriptor that never speaks.
//
// Outside Linux, ExecOnlyGiven leaves descriptors alone and ReadNow reads as a plain
// blocking read does.
package fds
