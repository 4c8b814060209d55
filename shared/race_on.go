//go:build race

package shared

// raceEnabled: under the race detector, Dict.Get skips its optimistic,
// deliberately racy read (a seqlock reader copies bytes a writer may be
// changing and then discards them) and always takes the lock.
const raceEnabled = true
