package ibctl

import (
	"fmt"

	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// PrintAddrLink prints one link as `ip address show` does (iproute2 6.1):
// the link line without the link mode, the link/infiniband line, then
// each address of addrs on the link, in their order; in JSON the
// addresses are the link's addr_info array.
func PrintAddrLink(p *Printer, l netlinkx.Link, parent *netlinkx.Link, addrs []netlinkx.Addr) {
	printLinkHead(p, l, parent, false)
	p.Text("\n")
	infos := []*Obj{}
	for _, a := range addrs {
		if a.Index != l.Index {
			continue
		}
		ap := NewPrinter()
		PrintAddr(ap, a)
		p.Text(ap.TextOut())
		infos = append(infos, ap.Object())
	}
	p.Any("addr_info", "", infos)
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
