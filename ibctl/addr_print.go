package ibctl

import (
	"fmt"

	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// AddrView is what the global options select in `ip address show`.
type AddrView struct {
	Family  uint8 // 0, unix.AF_INET, unix.AF_INET6 or unix.AF_PACKET (links only)
	Stats   int
	Details bool
	// Reduced is a link as the kernel describes it for the inet6 family
	// (ip -6 address show without a device): no qdisc, group, broadcast
	// address, details or statistics.
	Reduced bool
	Oneline bool
	Brief   bool
}

// addrShown reports whether a is listed under v's family.
func (v AddrView) addrShown(a netlinkx.Addr, index int32) bool {
	return a.Index == index && (v.Family == unix.AF_UNSPEC || v.Family == a.Family)
}

// LinkListed is ipaddress.c's ipaddr_filter: with a family other than
// the link one, a link is listed if it has an address of that family or,
// when no family is given, no address at all.
func (v AddrView) LinkListed(l netlinkx.Link, addrs []netlinkx.Addr) bool {
	if v.Family == unix.AF_PACKET {
		return true
	}
	has := false
	for _, a := range addrs {
		if a.Index != l.Index {
			continue
		}
		has = true
		if v.addrShown(a, l.Index) {
			return true
		}
	}
	return !has && v.Family == unix.AF_UNSPEC
}

// PrintAddrLink prints one link as `ip address show` does (iproute2 6.1),
// with v's options: the link line without the link mode, the
// link/infiniband line, each address of addrs on the link in their order
// and, with Stats, the statistics; in JSON the addresses are the link's
// addr_info array. Brief is ip -br's one line; Oneline (unless the family
// is the link one) leaves the link out and prints each address on a line
// of its own starting with "INDEX: NAME".
func PrintAddrLink(p *Printer, l netlinkx.Link, parent *netlinkx.Link, addrs []netlinkx.Addr, v AddrView) {
	packet := v.Family == unix.AF_PACKET
	switch {
	case v.Brief:
		PrintLinkBrief(p, l, parent, packet)
		if packet {
			return
		}
		infos := []*Obj{}
		for _, a := range addrs {
			if !v.addrShown(a, l.Index) || a.Local == nil {
				continue
			}
			ap := NewPrinter()
			ap.Any("local", "%s", formatHost(a.Family, a.Local))
			ap.Any("prefixlen", "/%d ", int(a.PrefixLen))
			p.Text(ap.TextOut())
			infos = append(infos, ap.Object())
		}
		p.Any("addr_info", "", infos)
		p.Text("\n")
		return
	case v.Oneline && !packet:
		infos := []*Obj{}
		for _, a := range addrs {
			if !v.addrShown(a, l.Index) {
				continue
			}
			ap := NewPrinter()
			ap.Any("index", "", l.Index)
			ap.Any("dev", "", l.Name)
			ap.Text(fmt.Sprintf("%d: %s", l.Index, l.Name))
			PrintAddr(ap, a)
			p.Text(onelineText(ap.TextOut()))
			infos = append(infos, ap.Object())
		}
		p.Any("addr_info", "", infos)
		return
	}
	printLinkLine(p, l, parent, false, !v.Reduced)
	if v.Family == unix.AF_UNSPEC || packet || v.Details {
		p.Text("\n    ")
		printLinkLayer(p, l, !v.Reduced)
		if v.Details && !v.Reduced {
			printLinkDetails(p, l, false)
		}
	}
	p.Text("\n")
	if v.Details && !v.Reduced {
		printVFInfo(p, l)
	}
	if !packet {
		infos := []*Obj{}
		for _, a := range addrs {
			if !v.addrShown(a, l.Index) {
				continue
			}
			ap := NewPrinter()
			PrintAddr(ap, a)
			p.Text(ap.TextOut())
			infos = append(infos, ap.Object())
		}
		p.Any("addr_info", "", infos)
	}
	if v.Stats > 0 {
		printStats(p, l, v.Stats > 1)
	}
	if v.Oneline {
		t := p.TextOut()
		p.text.Reset()
		p.Text(onelineText(t))
	}
}

// ifaFlagNames is iproute2's ifa_flag_names order.
var ifaFlagNames = []struct {
	bit  uint32
	name string
}{
	{unix.IFA_F_SECONDARY, "secondary"}, {unix.IFA_F_NODAD, "nodad"}, {unix.IFA_F_OPTIMISTIC, "optimistic"},
	{unix.IFA_F_DADFAILED, "dadfailed"}, {unix.IFA_F_HOMEADDRESS, "home"}, {unix.IFA_F_DEPRECATED, "deprecated"},
	{unix.IFA_F_TENTATIVE, "tentative"}, {unix.IFA_F_PERMANENT, "permanent"}, {unix.IFA_F_MANAGETEMPADDR, "mngtmpaddr"},
	{unix.IFA_F_NOPREFIXROUTE, "noprefixroute"}, {unix.IFA_F_MCAUTOJOIN, "autojoin"}, {unix.IFA_F_STABLE_PRIVACY, "stable-privacy"},
}

// infinityLifeTime is the lifetime of an address that never expires.
const infinityLifeTime uint32 = 0xffffffff

// PrintAddr prints one address as ipaddress.c's print_addrinfo does, and
// builds its addr_info object from the same calls.
func PrintAddr(p *Printer, a netlinkx.Addr) {
	switch a.Family {
	case unix.AF_INET:
		p.Any("family", "    %s ", "inet")
	case unix.AF_INET6:
		p.Any("family", "    %s ", "inet6")
	default:
		p.Any("family_index", "    family %d ", int(a.Family))
	}
	if a.Local != nil {
		p.Any("local", "%s", formatHost(a.Family, a.Local))
		p.Any("prefixlen", "/%d ", int(a.PrefixLen))
	}
	if a.Broadcast != nil {
		p.Text("brd ")
		p.Any("broadcast", "%s ", formatHost(a.Family, a.Broadcast))
	}
	p.Any("scope", "scope %s ", scopeName(a.Scope))
	flags := a.Flags
	for _, f := range ifaFlagNames {
		switch {
		case f.bit == unix.IFA_F_PERMANENT:
			if flags&f.bit == 0 {
				p.Text("dynamic ")
				p.Any("dynamic", "", true)
			}
		case flags&f.bit == 0:
		case f.bit == unix.IFA_F_SECONDARY && a.Family == unix.AF_INET6:
			p.Text("temporary ")
			p.Any("temporary", "", true)
		default:
			p.Text(f.name + " ")
			p.Any(f.name, "", true)
		}
		flags &^= f.bit
	}
	if flags != 0 {
		p.Any("ifa_flags", "flags %s ", fmt.Sprintf("%02x", flags))
	}
	if a.Label != "" {
		p.Any("label", "%s", a.Label)
	}
	p.Text("\n       valid_lft ")
	p.Any("valid_life_time", "", infinityLifeTime)
	p.Text("forever preferred_lft ")
	p.Any("preferred_life_time", "", infinityLifeTime)
	p.Text("forever\n")
}
