// Package pool maps work over worker processes: Python's
// multiprocessing.Pool and concurrent.futures.ProcessPoolExecutor, typed,
// and without their hangs.
//
// A [Pool] ([New]) keeps [Workers] worker processes, each the running
// binary again (see package spawn: the program calls spawn.Main first
// thing), and feeds them tasks through shared-memory rings, one pair per
// worker. The functions it runs are registered with spawn.Register:
//
//	var square = spawn.Register("main.square", func(ctx context.Context, x int) (int, error) {
//		return x * x, nil
//	})
//
//	p, err := pool.New(ctx, pool.Workers(4))
//	defer p.Close(ctx)
//	squares, err := pool.Map(ctx, p, square, []int{1, 2, 3}) // [1 4 9]
//
// [Map] returns results in input order; [Imap] and [ImapUnordered] stream
// them as an iter.Seq2 over an input of any length, in a bounded [Window];
// [Apply] runs one call and [Submit] returns a [Future] ([Wait],
// [WaitFirst], [WaitAll] and [AsCompleted] wait on several, as
// concurrent.futures does; unlike Python's, [Future.Cancel] stops a
// running task too). Items travel in chunks
// ([Chunk]; by default Python's rule, [ChunkSize]). [Args2] and [Args3]
// carry several arguments (starmap). All of them take an [Executor], which
// *Pool is; another module may run the same calls elsewhere.
//
// # Failures
//
// A function's error or panic fails its item alone, as a
// *spawn.ChildError (a panic with the worker's stack); errors.Is sees the
// sentinels it wrapped. [Map] returns every result with a [*MapError]
// listing the failed items ([ItemError]).
//
// The pool always knows which item each worker is running. A worker that
// dies (SIGKILL, the OOM killer, os.Exit, a crash) fails that item alone
// with a [*WorkerError] (or runs it again, with [Retries]); its queued items
// go to the other workers and a replacement starts. [TaskTimeout] kills a
// worker whose item runs too long: the item fails with [ErrTimeout]. What a
// worker's region holds is checked, not trusted: task and result descriptors
// carry checksums of themselves and their payloads, read from private
// copies, so a task that scribbles its own worker's memory makes that worker
// fail (it is killed, its task retried or failed), never a wrong result; a
// worker that holds tasks but runs none and returns nothing for 2 s is
// killed as stuck. An [Initializer] that fails, or three workers in a row
// that exit or crash before they are ready while no other is ready (a binary
// without spawn.Main), break the pool: everything pending and later fails
// ([ErrInitializer] for the initializer), instead of Python's endless
// restarts. Workers SIGKILLed or SIGTERMed before ready (a user, the OOM
// killer) never break it. One that dies before ready is replaced after a
// pause: 5 ms, doubling to 1 s with each such death of its slot in a row.
//
// Cancelling (a Map's context, leaving an Imap loop, [Future.Cancel]) drops
// the job's queued items, has workers skip its items they hold, and after
// [CancelGrace] sends SIGTERM (the function sees its context end), then
// SIGKILL, to workers still running one of its items; other jobs' items
// are never stopped. [Pool.Close] drains and [Pool.Terminate] stops now;
// both take a context. Workers are daemons, as Python's are: a pool still
// open when its process shuts down (spawn.Shutdown; a spawned child when
// its function returns) is terminated, and its workers are not replaced.
//
// # Caveats
//
//   - Delivery is exactly once, execution at least once: the items of a
//     task whose worker died, other than the one that was running, may run
//     again; so may a task whose results the worker had not yet published
//     (it publishes in batches of up to 16, or after 50 µs).
//   - Tasks queued to one worker wait behind its running task; the depth
//     adapts to about 2 ms of work, and [QueueDepth](1) removes the wait
//     for workloads of a few long tasks.
//   - A task's time limit is per item and measured by the parent, so it is
//     enforced within about limit/8.
//   - Arguments and results travel as spawn's do: raw bytes for fixed-size,
//     pointer-free types, the function's Codec otherwise. A single item
//     larger than the worker's arena ([ArenaSize]) fails with
//     [ErrTooLarge]. Large data belongs in shared memory: pass regions to
//     the workers with [WorkerOptions](spawn.Share(...)) and handles as
//     items.
//
// [Pool.Stats] reports the counters and, per item rather than per chunk,
// the items finished, a rate and an ETA, each worker's state and task time
// percentiles; [Pool.Progress] and [OnProgress] deliver it every
// [ProgressInterval] while work is pending ([Stats.String] is a progress
// line), and [Pool.Var] is it as an expvar.Var to publish.
package pool
