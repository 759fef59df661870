package ibctl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ibctl/ibctl/netlinkx"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// DriverOptions are the inputs of the driver verbs; all but Verb and F
// are those of start.
type DriverOptions struct {
	F          *Factory
	Verb       string // "start", "stop" or "status"
	Foreground bool
	Topology   string
	Params     []string       // --param as given
	ParamVals  map[string]int // Params parsed
	Recover    bool
	Netns      bool
}

// NewCmdDriver is `ibctl driver`: start, stop and inspect the emulated
// driver. Every verb calls runF, when not nil, with its parsed options
// instead of running.
func NewCmdDriver(f *Factory, runF func(*DriverOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "driver",
		Short: "Start, stop and inspect the emulated IPoIB driver",
	}
	so := &DriverOptions{F: f, Verb: "start"}
	start := &cobra.Command{
		Use:   "start [--foreground] [--recover] [--netns] [--topology FILE] [--param NAME=VALUE]...",
		Short: "Start the driver (in the background unless --foreground)",
		Long: `Start the emulated driver. It builds its fabric (by default two nodes, node0 and
node1, each with one dual-port 4X EDR HCA, port IB MTU 4096 and the default partition
0xffff with a 2048-byte broadcast group), restores the configuration saved in the state
directory and serves the socket. Other commands start it on demand.

--topology FILE (JSON) sets nodes (name, guid, ca_type, firmware, bus_info; or only
their number), ports (width, speed, ib_mtu, caps) and the subnet manager's partitions.
A value out of its range, a duplicate name or two ports with one GUID are refused by
name. --param sets ib_ipoib module parameters (send_queue_size,
recv_queue_size, max_nonsrq_conn_qp, debug_level, ...) with the module's rounding.

A journal damaged anywhere but in its last, incomplete record makes the driver refuse
to start, naming the file and offset, and leaves it as it is. --recover then starts
from the records before the damage and saves a copy of the damaged journal next to
it (journal.log.damaged-*); the driver's log says what was dropped.

--netns (root) gives every node a network namespace, ibctl-NODE under /run/netns, in
which each of its IPoIB interfaces is a kernel netdev of the same name (a TUN device
with the link type of InfiniBand) carrying the kernel's traffic over the emulated
fabric: run ping, ip, iperf3 or ssh there with ip netns exec. The choice is saved with
the topology; driver stop removes the namespaces.`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			var err error
			if so.ParamVals, err = parseParams(so.Params); err != nil {
				return err
			}
			return runOr(so, runF, driverRun)
		}),
	}
	start.Flags().BoolVar(&so.Foreground, "foreground", false, "run in the foreground, logging to standard error")
	start.Flags().StringVar(&so.Topology, "topology", "", "fabric topology `FILE` (JSON)")
	start.Flags().StringArrayVar(&so.Params, "param", nil, "module parameter `NAME=VALUE` (repeatable)")
	start.Flags().BoolVar(&so.Netns, "netns", false, "give every node a network namespace (ibctl-NODE) with its interfaces as kernel netdevs (root)")
	_ = start.RegisterFlagCompletionFunc("topology", cobra.FixedCompletions([]string{"json"}, cobra.ShellCompDirectiveFilterFileExt))
	start.Flags().BoolVar(&so.Recover, "recover", false, "start from the intact records of a damaged journal, keeping a copy of it")
	stop := &cobra.Command{
		Use:   "stop",
		Short: "Stop the driver (its configuration stays in the state directory)",
		Args:  cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			return runOr(&DriverOptions{F: f, Verb: "stop"}, runF, driverRun)
		}),
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "Show whether the driver runs, its pid, socket and state directory",
		Args:  cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			return runOr(&DriverOptions{F: f, Verb: "status"}, runF, driverRun)
		}),
	}
	cmd.AddCommand(start, stop, status)
	verbRequired(cmd)
	return cmd
}

func driverRun(o *DriverOptions) error {
	switch o.Verb {
	case "start":
		return driverStartRun(o)
	case "stop":
		return driverStopRun(o.F)
	}
	return driverStatusRun(o.F)
}

// parseParams parses NAME=VALUE module parameters.
func parseParams(in []string) (map[string]int, error) {
	out := map[string]int{}
	for _, kv := range in {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return nil, usagef("driver start: --param %q: want NAME=VALUE", kv)
		}
		v, err := strconv.Atoi(val)
		if err != nil {
			return nil, usagef("driver start: --param %s: invalid value %q", name, val)
		}
		out[name] = v
	}
	return out, nil
}

func driverStartRun(o *DriverOptions) error {
	g := o.F.Globals
	if o.Topology != "" && o.F.Daemon != nil {
		if err := o.F.Daemon.CheckTopology(o.Topology); err != nil {
			return fmt.Errorf("driver start: %w", err)
		}
	}
	sock := g.socketPath()
	c, err := netlinkx.Dial(sock)
	if err == nil {
		st, _ := c.Status()
		c.Close()
		return fmt.Errorf("driver start: already running (pid %d, socket %s)", st.PID, sock)
	}
	var pe *netlinkx.PeerError
	if errors.As(err, &pe) {
		return err
	}
	if o.Foreground {
		if o.F.Daemon == nil {
			return errors.New("driver start: this ibctl has no driver to run")
		}
		err := o.F.Daemon.Run(context.Background(), DaemonOptions{
			Socket: sock, StateDir: g.stateDir(), Topology: o.Topology, Params: o.ParamVals, Recover: o.Recover,
			Netns: o.Netns, Log: func(msg string) { fmt.Fprintf(o.F.IO.ErrOut, "%s %s\n", time.Now().Format(time.RFC3339Nano), msg) },
		})
		if errors.Is(err, ErrDriverRunning) {
			return fmt.Errorf("driver start: %w (%s)", err, g.stateDir())
		}
		if err != nil {
			return fmt.Errorf("driver start: %w", err)
		}
		return nil
	}
	var extra []string
	if o.Topology != "" {
		extra = append(extra, "--topology", o.Topology)
	}
	for _, p := range o.Params {
		extra = append(extra, "--param", p)
	}
	if o.Recover {
		extra = append(extra, "--recover")
	}
	if o.Netns {
		extra = append(extra, "--netns")
	}
	conn := &Connector{Executable: o.F.Executable, stateDir: g.stateDir()}
	c, err = conn.spawn(sock, extra)
	if err != nil {
		return err
	}
	return c.Close()
}

func driverStopRun(f *Factory) error {
	sock := f.Globals.socketPath()
	c, err := netlinkx.Dial(sock)
	var pe *netlinkx.PeerError
	if errors.As(err, &pe) {
		return err
	}
	if err != nil {
		return nil // not running: nothing to stop
	}
	defer c.Close()
	st, err := c.Status()
	if err != nil {
		return opError("driver stop", err)
	}
	if err := c.Stop(); err != nil {
		return opError("driver stop", err)
	}
	c.Close() // our own connection must not keep the driver serving
	// Done when the process is gone (it releases the state lock last).
	for deadline := time.Now().Add(stopTimeout); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if err := unix.Kill(int(st.PID), 0); errors.Is(err, unix.ESRCH) {
			return nil
		}
		if zombie(int(st.PID)) {
			return nil
		}
	}
	return fmt.Errorf("driver stop: pid %d still running after %v (socket %s)", st.PID, stopTimeout, sock)
}

func driverStatusRun(f *Factory) error {
	g := f.Globals
	sock := g.socketPath()
	c, err := netlinkx.Dial(sock)
	var pe *netlinkx.PeerError
	if errors.As(err, &pe) {
		return err
	}
	if err != nil {
		if g.JSON {
			_ = emit(f.IO.Out, g, driverStatusPrinter(false, netlinkx.Status{Socket: sock}))
			return &SilentError{Status: ExitFailure}
		}
		return fmt.Errorf("driver: not running (socket %s)", sock)
	}
	defer c.Close()
	st, err := c.Status()
	if err != nil {
		return opError("driver status", err)
	}
	return emit(f.IO.Out, g, driverStatusPrinter(true, st))
}

// driverStatusPrinter prints the driver's status; a driver that does not
// run is an error in text, an object naming only the socket in JSON.
func driverStatusPrinter(running bool, st netlinkx.Status) *Printer {
	p := NewPrinter()
	p.Any("running", "", running)
	if !running {
		p.Any("socket", "", st.Socket)
		return p
	}
	p.Text("driver: running\n")
	p.Any("pid", "pid: %d\n", st.PID)
	p.Any("socket", "socket: %s\n", st.Socket)
	p.Any("state_dir", "state dir: %s\n", st.StateDir)
	p.Text("nodes: " + strings.Join(st.Nodes, " ") + "\n")
	p.Any("nodes", "", st.Nodes)
	p.Any("links", "links: %d\n", st.Links)
	p.Any("uptime", "uptime: %ds\n", st.Uptime)
	return p
}

// zombie reports whether pid has exited but was not reaped yet (the driver
// a test or shell started and has not waited for).
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// stopTimeout bounds the wait for a stopping driver: requests in progress
// (a long perf run, say) finish first.
const stopTimeout = 30 * time.Second

// driverMan is the page text of ibctl-driver(8).
var driverMan = ManDoc{
	Synopsis: []string{
		"ibctl driver start [ --foreground ] [ --recover ] [ --netns ] [ --topology FILE ] [ --param NAME=VALUE ]...",
		"ibctl driver stop",
		"ibctl driver status",
	},
	Examples: []ManItem{
		{"ibctl driver start --param send_queue_size=256 --param debug_level=1", "Starts the driver in the background with two module parameters."},
		{"ibctl -j driver status", "Shows whether the driver runs, its pid, socket, state directory, nodes and link count."},
		{"ibctl driver start --recover", "Starts from the intact records of a damaged journal."},
		{"ibctl driver stop", "Stops the driver; the next command that needs it starts it with the saved configuration."},
	},
	Files: []ManItem{
		{"/var/lib/ibctl/store/journal.log.damaged-*", "A damaged journal, as driver start --recover left it."},
		{"/run/netns/ibctl-NODE", "The nodes' network namespaces (--netns)."},
	},
	SeeAlso: []string{"ibctl(8)", "ibctl-exec(8)", "ibctl-sm(8)", "ibctl-dmesg(8)"},
}
