package driver

import (
	"slices"
	"sync"
	"time"

	"github.com/ibctl/ibctl/netlinkx"
)

// klogSize is how many messages a node's kernel log keeps.
const klogSize = 4096

// klog is a node's kernel message ring (what dmesg reads): every message
// gets a sequence number and the time since the driver started. It has its
// own lock, so the data path can log without the driver lock.
type klog struct {
	mu    sync.Mutex
	recs  []netlinkx.LogRecord
	next  uint64
	start time.Time
	now   func() time.Time
}

func newKlog(start time.Time, now func() time.Time) *klog {
	return &klog{start: start, now: now, next: 1}
}

// add appends a message, dropping the oldest when the ring is full.
func (k *klog) add(text string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.recs) == klogSize {
		copy(k.recs, k.recs[1:])
		k.recs = k.recs[:klogSize-1]
	}
	k.recs = append(k.recs, netlinkx.LogRecord{Seq: k.next, TimeNs: uint64(k.now().Sub(k.start)), Text: text})
	k.next++
}

// since returns the messages with a sequence number above seq.
func (k *klog) since(seq uint64) []netlinkx.LogRecord {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []netlinkx.LogRecord
	for _, r := range k.recs {
		if r.Seq > seq {
			out = append(out, r)
		}
	}
	return out
}

// clear drops the messages up to sequence number upto.
func (k *klog) clear(upto uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.recs = slices.DeleteFunc(k.recs, func(r netlinkx.LogRecord) bool { return r.Seq <= upto })
}

// ClearLog drops the node's kernel messages up to sequence number upto
// (syslog's SYSLOG_ACTION_CLEAR, what dmesg -c and -C do).
func (n *Node) ClearLog(upto uint64) error {
	n.klog.clear(upto)
	return nil
}

// Log returns the node's kernel messages after sequence number seq.
func (n *Node) Log(seq uint64) ([]netlinkx.LogRecord, error) { return n.klog.since(seq), nil }

// logf records "<ifname>: msg" in the node's ring and the driver's log.
func (n *stack) logf(name, msg string) {
	line := name + ": " + msg
	n.klog.add(line)
	n.d.log(n.name + " " + line)
}
