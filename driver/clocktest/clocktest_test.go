package clocktest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakePath has sends in flight until it has been settled settles times,
// and a receive path at work for its next busy calls of Busy.
type fakePath struct {
	mu      sync.Mutex
	settles int // Settle calls left before the sends are acknowledged
	settled int // Settle calls made
	busy    int // Busy calls left that report work in hand
}

func (p *fakePath) Busy() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.busy > 0 {
		p.busy--
		return 1
	}
	return 0
}

// setBusy makes the path's receive path busy for its next n Busy calls.
func (p *fakePath) setBusy(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.busy = n
}

// quiet reports whether the path has neither sends nor receive work.
func (p *fakePath) quiet() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.settles == 0 && p.busy == 0
}

func (p *fakePath) Settle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.settled++
	if p.settles > 0 {
		p.settles--
	}
}

func (p *fakePath) Unacked() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.settles
}

// Advance moves the clock only once every watched data path has no send
// awaiting its acknowledgement: a timer that falls due sees none.
func TestAdvanceQuiescesFirst(t *testing.T) {
	tests := []struct {
		name    string
		settles []int // per watched path
	}{
		{"no path", nil},
		{"quiet", []int{0}},
		{"busy", []int{3}},
		{"two busy", []int{2, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(t)
			var paths []*fakePath
			for _, n := range tt.settles {
				p := &fakePath{settles: n}
				paths = append(paths, p)
				c.Watch(p)
			}
			fired := -1
			c.AfterFunc(time.Second, func() {
				fired = 0
				for _, p := range paths {
					fired += p.Unacked()
				}
			})
			c.Advance(time.Second)
			if fired != 0 {
				t.Errorf("the timer fired with %d sends unacknowledged (-1: not fired)", fired)
			}
			if got, want := c.Now(), Start.Add(time.Second); !got.Equal(want) {
				t.Errorf("Now() = %v, want %v", got, want)
			}
			for i, p := range paths {
				// every round settles each path, until all are quiet,
				// and one more after the timer
				if want := max(slices.Max(tt.settles), 1) + 1; p.settled != want {
					t.Errorf("path %d settled %d times, want %d", i, p.settled, want)
				}
			}
		})
	}
}

// Advance runs the timers that fall due one instant at a time, and waits
// for the work a timer started before the next instant's timers and
// before it returns: a probe's answer comes before the next probe.
func TestAdvanceQuiescesBetweenTimers(t *testing.T) {
	c := New(t)
	p := &fakePath{}
	c.Watch(p)
	var seen []string
	at := func(name string, d time.Duration, busy int) {
		c.AfterFunc(d, func() {
			seen = append(seen, fmt.Sprintf("%s at %v quiet %v", name, c.Now().Sub(Start), p.quiet()))
			p.setBusy(busy)
		})
	}
	at("first", time.Second, 3)
	at("same instant", time.Second, 2)
	at("second", 2*time.Second, 4)
	at("at the end", 3*time.Second, 5)
	at("after the end", 4*time.Second, 0)
	c.Advance(3 * time.Second)
	want := []string{"first at 1s quiet true", "same instant at 1s quiet false", "second at 2s quiet true", "at the end at 3s quiet true"}
	if !slices.Equal(seen, want) {
		t.Errorf("timers ran %q, want %q", seen, want)
	}
	if !p.quiet() {
		t.Error("Advance returned with the path at work")
	}
	if got, want := c.Now(), Start.Add(3*time.Second); !got.Equal(want) {
		t.Errorf("Now() = %v, want %v", got, want)
	}
	if n := c.Pending(); n != 1 {
		t.Errorf("%d timers armed, want the one after the end", n)
	}
}

// Quiesce waits for both: a path with sends unacknowledged and its
// receive path at work is quiet only when neither is left.
func TestQuiesceWaitsForSendsAndReceives(t *testing.T) {
	for _, tc := range []struct{ settles, busy int }{{2, 2}, {1, 3}, {3, 1}, {0, 2}, {2, 0}} {
		c := New(t)
		p := &fakePath{settles: tc.settles, busy: tc.busy}
		c.Watch(p)
		c.Quiesce()
		if !p.quiet() {
			t.Errorf("%d sends and %d busy rounds: Quiesce returned with the path at work", tc.settles, tc.busy)
		}
	}
}
