package ibctl

import (
	"fmt"
	"github.com/ibctl/ibctl/driver/daemon"
	"sync"
	"testing"

	"github.com/ibctl/ibctl/netlinkx"
)

// TestConcurrentFeatureToggles runs 8 `ethtool -K ib0 gro on|off` at a
// time, each over its own connection. Every one succeeds and prints
// nothing: its reply describes its own change, whatever the others did
// before or after it, so it never reports a saved change as failed.
func TestConcurrentFeatureToggles(t *testing.T) {
	e := newEnv(t)
	const togglers, rounds = 8, 150
	var wg sync.WaitGroup
	errs := make(chan string, togglers*rounds)
	for g := 0; g < togglers; g++ {
		c, err := netlinkx.Pipe(daemon.Backend(e.drv))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		te := &env{t: t, client: c, drv: e.drv}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				args := []string{"ethtool", "-K", "ib0", "gro", []string{"on", "off"}[(g+i)%2]}
				out, stderr, st := te.runArgs(args)
				if out != "" || stderr != "" || st != 0 {
					errs <- fmt.Sprintf("%v: status %d, stdout %q, stderr %q", args, st, out, stderr)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
}
