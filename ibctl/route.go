package ibctl

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"

	"github.com/ibctl/ibctl/netlinkx"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// RouteOptions are the inputs of `route get` and `route show`.
type RouteOptions struct {
	F *Factory
	// Client connects to the driver when the command needs it: the
	// factory's connection, or what a test gives.
	Client func() (*netlinkx.Client, error)
	Verb   string     // "get" or "show"
	Dst    netip.Addr // get
	Dev    string     // show: only the routes through Dev
	// Table is show's table: "main" (the default) or any other, which
	// is empty.
	Table string
}

// NewCmdRoute is `ibctl route get ADDR`: ip route get, with the path MTU
// exception that ICMP "fragmentation needed" or "packet too big" leaves;
// runF, when not nil, gets the parsed options instead of running.
func NewCmdRoute(f *Factory, runF func(*RouteOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "route",
		Short: "Show the routing table (ip route show, ip route get)",
		Long: `Show the node's routing table as "ip route show" does (iproute2 6.1): bare "route"
lists it, as do "route show" and "route list". The driver keeps the routes its
addresses make, as the kernel does: for every primary IPv4 address of an up interface
its prefix route ("10.1.0.0/16 dev ib0 proto kernel scope link src 10.1.0.1"; none for
a /32), for every IPv6 address of an up interface the prefix route addrconf adds
("fd00::/64 dev ib0 proto kernel metric 256 pref medium"), marked linkdown while the
interface has no carrier. IPv4 routes are listed by default, IPv6 ones with -6;
-j prints the keys of "ip -j route".

  ibctl route [ show | list ] [ dev IFNAME ] [ table TABLE ]
  ibctl route get ADDRESS

"dev IFNAME" lists only the routes through IFNAME (and, as ip, leaves "dev" out);
"table main" is the default; the driver keeps no other table ("FIB table does not exist").
get shows the route to ADDRESS and the path MTU "fragmentation needed" or "packet too
big" left for it.`,
		Args: cobra.ArbitraryArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("route: unknown command %q (try \"ibctl route --help\")", args[0])
			}
			return runOr(&RouteOptions{F: f, Client: connector(f), Verb: "show", Table: "main"}, runF, routeShowRun)
		}),
	}
	show := &cobra.Command{
		Use:     "show [dev IFNAME] [table TABLE]",
		Aliases: []string{"list", "lst", "sh", "ls", "l", "s"},
		Short:   "List the routing table as ip route show does",
		Args:    cobra.ArbitraryArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			o, err := parseRouteShow(f, args)
			if err != nil {
				return err
			}
			return runOr(o, runF, routeShowRun)
		}),
	}
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
			return runOr(&RouteOptions{F: f, Client: connector(f), Verb: "get", Dst: dst}, runF, routeGetRun)
		}),
	}
	cmd.AddCommand(show, get)
	return cmd
}

// parseRouteShow parses show's selectors as iproute_list_flush_or_save
// does for those ibctl keeps: dev (or oif) IFNAME, table TABLE.
func parseRouteShow(f *Factory, args []string) (*RouteOptions, error) {
	o := &RouteOptions{F: f, Client: connector(f), Verb: "show", Table: "main"}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		next := func() (string, error) {
			if i+1 >= len(args) {
				return "", usagef("route show: Command line is not complete. Try \"ibctl route --help\".")
			}
			i++
			return args[i], nil
		}
		switch arg {
		case "dev", "oif":
			v, err := next()
			if err != nil {
				return nil, err
			}
			o.Dev = v
		case "table":
			v, err := next()
			if err != nil {
				return nil, err
			}
			switch v {
			case "main", "254":
				o.Table = "main"
			case "local", "255", "all", "0":
				return nil, usagef("route show: table %s: not supported (the driver keeps the main table only)", v)
			default:
				if _, ok := rtTableByName(v); !ok {
					return nil, usagef("route show: Error: argument %q is wrong: table id value is invalid", v)
				}
				o.Table = v
			}
		default:
			return nil, usagef("route show: %q is not supported (dev IFNAME, table TABLE)", arg)
		}
	}
	return o, nil
}

// rtTableByName is rtnl_rttable_a2n for the reserved names and numbers.
func rtTableByName(s string) (uint32, bool) {
	switch s {
	case "default":
		return unix.RT_TABLE_DEFAULT, true
	case "main":
		return unix.RT_TABLE_MAIN, true
	case "local":
		return unix.RT_TABLE_LOCAL, true
	}
	n, err := strconv.ParseUint(s, 0, 32)
	return uint32(n), err == nil
}

func routeShowRun(o *RouteOptions) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	if o.Dev != "" {
		if _, err := c.Link(o.Dev); err != nil {
			if e, ok := Errno(err); ok && e == unix.ENODEV {
				return fmt.Errorf("route show: Cannot find device %q", o.Dev)
			}
			return opError("route show", err)
		}
	}
	if o.Table != "main" {
		// the driver has no other table, as a kernel without routes in it
		return fmt.Errorf("route show: table %s: FIB table does not exist", o.Table)
	}
	routes, err := c.Routes()
	if err != nil {
		return opError("route show", err)
	}
	return printRoutes(o.F.IO.Out, routes, o.F.Globals, o.Dev)
}

// printRoutes prints the routes of the family the global options select
// (IPv4 when none: ip route's default) as ip route show does, through
// dev only when dev is given.
func printRoutes(w io.Writer, routes []netlinkx.Route, g *Globals, dev string) error {
	family := familyNumber(g.Family)
	if family == unix.AF_UNSPEC {
		family = unix.AF_INET
	}
	var ps []*Printer
	for _, r := range routes {
		if r.Family != family || dev != "" && r.Dev != dev {
			continue
		}
		p := NewPrinter()
		PrintTableRoute(p, r, dev == "")
		ps = append(ps, p)
	}
	if g.Oneline && !g.JSON {
		for _, p := range ps {
			if _, err := io.WriteString(w, onelineText(p.TextOut())); err != nil {
				return err
			}
		}
		return nil
	}
	return emitList(w, g, ps)
}

// PrintTableRoute prints a route of the table as iproute2 6.1's
// print_route does: the destination (without its length when it is a
// host's), the device unless the listing is for one, the table unless
// it is main, the protocol, a scope other than global, the preferred
// source, IPv6's metric, the next hop's flags (linkdown) and IPv6's
// preference.
func PrintTableRoute(p *Printer, r netlinkx.Route, withDev bool) {
	dst := formatHost(r.Family, r.Dst)
	if int(r.DstLen) != len(r.Dst)*8 {
		dst = fmt.Sprintf("%s/%d", dst, r.DstLen)
	}
	p.Any("dst", "%s ", dst)
	if withDev {
		p.Any("dev", "dev %s ", r.Dev)
	}
	if r.Table != unix.RT_TABLE_MAIN {
		p.Any("table", "table %s ", rtTableName(r.Table))
	}
	if r.Protocol != unix.RTPROT_BOOT {
		p.Any("protocol", "proto %s ", rtProtoName(r.Protocol))
	}
	if r.Family == unix.AF_INET && r.Scope != unix.RT_SCOPE_UNIVERSE {
		p.Any("scope", "scope %s ", scopeName(r.Scope))
	}
	if r.Src != nil {
		p.Any("prefsrc", "src %s ", formatHost(r.Family, r.Src))
	}
	if r.Family == unix.AF_INET6 {
		p.Any("metric", "metric %d ", r.Metric)
	}
	flags := []string{}
	if r.Flags&unix.RTNH_F_LINKDOWN != 0 {
		p.Text("linkdown ")
		flags = append(flags, "linkdown")
	}
	p.Any("flags", "", flags)
	if r.Family == unix.AF_INET6 {
		p.Any("pref", "pref %s", "medium")
	}
	p.Text("\n")
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
	c, err := o.Client()
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

// routeMan is the page text of ibctl-route(8).
var routeMan = ManDoc{
	Synopsis: []string{
		"ibctl route [ { show | list } [ dev DEVICE ] [ table { main | 254 } ] ]",
		"ibctl route get ADDRESS",
	},
	Examples: []ManItem{
		{"ibctl route", "Lists the prefix routes of the node's addresses, as ip route does."},
		{"ibctl -6 route show dev ib0", "Lists ib0's IPv6 routes."},
		{"ibctl route get 10.0.0.2", "Shows the interface and source address that reach 10.0.0.2, and the path MTU a \"Frag needed\" answer left."},
		{"ibctl -6 route get fe80::2%ib0", "Shows the route to a link-local IPv6 address through ib0."},
	},
	SeeAlso: []string{"ibctl(8)", "ibctl-ping(8)", "ibctl-addr(8)", "ip-route(8)"},
}
