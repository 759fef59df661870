package ibcm

import "sync"

// workQueue is an ordered work queue (the kernel's cm.wq, created with
// alloc_ordered_workqueue): functions run one at a time, in the order
// they were added, on a goroutine that exists only while there is work.
// add never blocks and never runs the work itself, so it may be called
// from a CQ handler inside a sender's PostSend, or from a timer.
type workQueue struct {
	mu      sync.Mutex
	idle    sync.Cond
	items   []func() // guarded by mu
	running bool     // guarded by mu
	ran     uint64   // guarded by mu: functions run so far
}

func newWorkQueue() *workQueue {
	q := &workQueue{}
	q.idle.L = &q.mu
	return q
}

// add queues f.
func (q *workQueue) add(f func()) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.items = append(q.items, f)
	if !q.running {
		q.running = true
		go q.run()
	}
}

func (q *workQueue) run() {
	q.mu.Lock()
	for len(q.items) > 0 {
		f := q.items[0]
		q.items[0] = nil
		q.items = q.items[1:]
		q.mu.Unlock()
		f()
		q.mu.Lock()
		q.ran++
	}
	q.running = false
	q.items = nil
	q.idle.Broadcast()
	q.mu.Unlock()
}

// flush waits until the queue is empty and idle (flush_workqueue) and
// returns how many functions ran meanwhile. It must not be called from
// the queue's own work.
func (q *workQueue) flush() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	start := q.ran
	for q.running {
		q.idle.Wait()
	}
	return int(q.ran - start)
}
