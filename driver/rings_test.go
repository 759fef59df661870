package driver

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// kernelLog returns the node's kernel messages after seq.
func kernelLog(t *testing.T, n *Node, seq uint64) (texts []string, last uint64) {
	t.Helper()
	recs, err := n.Log(seq)
	if err != nil {
		t.Fatal(err)
	}
	last = seq
	for _, r := range recs {
		texts = append(texts, r.Text)
		last = r.Seq
	}
	return texts, last
}

// TestSetRings checks RINGS_SET against ethnl_set_rings and
// ethnl_set_rings_validate (net/ethtool/rings.c: unsupported parameters
// EOPNOTSUPP with a message, no change no-op, above the maximum EINVAL
// "requested ring size exceeds maximum") and ipoib_set_ring_param
// (ipoib_ethtool.c: below IPOIB_MIN_QUEUE_SIZE EINVAL and a pr_err,
// rounding up to a power of two with a warning). A refused request leaves
// the sizes as they were.
func TestSetRings(t *testing.T) {
	const exceeds = "requested ring size exceeds maximum"
	rx, tx := uint16(unix.ETHTOOL_A_RINGS_RX), uint16(unix.ETHTOOL_A_RINGS_TX)
	tests := []struct {
		name   string
		set    netlinkx.RingsSet
		errno  unix.Errno
		msg    string
		rx, tx uint32
		log    []string
	}{
		{"unchanged", netlinkx.RingsSet{rx: 256, tx: 128}, 0, "", 256, 128, nil},
		{"empty", netlinkx.RingsSet{}, 0, "", 256, 128, nil},
		{"powers of two", netlinkx.RingsSet{rx: 1024, tx: 64}, 0, "", 1024, 64, nil},
		{"rounded up", netlinkx.RingsSet{rx: 300, tx: 3}, 0, "", 512, 4, []string{
			"ib0: ipoib_set_ring_param: rx_pending should be power of two. rx_pending is 512",
			"ib0: ipoib_set_ring_param: tx_pending should be power of two. tx_pending is 4"}},
		{"rounded to the current size", netlinkx.RingsSet{rx: 200}, 0, "", 256, 128, []string{
			"ib0: ipoib_set_ring_param: rx_pending should be power of two. rx_pending is 256"}},
		{"limits", netlinkx.RingsSet{rx: 8192, tx: 2}, 0, "", 8192, 2, nil},
		{"rx above maximum", netlinkx.RingsSet{rx: 8193}, unix.EINVAL, exceeds, 256, 128, nil},
		{"tx above maximum", netlinkx.RingsSet{tx: 1 << 31}, unix.EINVAL, exceeds, 256, 128, nil},
		{"rx below minimum", netlinkx.RingsSet{rx: 1}, unix.EINVAL, "", 256, 128, []string{"rx_pending (1) is out of bounds [2-8192]"}},
		{"tx zero", netlinkx.RingsSet{rx: 300, tx: 0}, unix.EINVAL, "", 256, 128, []string{
			"ib0: ipoib_set_ring_param: rx_pending should be power of two. rx_pending is 512",
			"tx_pending (0) is out of bounds [2-8192]"}},
		{"rx mini", netlinkx.RingsSet{unix.ETHTOOL_A_RINGS_RX_MINI: 1}, unix.EINVAL, exceeds, 256, 128, nil},
		{"rx jumbo", netlinkx.RingsSet{unix.ETHTOOL_A_RINGS_RX_JUMBO: 4}, unix.EINVAL, exceeds, 256, 128, nil},
		{"rx mini zero", netlinkx.RingsSet{unix.ETHTOOL_A_RINGS_RX_MINI: 0}, 0, "", 256, 128, nil},
		{"rx buf len", netlinkx.RingsSet{unix.ETHTOOL_A_RINGS_RX_BUF_LEN: 4096, rx: 1024}, unix.EOPNOTSUPP, "setting rx buf len not supported", 256, 128, nil},
		{"cqe size", netlinkx.RingsSet{unix.ETHTOOL_A_RINGS_CQE_SIZE: 64}, unix.EOPNOTSUPP, "setting cqe size not supported", 256, 128, nil},
		{"tx push", netlinkx.RingsSet{unix.ETHTOOL_A_RINGS_TX_PUSH: 0}, unix.EOPNOTSUPP, "setting tx push not supported", 256, 128, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, n := newTestDriver(t, nil)
			_, seq := kernelLog(t, n, 0)
			err := n.SetRings("ib0", tt.set)
			wantErrno(t, err, tt.errno)
			var de *Error
			if tt.errno != 0 && (!errors.As(err, &de) || de.Msg != tt.msg) {
				t.Fatalf("error %#v, want message %q", err, tt.msg)
			}
			r, err := n.Rings("ib0")
			if err != nil {
				t.Fatal(err)
			}
			if want := (netlinkx.Rings{RxMax: 8192, TxMax: 8192, Rx: tt.rx, Tx: tt.tx}); r != want {
				t.Errorf("rings = %+v, want %+v", r, want)
			}
			if other, _ := n.Rings("ib1"); other.Rx != 256 || other.Tx != 128 {
				t.Errorf("ib1 rings = %+v, want the module parameters", other)
			}
			logs, _ := kernelLog(t, n, seq)
			if diff := cmp.Diff(tt.log, logs); diff != "" {
				t.Errorf("kernel log (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSetRingsReinitsUpDevice: ipoib_set_ring_param takes an interface
// that is up down, re-initialises it with the new sizes and brings it up
// again: its endpoint is opened anew with them, carrier goes off and on
// (two more carrier changes) and is on after; a device that is down
// stays down and opens with the new sizes later.
func TestSetRingsReinitsUpDevice(t *testing.T) {
	_, n := newTestDriver(t, nil)
	wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}), 0)
	before := mustLink(t, n, "ib0")
	if !before.Carrier {
		t.Fatalf("ib0 has no carrier before: %+v", before)
	}
	oldEP := n.byName["ib0"].dp
	wantErrno(t, n.SetRings("ib0", netlinkx.RingsSet{unix.ETHTOOL_A_RINGS_RX: 64, unix.ETHTOOL_A_RINGS_TX: 32}), 0)
	after := mustLink(t, n, "ib0")
	if !after.Carrier || after.Flags&unix.IFF_UP == 0 {
		t.Errorf("ib0 after: carrier %v flags %#x, want up with carrier", after.Carrier, after.Flags)
	}
	if after.CarrierChanges != before.CarrierChanges+2 {
		t.Errorf("carrier changes %d, want %d", after.CarrierChanges, before.CarrierChanges+2)
	}
	ep := n.byName["ib0"].dp
	if ep == nil || ep == oldEP || ep.RecvQueueSize() != 64 {
		t.Fatalf("endpoint not reopened with 64 receive buffers (new endpoint %v)", ep != nil && ep != oldEP)
	}
	// The same sizes again: nothing to do, no reopen.
	wantErrno(t, n.SetRings("ib0", netlinkx.RingsSet{unix.ETHTOOL_A_RINGS_RX: 64, unix.ETHTOOL_A_RINGS_TX: 32}), 0)
	if n.byName["ib0"].dp != ep || mustLink(t, n, "ib0").CarrierChanges != after.CarrierChanges {
		t.Errorf("unchanged sizes reopened the endpoint")
	}

	wantErrno(t, n.SetRings("ib1", netlinkx.RingsSet{unix.ETHTOOL_A_RINGS_RX: 16}), 0)
	if l := mustLink(t, n, "ib1"); l.Flags&unix.IFF_UP != 0 || n.byName["ib1"].dp != nil {
		t.Fatalf("ib1 came up: flags %#x", l.Flags)
	}
	wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib1", Up: ptr(true)}), 0)
	if ep := n.byName["ib1"].dp; ep == nil || ep.RecvQueueSize() != 16 {
		t.Fatalf("ib1 endpoint open %v, want it open with 16 receive buffers", ep != nil)
	}
}

// TestRingsSurviveRestart: the sizes are the interface's (priv), saved
// with it; an interface never changed follows the module parameters.
func TestRingsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	_, n := newTestDriver(t, st)
	wantErrno(t, n.SetRings("ib0", netlinkx.RingsSet{unix.ETHTOOL_A_RINGS_RX: 4096, unix.ETHTOOL_A_RINGS_TX: 16}), 0)
	st.Close()
	st = openStore(t, dir)
	defer st.Close()
	_, n = newTestDriver(t, st)
	for dev, want := range map[string]netlinkx.Rings{
		"ib0": {RxMax: 8192, TxMax: 8192, Rx: 4096, Tx: 16},
		"ib1": {RxMax: 8192, TxMax: 8192, Rx: 256, Tx: 128},
	} {
		if r, err := n.Rings(dev); err != nil || r != want {
			t.Errorf("%s after restart: %+v, %v; want %+v", dev, r, err, want)
		}
	}
}
