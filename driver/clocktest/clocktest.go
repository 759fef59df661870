// Package clocktest is the manual clock of the driver's tests: a
// verbs.ManualClock whose Advance never moves the time while a data path
// is at work. The fabric delivers synchronously, so an RC send is
// acknowledged before its PostSend returns; but a send of another
// goroutine (a receiving data path answering) may be between the two
// when a test advances the clock, and an advance past the ACK timeout
// then expires a transport timer that real time never would, failing
// the connection. Likewise a packet delivered is handled by its
// receiver's poller, in its own goroutine: an answer that real time
// would bring within microseconds must come before the next timer runs
// (a neighbour probe answered before the next probe). Advance runs the
// timers that fall due one instant at a time, and before each waits
// until no watched data path has a send awaiting its acknowledgement or
// a receive path at work. A test that means a lost send to time out
// moves the ManualClock itself.
//
// It may import driver/verbs.
package clocktest

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver/verbs"
)

// Start is where a Clock starts: Tue Nov 14 22:13:20 2023 UTC.
var Start = time.Unix(1_700_000_000, 0)

// quiesceBound is how long Quiesce waits for sends to be acknowledged
// before it fails the test: a lost send, not a slow one.
const quiesceBound = 10 * time.Second

// DataPath is what a Clock quiesces: a driver, or a pair of IPoIB ports.
type DataPath interface {
	// Settle runs the queued work (received MADs, expired timers and
	// their handlers) until none is left.
	Settle()
	// Unacked is how many sends await their acknowledgement.
	Unacked() int
	// Busy is how many receive paths have completions to handle or
	// are handling them.
	Busy() int
}

// Clock is a verbs.ManualClock whose Advance quiesces the data paths it
// watches first.
type Clock struct {
	*verbs.ManualClock
	tb    testing.TB
	mu    sync.Mutex
	paths []DataPath // guarded by mu
}

// New returns a Clock reading Start; it fails tb when a data path does
// not quiesce.
func New(tb testing.TB) *Clock {
	return &Clock{ManualClock: verbs.NewManualClock(Start), tb: tb}
}

// Watch makes Advance quiesce p.
func (c *Clock) Watch(p DataPath) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paths = append(c.paths, p)
}

// Quiesce settles every watched data path and waits until none has a
// send awaiting its acknowledgement or a receive path at work, failing
// the test (from the test's goroutine only) if that takes longer than a
// send that was lost.
func (c *Clock) Quiesce() {
	c.tb.Helper()
	c.mu.Lock()
	paths := c.paths
	c.mu.Unlock()
	for bound := time.Now().Add(quiesceBound); ; runtime.Gosched() {
		n := 0
		for _, p := range paths {
			p.Settle()
			n += p.Unacked() + p.Busy()
		}
		if n == 0 {
			return
		}
		if time.Now().After(bound) {
			c.tb.Fatalf("clock: %d sends unacknowledged or receive paths busy after %v", n, quiesceBound)
		}
	}
}

// Advance moves the clock by d, running the timers that fall due
// (verbs.ManualClock.Advance) one instant at a time, the watched data
// paths quiesced before each and at the end.
func (c *Clock) Advance(d time.Duration) {
	c.tb.Helper()
	end := c.Now().Add(d)
	for {
		c.Quiesce()
		next, ok := c.Next()
		if !ok || next.After(end) {
			break
		}
		c.ManualClock.Advance(max(next.Sub(c.Now()), 0))
	}
	c.ManualClock.Advance(end.Sub(c.Now()))
}
