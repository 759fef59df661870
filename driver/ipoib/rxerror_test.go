package ipoib

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ibctl/ibctl/driver/verbs"
)

// A receive completion in error frees its buffer without posting it
// again and counts nothing; only a failure other than a flush is
// reported (ipoib_ib_handle_rx_wc). So a UD QP moved to Error flushes
// its receive ring once, and the poller goes idle: posting the buffers
// again would have them flushed at once, for ever, and Close would
// never return.
func TestRecvErrorNotReposted(t *testing.T) {
	tp := newTestPair(t, false)
	ep := tp.n1.ep
	_, logged := tp.n1.log.since(0)
	c0 := ep.RecvCQStats().Completions
	if err := ep.qp.Modify(verbs.QPAttr{State: verbs.QPError}, verbs.AttrState); err != nil {
		t.Fatal(err)
	}
	closeWithin(t, ep, func() string {
		return fmt.Sprintf("the poller never went idle (%d receive completions)", ep.RecvCQStats().Completions-c0)
	})
	if n := ep.RecvCQStats().Completions - c0; n != uint64(ep.RecvQueueSize()) {
		t.Errorf("%d receive completions, want one flush for each of the %d buffers", n, ep.RecvQueueSize())
	}
	if d := ep.Stats().Snapshot().RxDropped; d != 0 {
		t.Errorf("rx_dropped %d, want 0", d)
	}
	lines, _ := tp.n1.log.since(logged)
	for _, l := range lines {
		if strings.Contains(l, "failed recv event") {
			t.Errorf("a flush was reported: %q", l)
		}
	}
}
