package ibctl

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ibctl/ibctl/netlinkx"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// LinkOptions are the inputs of every link verb.
type LinkOptions struct {
	F *Factory
	// Client connects to the driver when the command needs it: the
	// factory's connection, or what a test gives.
	Client func() (*netlinkx.Client, error)
	Verb   string
	Args   LinkArgs
	Stats  int // -s, counted: 2 adds the error rows
}

// NewCmdLink is `ibctl link`, the iproute2 `ip link` object. Every verb
// calls runF, when not nil, with its parsed options instead of running.
func NewCmdLink(f *Factory, runF func(*LinkOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "link",
		Short: "Show and change IPoIB links (ip link)",
		Long: `Show and change IPoIB network devices with the grammar of ip link (iproute2):

  ibctl link show [ -s [ -s ] ] [ [dev] DEVICE ] [ up ] [ type TYPE ]
  ibctl link add link PARENT [ name NAME ] [ mtu MTU ] [ up ] type ipoib [ pkey PKEY ] [ mode { datagram | connected } ] [ umcast { 0 | 1 } ]
  ibctl link delete [ dev ] DEVICE
  ibctl link set [ dev ] DEVICE [ up | down ] [ mtu MTU ] [ type ipoib [ mode { datagram | connected } ] [ umcast { 0 | 1 } ] ]

show prints what "ip -d link show" prints (-s adds the statistics of "ip -s", twice the
error rows); with -j the keys of "ip -j -d link show". The global options -br and -o
(ibctl -br link) print ip's brief and one-line formats. "up" shows only the links that
are up, "type TYPE" only those of that kind: every link is ipoib, so another TYPE shows
none (with -j an empty object for each link, as ip prints them).`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			return runOr(&LinkOptions{F: f, Client: connector(f), Verb: "show"}, runF, linkRun)
		}),
	}
	cmd.AddCommand(
		newLinkVerb(f, runF, "show", []string{"list", "lst", "ls"}, "Show links (ip -d link show)"),
		newLinkVerb(f, runF, "add", []string{"a"}, "Add an IPoIB child interface (ip link add ... type ipoib)"),
		newLinkVerb(f, runF, "delete", []string{"del", "d"}, "Delete a child interface (ip link del)"),
		newLinkVerb(f, runF, "set", []string{"change"}, "Change a link: up/down, mtu, ipoib mode and umcast (ip link set)"),
		helpVerb(),
	)
	return cmd
}

func newLinkVerb(f *Factory, runF func(*LinkOptions) error, verb string, aliases []string, short string) *cobra.Command {
	cmd := &cobra.Command{
		Use:                   verb + " ARGS...",
		Aliases:               aliases,
		Short:                 short,
		DisableFlagsInUseLine: true,
		ValidArgsFunction:     completeLinkArgs(f, verb),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			a, err := ParseLinkArgs(verb, args)
			if err != nil {
				return prefixUsage("link "+verb, err)
			}
			return runOr(&LinkOptions{F: f, Client: connector(f), Verb: verb, Args: a, Stats: f.Globals.Stats}, runF, linkRun)
		}),
	}
	if verb == "add" || verb == "delete" {
		cmd.Annotations = batchAhead()
	}
	if verb == "show" {
		cmd.Flags().CountVarP(&f.Globals.Stats, "stats", "s", "print statistics (twice: with the error rows), as ip -s")
	}
	cmd.Flags().SetInterspersed(false)
	return cmd
}

// prefixUsage names the command in a usage error.
func prefixUsage(what string, err error) error {
	var ue *UsageError
	if errors.As(err, &ue) && !strings.HasPrefix(ue.Msg, what) {
		return &UsageError{Msg: what + ": " + ue.Msg}
	}
	return err
}

func linkRun(o *LinkOptions) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	switch o.Verb {
	case "show":
		return linkShow(o, c)
	case "add":
		return linkAdd(o, c)
	case "delete":
		if _, err := lookupLink(c, o.Args.Dev); err != nil {
			return err
		}
		return o.F.later(c.SendDelLink(o.Args.Dev), func(err error) error {
			if err != nil {
				return opError("link delete "+o.Args.Dev, err)
			}
			return nil
		})
	case "set":
		return linkSet(o, c)
	}
	return usagef("link: unknown verb %q", o.Verb)
}

// lookupLink resolves a device name, as ll_name_to_index does.
func lookupLink(c *netlinkx.Client, name string) (netlinkx.Link, error) {
	l, err := c.Link(name)
	if err != nil {
		if e, ok := Errno(err); ok && e == unix.ENODEV {
			//lint:ignore ST1005 iproute2's message, word for word
			return l, fmt.Errorf("Cannot find device %q", name)
		}
		return l, opError("link "+name, err)
	}
	return l, nil
}

func linkAdd(o *LinkOptions, c *netlinkx.Client) error {
	a := o.Args
	p, err := lookupLink(c, a.Parent)
	if err != nil {
		return err
	}
	r := netlinkx.LinkRequest{Name: a.Dev, ParentIndex: p.Index, Up: a.Up, MTU: a.MTU, Kind: "ipoib",
		PKey: a.PKey, Mode: a.Mode, Umcast: a.Umcast}
	return o.F.later(c.SendNewLink(r), func(err error) error {
		if err != nil {
			return opError("link add", err)
		}
		return nil
	})
}

func linkSet(o *LinkOptions, c *netlinkx.Client) error {
	a := o.Args
	if _, err := lookupLink(c, a.Dev); err != nil {
		return err
	}
	r := netlinkx.LinkRequest{Name: a.Dev, Up: a.Up, MTU: a.MTU, Kind: a.Type, PKey: a.PKey, Mode: a.Mode, Umcast: a.Umcast}
	if err := c.SetLink(r); err != nil {
		return opError("link set "+a.Dev, err)
	}
	return nil
}

func linkShow(o *LinkOptions, c *netlinkx.Client) error {
	links, byIndex, err := linksToShow(c, "link show", o.Args.Dev)
	if err != nil {
		return err
	}
	return printLinks(o.F.IO.Out, links, byIndex, o.F.Globals, o.Stats, o.Args.shown)
}

// shown is print_linkinfo's filter of link show's "up" and "type": the
// link is up, and of the kind "type" names. Every link is IPoIB, the only
// kind the node's kernel knows, so another kind is not filtered by the
// kernel's dump but by ip, and a KIND_slave matches nothing: no IPoIB
// link has a master.
func (a LinkArgs) shown(l netlinkx.Link) bool {
	if a.ShowUp && l.Flags&unix.IFF_UP == 0 {
		return false
	}
	if a.ShowType != nil {
		if strings.HasSuffix(*a.ShowType, "_slave") || *a.ShowType != l.Kind {
			return false
		}
	}
	return true
}

// linksToShow returns the links a show command prints (one device, or
// all) and every link by index, which names parents (ib0.8001@ib0).
func linksToShow(c *netlinkx.Client, what, dev string) ([]netlinkx.Link, map[int32]*netlinkx.Link, error) {
	var links []netlinkx.Link
	if dev != "" {
		l, err := c.Link(dev)
		if err != nil {
			if e, ok := Errno(err); ok && e == unix.ENODEV {
				//lint:ignore ST1005 iproute2's message, word for word
				return nil, nil, fmt.Errorf("Device %q does not exist.", dev)
			}
			return nil, nil, opError(what, err)
		}
		links = []netlinkx.Link{l}
	}
	all, err := c.Links()
	if err != nil {
		return nil, nil, opError(what, err)
	}
	if links == nil {
		links = all
	}
	byIndex := make(map[int32]*netlinkx.Link, len(all))
	for i := range all {
		byIndex[all[i].Index] = &all[i]
	}
	return links, byIndex, nil
}

// printLinks prints links as ip link show does. A link that shown (nil:
// every link) refuses prints nothing, and in JSON an empty object, as
// ip's print_linkinfo leaves the object it opened for the link.
func printLinks(w io.Writer, links []netlinkx.Link, byIndex map[int32]*netlinkx.Link, g *Globals, stats int, shown func(netlinkx.Link) bool) error {
	objs := make([]*Obj, 0, len(links))
	var text strings.Builder
	for _, l := range links {
		p := NewPrinter()
		if shown != nil && !shown(l) {
			objs = append(objs, p.Object())
			continue
		}
		var parent *netlinkx.Link
		if l.ParentIndex != 0 {
			parent = byIndex[l.ParentIndex]
		}
		if g.Brief {
			PrintLinkBrief(p, l, parent, true)
		} else {
			PrintLink(p, l, parent, stats)
		}
		if g.Oneline {
			text.WriteString(onelineText(p.TextOut()))
		} else {
			text.WriteString(p.TextOut())
		}
		objs = append(objs, p.Object())
	}
	if g.JSON {
		return writeJSON(w, objs, g.Pretty)
	}
	_, err := io.WriteString(w, text.String())
	return err
}

// linkMan is the page text of ibctl-link(8).
var linkMan = ManDoc{
	Synopsis: []string{
		"ibctl link show [ -s [ -s ] ] [ [dev] DEVICE ] [ up ] [ type TYPE ]",
		"ibctl link add link PARENT [ name NAME ] [ mtu MTU ] [ up ] type ipoib [ pkey PKEY ] [ mode { datagram | connected } ] [ umcast { 0 | 1 } ]",
		"ibctl link delete [ dev ] DEVICE",
		"ibctl link set [ dev ] DEVICE [ up | down ] [ mtu MTU ] [ type ipoib [ mode { datagram | connected } ] [ umcast { 0 | 1 } ] ]",
		"PKEY := 0x8001-0xffff",
	},
	Examples: []ManItem{
		{"ibctl link show", "Shows every IPoIB link of the node, with the details of ip -d link show."},
		{"ibctl -s -s link show ib0", "Shows ib0 with its statistics and error counters."},
		{"ibctl link add link ib0 name ib0.8001 type ipoib pkey 0x8001 mode connected", "Creates a child of ib0 in partition 0x8001, in connected mode."},
		{"ibctl link set ib0.8001 up mtu 65520", "Brings the child up with the largest MTU connected mode allows."},
		{"ibctl link set dev ib0 type ipoib mode datagram umcast 1", "Switches ib0 to datagram mode and lets it receive user-level multicast."},
		{"ibctl link delete ib0.8001", "Deletes the child."},
	},
	SeeAlso: []string{"ibctl(8)", "ibctl-addr(8)", "ibctl-sys(8)", "ibctl-ethtool(8)", "ip-link(8)"},
}
