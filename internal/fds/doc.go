// Package fds holds the descriptor system calls package spawn needs and may
// not make itself (golang.org/x/sys/unix is for internal/ and shm/ only):
//
//   - [CloseInherited] closes, in a child just started, the descriptors
//     its parent leaked to it (not close-on-exec, above the ones it was
//     given), as Python's spawn closes them;
//   - [ReadNow] reads bytes already waiting on a descriptor, waiting at
//     most a bound, so that a process can check a start-up message without
//     hanging on a descriptor that never speaks.
//
// Outside Linux, CloseInherited does nothing and ReadNow reads as a plain
// blocking read does.
package fds
