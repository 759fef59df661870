package ibctl

import (
	"fmt"
	"io"
	"strings"

	"github.com/ibctl/ibctl/netlinkx"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// NeighOptions are the inputs of neigh show and neigh flush.
type NeighOptions struct {
	F *Factory
	// Client connects to the driver when the command needs it: the
	// factory's connection, or what a test gives.
	Client func() (*netlinkx.Client, error)
	Flush  bool
	Args   NeighArgs
}

// NeighArgs is a parsed `neigh show` argument list, in the grammar of
// iproute2's ip neigh show.
type NeighArgs struct {
	Dev string
	// State selects entries by NUD_* bit; 0x100 selects entries in
	// NUD_NONE. The default is every state but NOARP.
	State  uint32
	Family uint8      // 0, or the family of the "to" prefix
	To     inetPrefix // entries whose address is in this prefix (no family: all)
}

// nudNames are the NUD_* states in print_neigh_state order.
var nudNames = []struct {
	bit  uint16
	name string
}{
	{unix.NUD_INCOMPLETE, "INCOMPLETE"}, {unix.NUD_REACHABLE, "REACHABLE"}, {unix.NUD_STALE, "STALE"},
	{unix.NUD_DELAY, "DELAY"}, {unix.NUD_PROBE, "PROBE"}, {unix.NUD_FAILED, "FAILED"},
	{unix.NUD_NOARP, "NOARP"}, {unix.NUD_PERMANENT, "PERMANENT"},
}

// neighFlagNames are the NTF_* flags print_neigh shows, in its order.
var neighFlagNames = []struct {
	bit  uint8
	name string
}{
	{unix.NTF_ROUTER, "router"}, {unix.NTF_PROXY, "proxy"}, {unix.NTF_EXT_LEARNED, "extern_learn"}, {unix.NTF_OFFLOADED, "offload"},
}

// NewCmdNeigh is `ibctl neigh`, the iproute2 `ip neigh` object; runF,
// when not nil, gets the parsed options instead of running.
func NewCmdNeigh(f *Factory, runF func(*NeighOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "neigh",
		Aliases: []string{"n", "ne", "nei", "neig", "neighb", "neighbo", "neighbor", "neighbou", "neighbour"},
		Short:   "Show and flush the neighbour (ARP) table (ip neigh)",
		Long: `Show and flush the node's neighbour table with the grammar of ip neigh (iproute2):

  ibctl neigh show [ to PREFIX ] [ dev DEV ] [ nud STATE ]...
  ibctl neigh flush [ to PREFIX ] [ dev DEV ] [ nud STATE ]...
  ibctl -s [ -s ] neigh { show | flush } [ to PREFIX ] [ dev DEV ] [ nud STATE ]...

  STATE := { permanent | noarp | stale | reachable | none | incomplete | delay | probe | failed | all }

show prints what "ip neigh show" prints; with -j the keys of "ip -j neigh show".
Without nud, entries in NOARP state are not shown. With -s each entry has ip's
statistics after its flags: "ref N" when N is not 0, "used U/C/P", the seconds since it
was used, confirmed and updated, and "probes N" (-j: refcnt, used, confirmed, updated,
probes).
flush deletes the entries it selects, as "ip neigh flush" does: it needs at least one
argument and, without nud, deletes every entry but PERMANENT and NOARP ones; with -s it
prints each round and "*** Flush is complete after 1 round ***" (or "Nothing to
flush."); with -s -s it also prints each entry it deletes, with its statistics, before
its round.`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			a, _ := parseNeighArgs(nil, familyNumber(f.Globals.Family))
			return runOr(&NeighOptions{F: f, Client: connector(f), Args: a}, runF, neighRun)
		}),
	}
	show := &cobra.Command{
		Use:                   "show ARGS...",
		Aliases:               []string{"s", "sh", "sho", "l", "li", "lis", "list", "ls", "lst"},
		Short:                 "Show neighbours (ip neigh show)",
		DisableFlagsInUseLine: true,
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			nd := cobra.ShellCompDirectiveNoFileComp
			if len(args) > 0 {
				switch args[len(args)-1] {
				case "dev":
					return linkNames(f), nd
				case "nud":
					return []string{"all", "permanent", "noarp", "stale", "reachable", "none", "incomplete", "delay", "probe", "failed"}, nd
				case "to":
					return nil, nd
				}
			}
			return []string{"dev", "nud", "to"}, nd
		},
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			a, err := parseNeighArgs(args, familyNumber(f.Globals.Family))
			if err != nil {
				return prefixUsage("neigh show", err)
			}
			return runOr(&NeighOptions{F: f, Client: connector(f), Args: a}, runF, neighRun)
		}),
	}
	show.Flags().SetInterspersed(false)
	flush := &cobra.Command{
		Use:                   "flush ARGS...",
		Aliases:               []string{"f", "fl", "flu", "flus"},
		Short:                 "Delete the neighbours a selector picks (ip neigh flush)",
		DisableFlagsInUseLine: true,
		ValidArgsFunction:     show.ValidArgsFunction,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("neigh flush: Flush requires arguments.")
			}
			a, err := parseNeighFilter(args, familyNumber(f.Globals.Family), true)
			if err != nil {
				return prefixUsage("neigh flush", err)
			}
			return runOr(&NeighOptions{F: f, Client: connector(f), Flush: true, Args: a}, runF, neighRun)
		}),
	}
	flush.Flags().SetInterspersed(false)
	cmd.AddCommand(show, flush, helpVerb())
	return cmd
}

// nudStateByName is ipneigh.c's nud_state_a2n: a state name (permanent,
// reachable and failed by prefix), or a number with one bit below 0x100.
func nudStateByName(arg string) (uint32, bool) {
	switch {
	case matches(arg, "permanent"):
		return unix.NUD_PERMANENT, true
	case matches(arg, "reachable"):
		return unix.NUD_REACHABLE, true
	case arg == "noarp":
		return unix.NUD_NOARP, true
	case arg == "none":
		return unix.NUD_NONE, true
	case arg == "stale":
		return unix.NUD_STALE, true
	case arg == "incomplete":
		return unix.NUD_INCOMPLETE, true
	case arg == "delay":
		return unix.NUD_DELAY, true
	case arg == "probe":
		return unix.NUD_PROBE, true
	case matches(arg, "failed"):
		return unix.NUD_FAILED, true
	}
	v, ok := getUnsigned(arg)
	if !ok || v >= 0x100 || v&(v-1) != 0 {
		return 0, false
	}
	return v, true
}

// ParseNeighArgs parses the arguments of neigh show as ipneigh.c's
// do_show_or_flush does.
func ParseNeighArgs(args []string) (NeighArgs, error) { return parseNeighArgs(args, unix.AF_UNSPEC) }

// parseNeighArgs is ParseNeighArgs for the family the global options
// select (ip -4, -6, -0), which a "to" prefix must be of.
func parseNeighArgs(args []string, family uint8) (NeighArgs, error) {
	return parseNeighFilter(args, family, false)
}

// parseNeighFilter is do_show_or_flush's argument loop: flush selects by
// default every state but PERMANENT and NOARP, and its "nud all" leaves
// NOARP out.
func parseNeighFilter(args []string, family uint8, flush bool) (NeighArgs, error) {
	a := NeighArgs{State: 0xff &^ unix.NUD_NOARP, Family: family}
	if flush {
		a.State = ^uint32(unix.NUD_PERMANENT | unix.NUD_NOARP)
	}
	stateGiven := false
	w := &addrArgs{args: args}
	for ; w.i < len(args); w.i++ {
		arg := args[w.i]
		switch {
		case arg == "dev":
			v, err := w.next()
			if err != nil {
				return a, err
			}
			if a.Dev != "" {
				return a, usagef("Error: duplicate \"dev\": %q is the second value.", v)
			}
			a.Dev = v
		case arg == "nud":
			v, err := w.next()
			if err != nil {
				return a, err
			}
			if !stateGiven {
				stateGiven, a.State = true, 0
			}
			st, ok := nudStateByName(v)
			if !ok {
				if v != "all" {
					return a, usagef("Error: argument %q is wrong: nud state is bad", v)
				}
				st = ^uint32(0)
				if flush {
					st &^= unix.NUD_NOARP
				}
			}
			if st == 0 {
				st = 0x100
			}
			a.State |= st
		case arg == "master" || arg == "vrf" || arg == "unused" || arg == "proxy" || matches(arg, "protocol"):
			return a, usagef("%q is not supported", arg)
		default:
			if arg == "to" {
				v, err := w.next()
				if err != nil {
					return a, err
				}
				arg = v
			}
			if matches(arg, "help") {
				return a, usagef("%s", neighUsage)
			}
			p, ok := getPrefix(arg, a.Family)
			if !ok {
				return a, usagef("Error: %s prefix is expected rather than %q.", familyNameVerbose(a.Family), arg)
			}
			a.To = p
			if a.Family == unix.AF_UNSPEC {
				a.Family = p.family
			}
		}
	}
	return a, nil
}

const neighUsage = `Usage: ibctl neigh { show | flush } [ to PREFIX ] [ dev DEV ] [ nud STATE ]
STATE := { permanent | noarp | stale | reachable | none |
           incomplete | delay | probe | failed | all }`

// inPrefix is iproute2's inet_addr_match_rta: whether dst lies in p (any
// address does when p has no family or no length).
func inPrefix(dst []byte, p inetPrefix) bool {
	if dst == nil || p.family == unix.AF_UNSPEC || p.bitlen <= 0 {
		return true
	}
	if len(dst) != len(p.data) {
		return false
	}
	for i := 0; i < p.bitlen; i++ {
		m := byte(0x80) >> (i % 8)
		if dst[i/8]&m != p.data[i/8]&m {
			return false
		}
	}
	return true
}

// selected is print_neigh's filter.
func (a NeighArgs) selected(n netlinkx.Neigh, index int32) bool {
	if a.Family != unix.AF_UNSPEC && a.Family != n.Family {
		return false
	}
	if index != 0 && index != n.Index {
		return false
	}
	if uint32(n.State)&a.State == 0 && n.Flags&(unix.NTF_PROXY|unix.NTF_EXT_LEARNED) == 0 &&
		(n.State != 0 || a.State&0x100 == 0) {
		return false
	}
	return inPrefix(n.Dst, a.To)
}

// neighMaxRounds is ipneigh.c's MAX_ROUNDS: flush rounds before it gives
// up.
const neighMaxRounds = 10

func neighRun(o *NeighOptions) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	var index int32
	if o.Args.Dev != "" {
		l, err := lookupLink(c, o.Args.Dev)
		if err != nil {
			return err
		}
		index = l.Index
	}
	if o.Flush {
		return neighFlush(o, c, index)
	}
	names, err := neighDevNames(c, index)
	if err != nil {
		return opError("neigh show", err)
	}
	neighs, err := c.Neighs()
	if err != nil {
		return opError("neigh show", err)
	}
	return printNeighs(o.F.IO.Out, neighs, names, o.Args, index, o.F.Globals)
}

// printNeighs prints the entries a selects on the device of index (0:
// any) as ip neigh show does, with the statistics under -s, as JSON
// under -j.
func printNeighs(w io.Writer, neighs []netlinkx.Neigh, names neighNames, a NeighArgs, index int32, g *Globals) error {
	objs := []*Obj{}
	var text strings.Builder
	for _, n := range neighs {
		if !a.selected(n, index) {
			continue
		}
		p := NewPrinter()
		PrintNeigh(p, n, names.dev(n.Index), g.Stats > 0)
		text.WriteString(p.TextOut())
		objs = append(objs, p.Object())
	}
	if g.JSON {
		return writeJSON(w, objs, g.Pretty)
	}
	_, err := io.WriteString(w, text.String())
	return err
}

// neighNames names the devices of a listing: empty when it is for one
// device (print_neigh leaves the device out then), else by index.
type neighNames map[int32]string

// neighDevNames reads the link names a listing needs: none when index
// selects one device.
func neighDevNames(c *netlinkx.Client, index int32) (neighNames, error) {
	if index != 0 {
		return nil, nil
	}
	links, err := c.Links()
	if err != nil {
		return nil, err
	}
	names := make(neighNames, len(links))
	for _, l := range links {
		names[l.Index] = l.Name
	}
	return names, nil
}

// dev is the name print_neigh shows for the entry's device: none for a
// one-device listing or an entry without a device, ll_index_to_name's
// "ifN" for an index without a link.
func (names neighNames) dev(index int32) string {
	if names == nil || index == 0 {
		return ""
	}
	if dev := names[index]; dev != "" {
		return dev
	}
	return fmt.Sprintf("if%d", index)
}

// neighFlush is do_show_or_flush's flush: every round deletes the
// entries selected in a fresh dump, until a dump selects none; rounds
// after the first leave FAILED entries alone. An entry already gone is
// no error, as ip sends its deletions without waiting for their answers.
// With -s -s, each entry is printed with its statistics as it is
// selected, before its round's line; ip prints them as text even with
// -j, its flush having no JSON output.
func neighFlush(o *NeighOptions, c *netlinkx.Client, index int32) error {
	a, w, stats := o.Args, o.F.IO.Out, o.F.Globals.Stats
	var names neighNames
	if stats > 1 {
		var err error
		if names, err = neighDevNames(c, index); err != nil {
			return opError("neigh flush", err)
		}
	}
	for round := 0; round < neighMaxRounds; round++ {
		neighs, err := c.Neighs()
		if err != nil {
			return opError("neigh flush", err)
		}
		n := 0
		for _, x := range neighs {
			if !a.selected(x, index) {
				continue
			}
			if stats > 1 {
				p := NewPrinter()
				PrintNeigh(p, x, names.dev(x.Index), true)
				if _, err := io.WriteString(w, p.TextOut()); err != nil {
					return err
				}
			}
			err := c.DelNeigh(x)
			if e, ok := Errno(err); err != nil && !(ok && e == unix.ENOENT) {
				return opError("neigh flush", err)
			}
			n++
		}
		if flushRoundEnd(w, stats, round, n, "entries") {
			return nil
		}
		a.State &^= unix.NUD_FAILED
	}
	fmt.Fprintf(w, "*** Flush not complete bailing out after %d rounds\n", neighMaxRounds)
	return opError("neigh flush", fmt.Errorf("not complete after %d rounds", neighMaxRounds))
}

// PrintNeigh prints one entry as ipneigh.c's print_neigh does (iproute2
// 6.1), and builds its `ip -j neigh` object from the same calls. dev is
// the device name, empty when the listing is for one device (ip then
// leaves it out); stats adds the entry's statistics, as ip -s does.
func PrintNeigh(p *Printer, n netlinkx.Neigh, dev string, stats bool) {
	if n.Dst != nil {
		p.Any("dst", "%s ", formatHost(n.Family, n.Dst))
	}
	if dev != "" {
		p.Text("dev ")
		p.Any("dev", "%s ", dev)
	}
	if n.LLAddr != nil {
		p.Text("lladdr ")
		p.Any("lladdr", "%s ", hwString(n.LLAddr))
	}
	for _, f := range neighFlagNames {
		if n.Flags&f.bit != 0 {
			p.Text(f.name + " ")
			p.Any(f.name, "", nil)
		}
	}
	if stats {
		printNeighStats(p, n)
	}
	if n.State != 0 {
		states := []string{}
		for _, s := range nudNames {
			if n.State&s.bit != 0 {
				p.Text(s.name + " ")
				states = append(states, s.name)
			}
		}
		p.Any("state", "", states)
	}
	p.Text("\n")
}

// printNeighStats is print_neigh's statistics under -s: print_cacheinfo
// (the reference count only when not zero; the times since the entry
// was used, confirmed and updated, in whole seconds of the clock_t
// ticks), then NDA_PROBES, with ip 6.1's spacing.
func printNeighStats(p *Printer, n netlinkx.Neigh) {
	if n.Refcnt != 0 {
		p.Any("refcnt", " ref %d", n.Refcnt)
	}
	p.Any("used", " used %d", n.Used/userHZ)
	p.Any("confirmed", "/%d", n.Confirmed/userHZ)
	p.Any("updated", "/%d", n.Updated/userHZ)
	p.Any("probes", "probes %d ", n.Probes)
}

// userHZ is get_user_hz's answer: the clock_t ticks of a second.
const userHZ = 100

// neighMan is the page text of ibctl-neigh(8).
var neighMan = ManDoc{
	Synopsis: []string{
		"ibctl neigh show [ to PREFIX ] [ dev DEV ] [ nud STATE ]...",
		"ibctl neigh flush [ to PREFIX ] [ dev DEV ] [ nud STATE ]...",
		"ibctl -s [ -s ] neigh { show | flush } [ to PREFIX ] [ dev DEV ] [ nud STATE ]...",
		"STATE := { permanent | noarp | stale | reachable | none | incomplete | delay | probe | failed | all }",
	},
	Examples: []ManItem{
		{"ibctl neigh show dev ib0", "Shows the neighbours ib0 resolved, with their 20-byte IPoIB hardware addresses."},
		{"ibctl -j neigh show nud reachable", "Shows the reachable entries as JSON."},
		{"ibctl -s neigh show", "Shows each entry's reference count, the seconds since it was used, confirmed and updated, and its probes."},
		{"ibctl -s neigh flush dev ib0", "Deletes ib0's entries but PERMANENT and NOARP ones, printing each round."},
		{"ibctl -s -s neigh flush dev ib0", "Deletes them, printing each entry with its statistics, then each round."},
	},
	SeeAlso: []string{"ibctl(8)", "ibctl-addr(8)", "ibctl-ping(8)", "ip-neighbour(8)"},
}
