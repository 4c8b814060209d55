// Package cluster runs forkless pool calls across machines on NATS
// JetStream: pool.Map, Imap, ImapUnordered, Apply and Submit take the
// *Executor that Dial returns as they take a *pool.Pool, and each machine
// runs Serve (or the same binary with StartNode) to take the work.
//
//	ex, err := cluster.Dial(ctx, cluster.URL("nats://hub:4222"))
//	defer ex.Close(ctx)
//	squares, err := pool.Map(ctx, ex, square, items) // as on a local pool
//
// Without URL or Conn, Dial starts a NATS server in its own process
// (127.0.0.1, storage in a temporary directory); LocalNodes starts node
// processes beside it, so one command runs a map with nothing installed.
// Every process runs the same binary and calls spawn.Main first:
// functions travel by their registered names.
//
// # How it works
//
// Dial publishes each job's items in chunks (at most MaxChunk items, 512
// KiB of arguments) to a work-queue stream, PREFIX_WORK, one subject per
// job. Each node pulls chunks from one durable consumer shared by all
// nodes, runs their items on a local pool of worker processes (or in its
// own process, InProcess), publishes the results to the caller's subject
// of PREFIX_RESULTS, and acknowledges the chunk only then. A running chunk
// is heartbeated (InProgress every AckWait/3). Nodes announce themselves
// every second; Executor.Workers is the sum of their workers, so Map's
// default chunk follows the cluster's size. The wire format is versioned
// (WireVersion): function name, codec, deadline, attempts, then indexed
// items; its decoders take bytes from the network as hostile.
//
// # Guarantees
//
//   - Every item's result reaches the caller exactly once: JetStream
//     delivers each chunk at least once (a chunk whose node died or was cut
//     off goes to another after AckWait; a result published before a lost
//     ack comes again), and the caller keeps, per task, which items it
//     delivered and drops the rest. Map's results are in input order.
//   - Streams use file storage: a NATS server that restarts loses no chunk
//     and no result; nodes and callers reconnect and go on.
//   - A function's returned error fails its item at once, as on a pool. An
//     item that panics, kills its worker process, or kills its node (each
//     time) fails after MaxDeliver deliveries with a *NodeError naming the
//     node and the function and wrapping ErrDeliveryLimit; the rest of the
//     job goes on. A chunk whose node died is split into single items first,
//     so one bad item does not take its neighbours down with it.
//   - A node that does not know the function (spawn.ErrNotRegistered) or
//     reads another wire version (ErrWireVersion), or a malformed chunk
//     (ErrMalformed), fails the chunk's items with a *NodeError and
//     terminates the chunk: the caller gets an error, never a hang.
//   - Cancelling (Map's context, leaving an Imap loop, Future.Cancel)
//     forgets the job's tasks, purges its queued chunks from the stream and
//     tells the nodes, which cancel the context of its running items and
//     drop its chunks unrun: nothing of it starts afterwards.
//   - A deadline goes on the wire: the caller's context's (Map's, Imap's,
//     Apply's: pool.Job.Deadline) or JobTimeout's, the earlier. Items not
//     started by then fail with ErrDeadline, running ones see their
//     context end, even if the cancel message was lost.
//
// # How it differs from a local pool
//
//   - Execution is at least once: a chunk whose node died or whose ack was
//     lost runs again (on a pool only the items of a dead worker's task do).
//     Functions with side effects must tolerate a second run.
//   - A panic is retried up to the delivery limit (a pool fails it at
//     once); a dead node is noticed after AckWait, not at once.
//   - Stats counts items as their chunk's results arrive: Restarts,
//     Recycled, RunTime, Latency and PerWorker are each node's pool's.
//   - A round trip costs about 1-2 ms on one machine (tens of µs on a pool):
//     give the cluster chunks of work, not single tiny items.
//
// Item arguments and results travel as on a pool (raw bytes for
// fixed-size values, the function's codec otherwise), and shared memory
// does not cross machines: pass data, not handles.
package cluster
