package ibctl

import (
	"io"
	"net/netip"
	"strconv"

	"github.com/ibctl/ibctl/netlinkx"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// RouteOptions are the inputs of `route get`.
type RouteOptions struct {
	F   *Factory
	Dst netip.Addr
}

// NewCmdRoute is `ibctl route get ADDR`: ip route get, with the path MTU
// exception that ICMP "fragmentation needed" or "packet too big" leaves;
// runF, when not nil, gets the parsed options instead of running.
func NewCmdRoute(f *Factory, runF func(*RouteOptions) error) *cobra.Command {
	cmd := &cobra.Command{Use: "route", Short: "Show routes (ip route get)"}
	get := &cobra.Command{
		Use:   "get ADDRESS",
		Short: "Show the route to ADDRESS and its cached path MTU",
		Args:  needArgs("ADDRESS"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			dst, err := netip.ParseAddr(args[0])
			if err != nil {
				return usagef("route get: Error: inet address is expected rather than %q.", args[0])
			}
			if err := routeFamily(dst, args[0], familyNumber(f.Globals.Family)); err != nil {
				return err
			}
			return runOr(&RouteOptions{F: f, Dst: dst}, runF, routeGetRun)
		}),
	}
	cmd.AddCommand(get)
	verbRequired(cmd)
	return cmd
}

// routeFamily checks an address given to route get against the family
// the global options select, as get_prefix does for ip -4, -6 and -0.
func routeFamily(dst netip.Addr, arg string, family uint8) error {
	switch {
	case family == unix.AF_INET && !dst.Is4(), family == unix.AF_INET6 && !dst.Is6():
		return usagef("route get: Error: %s prefix is expected rather than %q.", familyNameVerbose(family), arg)
	case family == unix.AF_PACKET:
		return usagef("route get: Error: %q may be %s prefix, but it is not allowed in this context.", arg, familyNameVerbose(familyOf(dst)))
	}
	return nil
}

func familyOf(a netip.Addr) uint8 {
	if a.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

func routeGetRun(o *RouteOptions) error {
	c, err := o.F.client()
	if err != nil {
		return err
	}
	r, err := c.RouteGet(o.Dst.AsSlice())
	if err != nil {
		return opError("route get", err)
	}
	p := NewPrinter()
	PrintRoute(p, o.Dst, r)
	if o.F.Globals.Oneline && !o.F.Globals.JSON {
		_, err := io.WriteString(o.F.IO.Out, onelineText(p.TextOut()))
		return err
	}
	return emitList(o.F.IO.Out, o.F.Globals, []*Printer{p})
}

// PrintRoute prints the answer to `ip route get dst` as iproute2's
// print_route does. IPv4 answers are cached routes (RTM_F_CLONED): uid,
// then the cache line. IPv6 answers carry the unspecified source of the
// lookup (from ::), the metric and the preference; a path MTU exception
// is a cached route (RTF_CACHE), shown without its protocol, with its
// expiry and MTU metric.
func PrintRoute(p *Printer, dst netip.Addr, r netlinkx.Route) {
	if r.Local {
		p.Any("type", "%s ", "local")
	}
	p.Any("dst", "%s ", dst.String())
	if dst.Is6() {
		p.Any("from", "from %s ", "::")
	}
	p.Any("dev", "dev %s ", r.Dev)
	if r.Table != 0 && r.Table != unix.RT_TABLE_MAIN {
		p.Any("table", "table %s ", rtTableName(r.Table))
	}
	if dst.Is6() {
		if r.MTU == 0 && r.Protocol != unix.RTPROT_BOOT {
			p.Any("protocol", "proto %s ", rtProtoName(r.Protocol))
		}
	}
	src, _ := netip.AddrFromSlice(r.Src)
	p.Any("prefsrc", "src %s ", src.String())
	if dst.Is6() {
		p.Any("metric", "metric %d ", r.Metric)
	}
	p.Any("flags", "", []string{})
	if dst.Is4() {
		p.Any("uid", "uid %d ", 0)
		// print_cache_flags: "<local> " in text, a string array in JSON
		p.Text("\n    cache ")
		cache := []string{}
		if r.Local {
			cache = append(cache, "local")
			p.Text("<local> ")
		}
		p.Any("cache", "", cache)
	}
	if r.MTU != 0 {
		p.Any("expires", "expires %dsec ", r.ExpiresSec)
		// print_rta_metrics: "mtu N " in text, a metrics array in JSON
		p.Any("", "mtu %d ", r.MTU)
		p.Any("metrics", "", []*Obj{(&Obj{}).Set("mtu", r.MTU)})
	}
	if dst.Is6() {
		p.Any("pref", "pref %s", "medium")
	}
	p.Text("\n")
}

// rtTableName is rtnl_rttable_n2a for the reserved tables.
func rtTableName(t uint8) string {
	switch t {
	case unix.RT_TABLE_DEFAULT:
		return "default"
	case unix.RT_TABLE_MAIN:
		return "main"
	case unix.RT_TABLE_LOCAL:
		return "local"
	}
	return strconv.Itoa(int(t))
}

// rtProtoName is rtnl_rtprot_n2a for the kernel's own protocols.
func rtProtoName(p uint8) string {
	switch p {
	case unix.RTPROT_UNSPEC:
		return "unspec"
	case unix.RTPROT_REDIRECT:
		return "redirect"
	case unix.RTPROT_KERNEL:
		return "kernel"
	case unix.RTPROT_BOOT:
		return "boot"
	case unix.RTPROT_STATIC:
		return "static"
	}
	return strconv.Itoa(int(p))
}

var _ = registerMan("ibctl route", ManDoc{
	Synopsis: []string{
		"ibctl route get ADDRESS",
	},
	Examples: []ManItem{
		{"ibctl route get 10.0.0.2", "Shows the interface and source address that reach 10.0.0.2, and the path MTU a \"Frag needed\" answer left."},
		{"ibctl -6 route get fe80::2%ib0", "Shows the route to a link-local IPv6 address through ib0."},
	},
	SeeAlso: []string{"ibctl(8)", "ibctl-ping(8)", "ibctl-addr(8)", "ip-route(8)"},
})
