package ibctl

import (
	"fmt"
	"io"
	"strings"

	"github.com/ibctl/ibctl/netlinkx"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// AddrOptions are the inputs of every addr verb.
type AddrOptions struct {
	F    *Factory
	Verb string // "add", "delete" or "show"
	Args AddrArgs
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

  IFADDR := PREFIX [ broadcast ADDR | brd { ADDR | + | - } ] [ label LABEL ] [ scope SCOPE-ID ]
  SCOPE-ID := [ host | link | global | site | nowhere | NUMBER ]

show prints what "ip address show" prints; with -j the keys of "ip -j address show".
The global options -s, -d, -br, -o and -4, -6 or -0 (ibctl -br -4 addr) select what ip's
do.
Addresses never expire: valid_lft and preferred_lft are forever. As the kernel does, an
interface whose link comes up gets its IPv6 link-local address (fe80::/64 and the port
GUID with 0x02 ORed into its first byte), and going down removes every IPv6 address.`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			return runOr(&AddrOptions{F: f, Verb: "show"}, runF, addrRun)
		}),
	}
	cmd.AddCommand(
		newAddrVerb(f, runF, "add", []string{"a", "ad"}, "Add an address (ip address add)"),
		newAddrVerb(f, runF, "delete", []string{"d", "de", "del", "dele", "delet"}, "Delete an address (ip address del)"),
		newAddrVerb(f, runF, "show", []string{"s", "sh", "sho", "l", "li", "lis", "list", "ls", "lst"}, "Show links and their addresses (ip address show)"),
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
			if err != nil {
				return prefixUsage(addrWhat(verb), err)
			}
			return runOr(&AddrOptions{F: f, Verb: verb, Args: a}, runF, addrRun)
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
	c, err := o.F.client()
	if err != nil {
		return err
	}
	if o.Verb == "show" {
		return addrShow(o, c)
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
		case "brd", "broadcast", "label", "local":
			return nil, nd
		}
		if verb == "show" {
			return append([]string{"dev", "up"}, linkNames(f)...), nd
		}
		return []string{"dev", "brd", "broadcast", "label", "scope", "local"}, nd
	}
}
