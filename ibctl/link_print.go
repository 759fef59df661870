package ibctl

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// linkFlagNames is iproute2's print_link_flags order.
var linkFlagNames = []struct {
	bit  uint32
	name string
}{
	{unix.IFF_LOOPBACK, "LOOPBACK"}, {unix.IFF_BROADCAST, "BROADCAST"}, {unix.IFF_POINTOPOINT, "POINTOPOINT"},
	{unix.IFF_MULTICAST, "MULTICAST"}, {unix.IFF_NOARP, "NOARP"}, {unix.IFF_ALLMULTI, "ALLMULTI"},
	{unix.IFF_PROMISC, "PROMISC"}, {unix.IFF_NOTRAILERS, "NOTRAILERS"}, {unix.IFF_DEBUG, "DEBUG"},
	{unix.IFF_DYNAMIC, "DYNAMIC"}, {unix.IFF_AUTOMEDIA, "AUTOMEDIA"}, {unix.IFF_PORTSEL, "PORTSEL"},
	{unix.IFF_MASTER, "MASTER"}, {unix.IFF_SLAVE, "SLAVE"}, {unix.IFF_UP, "UP"},
	{unix.IFF_LOWER_UP, "LOWER_UP"}, {unix.IFF_DORMANT, "DORMANT"}, {unix.IFF_ECHO, "ECHO"},
}

// operstateNames are iproute2's oper_states.
var operstateNames = []string{"UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP"}

func linkFlags(flags uint32) []string {
	out := []string{}
	if flags&unix.IFF_UP != 0 && flags&unix.IFF_RUNNING == 0 {
		out = append(out, "NO-CARRIER")
	}
	for _, f := range linkFlagNames {
		if flags&f.bit != 0 {
			out = append(out, f.name)
		}
	}
	return out
}

func hwString(b []byte) string {
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = fmt.Sprintf("%02x", x)
	}
	return strings.Join(parts, ":")
}

// printLinkHead prints the first two lines every iproute2 link listing
// shares: index, name, flags, MTU, qdisc, state, (with linkMode the link
// mode,) group and queue length, then the link/infiniband addresses.
func printLinkHead(p *Printer, l netlinkx.Link, parent *netlinkx.Link, linkMode bool) {
	printLinkLine(p, l, parent, linkMode, true)
	p.Text("\n    ")
	printLinkLayer(p, l, true)
}

// printLinkLine prints the first line of a link: index, name, flags,
// MTU, (with full the qdisc,) state, (with linkMode the link mode, with
// full the group,) and queue length. Without full it is the line of a
// link the kernel describes for the inet6 family (ip -6 address show),
// which has no qdisc and no group.
func printLinkLine(p *Printer, l netlinkx.Link, parent *netlinkx.Link, linkMode, full bool) {
	printLinkLineQ(p, l, parent, linkMode, full)
	p.Any("txqlen", "qlen %d", l.TxQLen)
}

// printLinkLineQ is printLinkLine without the queue length, which ip
// reads only for a listing (filter.showqueue), not for ip monitor.
func printLinkLineQ(p *Printer, l netlinkx.Link, parent *netlinkx.Link, linkMode, full bool) {
	p.Any("ifindex", "%d: ", l.Index)
	if parent != nil {
		p.Any("link", "", parent.Name)
		p.Text(l.Name + "@" + parent.Name + ": ")
		p.Any("ifname", "", l.Name)
	} else {
		p.Any("ifname", "%s: ", l.Name)
	}
	flags := linkFlagsOf(l, parent)
	p.Any("flags", "", flags)
	p.Text("<" + strings.Join(flags, ",") + "> ")
	p.Any("mtu", "mtu %d ", l.MTU)
	if l.Qdisc != "" && full {
		p.Any("qdisc", "qdisc %s ", l.Qdisc)
	}
	p.Any("operstate", "state %s ", operstateName(l))
	if linkMode {
		p.Any("linkmode", "mode %s ", "DEFAULT")
	}
	if full {
		p.Any("group", "group %s ", "default")
	}
}

// printLinkLayer prints the link/infiniband address and, with brd, the
// broadcast address.
func printLinkLayer(p *Printer, l netlinkx.Link, brd bool) {
	p.Any("link_type", "link/%s ", "infiniband")
	p.Any("address", "%s", hwString(l.Address))
	if brd {
		p.Any("broadcast", " brd %s", hwString(l.Broadcast))
	}
}

// linkFlagsOf are the flags a listing shows for l: M-DOWN added when its
// parent is down.
func linkFlagsOf(l netlinkx.Link, parent *netlinkx.Link) []string {
	flags := linkFlags(l.Flags)
	if parent != nil && parent.Flags&unix.IFF_UP == 0 {
		flags = append(flags, "M-DOWN")
	}
	return flags
}

func operstateName(l netlinkx.Link) string {
	if int(l.Operstate) < len(operstateNames) {
		return operstateNames[l.Operstate]
	}
	return "UNKNOWN"
}

// PrintLinkBrief prints the start of a link's line of `ip -br link` and
// `ip -br address` (iproute2 6.1's print_linkinfo_brief): the name (with
// @parent) in 16 columns and the state in 14; with layer, for the link
// family, the address and the flags and the end of the line.
func PrintLinkBrief(p *Printer, l netlinkx.Link, parent *netlinkx.Link, layer bool) {
	name := l.Name
	if parent != nil {
		p.Any("link", "", parent.Name)
		name += "@" + parent.Name
	}
	p.Any("ifname", "", l.Name)
	p.Text(fmt.Sprintf("%-16s ", name))
	p.Any("operstate", "%-14s ", operstateName(l))
	if layer {
		p.Any("address", "%s ", hwString(l.Address))
		flags := linkFlagsOf(l, parent)
		p.Any("flags", "", flags)
		p.Text("<" + strings.Join(flags, ",") + "> \n")
	}
}

// onelineText joins the lines of one record with "\\", as ip -o does: its
// last newline stays.
func onelineText(s string) string {
	body, nl := strings.CutSuffix(s, "\n")
	body = strings.ReplaceAll(body, "\n", "\\")
	if nl {
		body += "\n"
	}
	return body
}

// PrintLink prints one link as `ip -d link show` does (iproute2 6.1), and
// builds the `ip -j -d link show` object from the same calls. parent is
// the IFLA_LINK device, nil for a parent interface.
func PrintLink(p *Printer, l netlinkx.Link, parent *netlinkx.Link, stats int) {
	printLinkHead(p, l, parent, true)
	printLinkDetails(p, l, true)
	p.Text("\n")
	if stats > 0 {
		printStats(p, l, stats > 1)
	}
	printVFInfo(p, l)
}

// printLinkDetails prints what -d adds after the link/infiniband line:
// the addrgenmode of the inet6 family with addrGenMode (ip link).
func printLinkDetails(p *Printer, l netlinkx.Link, addrGenMode bool) {
	p.Any("promiscuity", " promiscuity %d ", 0)
	p.Any("allmulti", " allmulti %d ", 0)
	p.Any("min_mtu", "minmtu %d ", l.MinMTU)
	p.Any("max_mtu", "maxmtu %d ", l.MaxMTU)
	if l.Kind != "" {
		p.Open("linkinfo")
		p.Text("\n")
		p.Any("info_kind", "    %s ", l.Kind)
		if l.IPoIB != nil {
			p.Open("info_data")
			printIPoIB(p, *l.IPoIB)
			p.Close()
		}
		p.Close()
	}
	if addrGenMode {
		p.Any("inet6_addr_gen_mode", "addrgenmode %s ", "eui64")
	}
	p.Any("num_tx_queues", "numtxqueues %d ", l.NumTxQ)
	p.Any("num_rx_queues", "numrxqueues %d ", l.NumRxQ)
	p.Any("gso_max_size", "gso_max_size %d ", l.GSOMaxSize)
	p.Any("gso_max_segs", "gso_max_segs %d ", l.GSOMaxSegs)
	p.Any("tso_max_size", "tso_max_size %d ", l.TSOMaxSize)
	p.Any("tso_max_segs", "tso_max_segs %d ", l.TSOMaxSegs)
	p.Any("gro_max_size", "gro_max_size %d ", l.GROMaxSize)
	if l.ParentBus != "" {
		p.Any("parentbus", "parentbus %s ", l.ParentBus)
		p.Any("parentdev", "parentdev %s ", l.ParentDev)
	}
}

// printVFInfo prints the VF list of a link with -d, in JSON only.
func printVFInfo(p *Printer, l netlinkx.Link) {
	if l.ParentBus == "pci" {
		// A PCI parent has VF operations: the kernel sends an empty
		// IFLA_VFINFO_LIST, which iproute2 prints in JSON only.
		p.Any("vfinfo_list", "", []any{})
	}
}

// printIPoIB is iproute2 6.1's ipoib_print_opt (ip/iplink_ipoib.c): one
// space after each key in text (two before 5.9), key/mode/umcast strings
// in JSON.
func printIPoIB(p *Printer, info netlinkx.IPoIB) {
	pkey := fmt.Sprintf("%#.4x", info.PKey)
	if info.PKey == 0 {
		pkey = "0000" // C's %#x prints no 0x for zero
	}
	p.Any("key", "pkey %s ", pkey)
	p.Any("mode", "mode %s ", netlinkx.ModeName(info.Mode))
	p.Any("umcast", "umcast %s ", fmt.Sprintf("%.4x", info.Umcast))
}

// printStats is iproute2 6.1's print_stats64 for `ip -s [-s] link show`:
// with errs (-s -s) the error rows. Text columns are sized as its
// size_columns calls do, quirks included: the TX error values are passed
// one column to the right of where they are printed (aborted widens the
// "errors" column, carrier changes the "compressed" one), so only the RX
// error values can widen their own columns. JSON is the "stats64" object.
func printStats(p *Printer, l netlinkx.Link, errs bool) {
	s := l.Stats
	// rx_length_errors, rx/tx_compressed and rx_otherhost_dropped are
	// not in netlinkx.Stats: the driver never counts them, so they are 0,
	// and the columns iproute2 shows only when they are non-zero never
	// appear.
	const lengthErrors = 0
	cc := uint64(l.CarrierChanges) // IFLA_CARRIER_CHANGES is always sent
	cols := []int{len("*X errors:"), len("packets"), len("errors"), len("dropped"),
		len("heartbt"), len("overrun"), len("compressed"), len("otherhost")}
	sizeColumns := func(vals ...uint64) {
		for i, v := range vals {
			if n := len(strconv.FormatUint(v, 10)); n > cols[i] {
				cols[i] = n
			}
		}
	}
	sizeColumns(s.RxBytes, s.RxPackets, s.RxErrors, s.RxDropped, s.RxMissedErrors, s.Multicast)
	if errs {
		sizeColumns(0, lengthErrors, s.RxCRCErrors, s.RxFrameErrors, s.RxFIFOErrors, s.RxOverErrors, s.RxNoHandler)
	}
	sizeColumns(s.TxBytes, s.TxPackets, s.TxErrors, s.TxDropped, s.TxCarrierErrors, s.Collisions)
	if errs {
		sizeColumns(0, 0, s.TxAbortedErrors, s.TxFIFOErrors, s.TxWindowErrors, s.TxHeartbeatErrors, cc)
	}

	var b strings.Builder
	nums := func(first int, vals ...uint64) { // print_num: "%*llu "
		for i, v := range vals {
			fmt.Fprintf(&b, "%*d ", cols[first+i], v)
		}
	}
	header := func(dir, carrier, collsns string) {
		fmt.Fprintf(&b, "    %s: %*s %*s %*s %*s %*s %*s %*s\n", dir, cols[0]-4, "bytes", cols[1], "packets",
			cols[2], "errors", cols[3], "dropped", cols[4], carrier, cols[5], collsns, cols[6], "")
	}

	header("RX", "missed", "mcast")
	b.WriteString("    ")
	nums(0, s.RxBytes, s.RxPackets, s.RxErrors, s.RxDropped, s.RxMissedErrors, s.Multicast)
	if errs {
		nohandler := ""
		if s.RxNoHandler != 0 {
			nohandler = fmt.Sprintf("%*s", cols[6]+1, " nohandler")
		}
		fmt.Fprintf(&b, "\n    RX errors:%*s %*s %*s %*s %*s %*s%s\n", cols[0]-10, "", cols[1], "length",
			cols[2], "crc", cols[3], "frame", cols[4], "fifo", cols[5], "overrun", nohandler)
		b.WriteString(strings.Repeat(" ", cols[0]+5))
		nums(1, lengthErrors, s.RxCRCErrors, s.RxFrameErrors, s.RxFIFOErrors, s.RxOverErrors)
		if s.RxNoHandler != 0 {
			nums(6, s.RxNoHandler)
		}
	}
	b.WriteString("\n")

	header("TX", "carrier", "collsns")
	b.WriteString("    ")
	nums(0, s.TxBytes, s.TxPackets, s.TxErrors, s.TxDropped, s.TxCarrierErrors, s.Collisions)
	if errs {
		fmt.Fprintf(&b, "\n    TX errors:%*s %*s %*s %*s %*s %*s\n", cols[0]-10, "", cols[1], "aborted",
			cols[2], "fifo", cols[3], "window", cols[4], "heartbt", cols[5], "transns")
		b.WriteString(strings.Repeat(" ", cols[0]+5))
		nums(1, s.TxAbortedErrors, s.TxFIFOErrors, s.TxWindowErrors, s.TxHeartbeatErrors, cc)
	}
	b.WriteString("\n")
	p.Text(b.String())

	rx := new(Obj).Set("bytes", s.RxBytes).Set("packets", s.RxPackets).Set("errors", s.RxErrors).
		Set("dropped", s.RxDropped).Set("over_errors", s.RxOverErrors).Set("multicast", s.Multicast)
	tx := new(Obj).Set("bytes", s.TxBytes).Set("packets", s.TxPackets).Set("errors", s.TxErrors).
		Set("dropped", s.TxDropped).Set("carrier_errors", s.TxCarrierErrors).Set("collisions", s.Collisions)
	if errs {
		rx.Set("length_errors", uint64(lengthErrors)).Set("crc_errors", s.RxCRCErrors).Set("frame_errors", s.RxFrameErrors).
			Set("fifo_errors", s.RxFIFOErrors).Set("missed_errors", s.RxMissedErrors)
		if s.RxNoHandler != 0 {
			rx.Set("nohandler", s.RxNoHandler)
		}
		tx.Set("aborted_errors", s.TxAbortedErrors).Set("fifo_errors", s.TxFIFOErrors).Set("window_errors", s.TxWindowErrors).
			Set("heartbeat_errors", s.TxHeartbeatErrors).Set("carrier_changes", cc)
	}
	p.Any("stats64", "", new(Obj).Set("rx", rx).Set("tx", tx))
}
