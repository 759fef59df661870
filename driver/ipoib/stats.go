package ipoib

import (
	"sync/atomic"

	"github.com/ibctl/ibctl/driver/verbs"
)

// Stats are an interface's counters (rtnl_link_stats64's fields that
// IPoIB moves), updated by its endpoints and kept by the netdev layer
// across them.
type Stats struct {
	rxPackets, txPackets, rxBytes, txBytes atomic.Uint64
	txErrors, rxDropped, txDropped         atomic.Uint64
	multicast                              atomic.Uint64
	qdiscDrops                             atomic.Uint64 // the stopped queue's qdisc overflowed
}

// Counters is a reading of Stats.
type Counters struct {
	RxPackets, TxPackets, RxBytes, TxBytes uint64
	TxErrors, RxDropped, TxDropped         uint64
	Multicast                              uint64
	// QdiscDrops are the packets the qdisc dropped while the queue was
	// stopped: tc's count, not the interface's tx_dropped.
	QdiscDrops uint64
}

// Snapshot reads the counters.
func (s *Stats) Snapshot() Counters {
	return Counters{
		RxPackets: s.rxPackets.Load(), TxPackets: s.txPackets.Load(), RxBytes: s.rxBytes.Load(), TxBytes: s.txBytes.Load(),
		TxErrors: s.txErrors.Load(), RxDropped: s.rxDropped.Load(), TxDropped: s.txDropped.Load(), Multicast: s.multicast.Load(),
		QdiscDrops: s.qdiscDrops.Load(),
	}
}

// RxPackets is the received-packet count alone, cheap to poll.
func (s *Stats) RxPackets() uint64 { return s.rxPackets.Load() }

// Stats are the endpoint's interface counters.
func (ep *Endpoint) Stats() *Stats { return ep.stats }

// DropRx counts n received packets that the layer above dropped.
func (ep *Endpoint) DropRx(n uint64) { ep.stats.rxDropped.Add(n) }

// DropTx counts n packets that the layer above gave up sending.
func (ep *Endpoint) DropTx(n uint64) { ep.stats.txDropped.Add(n) }

// RecvCQStats are the receive CQ's completion and event counts, which
// show how well interrupt moderation batches.
func (ep *Endpoint) RecvCQStats() verbs.CQStats { return ep.rcq.Stats() }

// RecvQueueSize is the number of UD receive buffers (recv_queue_size).
func (ep *Endpoint) RecvQueueSize() int { return len(ep.bufs) }
