package ibctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ibctl/ibctl/netlinkx"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// MonitorOptions are monitor's inputs.
type MonitorOptions struct {
	F *Factory
	// Client connects to the driver when the command needs it: the
	// factory's connection, or what a test gives.
	Client func() (*netlinkx.Client, error)
	Groups uint32 // netlinkx.MonitorLink, ...
	Label  bool   // prefix each event with its object: [LINK], [ADDR], ...
	Dev    string // only the events of this device (and the SM's)
	// Timestamp prints the time of each event as ip -t does, TShort as
	// ip -ts does.
	Timestamp, TShort bool

	loc     *time.Location   // the timestamps' zone: local time
	now     func() time.Time // the timestamps' clock
	started func()           // called once the driver has subscribed
}

// monitorObjects are monitor's objects, in the order their
// abbreviations are tried (ipmonitor.c's matches() chain).
var monitorObjects = []struct {
	name  string
	group uint32
}{
	{"link", netlinkx.MonitorLink},
	{"address", netlinkx.MonitorAddr},
	{"route", netlinkx.MonitorRoute},
	{"neigh", netlinkx.MonitorNeigh},
	{"partition", netlinkx.MonitorPartition},
	{"group", netlinkx.MonitorGroup},
}

// ipMonitorOnly are ip monitor's objects the driver has none of.
var ipMonitorOnly = []string{"mroute", "prefix", "netconf", "rule", "nsid", "nexthop", "stats", "all-nsid", "file"}

const monitorUsage = `Usage: ibctl monitor [ all | OBJECTS ] [ label ] [ dev DEVICE ]
OBJECTS := link | address | route | neigh | partition | group`

// NewCmdMonitor is `ibctl monitor`: ip monitor on the node's changes and
// the subnet manager's; runF, when not nil, gets the parsed options
// instead of running.
func NewCmdMonitor(f *Factory, runF func(*MonitorOptions) error) *cobra.Command {
	o := &MonitorOptions{F: f, Client: connector(f)}
	cmd := &cobra.Command{
		Use:   "monitor [all | link | address | route | neigh | partition | group]... [label] [dev DEVICE] [-t | --tshort]",
		Short: "Watch the node's changes as ip monitor does",
		Long: `Print the node's changes as they happen, as "ip monitor" (iproute2 6.1) prints the
kernel's rtnetlink notifications, until interrupted (Ctrl-C) or the reader of its output
goes; both end it with status 0. The driver going away ends it with an error (status 1).

  ` + strings.ReplaceAll(monitorUsage, "\n", "\n  ") + `

Objects may be abbreviated as ip's (li, a, r, n); none, or "all", watches every one, and
"all" or "label" prefixes each event with its object ([LINK], [ADDR], [ROUTE], [NEIGH],
[PARTITION], [GROUP]). "dev DEVICE" keeps the events of one interface (and the subnet
manager's). A deletion starts with "Deleted ".

  link       a link created, changed (up or down, carrier, MTU, mode, name, queue length)
             or deleted, as ip link prints it without the queue length:
             4: ib0.8001@ib0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 2044 qdisc pfifo_fast
             state UP group default  (and the link/infiniband line)
  address    an address added or deleted, as ip address prints it
  route      a prefix route an address makes, as ip route prints it
  neigh      a neighbour entry's new state, or its deletion, as ip neigh prints it
  partition  a partition of the subnet manager added, changed or deleted:
             partition 0x8001 ib_mtu 4096 [all full|limited]
  group      a port joining a multicast group, changing its join state, or leaving:
             group MGID mlid 0xc001 pkey 0x8001 member NODE/PORT JOINSTATE

-t (or the global -t before the object, as ip -t) prints "Timestamp: <ctime> N usec" on
a line before each event, --tshort (ip -ts) "[2026-12-07T16:49:58.123456] " before it.
ip monitor has no JSON output: -j is ignored, as ip ignores it. Events a reader does
not take in time are dropped by the driver, as the kernel drops what overruns a
netlink socket, and never hold it up.`,
		Args: cobra.ArbitraryArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			if err := o.parse(args); err != nil {
				return err
			}
			o.Timestamp = o.Timestamp || f.Globals.Timestamp
			o.TShort = o.TShort || f.Globals.TShort
			return runOr(o, runF, monitorRun)
		}),
	}
	cmd.Flags().BoolVarP(&o.Timestamp, "timestamp", "t", false, "print the time of each event on a line before it (ip -t)")
	cmd.ValidArgsFunction = func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"all", "link", "address", "route", "neigh", "partition", "group", "label", "dev"}, cobra.ShellCompDirectiveNoFileComp
	}
	return cmd
}

// parse reads the objects as ipmonitor.c does.
func (o *MonitorOptions) parse(args []string) error {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "all":
			o.Label = true
			continue
		case matches(arg, "label"):
			o.Label = true
			continue
		case arg == "dev":
			if i+1 >= len(args) {
				return usagef("monitor: Command line is not complete. Try \"ibctl monitor help\".")
			}
			i++
			o.Dev = args[i]
			continue
		case matches(arg, "help"):
			return usagef("%s", monitorUsage)
		}
		found := false
		for _, obj := range monitorObjects {
			if matches(arg, obj.name) {
				o.Groups |= obj.group
				found = true
				break
			}
		}
		if found {
			continue
		}
		for _, name := range ipMonitorOnly {
			if matches(arg, name) {
				return usagef("monitor: %s: not supported (the driver has no such events)", name)
			}
		}
		return usagef("monitor: Argument %q is unknown, try \"ibctl monitor help\".", arg)
	}
	if o.Groups == 0 {
		o.Groups = netlinkx.MonitorAll
	}
	return nil
}

func monitorRun(o *MonitorOptions) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A reader that goes makes a write fail with EPIPE, which ends the
	// monitor cleanly, rather than killing the process.
	pipe := make(chan os.Signal, 1)
	signal.Notify(pipe, syscall.SIGPIPE)
	defer signal.Stop(pipe)
	return o.monitor(ctx, c)
}

// monitor runs until ctx is done, the output's reader goes, or the
// driver ends the stream.
func (o *MonitorOptions) monitor(ctx context.Context, c *netlinkx.Client) error {
	if o.loc == nil {
		o.loc = time.Local
	}
	if o.now == nil {
		o.now = time.Now
	}
	links, err := c.Links()
	if err != nil {
		return opError("monitor", err)
	}
	byIndex := map[int32]netlinkx.Link{}
	var devIndex int32
	for _, l := range links {
		byIndex[l.Index] = l
		if l.Name == o.Dev {
			devIndex = l.Index
		}
	}
	if o.Dev != "" && devIndex == 0 {
		return usagef("monitor: Error: argument %q is wrong: Device does not exist", o.Dev)
	}
	out := o.F.IO.Out
	err = c.Monitor(ctx, o.Groups, o.started, func(ev netlinkx.MonitorEvent) error {
		if ev.Kind == netlinkx.MonitorLink {
			if ev.Deleted {
				defer delete(byIndex, ev.Link.Index)
			} else {
				byIndex[ev.Link.Index] = ev.Link
			}
		}
		if devIndex != 0 && eventIndex(ev) != 0 && eventIndex(ev) != devIndex {
			return nil
		}
		if _, err := io.WriteString(out, o.eventText(ev, byIndex)); err != nil {
			if errors.Is(err, unix.EPIPE) {
				return netlinkx.ErrStopMonitor
			}
			return err
		}
		return nil
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, netlinkx.ErrMonitorEnded):
		return fmt.Errorf("monitor: the driver went away")
	case errors.Is(err, unix.ESHUTDOWN):
		return fmt.Errorf("monitor: the driver stopped")
	}
	if _, ok := Errno(err); !ok {
		var op *os.PathError
		if errors.As(err, &op) {
			return fmt.Errorf("monitor: %s: %s", op.Path, reason(op.Err))
		}
	}
	return opError("monitor", err)
}

// eventIndex is the device an event is about, 0 for the SM's.
func eventIndex(ev netlinkx.MonitorEvent) int32 {
	switch ev.Kind {
	case netlinkx.MonitorLink:
		return ev.Link.Index
	case netlinkx.MonitorAddr:
		return ev.Addr.Index
	case netlinkx.MonitorNeigh:
		return ev.Neigh.Index
	case netlinkx.MonitorRoute:
		return ev.Route.Index
	}
	return 0
}

// monitorLabel is the object prefix of ip monitor label; "" for a kind
// without one.
func monitorLabel(kind uint32) string {
	switch kind {
	case netlinkx.MonitorLink:
		return "[LINK]"
	case netlinkx.MonitorAddr:
		return "[ADDR]"
	case netlinkx.MonitorRoute:
		return "[ROUTE]"
	case netlinkx.MonitorNeigh:
		return "[NEIGH]"
	case netlinkx.MonitorPartition:
		return "[PARTITION]"
	case netlinkx.MonitorGroup:
		return "[GROUP]"
	}
	return ""
}

// eventText is one event as ip monitor prints it: the timestamp
// (print_timestamp), the label, "Deleted " and the object as its show
// command prints it.
func (o *MonitorOptions) eventText(ev netlinkx.MonitorEvent, byIndex map[int32]netlinkx.Link) string {
	var b strings.Builder
	if o.Timestamp || o.TShort {
		now := o.now().In(o.loc)
		if o.TShort {
			fmt.Fprintf(&b, "[%s.%06d] ", now.Format("2006-01-02T15:04:05"), now.Nanosecond()/1000)
		} else {
			fmt.Fprintf(&b, "Timestamp: %s %d usec\n", now.Format("Mon Jan _2 15:04:05 2006"), now.Nanosecond()/1000)
		}
	}
	if o.Label {
		b.WriteString(monitorLabel(ev.Kind))
	}
	if ev.Deleted {
		b.WriteString("Deleted ")
	}
	name := func(index int32) string {
		if l, ok := byIndex[index]; ok {
			return l.Name
		}
		return fmt.Sprintf("if%d", index)
	}
	p := NewPrinter()
	switch ev.Kind {
	case netlinkx.MonitorLink:
		l := ev.Link
		var parent *netlinkx.Link
		if l.ParentIndex != 0 && l.ParentIndex != l.Index {
			pl, ok := byIndex[l.ParentIndex]
			if !ok {
				pl = netlinkx.Link{Index: l.ParentIndex, Name: "NONE"}
			}
			parent = &pl
		}
		printLinkLineQ(p, l, parent, false, true)
		p.Text("\n    ")
		printLinkLayer(p, l, true)
		p.Text("\n")
	case netlinkx.MonitorAddr:
		p.Text(fmt.Sprintf("%d: %s", ev.Addr.Index, name(ev.Addr.Index)))
		PrintAddr(p, ev.Addr)
	case netlinkx.MonitorNeigh:
		// the driver's neighbour events carry no statistics
		PrintNeigh(p, ev.Neigh, name(ev.Neigh.Index), false)
	case netlinkx.MonitorRoute:
		PrintTableRoute(p, ev.Route, true)
	case netlinkx.MonitorPartition:
		pt := ev.Partition
		p.Text(fmt.Sprintf("partition 0x%04x ib_mtu %d", pt.PKey, pt.MTU))
		if pt.All != "" {
			p.Text(" all " + pt.All)
		}
		p.Text("\n")
	case netlinkx.MonitorGroup:
		g := ev.Group
		p.Text(fmt.Sprintf("group %s mlid 0x%04x pkey 0x%04x", gidString(g.MGID), g.MLID, g.PKey))
		for _, m := range g.Members {
			p.Text(fmt.Sprintf(" member %s/%d %s", m.Node, m.Port, joinStateName(m.JoinState)))
		}
		p.Text("\n")
	}
	b.WriteString(p.TextOut())
	return b.String()
}

// monitorMan is the page text of ibctl-monitor(8).
var monitorMan = ManDoc{
	Synopsis: []string{
		"ibctl [ -t | -ts ] monitor [ OBJECT ]... [ label ] [ dev DEVICE ] [ -t | --tshort ]",
		"OBJECT := { all | link | address | route | neigh | partition | group }",
	},
	Examples: []ManItem{
		{"ibctl monitor", "Prints every change of the node until interrupted."},
		{"ibctl -t monitor link address", "Prints link and address changes, each after a timestamp line."},
		{"ibctl monitor label partition group", "Prints the subnet manager's partition and multicast group changes, each after its object."},
	},
	SeeAlso: []string{"ibctl(8)", "ibctl-link(8)", "ibctl-addr(8)", "ibctl-sm(8)", "ip-monitor(8)"},
}
