package queue

// storeRel stores v in the shared word at p with release order: every load
// and store this process made before it is visible to a process that loads
// the new value. On amd64 (TSO) a plain MOV has that order, where
// sync/atomic's Store is an XCHG that also drains the store buffer: three
// of those per claim, on lines the consumers read, cost a producer more
// than the rest of the claim (docs/bench/queue.md). The Go compiler keeps
// the program order of stores and does not move one across an atomic
// operation or a call.
func storeRel(p *uint64, v uint64) { *p = v }
