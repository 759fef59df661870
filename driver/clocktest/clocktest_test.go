package clocktest

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// fakePath has sends in flight until it has been settled settles times.
type fakePath struct {
	mu      sync.Mutex
	settles int // Settle calls left before the sends are acknowledged
	settled int // Settle calls made
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
				// every round settles each path, until all are quiet
				if want := max(slices.Max(tt.settles), 1); p.settled != want {
					t.Errorf("path %d settled %d times, want %d", i, p.settled, want)
				}
			}
		})
	}
}
