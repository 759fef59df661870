package ipoib

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/header"
)

// The IPoIB neighbour table (ipoib_main.c: ipoib_neigh_get, ipoib_neigh_alloc,
// ipoib_neigh_free, __ipoib_reap_neigh). It is not the ARP table: it has
// one entry per 20-byte unicast address the interface transmitted an IP
// packet to, holding the path's address handle and, in connected mode,
// the active connection. A transmit refreshes the entry's alive time; a
// scan every ARP gc_interval (30 s) frees the entries idle for more than
// two intervals, and freeing an entry destroys its connection, which
// disconnects the passive end too. The next packet to that address finds
// the path record still cached (paths are freed only by a flush), so it
// allocates a new entry and connects again.
//
// Neither the ARP table (ip neigh: fewer than gc_thresh1 = 128 entries are
// never garbage-collected, they just go STALE) nor the path records
// (debugfs <dev>_path) change when an entry is freed, as in the kernel.
// Unicast ARP does not use the table (unicast_arp_send). Packets to
// multicast groups other than the broadcast group have entries too
// (ipoib_mcast_send), and freeing one of a send-only group leaves the
// group (multicast.go); the broadcast group's entry is not modelled.

// Neighbour garbage collection: arp_tbl.gc_interval is 30 s and an entry
// is obsolete when idle for more than 2 × gc_interval.
const (
	arpGCInterval = 30 * time.Second
	neighObsolete = 2 * arpGCInterval
)

// NeighReapInterval is how often the netdev layer should call ReapNeighbours
// (ipoib_reap_neigh reschedules itself every arp_tbl.gc_interval).
const NeighReapInterval = arpGCInterval

// ipoibNeigh is one entry (struct ipoib_neigh).
type ipoibNeigh struct {
	daddr header.HWAddr
	path  fabric.Path          // the path's address handle (neigh->ah)
	alive atomic.Int64         // driver clock, Unix ns, of the last transmit
	cm    atomic.Pointer[cmTx] // the active connection (neigh->cm), or nil
	freed bool                 // guarded by ep.cm.mu: out of the table for good
	qmu   sync.Mutex           // guards queue, dead and the connection's going up
	queue [][]byte             // packets waiting for the connection (neigh->queue)
	dead  bool                 // guarded by qmu: freed, its queue dropped; nothing may queue
	qlen  atomic.Int32         // len(queue), read without qmu
}

// neighTable is an interface's table (priv->ntbl).
type neighTable struct {
	mu sync.Mutex
	m  map[header.HWAddr]*ipoibNeigh // guarded by mu
}

// neigh returns the entry for dst, allocating it (with the path record,
// queried the first time) when there is none, and marks it alive
// (ipoib_neigh_get, neigh_add_path) unless its queue is full: a
// neighbour whose connection never comes up expires while used.
func (ep *Endpoint) neigh(dst header.HWAddr, pkey uint16) (*ipoibNeigh, error) {
	now := ep.host.Nanos()
	t := &ep.neighs
	t.mu.Lock()
	n := t.m[dst]
	if n != nil {
		if n.qlen.Load() < maxPathRecQueue {
			n.alive.Store(now)
		}
		t.mu.Unlock()
		return n, nil
	}
	t.mu.Unlock()
	path, err := ep.path(dst.GID(), pkey)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if n = t.m[dst]; n == nil {
		n = &ipoibNeigh{daddr: dst, path: path}
		if t.m == nil {
			t.m = map[header.HWAddr]*ipoibNeigh{}
		}
		t.m[dst] = n
	}
	n.alive.Store(now)
	return n, nil
}

// takeNeighs removes and returns the entries that match, in address
// order (the kernel walks its hash buckets; a fixed order keeps the
// debug messages deterministic).
func (ep *Endpoint) takeNeighs(match func(*ipoibNeigh) bool) []*ipoibNeigh {
	t := &ep.neighs
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*ipoibNeigh
	for dst, n := range t.m {
		if match(n) {
			delete(t.m, dst)
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b *ipoibNeigh) int { return bytes.Compare(a.daddr[:], b.daddr[:]) })
	return out
}

// removeNeigh takes n out of the table, reporting whether it was there.
func (ep *Endpoint) removeNeigh(n *ipoibNeigh) bool {
	t := &ep.neighs
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m[n.daddr] != n {
		return false
	}
	delete(t.m, n.daddr)
	return true
}

// ReapNeighbours frees the entries idle for more than neighObsolete
// (__ipoib_reap_neigh: time_after(jiffies - dt, neigh->alive)) and
// returns how many. The send-only groups of freed multicast entries are
// left first (ipoib_mcast_remove_list runs right after the scan; the
// entries' destructors run after an RCU grace period).
func (ep *Endpoint) ReapNeighbours() int {
	obsolete := ep.host.Nanos() - int64(neighObsolete)
	ns := ep.takeNeighs(func(n *ipoibNeigh) bool { return obsolete > n.alive.Load() })
	for _, n := range ns {
		if n.daddr.IsMulticast() {
			ep.dropSendOnly(n.daddr.GID())
		}
	}
	for _, n := range ns {
		ep.freeNeigh(n)
	}
	return len(ns)
}

// flushNeighs frees every entry (ipoib_flush_neighs, and the multicast
// flush when the interface goes down).
func (ep *Endpoint) flushNeighs() {
	for _, n := range ep.takeNeighs(func(*ipoibNeigh) bool { return true }) {
		ep.freeNeigh(n)
	}
}

// flushPathNeighs frees the entries of unicast addresses, which hang off
// path records (ipoib_flush_paths): multicast entries stay.
func (ep *Endpoint) flushPathNeighs() {
	for _, n := range ep.takeNeighs(func(n *ipoibNeigh) bool { return !n.daddr.IsMulticast() }) {
		ep.freeNeigh(n)
	}
}

// freeNeigh frees an entry taken out of the table (ipoib_neigh_dtor): the
// packets queued on it are dropped (tx_dropped) and its connection, if it
// still has one, destroyed (ipoib_cm_destroy_tx), with the kernel's debug
// messages in the kernel's order.
func (ep *Endpoint) freeNeigh(n *ipoibNeigh) {
	ep.cm.mu.Lock()
	n.freed = true
	tx := n.cm.Swap(nil)
	reap := tx != nil && !tx.reaped
	if reap {
		tx.reaped, tx.neigh = true, nil
		tx.up.Store(false)
	}
	ep.cm.mu.Unlock()
	n.qmu.Lock()
	n.dead = true
	dropped := len(n.queue)
	for _, pkt := range n.queue {
		ep.tapOut(pkt, n.daddr, true, DropNeighDead)
	}
	n.queue = nil
	n.qlen.Store(0)
	n.qmu.Unlock()
	ep.stats.txDropped.Add(uint64(dropped))
	gid := n.daddr.GID()
	if reap {
		ep.dbg("Reap connection for gid %s", pI6(gid))
	}
	ep.dbg("neigh free for %06x %s", n.daddr.QPN(), pI6(gid))
	if reap {
		ep.destroyTx(tx)
	}
}

// NeighCount is the number of entries.
func (ep *Endpoint) NeighCount() int {
	ep.neighs.mu.Lock()
	defer ep.neighs.mu.Unlock()
	return len(ep.neighs.m)
}

// pI6 formats a GID as the kernel's %pI6: eight groups of four lowercase
// hex digits.
func pI6(g [16]byte) string {
	return fmt.Sprintf("%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x",
		g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15])
}
