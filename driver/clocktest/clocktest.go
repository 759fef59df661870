// Package clocktest is the manual clock of the driver's tests: a
// verbs.ManualClock whose Advance never moves the time while a send is
// under way. The fabric delivers synchronously, so an RC send is
// acknowledged before its PostSend returns; but a send of another
// goroutine (a receiving data path answering) may be between the two
// when a test advances the clock, and an advance past the ACK timeout
// then expires a transport timer that real time never would, failing
// the connection. Advance first waits until no watched data path has a
// send awaiting its acknowledgement. A test that means a lost send to
// time out moves the ManualClock itself.
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
// send awaiting its acknowledgement, failing the test (from the test's
// goroutine only) if that takes longer than a send that was lost.
func (c *Clock) Quiesce() {
	c.tb.Helper()
	c.mu.Lock()
	paths := c.paths
	c.mu.Unlock()
	for bound := time.Now().Add(quiesceBound); ; runtime.Gosched() {
		n := 0
		for _, p := range paths {
			p.Settle()
			n += p.Unacked()
		}
		if n == 0 {
			return
		}
		if time.Now().After(bound) {
			c.tb.Fatalf("clock: %d sends unacknowledged after %v", n, quiesceBound)
		}
	}
}

// Advance quiesces the watched data paths and moves the clock by d,
// running the timers that fall due (verbs.ManualClock.Advance).
func (c *Clock) Advance(d time.Duration) {
	c.tb.Helper()
	c.Quiesce()
	c.ManualClock.Advance(d)
}
