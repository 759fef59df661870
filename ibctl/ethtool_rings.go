package ibctl

import (
	"fmt"
	"strings"
	"sync"

	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// ringsText is `ethtool -g` as ethtool 6.1 prints a RINGS_GET reply
// (netlink/rings.c rings_reply_cb): "n/a" for a size the kernel leaves
// out, TX Push from its flag, TCP data split n/a when not reported.
func ringsText(dev string, r netlinkx.Rings) string {
	var b strings.Builder
	u32 := func(label string, v uint32, present bool) { showU32(&b, label, v, present) }
	fmt.Fprintf(&b, "Ring parameters for %s:\n", dev)
	b.WriteString("Pre-set maximums:\n")
	u32("RX:\t\t", r.RxMax, r.RxMax != 0)
	u32("RX Mini:\t", 0, false)
	u32("RX Jumbo:\t", 0, false)
	u32("TX:\t\t", r.TxMax, r.TxMax != 0)
	b.WriteString("Current hardware settings:\n")
	u32("RX:\t\t", r.Rx, r.RxMax != 0)
	u32("RX Mini:\t", 0, false)
	u32("RX Jumbo:\t", 0, false)
	u32("TX:\t\t", r.Tx, r.TxMax != 0)
	u32("RX Buf Len:\t\t", 0, false)
	u32("CQE Size:\t\t", 0, false)
	b.WriteString("TX Push:\toff\n")
	b.WriteString("TCP data split:\tn/a\n")
	return b.String()
}

// ringsParams are the names `ethtool -G` (6.1) accepts, with their
// attribute and whether they take on/off, built on first use.
var ringsParams = sync.OnceValue(func() map[string]ethtoolParam {
	return map[string]ethtoolParam{
		"rx":         {unix.ETHTOOL_A_RINGS_RX, false},
		"rx-mini":    {unix.ETHTOOL_A_RINGS_RX_MINI, false},
		"rx-jumbo":   {unix.ETHTOOL_A_RINGS_RX_JUMBO, false},
		"tx":         {unix.ETHTOOL_A_RINGS_TX, false},
		"rx-buf-len": {unix.ETHTOOL_A_RINGS_RX_BUF_LEN, false},
		"cqe-size":   {unix.ETHTOOL_A_RINGS_CQE_SIZE, false},
		"tx-push":    {unix.ETHTOOL_A_RINGS_TX_PUSH, true},
	}
})

// parseRingsArgs parses `-G DEV name value ...` as ethtool does (u32
// values, on/off for tx-push).
func parseRingsArgs(args []string) (netlinkx.RingsSet, []uint16, error) {
	if len(args) == 0 {
		return nil, nil, usagef("ethtool -G: no ring parameters given")
	}
	set, order, err := parseParamArgs("-G", args, func(name string) (ethtoolParam, bool) {
		p, ok := ringsParams()[name]
		return p, ok
	})
	return netlinkx.RingsSet(set), order, err
}

// channelsText is `ethtool -l` as ethtool 6.1 prints a CHANNELS_GET reply
// (netlink/channels.c channels_reply_cb): "n/a" for a count the kernel
// leaves out.
func channelsText(dev string, c netlinkx.Channels) string {
	var b strings.Builder
	u32 := func(label string, v uint32, present bool) { showU32(&b, label, v, present) }
	fmt.Fprintf(&b, "Channel parameters for %s:\n", dev)
	b.WriteString("Pre-set maximums:\n")
	u32("RX:\t\t", c.RxMax, c.RxMax != 0)
	u32("TX:\t\t", c.TxMax, c.TxMax != 0)
	u32("Other:\t\t", c.OtherMax, c.OtherMax != 0)
	u32("Combined:\t", c.CombinedMax, c.CombinedMax != 0)
	b.WriteString("Current hardware settings:\n")
	u32("RX:\t\t", c.Rx, c.RxMax != 0)
	u32("TX:\t\t", c.Tx, c.TxMax != 0)
	u32("Other:\t\t", c.Other, c.OtherMax != 0)
	u32("Combined:\t", c.Combined, c.CombinedMax != 0)
	return b.String()
}

// channelsParams are the names `ethtool -L` (6.1) accepts, built on
// first use.
var channelsParams = sync.OnceValue(func() map[string]ethtoolParam {
	return map[string]ethtoolParam{
		"rx":       {unix.ETHTOOL_A_CHANNELS_RX_COUNT, false},
		"tx":       {unix.ETHTOOL_A_CHANNELS_TX_COUNT, false},
		"other":    {unix.ETHTOOL_A_CHANNELS_OTHER_COUNT, false},
		"combined": {unix.ETHTOOL_A_CHANNELS_COMBINED_COUNT, false},
	}
})

// parseChannelsArgs parses `-L DEV name value ...` as ethtool does (u32
// values); with none ethtool 6.1 sends a request that changes nothing.
func parseChannelsArgs(args []string) (netlinkx.ChannelsSet, []uint16, error) {
	set, order, err := parseParamArgs("-L", args, func(name string) (ethtoolParam, bool) {
		p, ok := channelsParams()[name]
		return p, ok
	})
	return netlinkx.ChannelsSet(set), order, err
}

// showU32 is ethtool's show_u32: a labelled count, or "n/a" when the
// kernel left it out.
func showU32(b *strings.Builder, label string, v uint32, present bool) {
	if present {
		fmt.Fprintf(b, "%s%d\n", label, v)
	} else {
		fmt.Fprintf(b, "%sn/a\n", label)
	}
}
