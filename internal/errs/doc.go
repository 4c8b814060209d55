// Package errs holds the error vocabulary every forkless package shares:
// the three meanings several packages report (closed, corrupt, too large),
// declared once, and the registry that lets errors.Is see a sentinel across
// the process boundary.
//
// A package's own sentinels are made with [Kind] when they are a special
// case of a shared meaning (ring.ErrClosed is a [ErrClosed]), and every
// package registers its sentinels with [Register] from an init function, so
// that a child's error that wraps one comes back to the parent as an error
// that errors.Is matches against the same value.
//
// An error travels as its keys ([Keys]): "type:text" for each registered
// sentinel found in its tree, "errno:N" for a syscall.Errno. Both processes
// run the same binary and register the same sentinels at init, so a key
// names the same value in both; [Rebuild] turns keys back into values and
// skips the ones it does not know.
package errs
