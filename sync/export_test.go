package sync

// Naps reports how many sleeps of this process ran out their timeout.
func Naps() uint64 { return naps.Load() }
