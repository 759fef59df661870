package ibctl

import (
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/ibctl/ibctl/netlinkx"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// AddrOptions are the inputs of every addr verb.
type AddrOptions struct {
	F *Factory
	// Client connects to the driver when the command needs it: the
	// factory's connection, or what a test gives.
	Client func() (*netlinkx.Client, error)
	Verb   string // "add", "delete", "show" or "flush"
	Args   AddrArgs
}

// AddrArgs is a parsed `addr add` / `addr del` / `addr show` argument
// list, in the grammar of iproute2's ip address.
type AddrArgs struct {
	Dev       string
	Family    uint8  // unix.AF_INET, unix.AF_INET6; 0 when no address was given
	Local     []byte // nil when no address was given
	PrefixLen uint8
	Scope     uint8 // RT_SCOPE_*: "scope", else host for 127/8 and global
	Broadcast []byte
	Label     string
	// Wildcard is a delete of an IPv4 address given without a length: any
	// prefix length matches (PrefixLen is 0), and Warning says so.
	Wildcard bool
	Warning  string
	Up       bool // show: only links that are up
	// ScopeSet is flush's "scope": only addresses of scope Scope.
	ScopeSet bool
	// To is flush's "to PREFIX": only addresses within it; Label a
	// pattern (fnmatch) addresses' labels must match.
	To inetPrefix
	// Flags and FlagMask are flush's flag selectors (permanent, dynamic,
	// primary, secondary, ...): an address is flushed when its flags
	// agree with Flags on the bits of FlagMask.
	Flags, FlagMask uint32
}

// NewCmdAddr is `ibctl addr`, the iproute2 `ip address` object. Every
// verb calls runF, when not nil, with its parsed options instead of
// running.
func NewCmdAddr(f *Factory, runF func(*AddrOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "addr",
		Aliases: []string{"a", "ad", "add", "addre", "addres", "address"},
		Short:   "Show and change IP addresses of IPoIB links (ip address)",
		Long: `Show and change the IP addresses of the node's IPoIB interfaces with the grammar of
ip address (iproute2):

  ibctl addr add IFADDR dev IFNAME
  ibctl addr del IFADDR dev IFNAME
  ibctl addr show [ [ dev ] IFNAME ] [ up ]
  ibctl addr flush [ [ dev ] IFNAME ] [ scope SCOPE-ID ] [ to PREFIX ] [ label PATTERN ] [ up ] [ FLAG-LIST ]

  IFADDR := PREFIX [ broadcast ADDR | brd { ADDR | + | - } ] [ label LABEL ] [ scope SCOPE-ID ]
  SCOPE-ID := [ host | link | global | site | nowhere | NUMBER ]
  FLAG-LIST := [ FLAG-LIST ] FLAG
  FLAG := [ [-]permanent | [-]dynamic | [-]secondary | [-]primary | [-]temporary | [-]tentative | ... ]

show prints what "ip address show" prints; with -j the keys of "ip -j address show".
The global options -s, -d, -br, -o and -4, -6 or -0 (ibctl -br -4 addr) select what ip's
do.
flush deletes the addresses it selects (and the secondaries of a primary it deletes, as
the kernel does), in rounds until none is left, as "ip address flush" does: it needs at
least one argument; with -s it prints each round and "*** Flush is complete after 1 round
***" (or "Nothing to flush."), with -s -s also each address.
Addresses never expire: valid_lft and preferred_lft are forever. As the kernel does, an
interface whose link comes up gets its IPv6 link-local address (fe80::/64 and the port
GUID with 0x02 ORed into its first byte), and going down removes every IPv6 address.`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			return runOr(&AddrOptions{F: f, Client: connector(f), Verb: "show"}, runF, addrRun)
		}),
	}
	cmd.AddCommand(
		newAddrVerb(f, runF, "add", []string{"a", "ad"}, "Add an address (ip address add)"),
		newAddrVerb(f, runF, "delete", []string{"d", "de", "del", "dele", "delet"}, "Delete an address (ip address del)"),
		newAddrVerb(f, runF, "show", []string{"s", "sh", "sho", "l", "li", "lis", "list", "ls", "lst"}, "Show links and their addresses (ip address show)"),
		newAddrVerb(f, runF, "flush", []string{"f", "fl", "flu", "flus"}, "Delete the addresses a selector picks (ip address flush)"),
		helpVerb(),
	)
	return cmd
}

func newAddrVerb(f *Factory, runF func(*AddrOptions) error, verb string, aliases []string, short string) *cobra.Command {
	cmd := &cobra.Command{
		Use:                   verb + " ARGS...",
		Aliases:               aliases,
		Short:                 short,
		DisableFlagsInUseLine: true,
		ValidArgsFunction:     completeAddrArgs(f, verb),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			a, err := ParseAddrArgs(verb, args)
			if verb == "flush" {
				a, err = parseAddrFlushArgs(args, familyNumber(f.Globals.Family))
			}
			if err != nil {
				return prefixUsage(addrWhat(verb), err)
			}
			return runOr(&AddrOptions{F: f, Client: connector(f), Verb: verb, Args: a}, runF, addrRun)
		}),
	}
	cmd.Flags().SetInterspersed(false)
	return cmd
}

// addrWhat names a verb in messages, as ip's own words: "addr del".
func addrWhat(verb string) string {
	if verb == "delete" {
		return "addr del"
	}
	return "addr " + verb
}

func addrRun(o *AddrOptions) error {
	if o.Args.Warning != "" {
		fmt.Fprint(o.F.IO.ErrOut, o.Args.Warning)
	}
	c, err := o.Client()
	if err != nil {
		return err
	}
	switch o.Verb {
	case "show":
		return addrShow(o, c)
	case "flush":
		return addrFlush(o, c)
	}
	a := o.Args
	l, err := lookupLink(c, a.Dev)
	if err != nil {
		return err
	}
	r := netlinkx.Addr{Index: l.Index, Family: a.Family, PrefixLen: a.PrefixLen, Scope: a.Scope,
		Local: a.Local, Broadcast: a.Broadcast, Label: a.Label}
	if o.Verb == "add" {
		err = c.AddAddr(r)
	} else {
		err = c.DelAddr(r)
	}
	if err != nil {
		return opError(addrWhat(o.Verb), err)
	}
	return nil
}

func addrShow(o *AddrOptions, c *netlinkx.Client) error {
	links, byIndex, err := linksToShow(c, "addr show", o.Args.Dev)
	if err != nil {
		return err
	}
	addrs, err := c.Addrs()
	if err != nil {
		return opError("addr show", err)
	}
	return printAddrLinks(o.F.IO.Out, links, byIndex, addrs, o.F.Globals, o.Args)
}

// maxFlushLoops is ip's max_flush_loops: rounds before flush gives up.
const maxFlushLoops = 10

// flushed is print_addrinfo's filter when it flushes.
func (a AddrArgs) flushed(x netlinkx.Addr, index int32, name string) bool {
	if index != 0 && x.Index != index || a.ScopeSet && x.Scope != a.Scope ||
		a.Family != unix.AF_UNSPEC && x.Family != a.Family || (x.Flags^a.Flags)&a.FlagMask != 0 {
		return false
	}
	if a.Label != "" {
		label := x.Label
		if label == "" {
			label = name
		}
		if ok, _ := path.Match(a.Label, label); !ok {
			return false
		}
	}
	return inPrefix(x.Local, a.To)
}

// addrFlush is ipaddr_flush: every round deletes the addresses selected
// in a fresh dump, until a dump selects none. An address already gone
// (a secondary the kernel deleted with its primary) is no error, as ip
// sends its deletions without waiting for their answers.
func addrFlush(o *AddrOptions, c *netlinkx.Client) error {
	var index int32
	if o.Args.Dev != "" {
		l, err := c.Link(o.Args.Dev)
		if err != nil {
			if e, ok := Errno(err); ok && e == unix.ENODEV {
				//lint:ignore ST1005 iproute2's message, word for word
				return fmt.Errorf("Device %q does not exist.", o.Args.Dev)
			}
			return opError("addr flush", err)
		}
		index = l.Index
	}
	stats, w := o.F.Globals.Stats, o.F.IO.Out
	for round := 0; round < maxFlushLoops; round++ {
		links, err := c.Links()
		if err != nil {
			return opError("addr flush", err)
		}
		names := make(map[int32]string, len(links))
		for _, l := range links {
			names[l.Index] = l.Name
		}
		addrs, err := c.Addrs()
		if err != nil {
			return opError("addr flush", err)
		}
		n := 0
		for _, x := range addrs {
			if !o.Args.flushed(x, index, names[x.Index]) {
				continue
			}
			if stats > 1 {
				p := NewPrinter()
				PrintAddr(p, x)
				fmt.Fprintf(w, "%d: %s%s", x.Index, names[x.Index], p.TextOut())
			}
			err := c.DelAddr(netlinkx.Addr{Index: x.Index, Family: x.Family, PrefixLen: x.PrefixLen, Local: x.Local})
			if e, ok := Errno(err); err != nil && !(ok && e == unix.EADDRNOTAVAIL) {
				return opError("addr flush", err)
			}
			n++
		}
		if flushRoundEnd(w, stats, round, n, "addresses") {
			return nil
		}
	}
	return opError("addr flush", fmt.Errorf("*** Flush remains incomplete after %d rounds. ***", maxFlushLoops))
}

// printAddrLinks prints links and their addresses as addr show does with
// the global options g.
func printAddrLinks(w io.Writer, links []netlinkx.Link, byIndex map[int32]*netlinkx.Link, addrs []netlinkx.Addr, g *Globals, a AddrArgs) error {
	v := AddrView{Family: familyNumber(g.Family), Stats: g.Stats, Details: g.Details > 0, Oneline: g.Oneline, Brief: g.Brief}
	// Without a device, ip -6 dumps the links of the inet6 family.
	v.Reduced = v.Family == unix.AF_INET6 && a.Dev == ""
	objs := make([]*Obj, 0, len(links))
	var text strings.Builder
	for _, l := range links {
		if a.Up && l.Flags&unix.IFF_UP == 0 || !v.LinkListed(l, addrs) {
			continue
		}
		p := NewPrinter()
		var parent *netlinkx.Link
		if l.ParentIndex != 0 {
			parent = byIndex[l.ParentIndex]
		}
		PrintAddrLink(p, l, parent, addrs, v)
		text.WriteString(p.TextOut())
		objs = append(objs, p.Object())
	}
	if g.JSON {
		return writeJSON(w, objs, g.Pretty)
	}
	_, err := io.WriteString(w, text.String())
	return err
}

// familyNumber is the address family of a --family name: 0 for all.
func familyNumber(name string) uint8 {
	switch name {
	case "inet":
		return unix.AF_INET
	case "inet6":
		return unix.AF_INET6
	case "link":
		return unix.AF_PACKET
	}
	return unix.AF_UNSPEC
}

// completeAddrArgs completes ip address keywords and device names.
func completeAddrArgs(f *Factory, verb string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		nd := cobra.ShellCompDirectiveNoFileComp
		prev := ""
		if len(args) > 0 {
			prev = args[len(args)-1]
		}
		switch prev {
		case "dev":
			return linkNames(f), nd
		case "scope":
			return []string{"global", "link", "host", "site", "nowhere"}, nd
		case "brd", "broadcast", "label", "local", "to":
			return nil, nd
		}
		if verb == "flush" {
			return append([]string{"dev", "scope", "to", "label", "up"}, linkNames(f)...), nd
		}
		if verb == "show" {
			return append([]string{"dev", "up"}, linkNames(f)...), nd
		}
		return []string{"dev", "brd", "broadcast", "label", "scope", "local"}, nd
	}
}

// addrMan is the page text of ibctl-addr(8).
var addrMan = ManDoc{
	Synopsis: []string{
		"ibctl addr add IFADDR dev IFNAME",
		"ibctl addr del IFADDR dev IFNAME",
		"ibctl addr show [ [ dev ] IFNAME ] [ up ]",
		"ibctl addr flush [ [ dev ] IFNAME ] [ scope SCOPE-ID ] [ to PREFIX ] [ label PATTERN ] [ up ]",
		"IFADDR := PREFIX [ broadcast ADDR | brd { ADDR | + | - } ] [ label LABEL ] [ scope SCOPE-ID ]",
		"SCOPE-ID := [ host | link | global | site | nowhere | NUMBER ]",
	},
	Examples: []ManItem{
		{"ibctl addr add 10.0.0.1/24 brd + dev ib0", "Adds 10.0.0.1/24 to ib0 with the broadcast address 10.0.0.255."},
		{"ibctl -br -4 addr", "Shows each interface's state and IPv4 addresses on one line."},
		{"ibctl -j addr show dev ib0", "Shows ib0's addresses as ip -j address show does."},
		{"ibctl addr del 10.0.0.1/24 dev ib0", "Deletes the address."},
		{"ibctl -s addr flush dev ib0 scope global", "Deletes ib0's global addresses, printing each round."},
	},
	SeeAlso: []string{"ibctl(8)", "ibctl-link(8)", "ibctl-neigh(8)", "ibctl-route(8)", "ip-address(8)"},
}

// flushRoundEnd prints, with -s, what ip's flush loops (ipaddr_flush,
// do_show_or_flush) print after a round that deleted n objects (noun:
// "addresses", "entries"), and reports whether the flush is done: a
// round that deleted nothing ends it.
func flushRoundEnd(w io.Writer, stats, round, n int, noun string) bool {
	if n == 0 {
		if stats > 0 {
			if round == 0 {
				fmt.Fprintln(w, "Nothing to flush.")
			} else {
				plural := ""
				if round > 1 {
					plural = "s"
				}
				fmt.Fprintf(w, "*** Flush is complete after %d round%s ***\n", round, plural)
			}
		}
		return true
	}
	if stats > 0 {
		fmt.Fprintf(w, "\n*** Round %d, deleting %d %s ***\n", round+1, n, noun)
	}
	return false
}
