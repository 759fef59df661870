package ibctl

import (
	"fmt"
	"io"
	"net/netip"

	"github.com/ibctl/ibctl/netlinkx"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// MaddrOptions are the inputs of `maddr show`.
type MaddrOptions struct {
	F *Factory
	// Client connects to the driver when the command needs it: the
	// factory's connection, or what a test gives.
	Client func() (*netlinkx.Client, error)
	Dev    string // "" for every interface
}

// NewCmdMaddr is `ibctl maddr show [dev DEV]`: ip maddr; runF, when not
// nil, gets the parsed options instead of running.
func NewCmdMaddr(f *Factory, runF func(*MaddrOptions) error) *cobra.Command {
	cmd := &cobra.Command{Use: "maddr", Short: "Show multicast addresses (ip maddr)"}
	show := &cobra.Command{
		Use:               "show [dev DEV]",
		Aliases:           []string{"list", "ls", "lst"},
		Short:             "Show each interface's link-layer and IPv4 multicast addresses",
		ValidArgsFunction: completeLinkArgs(f, "show"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			dev := ""
			switch {
			case len(args) == 2 && args[0] == "dev":
				dev = args[1]
			case len(args) == 1 && args[0] != "dev":
				dev = args[0]
			case len(args) != 0:
				return usagef("maddr show: want [dev DEV]")
			}
			return runOr(&MaddrOptions{F: f, Client: connector(f), Dev: dev}, runF, maddrRun)
		}),
	}
	show.Flags().SetInterspersed(false)
	cmd.AddCommand(show)
	return cmd
}

func maddrRun(o *MaddrOptions) error {
	f, dev := o.F, o.Dev
	c, err := o.Client()
	if err != nil {
		return err
	}
	list, err := c.Maddrs()
	if err != nil {
		return opError("maddr show", err)
	}
	return printMaddrs(f.IO.Out, list, f.Globals, dev)
}

// printMaddrs prints the groups of the interfaces in list (of dev alone
// unless it is "") as ip maddr show does with the global options g.
func printMaddrs(w io.Writer, list []netlinkx.Maddr, g *Globals, dev string) error {
	var records []*Printer
	found := dev == ""
	family := familyNumber(g.Family)
	for _, m := range list {
		if dev != "" && m.Name != dev {
			continue
		}
		found = true
		if family != 0 {
			// ip -4, -6 or -0 reads only that family's groups
			m = maddrOfFamily(m, family)
		}
		if len(m.Link) == 0 && len(m.Inet) == 0 {
			// ip lists the entries of /proc/net/dev_mcast, igmp and
			// igmp6: an interface without any is not listed (one down
			// with an MTU below 1280, say)
			continue
		}
		records = append(records, maddrPrinters(m, g.Oneline)...)
	}
	if !found {
		//lint:ignore ST1005 iproute2's message, word for word
		return fmt.Errorf("Device %q does not exist.", dev)
	}
	return emitList(w, g, records)
}

// maddrOfFamily is m with the groups of family only (AF_PACKET: the
// link-layer ones).
func maddrOfFamily(m netlinkx.Maddr, family uint8) netlinkx.Maddr {
	out := netlinkx.Maddr{Index: m.Index, Name: m.Name}
	if family == unix.AF_PACKET {
		out.Link = m.Link
	}
	for _, a := range m.Inet {
		if ip, _ := netip.AddrFromSlice(a); ip.Is4() == (family == unix.AF_INET) && family != unix.AF_PACKET {
			out.Inet = append(out.Inet, a)
		}
	}
	return out
}

// maddrPrinters prints one interface with at least one group as ip maddr
// show does: its
// link-layer groups, then IPv4, then IPv6 ones; in JSON the maddr array,
// where a link-layer group is {"link": ADDR}. With oneline (ip -o) each
// group is a record of its own, "INDEX:\tNAME\\\tFAMILY ADDR".
func maddrPrinters(m netlinkx.Maddr, oneline bool) []*Printer {
	var records []*Printer
	var p *Printer
	var addrs []*Obj
	add := func(family, addr string) {
		if p == nil || oneline {
			if p != nil {
				p.Any("maddr", "", addrs)
			}
			p, addrs = NewPrinter(), []*Obj{}
			records = append(records, p)
			p.Any("ifindex", "%d:\t", m.Index)
			p.Any("ifname", "%s", m.Name)
			if oneline {
				p.Text("\\")
			} else {
				p.Text("\n")
			}
		}
		ap := NewPrinter()
		if family == "link" {
			ap.Text("\tlink  ")
			ap.Any("link", "%s\n", addr)
		} else {
			ap.Any("family", "\t%-5s ", family)
			ap.Any("address", "%s\n", addr)
		}
		p.Text(ap.TextOut())
		addrs = append(addrs, ap.Object())
	}
	for _, l := range m.Link {
		add("link", hwString(l))
	}
	for _, fam := range []string{"inet", "inet6"} {
		for _, a := range m.Inet {
			ip, _ := netip.AddrFromSlice(a)
			if (fam == "inet") != ip.Is4() {
				continue
			}
			add(fam, ip.String())
		}
	}
	p.Any("maddr", "", addrs)
	return records
}

// maddrMan is the page text of ibctl-maddr(8).
var maddrMan = ManDoc{
	Synopsis: []string{
		"ibctl maddr [ show [ [ dev ] DEV ] ]",
	},
	Examples: []ManItem{
		{"ibctl maddr show dev ib0", "Shows the multicast groups ib0 joined: link-layer (MGIDs) and IPv4."},
		{"ibctl -j maddr", "Shows every interface's multicast addresses as JSON."},
	},
	SeeAlso: []string{"ibctl(8)", "ibctl-sm(8)", "ip-maddress(8)"},
}
