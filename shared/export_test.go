package shared

// Recoveries reports how many container locks this process took over from
// a holder that died.
func Recoveries() int64 { return recoveries.Load() }
