package ibctl

import (
	"fmt"
	"net/netip"

	"github.com/spf13/cobra"
)

// NewCmdMaddr is `ibctl maddr show [dev DEV]`: ip maddr.
func NewCmdMaddr(f *Factory) *cobra.Command {
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
			return maddrRun(f, dev)
		}),
	}
	show.Flags().SetInterspersed(false)
	cmd.AddCommand(show)
	return cmd
}

func maddrRun(f *Factory, dev string) error {
	c, err := f.client()
	if err != nil {
		return err
	}
	list, err := c.Maddrs()
	if err != nil {
		return opError("maddr show", err)
	}
	var objs []*Obj
	var text string
	found := dev == ""
	for _, m := range list {
		if dev != "" && m.Name != dev {
			continue
		}
		found = true
		p := NewPrinter()
		p.Any("ifindex", "%d:\t", m.Index)
		p.Any("ifname", "%s\n", m.Name)
		var addrs []*Obj
		for _, l := range m.Link {
			p.Text(fmt.Sprintf("\tlink  %s\n", hwString(l)))
			addrs = append(addrs, new(Obj).Set("family", "link").Set("address", hwString(l)))
		}
		for _, fam := range []string{"inet", "inet6"} {
			for _, a := range m.Inet {
				ip, _ := netip.AddrFromSlice(a)
				if (fam == "inet") != ip.Is4() {
					continue
				}
				p.Text(fmt.Sprintf("\t%-5s %s\n", fam, ip))
				addrs = append(addrs, new(Obj).Set("family", fam).Set("address", ip.String()))
			}
		}
		p.Any("maddr", "", addrs)
		objs = append(objs, p.Object())
		text += p.TextOut()
	}
	if !found {
		return fmt.Errorf("Device %q does not exist.", dev)
	}
	if f.Globals.JSON {
		return writeJSON(f.IO.Out, objs, f.Globals.Pretty)
	}
	_, err = fmt.Fprint(f.IO.Out, text)
	return err
}
