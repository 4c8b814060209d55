// Package shutdown holds what must be torn down when a process shuts down
// (spawn.Shutdown, which a spawned child runs when its function returns)
// before its children are waited for: a pool's workers, say, which would
// otherwise be waited for forever, or replaced as they are stopped.
//
// A library registers a teardown with [Add] when it makes such an object
// and removes it (the returned func) when the object is closed; spawn's
// Shutdown calls [Run].
package shutdown
