package ibctl

import (
	"fmt"
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
	p.Any("ifindex", "%d: ", l.Index)
	if parent != nil {
		p.Any("link", "", parent.Name)
		p.Text(l.Name + "@" + parent.Name + ": ")
		p.Any("ifname", "", l.Name)
	} else {
		p.Any("ifname", "%s: ", l.Name)
	}
	flags := linkFlags(l.Flags)
	if parent != nil && parent.Flags&unix.IFF_UP == 0 {
		flags = append(flags, "M-DOWN")
	}
	p.Any("flags", "", flags)
	p.Text("<" + strings.Join(flags, ",") + "> ")
	p.Any("mtu", "mtu %d ", l.MTU)
	if l.Qdisc != "" {
		p.Any("qdisc", "qdisc %s ", l.Qdisc)
	}
	state := "UNKNOWN"
	if int(l.Operstate) < len(operstateNames) {
		state = operstateNames[l.Operstate]
	}
	p.Any("operstate", "state %s ", state)
	if linkMode {
		p.Any("linkmode", "mode %s ", "DEFAULT")
	}
	p.Any("group", "group %s ", "default")
	p.Any("txqlen", "qlen %d", l.TxQLen)
	p.Text("\n    ")
	p.Any("link_type", "link/%s ", "infiniband")
	p.Any("address", "%s", hwString(l.Address))
	p.Any("broadcast", " brd %s", hwString(l.Broadcast))
}

// PrintLink prints one link as `ip -d link show` does (iproute2 6.1), and
// builds the `ip -j -d link show` object from the same calls. parent is
// the IFLA_LINK device, nil for a parent interface.
func PrintLink(p *Printer, l netlinkx.Link, parent *netlinkx.Link, stats int) {
	printLinkHead(p, l, parent, true)
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
	p.Any("inet6_addr_gen_mode", "addrgenmode %s ", "eui64")
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
	p.Text("\n")
	if stats > 0 {
		printStats(p, l, stats > 1)
	}
	if l.ParentBus == "pci" {
		// A PCI parent has VF operations: the kernel sends an empty
		// IFLA_VFINFO_LIST, which iproute2 prints in JSON only.
		p.Any("vfinfo_list", "", []any{})
	}
}

// printIPoIB is iplink_ipoib.c's print_opt.
func printIPoIB(p *Printer, info netlinkx.IPoIB) {
	pkey := fmt.Sprintf("%#.4x", info.PKey)
	if info.PKey == 0 {
		pkey = "0000" // C's %#x prints no 0x for zero
	}
	p.Any("key", "pkey  %s ", pkey)
	p.Any("mode", "mode  %s ", netlinkx.ModeName(info.Mode))
	p.Any("umcast", "umcast  %s ", fmt.Sprintf("%.4x", info.Umcast))
}

// statRow is one column of the statistics block: its header and value.
type statRow struct {
	name string
	v    uint64
	show bool
}

// printStats is iproute2 6.1's print_stats64: RX and TX rows under
// headers, column widths from the header names and the widest value, and
// with errs the error rows; JSON "stats64".
func printStats(p *Printer, l netlinkx.Link, errs bool) {
	s := l.Stats
	cols := []int{10, 7, 6, 7, 7, 7, 10, 9}
	widen := func(vals ...uint64) {
		for i, v := range vals {
			if n := len(fmt.Sprint(v)); n > cols[i] {
				cols[i] = n
			}
		}
	}
	widen(s.RxBytes, s.RxPackets, s.RxErrors, s.RxDropped, s.RxMissedErrors, s.Multicast)
	widen(s.TxBytes, s.TxPackets, s.TxErrors, s.TxDropped, s.TxCarrierErrors, s.Collisions)
	if errs {
		widen(0, 0, s.RxCRCErrors, s.RxFrameErrors, s.RxFIFOErrors, s.RxOverErrors)
		widen(0, s.TxAbortedErrors, s.TxFIFOErrors, s.TxWindowErrors, s.TxHeartbeatErrors, uint64(l.CarrierChanges))
	}
	var b strings.Builder
	header := func(title string, names ...string) {
		fmt.Fprintf(&b, "    %s: %*s", title, cols[0]-4, names[0])
		for i, n := range names[1:] {
			fmt.Fprintf(&b, " %*s", cols[i+1], n)
		}
		fmt.Fprintf(&b, " %*s\n", cols[6], "")
	}
	values := func(indent int, first int, vals ...uint64) {
		b.WriteString(strings.Repeat(" ", indent))
		for i, v := range vals {
			fmt.Fprintf(&b, "%*d ", cols[first+i], v)
		}
		b.WriteString("\n")
	}
	errHeader := func(title string, names ...string) {
		fmt.Fprintf(&b, "    %s errors:%*s", title, cols[0]-10, "")
		for i, n := range names {
			fmt.Fprintf(&b, " %*s", cols[i+1], n)
		}
		b.WriteString("\n")
	}
	header("RX", "bytes", "packets", "errors", "dropped", "missed", "mcast")
	values(4, 0, s.RxBytes, s.RxPackets, s.RxErrors, s.RxDropped, s.RxMissedErrors, s.Multicast)
	if errs {
		errHeader("RX", "length", "crc", "frame", "fifo", "overrun")
		values(cols[0]+5, 1, 0, s.RxCRCErrors, s.RxFrameErrors, s.RxFIFOErrors, s.RxOverErrors)
	}
	header("TX", "bytes", "packets", "errors", "dropped", "carrier", "collsns")
	values(4, 0, s.TxBytes, s.TxPackets, s.TxErrors, s.TxDropped, s.TxCarrierErrors, s.Collisions)
	if errs {
		errHeader("TX", "aborted", "fifo", "window", "heartbt", "transns")
		values(cols[0]+5, 1, s.TxAbortedErrors, s.TxFIFOErrors, s.TxWindowErrors, s.TxHeartbeatErrors, uint64(l.CarrierChanges))
	}
	p.Text(b.String())
	rx := new(Obj).Set("bytes", s.RxBytes).Set("packets", s.RxPackets).Set("errors", s.RxErrors).
		Set("dropped", s.RxDropped).Set("over_errors", s.RxOverErrors).Set("multicast", s.Multicast)
	tx := new(Obj).Set("bytes", s.TxBytes).Set("packets", s.TxPackets).Set("errors", s.TxErrors).
		Set("dropped", s.TxDropped).Set("carrier_errors", s.TxCarrierErrors).Set("collisions", s.Collisions)
	if errs {
		rx.Set("length_errors", 0).Set("crc_errors", s.RxCRCErrors).Set("frame_errors", s.RxFrameErrors).
			Set("fifo_errors", s.RxFIFOErrors).Set("missed_errors", s.RxMissedErrors)
		tx.Set("aborted_errors", s.TxAbortedErrors).Set("fifo_errors", s.TxFIFOErrors).Set("window_errors", s.TxWindowErrors).
			Set("heartbeat_errors", s.TxHeartbeatErrors).Set("carrier_changes", l.CarrierChanges)
	}
	p.Any("stats64", "", new(Obj).Set("rx", rx).Set("tx", tx))
}
