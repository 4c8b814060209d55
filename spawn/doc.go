// Package spawn runs registered Go functions in child processes: the
// counterpart of Python's multiprocessing.Process, for a language that
// cannot fork.
//
// A child is the running binary executed again, which finds its function
// in a registry that every process of the binary fills the same way at
// package initialization. So functions are registered at package scope,
// under a name ([Register]), and the program calls [Main] first thing in
// main (tests: in TestMain), as Python programs guard
// `if __name__ == "__main__":`:
//
//	var square = spawn.Register("main.square", func(ctx context.Context, x int) (int, error) {
//		return x * x, nil
//	})
//
//	func main() {
//		spawn.Main()
//		n, err := square.Run(ctx, 12) // 144, computed in a child
//	}
//
// A closure made at run time captures this process's memory and is refused
// ([ErrClosure]); so is a function registered after Main
// ([ErrNotRegistered]). Package pool maps work over worker processes.
//
// # Life cycle
//
// [Func.Start] (or [Func.New], then [Process.Start]) starts a [Process]:
// [Process.Wait] returns the function's result, [Process.ExitCode] reports
// as Python does (-N for signal N), [Process.Terminate] sends SIGTERM (the
// function's context is cancelled, and the child dies of the signal if
// the function has not returned after [TerminateGrace]), [Process.Kill]
// SIGKILL, [Process.Stop] both with a grace, and [Process.Close] kills,
// reaps and releases. Every child is reaped as soon as it exits. [WaitAny],
// [ActiveChildren], [CurrentProcess], [ParentProcess] and [CPUCount]
// answer as Python's functions of those names do; CPUCount also honours a
// cgroup CPU quota.
//
// Children die with their parent, whatever kills it, grandchildren too.
// A child gets only its standard streams, its pipes and what it is given.
// [Shutdown] terminates open pools and [Daemon] children and waits for the
// others, as Python does when the main module returns. A child runs it when
// its function returns; a Go main calls it (defer spawn.Shutdown(ctx)).
//
// # Arguments, results and errors
//
// Fixed-size, pointer-free arguments and results travel as their raw bytes
// (both ends run the same binary); anything else through a [Codec], [Gob]
// by default ([WithCodec] at Register). An argument that cannot travel is
// refused at Start with [ErrEncode] and the path to the bad part
// ("argument.Jobs (chan int)"). Shared objects (a queue, a pipe end, a
// lock, a shm.Value or Array, a shared Dict...) travel anywhere in the
// argument: the child receives them bound, their regions shared for you.
// Files and sockets (*os.File, net.Conn, net.Listener) travel as the
// argument or a field of it, as descriptors of the child's own.
//
// A function's error or panic comes back as a [*ChildError] (pid, function,
// process name, message, Go type; the child's stack for a panic). errors.Is
// and errors.As see through it to the sentinel errors its chain held when
// both processes registered them ([RegisterError]): the standard library's
// io, io/fs, os and context sentinels, any syscall.Errno, and every
// forkless package's sentinels are registered already. A child that dies
// without a result is an [*ExitError] (wrapping [ErrDied]) that says
// whether it got as far as its function. [RegisterErrorType] brings a
// child's own error values back with their fields.
//
// A child's standard output and error are this process's unless [Stdout],
// [Stderr] or [Prefix] say otherwise; [ForwardLogs] sends its slog records
// to a handler here. The package's own events go to [SetLogger]'s logger
// (or FORKLESS_LOG=debug), silent by default.
//
// # Caveats
//
//   - A start costs an exec of the binary and a Go runtime start-up (about
//     a millisecond for a small binary; every init of the program runs
//     again in the child). Keep children long-lived for small tasks, as
//     package pool does.
//   - Kill and Terminate of an exited child return nil, as in Python.
//   - A SIGTERM during a child's start-up and the first 5 ms of its
//     function kills it outright, with no result, as Python's terminate
//     always does; later it cancels the function's context, and the exit
//     code is -15 even when the function's result came back.
//   - A Go main that returns without calling Shutdown loses all its
//     children at once, daemon or not.
//   - Outside Linux there is no Pdeathsig and no shared regions.
package spawn
