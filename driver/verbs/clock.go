package verbs

import (
	"sort"
	"sync"
	"time"
)

// Clock supplies time to the CQ moderation timer and the RNR retry timer.
// Tests use a ManualClock; nil in DeviceOptions means the system clock.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f in its own goroutine (or, for a ManualClock, in
	// the goroutine that advances the clock) once d has elapsed. The
	// returned Timer is reused with Reset, so that steady-state traffic
	// creates no timers.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a restartable one-shot timer made by Clock.AfterFunc;
// *time.Timer satisfies it.
type Timer interface {
	// Reset makes the timer fire d from now; it reports whether the timer
	// was pending.
	Reset(d time.Duration) bool
	// Stop cancels the timer; it reports whether the timer was pending.
	Stop() bool
}

// SystemClock is the system's clock: time.Now and time.AfterFunc. It is
// what a nil Clock stands for wherever one is taken.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// AfterFunc returns time.AfterFunc(d, f).
func (SystemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// ManualClock is a Clock that moves only when Advance is called; timers
// that become due run synchronously inside Advance, in deadline order, with
// no clock lock held. The zero value is not usable; call NewManualClock.
type ManualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*manualTimer
}

var (
	_ Clock = (*ManualClock)(nil)
	_ Clock = SystemClock{}
	_ Timer = (*manualTimer)(nil)
	_ Timer = (*time.Timer)(nil)
)

// NewManualClock returns a ManualClock reading start.
func NewManualClock(start time.Time) *ManualClock { return &ManualClock{now: start} }

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc arms a timer that calls f when Advance passes now+d.
func (c *ManualClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTimer{c: c, f: f}
	c.timers = append(c.timers, t)
	t.when = c.now.Add(d)
	t.armed = true
	return t
}

// Advance moves the clock forward by d, running every timer that falls due
// on the way (a timer re-armed by a callback runs again if it is still
// within the advanced interval).
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var due []*manualTimer
		for _, t := range c.timers {
			if t.armed && !t.when.After(end) {
				due = append(due, t)
			}
		}
		if len(due) == 0 {
			c.now = end
			c.mu.Unlock()
			return
		}
		sort.SliceStable(due, func(i, j int) bool { return due[i].when.Before(due[j].when) })
		t := due[0]
		t.armed = false
		if t.when.After(c.now) {
			c.now = t.when
		}
		c.mu.Unlock()
		t.f()
	}
}

// Next is when the earliest armed timer falls due; ok is false when none
// is armed.
func (c *ManualClock) Next() (when time.Time, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.timers {
		if t.armed && (!ok || t.when.Before(when)) {
			when, ok = t.when, true
		}
	}
	return when, ok
}

// Pending is the number of armed timers.
func (c *ManualClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if t.armed {
			n++
		}
	}
	return n
}

type manualTimer struct {
	c     *ManualClock
	f     func()
	when  time.Time
	armed bool
}

func (t *manualTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.armed
	t.when = t.c.now.Add(d)
	t.armed = true
	return was
}

func (t *manualTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.armed
	t.armed = false
	return was
}
