// Package spawn runs registered Go functions in child processes: the
// counterpart of Python's multiprocessing.Process, for a language that
// cannot fork.
//
// # How a child starts
//
// Go cannot fork a running program, so a child is the running binary
// executed again (/proc/self/exe) with a marker in its environment. The
// program calls Main first thing in main (tests: in TestMain); in a child,
// Main reads a request from a pipe, attaches the shared regions it was
// given, looks the function up in a registry that every process of the
// binary fills the same way at package initialization, runs it, sends the
// result back and exits:
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
// Register must run at package scope: a closure made at run time captures
// this process's memory, cannot travel, and is refused (ErrClosure), and so
// is a function registered after Main (ErrNotRegistered).
//
// # Life cycle
//
// A *Process is made by Func.New and started by Start (or both at once by
// Func.Start). It has a Name (Python's "Process-N", "Process-N:M" for a
// grandchild), a Pid, Alive, Wait(ctx) for the function's result and error,
// ExitCode as Python reports it (the status, or -N for signal N),
// Terminate (SIGTERM: the function's context is cancelled; a second SIGTERM
// kills; during the function's first 5 ms, before the child watches for it,
// SIGTERM kills at once as in Python), Kill (SIGKILL), Stop (SIGTERM, then
// SIGKILL after a grace) and
// Close (kill if running, reap, release). Every child is reaped by a
// goroutine of its own as soon as it exits: no zombie outlives a child.
// WaitAny waits for the first of several processes, like
// multiprocessing.connection.wait. ActiveChildren, CurrentProcess,
// ParentProcess and CPUCount answer what Python's functions of those names
// answer; CPUCount also honours a cgroup CPU quota.
//
// Daemon children (the Daemon option) and ordinary ones differ when their
// parent shuts down: Shutdown terminates daemons and waits for the others,
// which is what Python does when the main module returns. A spawned child
// runs Shutdown itself when its function returns; a Go main has to call it
// (defer spawn.Shutdown(ctx)), since nothing runs after main returns.
//
// # Children die with their parent
//
// Two independent mechanisms, each sufficient alone (the tests prove each
// one alone, a parent SIGKILLed taking its children and grandchildren
// within milliseconds):
//
//   - Pdeathsig: the kernel sends a child SIGKILL when its parent dies. It
//     fires when the OS thread that forked the child exits, not the process
//     (golang/go#27505), and a Go program ends threads behind your back (a
//     goroutine that returns with its thread locked). So every child is
//     forked from one goroutine locked to a thread for the life of the
//     process, and never from the caller's thread.
//   - The request pipe: the parent holds its end open while it lives; the
//     child reads it to EOF in a goroutine and exits (status 71) when the
//     parent is gone, whatever killed it. This also covers systems without
//     Pdeathsig. The child starts this watch (and its SIGTERM handling) 5 ms
//     into its function, or before it waits for its own children: a function
//     shorter than that never pays for the goroutines, which cost about a tenth
//     of a start's CPU.
//
// # Errors
//
// A function's error comes back as a *ChildError (pid, function, process
// name, message, Go type); a panic as a *ChildError with Panicked and the
// child's stack. errors.Is and errors.As see through a ChildError to the
// sentinel errors its chain held, when both processes know them: the
// standard library's io, io/fs, os and context sentinels, any
// syscall.Errno (so errors.Is(err, fs.ErrNotExist) works for a failed
// os.Open in the child), this module's sentinels, and whatever the program
// registers with RegisterError. A child that dies without a result is an
// *ExitError (wrapping ErrDied) with the exit code, and says whether the
// child got as far as its function: a binary that exits before it attaches
// usually forgot spawn.Main.
//
// # Arguments, results and output
//
// Fixed-size, pointer-free arguments and results travel as their raw bytes
// (both ends run the same binary); anything else through a Codec, Gob by
// default or JSON or your own (WithCodec at Register). An argument that
// cannot travel is refused at Start with ErrEncode and the path to the bad
// part ("argument.Jobs (chan int)"). Large data belongs in shared memory:
// pass regions with Share and handles in the argument.
//
// A child's standard output and error are this process's by default; the
// Stdout and Stderr options capture them into any io.Writer, and Prefix
// forwards them line by line with a per-process prefix. The package's own
// diagnostics go to a log/slog logger (SetLogger, or FORKLESS_LOG=debug in
// the environment), silent by default.
//
// # Pools
//
// A Pool (NewPool) keeps worker processes and feeds them tasks through
// shared-memory rings, one pair per worker: Map, Imap, ImapUnordered, Apply
// and Submit (a Future) are Python's Pool and ProcessPoolExecutor, typed. The
// pool always knows which item each worker is running, so a worker that dies
// fails (or, with Retries, reruns) that item alone, its queued items go to
// the other workers, and a replacement starts. The pool's design, the
// memory layout of a worker's region and the pool's caveats are written at
// the top of pool.go.
//
// # Memory layout
//
// The process core keeps nothing in shared memory; a child and its parent
// talk over two pipes and the descriptors a child inherits:
//
//	fd 0-2   stdin, stdout, stderr (inherited, or pipes for Stdout/Stderr/Prefix)
//	fd 3     request pipe, parent -> child: one frame, then held open (EOF = parent died)
//	fd 4     response pipe, child -> parent: "FLSA" once attached, then the result frame
//	fd 5...  the shared regions, in the order given to Share
//
// The frames are described in protocol.go; every length is bounded before
// anything is allocated, and a fuzz test feeds the parsers garbage.
//
// # Caveats
//
//   - Start costs an exec of the binary and a Go runtime start-up (about a
//     millisecond for a small binary, more for a large one with heavy
//     package initialization: every init of the program runs again in the
//     child). Keep children long-lived for small tasks (the pool does).
//   - Kill and Terminate of a child that already exited do nothing and
//     return nil, like Python's: a child that exits on its own just before
//     the signal must not turn the call into a random error. They never hit
//     a process that reused the pid (os.Process signals through a pidfd).
//   - A Go main that returns without calling Shutdown loses all its
//     children at once (SIGKILL through Pdeathsig), daemon or not.
//   - Terminate re-raises SIGTERM in the child once its function returned,
//     so the exit code is -15 even though the function's result came back.
//     A SIGTERM that arrives before the child watches for it (during its
//     start-up and the first 5 ms of its function) kills it outright, with
//     no result, as Python's terminate always does.
//   - Environment changes made with os.Setenv before Start reach the child;
//     the working directory is the parent's at Start.
//   - Outside Linux there is no Pdeathsig and no regions; the pipe EOF check
//     still ends orphans.
package spawn
