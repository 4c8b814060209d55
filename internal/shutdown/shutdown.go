package shutdown

import (
	"context"
	"sync"
)

var hooks struct {
	sync.Mutex
	next uint64
	fns  map[uint64]func(context.Context)
}

// Add registers fn to run at the next Run. The returned func removes it;
// calling it more than once, or after Run, does nothing.
func Add(fn func(ctx context.Context)) (remove func()) {
	hooks.Lock()
	defer hooks.Unlock()
	if hooks.fns == nil {
		hooks.fns = make(map[uint64]func(context.Context))
	}
	hooks.next++
	id := hooks.next
	hooks.fns[id] = fn
	return func() {
		hooks.Lock()
		delete(hooks.fns, id)
		hooks.Unlock()
	}
}

// Run runs every registered teardown, concurrently, removes them and
// returns once they all returned. A teardown may call its own remove func.
func Run(ctx context.Context) {
	hooks.Lock()
	fns := hooks.fns
	hooks.fns = nil
	hooks.Unlock()
	var wg sync.WaitGroup
	for _, fn := range fns {
		wg.Go(func() { fn(ctx) })
	}
	wg.Wait()
}
