// Package registry holds the functions a forkless program can run in
// another process, by name: every process of the binary fills it the same
// way at package initialization (spawn.Register), so a name sent by one
// process finds the same function in another. spawn's children and the
// pool's workers look functions up here.
//
// An [Entry] is a function with its types erased: it decodes its argument
// and encodes its result itself (internal/wire), so a caller that holds
// only bytes can run it.
package registry
