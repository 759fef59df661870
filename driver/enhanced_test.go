package driver

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/store"
	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// newEnhancedDriver is the default fabric with node0's port 1 (ib0) an
// enhanced IPoIB port and port 2 (ib1) a classic one.
func newEnhancedDriver(t *testing.T) (*Driver, *Node) {
	t.Helper()
	return startEnhanced(t, nil, enhancedTopology())
}

func enhancedTopology() *fabric.Topology {
	topo := fabric.DefaultTopology()
	topo.Nodes[0].Ports[0].IPoIB = fabric.IPoIBEnhanced
	topo.Nodes[0].Ports[0].Caps = nil
	return topo
}

// startEnhanced starts a driver on st (nil: none) with topo (nil: the
// saved one) and returns node0.
func startEnhanced(t *testing.T, st *store.Store, topo *fabric.Topology) (*Driver, *Node) {
	t.Helper()
	d, err := New(Options{Store: st, Topology: topo, Log: func(string) {}, KernelRelease: "6.18.0-test"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	n, err := d.Node("node0")
	if err != nil {
		t.Fatal(err)
	}
	return d, n
}

// TestEnhancedConnectedModeRefused: ib_ipoib runs ipoib_cm_dev_init only
// on its own netdev, so an enhanced interface's address has no RC flag
// (byte 0 is 0x00) and ipoib_set_mode (ipoib_main.c) answers "connected"
// with EINVAL and no message, through the mode file and through
// ipoib_changelink alike; ipoib_new_child_link removes a child whose mode
// could not be set. A classic port of the same HCA keeps its flag and its
// connected mode.
func TestEnhancedConnectedModeRefused(t *testing.T) {
	_, n := newEnhancedDriver(t)
	_, seq := kernelLog(t, n, 0)
	ib0 := mustLink(t, n, "ib0")
	if ib0.Address[0] != 0x00 {
		t.Fatalf("ib0 address byte 0 = %#x, want 0x00", ib0.Address[0])
	}
	if ib1 := mustLink(t, n, "ib1"); ib1.Address[0] != 0x80 {
		t.Fatalf("ib1 address byte 0 = %#x, want 0x80", ib1.Address[0])
	}
	connected := uint16(netlinkx.ModeConnected)
	wantErrno(t, n.SetMode("ib0", netlinkx.ModeConnected), unix.EINVAL)
	wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Kind: "ipoib", Mode: &connected}), unix.EINVAL)
	wantErrno(t, n.NewLink(netlinkx.LinkRequest{Name: "ib0.8001", ParentIndex: ib0.Index, Kind: "ipoib",
		PKey: ptr(uint16(0x8001)), Mode: &connected}), unix.EINVAL)
	if _, err := n.Link(0, "ib0.8001"); !errors.Is(err, unix.ENODEV) {
		t.Fatalf("ib0.8001 after a refused mode: %v, want ENODEV", err)
	}
	wantErrno(t, n.SetMode("ib0", netlinkx.ModeDatagram), 0)
	if l := mustLink(t, n, "ib0"); l.IPoIB.Mode != netlinkx.ModeDatagram || l.MTU != ib0.MTU {
		t.Fatalf("ib0 mode %d mtu %d, want datagram and %d", l.IPoIB.Mode, l.MTU, ib0.MTU)
	}
	if logs, _ := kernelLog(t, n, seq); len(logs) != 0 {
		t.Fatalf("kernel log %q, want none", logs)
	}
	wantErrno(t, n.SetMode("ib1", netlinkx.ModeConnected), 0)
}

// TestEnhancedDriverInfo: mlx5i_get_drvinfo (mlx5/core/ipoib/ethtool.c)
// names the driver "mlx5_core[ib_ipoib]" and mlx5e_ethtool_get_drvinfo
// formats the firmware "%d.%d.%04d (%.16s)" with the board ID; the
// version is the kernel release, the bus the HCA's. The classic port of
// the same HCA is ipoib_get_drvinfo's.
func TestEnhancedDriverInfo(t *testing.T) {
	_, n := newEnhancedDriver(t)
	for _, tt := range []struct {
		dev  string
		want netlinkx.DriverInfo
	}{
		{"ib0", netlinkx.DriverInfo{Driver: "mlx5_core[ib_ipoib]", Version: "6.18.0-test", Firmware: "12.28.2006 (MT_2190110032)",
			BusInfo: "0000:81:00.0", NStats: 8}},
		{"ib1", netlinkx.DriverInfo{Driver: "ib_ipoib", Version: "6.18.0-test", Firmware: "12.28.2006",
			BusInfo: "0000:81:00.0", NStats: 8}},
	} {
		di, err := n.DriverInfo(tt.dev)
		if err != nil {
			t.Fatal(err)
		}
		if di != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.dev, di, tt.want)
		}
	}
	for fw, want := range map[string]string{
		"16.35.2000": "16.35.2000 (MT_0000000008)",
		"16.35.20":   "16.35.0020 (MT_0000000008)",
		"custom":     "custom",
	} {
		if got := mlx5FirmwareVersion(fw, "MT_0000000008"); got != want {
			t.Errorf("mlx5FirmwareVersion(%q) = %q, want %q", fw, got, want)
		}
	}
	if got := mlx5FirmwareVersion("123456.123456.123456", "MT_0000000008"); got != "123456.123456.123456" {
		t.Errorf("a version of 32 bytes or more with its board ID = %q, want it without", got)
	}
}

// TestEnhancedFeatures: mlx5i_init puts SG, IPv4 and IPv6 checksum, GRO,
// TSO, TSO6, receive checksum and hashing in hw_features and
// ipoib_set_dev_features turns them on; register_netdevice adds the
// software ones (mangle-ID TSO, tx-nocache-copy, GRO list and UDP GRO
// forwarding off). Only HIGHDMA and VLAN_CHALLENGED are fixed; there is no
// LRO, which stays "off [fixed]".
func TestEnhancedFeatures(t *testing.T) {
	_, n := newEnhancedDriver(t)
	fs, err := n.Features("ib0")
	if err != nil {
		t.Fatal(err)
	}
	type state struct{ Avail, Active bool }
	got := map[string]state{}
	for _, f := range fs {
		if f.Available || f.Active {
			got[f.Name] = state{f.Available, f.Active}
		}
	}
	want := map[string]state{
		"tx-scatter-gather": {true, true}, "tx-checksum-ipv4": {true, true}, "tx-checksum-ipv6": {true, true},
		"highdma": {false, true}, "vlan-challenged": {false, true},
		"tx-generic-segmentation": {true, true}, "rx-gro": {true, true},
		"tx-tcp-segmentation": {true, true}, "tx-tcp-mangleid-segmentation": {true, false},
		"tx-tcp6-segmentation": {true, true}, "rx-hashing": {true, true}, "rx-checksum": {true, true},
		"tx-nocache-copy": {true, false}, "rx-gro-list": {true, false}, "rx-udp-gro-forwarding": {true, false},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("features (-want +got):\n%s", diff)
	}
	// SG is changeable; turning it off takes TSO with it
	// (netdev_fix_features).
	_, after, err := n.SetFeatures("ib0", map[string]bool{"tx-scatter-gather": false})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range after {
		if (f.Name == "tx-scatter-gather" || f.Name == "tx-tcp-segmentation" || f.Name == "tx-tcp6-segmentation") && f.Active {
			t.Errorf("%s still on after tx-scatter-gather off", f.Name)
		}
	}
}

// TestEnhancedRings: mlx5e_ethtool_get_ringparam reports 8192 as both
// maximums (MLX5E_PARAMS_MAXIMUM_LOG_RQ_SIZE/SQ_SIZE 13) and the
// interface's sizes, 512 receive (MLX5I_PARAMS_DEFAULT_LOG_RQ_SIZE) and
// 1024 send (MLX5E_PARAMS_DEFAULT_LOG_SQ_SIZE) until changed;
// mlx5e_ethtool_set_ringparam refuses a size below 64 with an extack
// message and rounds up to a power of two without a word; the interface
// stays up with its carrier (mlx5e_safe_switch_params).
func TestEnhancedRings(t *testing.T) {
	rx, tx := uint16(unix.ETHTOOL_A_RINGS_RX), uint16(unix.ETHTOOL_A_RINGS_TX)
	for _, tt := range []struct {
		name   string
		set    netlinkx.RingsSet
		errno  unix.Errno
		msg    string
		rx, tx uint32
	}{
		{"unchanged", netlinkx.RingsSet{rx: 512, tx: 1024}, 0, "", 512, 1024},
		{"rounded up", netlinkx.RingsSet{rx: 300, tx: 65}, 0, "", 512, 128},
		{"limits", netlinkx.RingsSet{rx: 64, tx: 8192}, 0, "", 64, 8192},
		{"rx below minimum", netlinkx.RingsSet{rx: 63}, unix.EINVAL, "mlx5_core: rx (63) < min (64)", 512, 1024},
		{"tx below minimum", netlinkx.RingsSet{rx: 128, tx: 2}, unix.EINVAL, "mlx5_core: tx (2) < min (64)", 512, 1024},
		{"above maximum", netlinkx.RingsSet{rx: 8193}, unix.EINVAL, "requested ring size exceeds maximum", 512, 1024},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, n := newEnhancedDriver(t)
			wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}), 0)
			before := mustLink(t, n, "ib0")
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
			after := mustLink(t, n, "ib0")
			if !after.Carrier || after.CarrierChanges != before.CarrierChanges {
				t.Errorf("carrier %v, changes %d; want on, %d", after.Carrier, after.CarrierChanges, before.CarrierChanges)
			}
			if ep := n.byName["ib0"].dp; ep == nil || ep.RecvQueueSize() != int(tt.rx) {
				t.Errorf("endpoint not open with %d receive buffers", tt.rx)
			}
			if logs, _ := kernelLog(t, n, seq); len(logs) != 0 {
				t.Errorf("kernel log %q, want none", logs)
			}
			if other, _ := n.Rings("ib1"); other.Rx != 256 || other.Tx != 128 {
				t.Errorf("ib1 rings = %+v, want the module parameters", other)
			}
		})
	}
}

// TestEnhancedKindSaved: the kind is part of the saved topology, so a
// driver started again without a topology keeps the port enhanced; the
// interface's channel count is saved with it.
func TestEnhancedKindSaved(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	_, n0 := startEnhanced(t, st, enhancedTopology())
	wantErrno(t, n0.SetChannels("ib0", netlinkx.ChannelsSet{unix.ETHTOOL_A_CHANNELS_COMBINED_COUNT: 1}), 0)
	st.Close()
	st = openStore(t, dir)
	defer st.Close()
	_, n := startEnhanced(t, st, nil)
	if di, err := n.DriverInfo("ib0"); err != nil || di.Driver != "mlx5_core[ib_ipoib]" {
		t.Fatalf("ib0 after restart: %+v, %v; want mlx5_core[ib_ipoib]", di, err)
	}
	wantErrno(t, n.SetMode("ib0", netlinkx.ModeConnected), unix.EINVAL)
	if ch, err := n.Channels("ib0"); err != nil || ch != (netlinkx.Channels{CombinedMax: 2, Combined: 1}) {
		t.Fatalf("ib0 channels after restart: %+v, %v; want 1 of 2 combined", ch, err)
	}
	if di, _ := n.DriverInfo("ib1"); di.Driver != "ib_ipoib" {
		t.Fatalf("ib1 after restart: %+v, want ib_ipoib", di)
	}
}

// TestEnhancedQueues: the queues each kind of device is allocated with
// and the default qdisc it gets when opened (attach_default_qdiscs: mq
// when num_tx_queues is above one). An enhanced port and its sysfs child
// come from rdma_alloc_netdev with mlx5_rdma_rn_get_params' nch *
// MLX5_MAX_NUM_TC TX and nch RX queues (nch = 2, one per CPU); a classic
// port and its sysfs child from alloc_netdev's one; a netlink child from
// rtnl_create_link's ipoib_get_max_num_queues, min(CPUs, 128), of each.
// ethtool -L changes only real_num_tx_queues, and a restart keeps them.
func TestEnhancedQueues(t *testing.T) {
	type queues struct {
		tx, rx uint32
		qdisc  string
	}
	want := map[string]queues{
		"ib0": {16, 2, "mq"}, "ib0.8001": {16, 2, "mq"}, "ib0.8002": {2, 2, "mq"},
		"ib1": {1, 1, "pfifo_fast"}, "ib1.8001": {1, 1, "pfifo_fast"}, "ib1.8002": {2, 2, "mq"},
	}
	check := func(t *testing.T, n *Node, when string) {
		t.Helper()
		for name, w := range want {
			l := mustLink(t, n, name)
			if got := (queues{l.NumTxQ, l.NumRxQ, l.Qdisc}); got != w {
				t.Errorf("%s %s: %+v, want %+v", when, name, got, w)
			}
		}
	}
	dir := t.TempDir()
	st := openStore(t, dir)
	_, n := startEnhanced(t, st, enhancedTopology())
	if l := mustLink(t, n, "ib0"); l.NumTxQ != 16 || l.NumRxQ != 2 || l.Qdisc != "noop" {
		t.Errorf("ib0 never opened: %d %d %s, want 16 2 noop", l.NumTxQ, l.NumRxQ, l.Qdisc)
	}
	for _, p := range []string{"ib0", "ib1"} {
		wantErrno(t, n.CreateChild(p, 0x8001), 0)
		parent := mustLink(t, n, p)
		wantErrno(t, n.NewLink(netlinkx.LinkRequest{Name: p + ".8002", ParentIndex: parent.Index, Kind: "ipoib",
			PKey: ptr(uint16(0x8002))}), 0)
		for _, name := range []string{p, p + ".8001", p + ".8002"} {
			wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: name, Up: ptr(true)}), 0)
		}
	}
	check(t, n, "up")
	wantErrno(t, n.SetChannels("ib0", netlinkx.ChannelsSet{unix.ETHTOOL_A_CHANNELS_COMBINED_COUNT: 1}), 0)
	check(t, n, "after ethtool -L combined 1")
	st.Close()
	st = openStore(t, dir)
	defer st.Close()
	_, n = startEnhanced(t, st, nil)
	check(t, n, "after a restart")
}

// TestEnhancedCoalesce: COALESCE_GET and _SET on an enhanced interface.
// mlx5e_ethtool_get_coalesce reports rx/tx usecs and frames, net_dim's
// state and the CQ period modes; mlx5e_build_nic_params starts with
// net_dim on both ways at its default profiles (8 usecs, 128 frames).
// ethnl_set_coalesce_validate refuses what mlx5i_ethtool_ops'
// supported_coalesce_params lacks; mlx5e_ethtool_set_coalesce refuses
// values above MLX5E_MAX_COAL_TIME/FRAMES with ERANGE and a netdev_info
// line, ignores values while net_dim stays on, and turning net_dim on or
// off resets that direction to its defaults (mlx5e_reset_rx/
// tx_moderation). The receive CQ follows the static values while net_dim
// is off. A refusal changes nothing.
func TestEnhancedCoalesce(t *testing.T) {
	const (
		rxUsecs  = unix.ETHTOOL_A_COALESCE_RX_USECS
		rxFrames = unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES
		txUsecs  = unix.ETHTOOL_A_COALESCE_TX_USECS
		txFrames = unix.ETHTOOL_A_COALESCE_TX_MAX_FRAMES
		adRx     = unix.ETHTOOL_A_COALESCE_USE_ADAPTIVE_RX
		adTx     = unix.ETHTOOL_A_COALESCE_USE_ADAPTIVE_TX
	)
	supported := []uint16{rxUsecs, rxFrames, txUsecs, txFrames, adRx, adTx}
	def := netlinkx.Coalesce{RxUsecs: 8, RxFrames: 128, TxUsecs: 8, TxFrames: 128, AdaptiveRx: true, AdaptiveTx: true,
		CQEModeRx: true, Supported: supported}
	with := func(f func(*netlinkx.Coalesce)) netlinkx.Coalesce {
		c := def
		f(&c)
		return c
	}
	const timeLine = "mlx5_core 0000:81:00.0 ib0: mlx5e_ethtool_set_coalesce: maximum coalesce time supported is 4095 usecs"
	const framesLine = "mlx5_core 0000:81:00.0 ib0: mlx5e_ethtool_set_coalesce: maximum coalesced frames supported is 65535"
	for _, tt := range []struct {
		name  string
		set   netlinkx.CoalesceSet
		errno unix.Errno
		msg   string
		logs  []string
		want  netlinkx.Coalesce
		cq    [2]uint16 // receive CQ: frames, usecs
		// before is applied first.
		before netlinkx.CoalesceSet
	}{
		{"unchanged", netlinkx.CoalesceSet{rxUsecs: 8, adRx: 1}, 0, "", nil, def, [2]uint16{}, nil},
		{"values under net_dim ignored", netlinkx.CoalesceSet{rxUsecs: 50, txFrames: 64}, 0, "", nil, def, [2]uint16{}, nil},
		{"adaptive-rx off resets rx", netlinkx.CoalesceSet{adRx: 0, rxUsecs: 50}, 0, "", nil,
			with(func(c *netlinkx.Coalesce) { c.AdaptiveRx, c.RxUsecs, c.RxFrames = false, 3, 32 }), [2]uint16{32, 3}, nil},
		{"values with net_dim off", netlinkx.CoalesceSet{rxUsecs: 50, rxFrames: 10, txUsecs: 4095, txFrames: 65535}, 0, "", nil,
			with(func(c *netlinkx.Coalesce) {
				c.AdaptiveRx, c.AdaptiveTx, c.RxUsecs, c.RxFrames, c.TxUsecs, c.TxFrames = false, false, 50, 10, 4095, 65535
			}), [2]uint16{10, 50}, netlinkx.CoalesceSet{adRx: 0, adTx: 0}},
		{"adaptive-rx on again resets rx", netlinkx.CoalesceSet{adRx: 1, rxUsecs: 99}, 0, "", nil, def, [2]uint16{},
			netlinkx.CoalesceSet{adRx: 0}},
		{"adaptive-tx off resets tx", netlinkx.CoalesceSet{adTx: 0}, 0, "", nil,
			with(func(c *netlinkx.Coalesce) { c.AdaptiveTx, c.TxUsecs, c.TxFrames = false, 16, 32 }), [2]uint16{}, nil},
		{"limits", netlinkx.CoalesceSet{rxUsecs: 4095, rxFrames: 65535, txUsecs: 4095, txFrames: 65535}, 0, "", nil, def, [2]uint16{}, nil},
		{"rx-usecs above maximum", netlinkx.CoalesceSet{rxUsecs: 4096}, unix.ERANGE, "", []string{timeLine}, def, [2]uint16{}, nil},
		{"tx-usecs above maximum", netlinkx.CoalesceSet{txUsecs: 1 << 20}, unix.ERANGE, "", []string{timeLine}, def, [2]uint16{}, nil},
		{"tx-frames above maximum", netlinkx.CoalesceSet{txFrames: 65536}, unix.ERANGE, "", []string{framesLine}, def, [2]uint16{}, nil},
		{"unsupported", netlinkx.CoalesceSet{rxUsecs: 1, unix.ETHTOOL_A_COALESCE_RX_USECS_IRQ: 1}, unix.EINVAL,
			"cannot modify an unsupported parameter", nil, def, [2]uint16{}, nil},
		{"cqe mode unsupported", netlinkx.CoalesceSet{unix.ETHTOOL_A_COALESCE_USE_CQE_MODE_RX: 0}, unix.EINVAL,
			"cannot modify an unsupported parameter", nil, def, [2]uint16{}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, n := newEnhancedDriver(t)
			wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}), 0)
			if tt.before != nil {
				wantErrno(t, n.SetCoalesce("ib0", tt.before), 0)
			}
			_, seq := kernelLog(t, n, 0)
			err := n.SetCoalesce("ib0", tt.set)
			wantErrno(t, err, tt.errno)
			var de *Error
			if tt.errno != 0 && (!errors.As(err, &de) || de.Msg != tt.msg) {
				t.Fatalf("error %#v, want message %q", err, tt.msg)
			}
			got, err := n.Coalesce("ib0")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("coalesce (-want +got):\n%s", diff)
			}
			if logs, _ := kernelLog(t, n, seq); !cmp.Equal(logs, tt.logs) {
				t.Errorf("kernel log %q, want %q", logs, tt.logs)
			}
			if f, u := n.byName["ib0"].dp.RxModeration(); [2]uint16{f, u} != tt.cq {
				t.Errorf("receive CQ moderation %d frames %d usecs, want %v", f, u, tt.cq)
			}
			if c, _ := n.Coalesce("ib1"); c.RxUsecs != 0 || c.AdaptiveRx || len(c.Supported) != 2 {
				t.Errorf("ib1 coalesce = %+v, want ipoib's", c)
			}
		})
	}
}

// TestEnhancedCoalesceSaved: the moderation is saved with the interface
// and the receive CQ gets it again after a restart.
func TestEnhancedCoalesceSaved(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	_, n := startEnhanced(t, st, enhancedTopology())
	wantErrno(t, n.SetLink(netlinkx.LinkRequest{Name: "ib0", Up: ptr(true)}), 0)
	wantErrno(t, n.SetCoalesce("ib0", netlinkx.CoalesceSet{unix.ETHTOOL_A_COALESCE_USE_ADAPTIVE_RX: 0}), 0)
	wantErrno(t, n.SetCoalesce("ib0", netlinkx.CoalesceSet{unix.ETHTOOL_A_COALESCE_RX_USECS: 20, unix.ETHTOOL_A_COALESCE_TX_MAX_FRAMES: 7}), 0)
	before, _ := n.Coalesce("ib0")
	st.Close()
	st = openStore(t, dir)
	defer st.Close()
	_, n = startEnhanced(t, st, nil)
	after, err := n.Coalesce("ib0")
	if err != nil || !cmp.Equal(before, after) || after.RxUsecs != 20 || after.AdaptiveRx {
		t.Fatalf("after restart %+v, %v; want %+v", after, err, before)
	}
	if f, u := n.byName["ib0"].dp.RxModeration(); f != 32 || u != 20 {
		t.Errorf("receive CQ moderation %d frames %d usecs after restart, want 32 and 20", f, u)
	}
}
