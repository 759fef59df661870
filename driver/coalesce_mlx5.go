package driver

import (
	"fmt"
	"slices"

	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// mlx5iCoalesceSupported is mlx5i_ethtool_ops' supported_coalesce_params
// (mlx5/core/ipoib/ethtool.c): ETHTOOL_COALESCE_USECS, _MAX_FRAMES and
// _USE_ADAPTIVE, each for RX and TX.
var mlx5iCoalesceSupported = []uint16{
	unix.ETHTOOL_A_COALESCE_RX_USECS, unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES,
	unix.ETHTOOL_A_COALESCE_TX_USECS, unix.ETHTOOL_A_COALESCE_TX_MAX_FRAMES,
	unix.ETHTOOL_A_COALESCE_USE_ADAPTIVE_RX, unix.ETHTOOL_A_COALESCE_USE_ADAPTIVE_TX,
}

// Limits of mlx5e_ethtool_set_coalesce: MLX5E_MAX_COAL_TIME is
// MLX5_MAX_CQ_PERIOD (the CQ context's 12-bit cq_period), and
// MLX5E_MAX_COAL_FRAMES MLX5_MAX_CQ_COUNT (its 16-bit cq_max_count).
const (
	mlx5MaxCoalTime   = 1<<12 - 1
	mlx5MaxCoalFrames = 1<<16 - 1
)

// mlx5Moder is an enhanced interface's interrupt moderation: mlx5e_params'
// rx_cq_moderation and tx_cq_moderation, rx_dim_enabled and
// tx_dim_enabled.
type mlx5Moder struct {
	RxUsecs    uint16 `json:"rx_usecs"`
	RxFrames   uint16 `json:"rx_frames"`
	TxUsecs    uint16 `json:"tx_usecs"`
	TxFrames   uint16 `json:"tx_frames"`
	AdaptiveRx bool   `json:"adaptive_rx"`
	AdaptiveTx bool   `json:"adaptive_tx"`
}

// mlx5RxModer is mlx5e_reset_rx_moderation's receive moderation. The
// receive CQ's period starts from the CQE (mlx5e_build_nic_params: the
// HCA has cq_period_start_from_cqe, as ConnectX-4 and later do): with
// net_dim, its default profile NET_DIM_RX_CQE_PROFILES[NET_DIM_DEF_PROFILE_CQE]
// (lib/dim/net_dim.c), else mlx5e_get_def_rx_moderation's
// MLX5E_PARAMS_DEFAULT_RX_CQ_MODERATION_USEC_FROM_CQE and _PKTS (en.h).
func mlx5RxModer(adaptive bool) (usecs, frames uint16) {
	if adaptive {
		return 8, 128
	}
	return 3, 32
}

// mlx5TxModer is mlx5e_reset_tx_moderation's send moderation, whose
// period starts from the EQE: NET_DIM_TX_EQE_PROFILES[NET_DIM_DEF_PROFILE_EQE]
// with net_dim, else MLX5E_PARAMS_DEFAULT_TX_CQ_MODERATION_USEC and _PKTS.
func mlx5TxModer(adaptive bool) (usecs, frames uint16) {
	if adaptive {
		return 8, 128
	}
	return 16, 32
}

// defaultMlx5Moder is what mlx5e_build_nic_params leaves: net_dim on both
// ways (the HCA has cq_moderation) at its default profiles.
func defaultMlx5Moder() mlx5Moder {
	m := mlx5Moder{AdaptiveRx: true, AdaptiveTx: true}
	m.RxUsecs, m.RxFrames = mlx5RxModer(true)
	m.TxUsecs, m.TxFrames = mlx5TxModer(true)
	return m
}

// mlx5Moder is the interface's moderation, the default until ethtool -C
// changes it.
func (nd *Netdev) mlx5Moder() mlx5Moder {
	if nd.moder != nil {
		return *nd.moder
	}
	return defaultMlx5Moder()
}

// coalesce is mlx5e_ethtool_get_coalesce: the moderation, net_dim's state
// and the CQ period modes (MLX5E_PFLAG_RX_CQE_BASED_MODER on,
// MLX5E_PFLAG_TX_CQE_BASED_MODER off).
func (m mlx5Moder) coalesce() netlinkx.Coalesce {
	return netlinkx.Coalesce{RxUsecs: uint32(m.RxUsecs), RxFrames: uint32(m.RxFrames),
		TxUsecs: uint32(m.TxUsecs), TxFrames: uint32(m.TxFrames), AdaptiveRx: m.AdaptiveRx, AdaptiveTx: m.AdaptiveTx,
		CQEModeRx: true, Supported: mlx5iCoalesceSupported}
}

// rxModeration is the receive CQ's moderation (frames, usecs): the
// values ipoib_set_coalesce applied on a classic interface; on an
// enhanced one its static moderation while net_dim is off. net_dim's
// moves with the traffic are not modelled: while it is on, the CQ is not
// moderated.
func (nd *Netdev) rxModeration() (frames, usecs uint16) {
	if !nd.enhanced() {
		return nd.rxFrames, nd.rxUsecs
	}
	if m := nd.mlx5Moder(); !m.AdaptiveRx {
		return m.RxFrames, m.RxUsecs
	}
	return 0, 0
}

// setMlx5Coalesce is COALESCE_SET on an enhanced interface.
// ethnl_set_coalesce_validate (net/ethtool/coalesce.c) refuses a parameter
// outside mlx5i's supported set (EINVAL with an extack message), and
// ethnl_set_coalesce does nothing when no value changes; then
// mlx5e_ethtool_set_coalesce (en_ethtool.c, net_dim per channel since
// Linux 6.10) refuses a time above MLX5E_MAX_COAL_TIME or a count above
// MLX5E_MAX_COAL_FRAMES (ERANGE, with a netdev_info line). For each
// direction, turning net_dim on or off resets its moderation to the
// defaults of the new state (mlx5e_reset_rx/tx_moderation), whatever
// values came with it; with net_dim off before and after, the values are
// taken; with it on before and after, they are ignored. The interface
// stays up.
func (n *Node) setMlx5Coalesce(nd *Netdev, set netlinkx.CoalesceSet) error {
	for typ := range set {
		if !slices.Contains(mlx5iCoalesceSupported, typ) {
			return errorf("coalesce", nd.name, unix.EINVAL, "cannot modify an unsupported parameter")
		}
	}
	cur := nd.mlx5Moder()
	c := cur.coalesce()
	want := map[uint16]uint32{unix.ETHTOOL_A_COALESCE_RX_USECS: c.RxUsecs, unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES: c.RxFrames,
		unix.ETHTOOL_A_COALESCE_TX_USECS: c.TxUsecs, unix.ETHTOOL_A_COALESCE_TX_MAX_FRAMES: c.TxFrames,
		unix.ETHTOOL_A_COALESCE_USE_ADAPTIVE_RX: b2u32(c.AdaptiveRx), unix.ETHTOOL_A_COALESCE_USE_ADAPTIVE_TX: b2u32(c.AdaptiveTx)}
	mod := false
	for typ, v := range set {
		if typ == unix.ETHTOOL_A_COALESCE_USE_ADAPTIVE_RX || typ == unix.ETHTOOL_A_COALESCE_USE_ADAPTIVE_TX {
			v = min(v, 1) // ethnl_update_bool32
		}
		mod = mod || v != want[typ]
		want[typ] = v
	}
	if !mod {
		return nil
	}
	if want[unix.ETHTOOL_A_COALESCE_TX_USECS] > mlx5MaxCoalTime || want[unix.ETHTOOL_A_COALESCE_RX_USECS] > mlx5MaxCoalTime {
		nd.info("mlx5e_ethtool_set_coalesce: maximum coalesce time supported is %d usecs", mlx5MaxCoalTime)
		return errorf("coalesce", nd.name, unix.ERANGE, "")
	}
	if want[unix.ETHTOOL_A_COALESCE_TX_MAX_FRAMES] > mlx5MaxCoalFrames || want[unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES] > mlx5MaxCoalFrames {
		nd.info("mlx5e_ethtool_set_coalesce: maximum coalesced frames supported is %d", mlx5MaxCoalFrames)
		return errorf("coalesce", nd.name, unix.ERANGE, "")
	}
	m := mlx5Moder{RxUsecs: uint16(want[unix.ETHTOOL_A_COALESCE_RX_USECS]), RxFrames: uint16(want[unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES]),
		TxUsecs: uint16(want[unix.ETHTOOL_A_COALESCE_TX_USECS]), TxFrames: uint16(want[unix.ETHTOOL_A_COALESCE_TX_MAX_FRAMES]),
		AdaptiveRx: want[unix.ETHTOOL_A_COALESCE_USE_ADAPTIVE_RX] != 0, AdaptiveTx: want[unix.ETHTOOL_A_COALESCE_USE_ADAPTIVE_TX] != 0}
	switch {
	case m.AdaptiveRx != cur.AdaptiveRx:
		m.RxUsecs, m.RxFrames = mlx5RxModer(m.AdaptiveRx)
	case m.AdaptiveRx:
		m.RxUsecs, m.RxFrames = cur.RxUsecs, cur.RxFrames
	}
	switch {
	case m.AdaptiveTx != cur.AdaptiveTx:
		m.TxUsecs, m.TxFrames = mlx5TxModer(m.AdaptiveTx)
	case m.AdaptiveTx:
		m.TxUsecs, m.TxFrames = cur.TxUsecs, cur.TxFrames
	}
	return n.change([]*Netdev{nd}, func() error {
		nd.moder = &m
		if nd.dp != nil {
			_ = nd.dp.ModerateRx(nd.rxModeration())
		}
		return nil
	})
}

func b2u32(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// info logs a line as netdev_info does for an enhanced interface: its
// parent device's driver and name, the HCA's PCI function, before its own.
func (nd *Netdev) info(format string, args ...any) {
	nd.node.logf("mlx5_core "+nd.node.hw.Spec.BusInfo+" "+nd.name, fmt.Sprintf(format, args...))
}
