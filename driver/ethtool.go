package driver

import (
	"fmt"
	"maps"

	"github.com/ibctl/ibctl/netlinkx"
	"github.com/mdlayher/ethtool"
	"golang.org/x/sys/unix"
)

// Coalescing parameters IPoIB supports (ipoib_ethtool.c).
var coalesceSupported = []uint16{unix.ETHTOOL_A_COALESCE_RX_USECS, unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES}

// Coalesce is COALESCE_GET.
func (n *Node) Coalesce(dev string) (netlinkx.Coalesce, error) {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	nd, err := n.lookup("coalesce", 0, dev)
	if err != nil {
		return netlinkx.Coalesce{}, err
	}
	if nd.enhanced() {
		return nd.mlx5Moder().coalesce(), nil
	}
	return netlinkx.Coalesce{RxUsecs: uint32(nd.rxUsecs), RxFrames: uint32(nd.rxFrames), Supported: coalesceSupported}, nil
}

// SetCoalesce is COALESCE_SET: ethtool-netlink's
// ethnl_set_coalesce_validate (net/ethtool/coalesce.c) refuses a parameter
// outside the supported set with EINVAL and an extack message (the
// EOPNOTSUPP of the old ioctl path is not what ethtool 6.1 sees);
// ipoib_set_coalesce refuses values above 0xffff (EINVAL, no message),
// then applies them to the RX CQ and stores them.
func (n *Node) SetCoalesce(dev string, set netlinkx.CoalesceSet) error {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	nd, err := n.lookup("coalesce", 0, dev)
	if err != nil {
		return err
	}
	if nd.enhanced() {
		return n.setMlx5Coalesce(nd, set)
	}
	for typ := range set {
		if typ != unix.ETHTOOL_A_COALESCE_RX_USECS && typ != unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES {
			return errorf("coalesce", dev, unix.EINVAL, "cannot modify an unsupported parameter")
		}
	}
	usecs, frames := uint32(nd.rxUsecs), uint32(nd.rxFrames)
	if v, ok := set[unix.ETHTOOL_A_COALESCE_RX_USECS]; ok {
		usecs = v
	}
	if v, ok := set[unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES]; ok {
		frames = v
	}
	if usecs > 0xffff || frames > 0xffff {
		return errorf("coalesce", dev, unix.EINVAL, "")
	}
	return n.change([]*Netdev{nd}, func() error {
		nd.rxUsecs, nd.rxFrames = uint16(usecs), uint16(frames)
		if nd.dp != nil {
			// ipoib_set_coalesce applies the values to the receive CQ.
			_ = nd.dp.ModerateRx(nd.rxModeration())
		}
		return nil
	})
}

// LinkSettings is ipoib_get_link_ksettings plus the carrier test.
func (n *Node) LinkSettings(dev string) (netlinkx.LinkSettings, error) {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	nd, err := n.lookup("link settings", 0, dev)
	if err != nil {
		return netlinkx.LinkSettings{}, err
	}
	// A netdev starts with carrier "ok"; IPoIB first turns it off in
	// ipoib_open, so a device never opened reports the link's speed while
	// "Link detected" (running and carrier) is no.
	if !nd.carrier && nd.active {
		return netlinkx.LinkSettings{Duplex: ethtool.Unknown}, nil
	}
	return netlinkx.LinkSettings{
		Port: ethtool.Other, SpeedMegabits: n.portSpec(nd.port).LinkSpeed(), Duplex: ethtool.Full,
		Autoneg: ethtool.AutonegOn, PHYAddress: 255, Link: nd.up && nd.carrier,
	}, nil
}

// statNames are ipoib_gstrings_stats in order.
var statNames = []string{"rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "tx_errors", "rx_dropped", "tx_dropped", "multicast"}

// DriverInfo is ipoib_get_drvinfo, or for enhanced IPoIB mlx5i_get_drvinfo
// (mlx5/core/ipoib/ethtool.c): mlx5e_ethtool_get_drvinfo's firmware
// version "%d.%d.%04d (%.16s)" with the board's PSID, and the driver
// "mlx5_core[ib_ipoib]". Neither sets a version: the ethtool core reports
// the kernel release.
func (n *Node) DriverInfo(dev string) (netlinkx.DriverInfo, error) {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	nd, err := n.lookup("drvinfo", 0, dev)
	if err != nil {
		return netlinkx.DriverInfo{}, err
	}
	di := netlinkx.DriverInfo{Driver: "ib_ipoib", Version: n.d.release, Firmware: n.hw.Spec.Firmware,
		BusInfo: n.hw.Spec.BusInfo, NStats: uint32(len(statNames))}
	if nd.enhanced() {
		di.Driver = "mlx5_core[ib_ipoib]"
		di.Firmware = mlx5FirmwareVersion(n.hw.Spec.Firmware, n.hw.Spec.Identity().BoardID)
	}
	return di, nil
}

// mlx5FirmwareVersion formats a firmware version as mlx5e_ethtool_get_drvinfo
// does: major.minor.subminor with the subminor in 4 digits, then the board
// ID in parentheses, cut to 16 characters. A version that is not three
// numbers is shown as it is.
func mlx5FirmwareVersion(fw, board string) string {
	var maj, min, sub int
	if n, err := fmt.Sscanf(fw, "%d.%d.%d", &maj, &min, &sub); err != nil || n != 3 {
		return fw
	}
	if len(board) > 16 {
		board = board[:16]
	}
	// ETHTOOL_FWVERS_LEN is 32: a longer string drops the board ID.
	s := fmt.Sprintf("%d.%d.%04d (%s)", maj, min, sub, board)
	if len(s) >= 32 {
		s = fmt.Sprintf("%d.%d.%04d", maj, min, sub)
	}
	return s
}

// defaultRelease is the driver version reported when none is configured.
const defaultRelease = "6.18.0"

// Stats is ipoib_get_ethtool_stats.
func (n *Node) Stats(dev string) ([]netlinkx.Stat, error) {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	nd, err := n.lookup("stats", 0, dev)
	if err != nil {
		return nil, err
	}
	s := nd.stats()
	vals := []uint64{s.RxPackets, s.TxPackets, s.RxBytes, s.TxBytes, s.TxErrors, s.RxDropped, s.TxDropped, s.Multicast}
	out := make([]netlinkx.Stat, len(statNames))
	for i, name := range statNames {
		out[i] = netlinkx.Stat{Name: name, Value: vals[i]}
	}
	return out, nil
}

// Ring size limits of ipoib.h: IPOIB_MIN_QUEUE_SIZE, IPOIB_MAX_QUEUE_SIZE.
const (
	minQueueSize = 2
	maxQueueSize = 8192
)

// Enhanced IPoIB's rings (mlx5/core/en.h, ipoib/ipoib.c): 64 to 8192
// entries (MLX5E_PARAMS_MINIMUM_LOG_RQ_SIZE/SQ_SIZE 6, MAXIMUM 13), a
// receive queue of 512 (MLX5I_PARAMS_DEFAULT_LOG_RQ_SIZE 9) and a send
// queue of 1024 (MLX5E_PARAMS_DEFAULT_LOG_SQ_SIZE 10).
const (
	mlx5iMinQueue  = 64
	mlx5iMaxQueue  = 8192
	mlx5iDefaultRQ = 512
	mlx5iDefaultSQ = 1024
)

// Rings is RINGS_GET: ipoib_get_ring_param reports the interface's own
// queue sizes (priv->recvq_size, sendq_size) under a maximum of
// IPOIB_MAX_QUEUE_SIZE, and no mini or jumbo ring.
func (n *Node) Rings(dev string) (netlinkx.Rings, error) {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	nd, err := n.lookup("rings", 0, dev)
	if err != nil {
		return netlinkx.Rings{}, err
	}
	if nd.enhanced() {
		// mlx5e_ethtool_get_ringparam
		return netlinkx.Rings{RxMax: mlx5iMaxQueue, TxMax: mlx5iMaxQueue, Rx: nd.recvqSize(), Tx: nd.sendqSize()}, nil
	}
	return netlinkx.Rings{RxMax: maxQueueSize, TxMax: maxQueueSize, Rx: nd.recvqSize(), Tx: nd.sendqSize()}, nil
}

// ringsUnsupported are the RINGS_SET attributes IPoIB does not declare in
// supported_ring_params, with ethnl_set_rings_validate's messages.
var ringsUnsupported = []struct {
	attr uint16
	msg  string
}{
	{unix.ETHTOOL_A_RINGS_RX_BUF_LEN, "setting rx buf len not supported"},
	{unix.ETHTOOL_A_RINGS_TCP_DATA_SPLIT, "setting TCP data split not supported"},
	{unix.ETHTOOL_A_RINGS_CQE_SIZE, "setting cqe size not supported"},
	{unix.ETHTOOL_A_RINGS_TX_PUSH, "setting tx push not supported"},
}

// SetRings is RINGS_SET. ethnl_set_rings (net/ethtool/rings.c) refuses
// parameters the driver does not support (EOPNOTSUPP), does nothing when
// no value changes, and refuses a size above its maximum (EINVAL,
// "requested ring size exceeds maximum"; IPoIB's mini and jumbo maximums
// are 0). ipoib_set_ring_param then refuses a size below
// IPOIB_MIN_QUEUE_SIZE (EINVAL, logged), rounds each size up to a power of
// two (warning when it had to) and, when a size changes, takes the
// interface down, re-initialises it with the new sizes and brings it back
// up if it was up. The kernel halves both sizes and retries, with a
// warning, when ipoib_dev_init fails at the new sizes; the emulated HCA
// takes queues of up to 65536 entries, far above IPOIB_MAX_QUEUE_SIZE, so
// that failure cannot happen here and the halving is not modelled.
func (n *Node) SetRings(dev string, set netlinkx.RingsSet) error {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	nd, err := n.lookup("rings", 0, dev)
	if err != nil {
		return err
	}
	for _, u := range ringsUnsupported {
		if _, ok := set[u.attr]; ok {
			return errorf("rings", dev, unix.EOPNOTSUPP, "%s", u.msg)
		}
	}
	cur := map[uint16]uint32{unix.ETHTOOL_A_RINGS_RX: nd.recvqSize(), unix.ETHTOOL_A_RINGS_TX: nd.sendqSize(),
		unix.ETHTOOL_A_RINGS_RX_MINI: 0, unix.ETHTOOL_A_RINGS_RX_JUMBO: 0}
	limit := map[uint16]uint32{unix.ETHTOOL_A_RINGS_RX: maxQueueSize, unix.ETHTOOL_A_RINGS_TX: maxQueueSize,
		unix.ETHTOOL_A_RINGS_RX_MINI: 0, unix.ETHTOOL_A_RINGS_RX_JUMBO: 0}
	want := maps.Clone(cur)
	mod := false
	for typ, v := range set {
		if _, ok := cur[typ]; !ok {
			continue
		}
		mod = mod || v != cur[typ]
		want[typ] = v
	}
	if !mod {
		return nil
	}
	for _, typ := range []uint16{unix.ETHTOOL_A_RINGS_RX, unix.ETHTOOL_A_RINGS_RX_MINI, unix.ETHTOOL_A_RINGS_RX_JUMBO, unix.ETHTOOL_A_RINGS_TX} {
		if want[typ] > limit[typ] {
			return errorf("rings", dev, unix.EINVAL, "requested ring size exceeds maximum")
		}
	}
	var rx, tx uint32
	if nd.enhanced() {
		rx, tx, err = nd.mlx5iRingSizes(want[unix.ETHTOOL_A_RINGS_RX], want[unix.ETHTOOL_A_RINGS_TX])
	} else {
		rx, err = nd.ringSize("rx_pending", want[unix.ETHTOOL_A_RINGS_RX])
		if err == nil {
			tx, err = nd.ringSize("tx_pending", want[unix.ETHTOOL_A_RINGS_TX])
		}
	}
	if err != nil {
		return err
	}
	if rx == cur[unix.ETHTOOL_A_RINGS_RX] && tx == cur[unix.ETHTOOL_A_RINGS_TX] {
		return nil
	}
	if nd.enhanced() {
		// mlx5e_safe_switch_params opens new channels with the new sizes
		// and switches to them: the interface stays up with its carrier.
		return n.change([]*Netdev{nd}, func() error {
			joined := nd.joined
			if joined {
				nd.leave()
			}
			nd.recvQ, nd.sendQ = rx, tx
			if joined {
				nd.join()
			}
			return nil
		})
	}
	return n.change([]*Netdev{nd}, func() error {
		wasUp := nd.up
		nd.stop()
		nd.recvQ, nd.sendQ = rx, tx
		if wasUp {
			nd.open()
		}
		return nil
	})
}

// ringSize is ipoib_set_ring_param's check of one size: within
// [IPOIB_MIN_QUEUE_SIZE, IPOIB_MAX_QUEUE_SIZE], rounded up to a power of
// two with a warning when it is not one.
func (nd *Netdev) ringSize(name string, v uint32) (uint32, error) {
	if v < minQueueSize || v > maxQueueSize {
		// pr_err: a line without the interface's name.
		line := fmt.Sprintf("%s (%d) is out of bounds [%d-%d]", name, v, minQueueSize, maxQueueSize)
		nd.node.klog.add(line)
		nd.node.d.log(nd.node.name + " " + line)
		return 0, errorf("rings", nd.name, unix.EINVAL, "")
	}
	r := uint32(roundupPow2(int(v)))
	if r != v {
		nd.warn("ipoib_set_ring_param: %s should be power of two. %s is %d", name, name, r)
	}
	return r, nil
}

// mlx5iRingSizes is mlx5e_ethtool_set_ringparam's check of the sizes: at
// least 64 each, refused with an extack message, then rounded up to a
// power of two without a word (order_base_2).
func (nd *Netdev) mlx5iRingSizes(rx, tx uint32) (uint32, uint32, error) {
	if rx < mlx5iMinQueue {
		return 0, 0, errorf("rings", nd.name, unix.EINVAL, "mlx5_core: rx (%d) < min (%d)", rx, mlx5iMinQueue)
	}
	if tx < mlx5iMinQueue {
		return 0, 0, errorf("rings", nd.name, unix.EINVAL, "mlx5_core: tx (%d) < min (%d)", tx, mlx5iMinQueue)
	}
	return uint32(roundupPow2(int(rx))), uint32(roundupPow2(int(tx))), nil
}

// mlx5iMaxChannels is priv->max_nch of an enhanced interface,
// mlx5e_get_max_num_channels (mlx5/core/en.h): one channel per completion
// vector, which mlx5 allocates one per CPU, under MLX5E_MAX_NUM_CHANNELS
// (128). mlx5MaxNumTC is MLX5_MAX_NUM_TC (include/linux/mlx5/driver.h),
// the traffic classes each channel has a send queue for.
const (
	mlx5iMaxChannels = min(emulatedCPUs, 128)
	mlx5MaxNumTC     = 8
)

// Channels is CHANNELS_GET. ib_ipoib has no get_channels, so ethnl's
// prepare_data answers EOPNOTSUPP; enhanced IPoIB has mlx5i_get_channels
// (mlx5e_ethtool_get_channels): combined channels only, up to one per CPU
// (priv->max_nch), as many as the CPUs at first.
func (n *Node) Channels(dev string) (netlinkx.Channels, error) {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	nd, err := n.lookup("channels", 0, dev)
	if err != nil {
		return netlinkx.Channels{}, err
	}
	if !nd.enhanced() {
		return netlinkx.Channels{}, errorf("channels", dev, unix.EOPNOTSUPP, "")
	}
	return netlinkx.Channels{CombinedMax: mlx5iMaxChannels, Combined: nd.combined()}, nil
}

// combined is the number of combined channels (priv->channels.params.num_channels).
func (nd *Netdev) combined() uint32 {
	if nd.channels != 0 {
		return nd.channels
	}
	return mlx5iMaxChannels
}

// SetChannels is CHANNELS_SET: ethnl_set_channels (net/ethtool/channels.c)
// refuses a device without set_channels (EOPNOTSUPP), does nothing when
// no count changes, refuses a count above its maximum and counts that
// leave no RX or TX channel (EINVAL with extack messages); then
// mlx5e_ethtool_set_channels switches to the new number of channels.
func (n *Node) SetChannels(dev string, set netlinkx.ChannelsSet) error {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	nd, err := n.lookup("channels", 0, dev)
	if err != nil {
		return err
	}
	if !nd.enhanced() {
		return errorf("channels", dev, unix.EOPNOTSUPP, "")
	}
	cur := map[uint16]uint32{unix.ETHTOOL_A_CHANNELS_RX_COUNT: 0, unix.ETHTOOL_A_CHANNELS_TX_COUNT: 0,
		unix.ETHTOOL_A_CHANNELS_OTHER_COUNT: 0, unix.ETHTOOL_A_CHANNELS_COMBINED_COUNT: nd.combined()}
	want := maps.Clone(cur)
	mod := false
	for typ, v := range set {
		if _, ok := cur[typ]; ok {
			mod = mod || v != cur[typ]
			want[typ] = v
		}
	}
	if !mod {
		return nil
	}
	for _, typ := range []uint16{unix.ETHTOOL_A_CHANNELS_RX_COUNT, unix.ETHTOOL_A_CHANNELS_TX_COUNT, unix.ETHTOOL_A_CHANNELS_OTHER_COUNT} {
		if want[typ] > 0 {
			return errorf("channels", dev, unix.EINVAL, "requested channel count exceeds maximum")
		}
	}
	combined := want[unix.ETHTOOL_A_CHANNELS_COMBINED_COUNT]
	if combined > mlx5iMaxChannels {
		return errorf("channels", dev, unix.EINVAL, "requested channel count exceeds maximum")
	}
	if combined == 0 {
		return errorf("channels", dev, unix.EINVAL, "requested channel counts would result in no RX or TX channel")
	}
	if combined == nd.combined() {
		return nil
	}
	return n.change([]*Netdev{nd}, func() error {
		nd.channels = combined
		return nil
	})
}
