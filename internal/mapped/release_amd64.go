package mapped

// StoreRelease stores v in the shared word at p with release order: every
// load and store this process made before it is visible to a process that
// loads the new value (atomically). It is for a word only this process
// writes. On amd64 (TSO) a plain MOV has that order, where sync/atomic's
// Store is an XCHG that also drains the store buffer: tens of cycles for
// an order the hardware already gives. The Go compiler keeps the program
// order of stores and does not move one across an atomic operation or a
// call. What it does not give is the store-load order: a load after it
// may be satisfied before the store is visible, so a handshake that needs
// "I wrote, then I read yours" uses sync/atomic.
func StoreRelease(p *uint64, v uint64) { *p = v }
