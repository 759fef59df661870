package ibctl

import (
	"fmt"
	"net/netip"

	"github.com/ibctl/ibctl/netlinkx"
	"github.com/spf13/cobra"
)

// MaddrOptions are the inputs of `maddr show`.
type MaddrOptions struct {
	F   *Factory
	Dev string // "" for every interface
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
			return runOr(&MaddrOptions{F: f, Dev: dev}, runF, maddrRun)
		}),
	}
	show.Flags().SetInterspersed(false)
	cmd.AddCommand(show)
	return cmd
}

func maddrRun(o *MaddrOptions) error {
	f, dev := o.F, o.Dev
	c, err := f.client()
	if err != nil {
		return err
	}
	list, err := c.Maddrs()
	if err != nil {
		return opError("maddr show", err)
	}
	var records []*Printer
	found := dev == ""
	for _, m := range list {
		if dev != "" && m.Name != dev {
			continue
		}
		found = true
		records = append(records, maddrPrinter(m))
	}
	if !found {
		//lint:ignore ST1005 iproute2's message, word for word
		return fmt.Errorf("Device %q does not exist.", dev)
	}
	return emitList(f.IO.Out, f.Globals, records)
}

// maddrPrinter prints one interface as ip maddr show does: its
// link-layer groups, then IPv4, then IPv6 ones; in JSON the maddr array.
func maddrPrinter(m netlinkx.Maddr) *Printer {
	p := NewPrinter()
	p.Any("ifindex", "%d:\t", m.Index)
	p.Any("ifname", "%s\n", m.Name)
	addrs := []*Obj{}
	add := func(family, addr string) {
		ap := NewPrinter()
		ap.Any("family", "\t%-5s ", family)
		ap.Any("address", "%s\n", addr)
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
	return p
}
