package ibctl

import (
	"net/netip"

	"github.com/spf13/cobra"
)

// NewCmdRoute is `ibctl route get ADDR`: ip route get, with the path MTU
// exception that ICMP "fragmentation needed" leaves.
func NewCmdRoute(f *Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "route", Short: "Show routes (ip route get)"}
	get := &cobra.Command{
		Use:   "get ADDRESS",
		Short: "Show the route to ADDRESS and its cached path MTU",
		Args:  cobra.ExactArgs(1),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			dst, err := netip.ParseAddr(args[0])
			if err != nil {
				return usagef("route get: Error: inet address is expected rather than %q.", args[0])
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			r, err := c.RouteGet(dst.AsSlice())
			if err != nil {
				return opError("route get", err)
			}
			p := NewPrinter()
			if r.Local {
				p.Any("type", "%s ", "local")
			}
			p.Any("dst", "%s ", dst.String())
			p.Any("dev", "dev %s ", r.Dev)
			src, _ := netip.AddrFromSlice(r.Src)
			p.Any("prefsrc", "src %s ", src.String())
			p.Any("flags", "", []string{})
			p.Any("uid", "uid %d ", 0)
			p.Text("\n    cache ")
			if r.Local {
				p.Text("<local> ")
			}
			p.Any("cache", "", []string{})
			if r.MTU != 0 {
				p.Any("expires", "expires %dsec ", r.ExpiresSec)
				p.Any("mtu", "mtu %d ", r.MTU)
			}
			p.Text("\n")
			if f.Globals.JSON {
				return writeJSON(f.IO.Out, []*Obj{p.Object()}, f.Globals.Pretty)
			}
			_, err = f.IO.Out.Write([]byte(p.TextOut()))
			return err
		}),
	}
	cmd.AddCommand(get)
	return cmd
}
