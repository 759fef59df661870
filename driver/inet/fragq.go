package inet

import (
	"slices"

	"github.com/ibctl/ibctl/driver/verbs"
)

// What IPv4 and IPv6 reassembly share (net/ipv4/inet_fragment.c, and the
// checks ip_frag_queue and ip6_frag_queue make alike): the interval list
// that finds overlaps, the rules about the datagram's end, and the memory
// limit.
//
// Memory limit (inet_frag_find): each family has its own budget per node,
// ipfrag_high_thresh for IPv4 and ip6frag_high_thresh for IPv6, both
// 4 MiB. While the fragment memory is above it, every fragment is dropped
// before its queue is even looked up, fragments of queues already
// started included; nothing is evicted. Memory comes back only when a
// queue completes, is dropped or expires (its timer still sends the ICMP
// time exceeded). This is the kernel since 4.17, which removed the
// evictor: ipfrag_low_thresh (3 MiB) no longer prunes anything and is not
// modelled. A queue costs fragQueueCost and each fragment kept its length
// from the IP header on; the kernel counts the receive buffer's truesize,
// so the emulation holds somewhat more fragments before refusing.

// fragHighThresh is net.ipv4.ipfrag_high_thresh and
// net.ipv6.ip6frag_high_thresh (4 MiB each).
const fragHighThresh = 4 << 20

// fragQueueCost is what a queue itself is charged (the kernel charges
// sizeof(struct ipq), about 200 bytes).
const fragQueueCost = 200

// fragRun is a run of fragments that arrived back to back at the tail, as
// inet_frag_queue_insert keeps them.
type fragRun struct{ off, end int }

// fragData is one queued fragment's data.
type fragData struct {
	off  int
	data []byte
}

// fragQueue collects the fragments of one datagram (struct
// inet_frag_queue).
type fragQueue struct {
	runs        []fragRun // by offset, disjoint
	frags       []fragData
	length      int // the datagram's fragmentable length, as far as known (q.len)
	meat        int // bytes received
	first, last bool
	iif         int32       // the interface the latest fragment came in on
	timer       verbs.Timer // the queue's expiry
	mem         int         // what the queue is charged, itself and its fragments
}

// fragVerdict is what inserting a fragment found (IPFRAG_*).
type fragVerdict int

const (
	fragOK fragVerdict = iota
	fragDup
	fragOverlap
)

// insert places [off, end) among the runs (inet_frag_queue_insert): a
// fragment that extends the last run or starts a new one at the tail, a
// fragment in a gap, a duplicate lying wholly inside one run (dropped,
// the queue kept), or an overlap (the queue dropped).
func (q *fragQueue) insert(off, end int) fragVerdict {
	if len(q.runs) == 0 {
		q.runs = append(q.runs, fragRun{off, end})
		return fragOK
	}
	last := &q.runs[len(q.runs)-1]
	if last.end < end {
		switch {
		case off < last.end:
			return fragOverlap
		case off == last.end:
			last.end = end
		default:
			q.runs = append(q.runs, fragRun{off, end})
		}
		return fragOK
	}
	for i, r := range q.runs {
		switch {
		case end <= r.off:
			q.runs = slices.Insert(q.runs, i, fragRun{off, end})
			return fragOK
		case off >= r.end:
		case off >= r.off && end <= r.end:
			return fragDup
		default:
			return fragOverlap
		}
	}
	return fragOverlap // not reached: the last run ends at or after end
}

// fragResult is what queueing a fragment did.
type fragResult int

const (
	fragQueued   fragResult = iota // kept; the datagram is still incomplete
	fragComplete                   // kept, and every byte has come
	fragIgnored                    // a duplicate: dropped, the queue kept
	fragDiscard                    // the whole datagram must be dropped
)

// queue adds the fragment at off with data, the M flag more, received on
// iif, charging cost to the queue and to *mem, applying the rules ip_frag_queue and
// ip6_frag_queue share. The caller has dealt with a fragment with M set
// whose end is not a multiple of 8 (IPv4 truncates it, IPv6 drops it). A
// last fragment that ends before data already seen, or a second last
// fragment with another end, data beyond a known end, an empty fragment
// and an overlap discard the datagram.
func (q *fragQueue) queue(mem *int, iif int32, off int, more bool, data []byte, cost int) fragResult {
	end := off + len(data)
	if !more {
		if end < q.length || (q.last && end != q.length) {
			return fragDiscard
		}
		q.last, q.length = true, end
	} else if end > q.length {
		if q.last {
			return fragDiscard
		}
		q.length = end
	}
	if end == off {
		return fragDiscard
	}
	switch q.insert(off, end) {
	case fragDup:
		return fragIgnored
	case fragOverlap:
		return fragDiscard
	}
	q.frags = append(q.frags, fragData{off: off, data: append([]byte(nil), data...)})
	q.meat += len(data)
	q.mem += cost
	*mem += cost
	q.iif = iif
	if off == 0 {
		q.first = true
	}
	if q.first && q.last && q.meat == q.length {
		return fragComplete
	}
	return fragQueued
}

// assemble copies the fragments' data to buf at their offsets.
func (q *fragQueue) assemble(buf []byte) {
	for _, f := range q.frags {
		copy(buf[f.off:], f.data)
	}
}

// release stops the queue's timer and gives its memory back to *mem
// (inet_frag_kill, then inet_frag_destroy). Caller holds s.mu.
func (q *fragQueue) release(mem *int) {
	q.timer.Stop()
	*mem -= q.mem
	q.mem = 0
}
