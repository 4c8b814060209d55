package pool

import "testing"

// A dead worker's control block may hold anything: locate believes it only
// when it names a task in flight and an item inside that task.
func TestLocateValidatesControlBlock(t *testing.T) {
	inflight := []*task{{id: 7, lo: 0, hi: 1}, {id: 8, lo: 10, hi: 14}, {id: 9, lo: 14, hi: 15}}
	cases := []struct {
		name           string
		s              deathScene
		state, k, item int
	}{
		{"between items", deathScene{seq: 40, running: 8, base: 30}, sceneIdle, 0, 0},
		{"head running", deathScene{seq: 31, running: 7, base: 30}, sceneRunning, 0, 0},
		{"behind unpublished results", deathScene{seq: 35, running: 8, base: 30}, sceneRunning, 1, 2},
		{"last item", deathScene{seq: 37, running: 8, base: 30}, sceneRunning, 1, 3},
		{"item past the task", deathScene{seq: 39, running: 8, base: 30}, sceneCorrupt, 0, 0},
		{"base after seq", deathScene{seq: 31, running: 8, base: 1 << 62}, sceneCorrupt, 0, 0},
		{"task not in flight", deathScene{seq: 31, running: 99, base: 30}, sceneCorrupt, 0, 0},
	}
	for _, c := range cases {
		state, k, item := c.s.locate(inflight)
		if state != c.state || k != c.k || item != c.item {
			t.Errorf("%s: locate = %d, %d, %d, want %d, %d, %d", c.name, state, k, item, c.state, c.k, c.item)
		}
	}
}
