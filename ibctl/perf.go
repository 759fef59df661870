package ibctl

import (
	"net/netip"

	"github.com/ibctl/ibctl/netlinkx"
	"github.com/spf13/cobra"
)

// PerfOptions are perf's options.
type PerfOptions struct {
	F *Factory
	// Client connects to the driver when the command needs it: the
	// factory's connection, or what a test gives.
	Client  func() (*netlinkx.Client, error)
	Dev     string
	Seconds float64
	Length  int
	Dst     string     // the address as given
	Addr    netip.Addr // Dst parsed
}

// NewCmdPerf is `ibctl perf`: an iperf-like stream between two
// interfaces; runF, when not nil, gets the parsed options instead of
// running.
func NewCmdPerf(f *Factory, runF func(*PerfOptions) error) *cobra.Command {
	o := &PerfOptions{F: f, Client: connector(f)}
	cmd := &cobra.Command{
		Use:   "perf [-I DEV] [-t SEC] [-l LEN] ADDRESS",
		Short: "Measure throughput to another interface (iperf-like UDP stream)",
		Long: `Stream UDP datagrams from the node to ADDRESS for -t seconds over the interface's
transport (UD in datagram mode, the RC connection in connected mode) and print what the
receiver got of the stream's own datagrams (other traffic to the interface is not
counted): Gb/s, packets/s and receive-CQ completion events per packet, which
ethtool -C rx-frames/rx-usecs on the receiver moderate. The emulation is not bound
by the link's rate, which is printed beside the throughput. The stream stops with
"Network is unreachable" when its route or its link goes away.`,
		Args: needArgs("DESTINATION"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			o.Dst = args[0]
			if err := o.parse(); err != nil {
				return err
			}
			return runOr(o, runF, perfRun)
		}),
	}
	cmd.Flags().StringVarP(&o.Dev, "interface", "I", "", "send through this interface")
	cmd.Flags().Float64VarP(&o.Seconds, "time", "t", 1, "seconds to stream")
	cmd.Flags().IntVarP(&o.Length, "length", "l", 0, "UDP payload bytes (default: fill the MTU)")
	_ = cmd.RegisterFlagCompletionFunc("interface", completeLinks(f))
	return cmd
}

// parse checks the address, time and length.
func (o *PerfOptions) parse() error {
	dst, err := netip.ParseAddr(o.Dst)
	if err != nil || !dst.Is4() {
		return usagef("perf: %s: not an IPv4 address", o.Dst)
	}
	o.Addr = dst
	// At least a millisecond, the unit of the request; NaN fails too.
	if !(o.Seconds >= 0.001 && o.Seconds <= 3600) {
		return usagef("perf: invalid time %v (0.001 <= SEC <= 3600)", o.Seconds)
	}
	if o.Length < 0 || o.Length > 65507 {
		return usagef("perf: invalid length %d (0 ... 65507)", o.Length)
	}
	return nil
}

func perfRun(o *PerfOptions) error {
	dst := o.Addr
	c, err := o.Client()
	if err != nil {
		return err
	}
	rep, err := c.Perf(netlinkx.PerfRequest{Dev: o.Dev, Dst: dst.AsSlice(), Size: uint32(o.Length),
		DurationMs: uint32(o.Seconds * 1000)})
	if err != nil {
		return opError("perf", err)
	}
	secs := float64(rep.ElapsedNs) / 1e9
	gbps := float64(rep.Bytes) * 8 / secs / 1e9
	pps := float64(rep.Received) / secs
	perPkt := 0.0
	if rep.Received > 0 {
		perPkt = float64(rep.Events) / float64(rep.Received)
	}
	transport := "UD"
	if rep.Mode == netlinkx.ModeConnected {
		transport = "RC where the peer supports it"
	}
	p := NewPrinter()
	p.Any("dst", "perf to %s: ", dst.String())
	p.Any("mode", "%s mode", netlinkx.ModeName(rep.Mode))
	p.Text(" (" + transport + ")\n")
	p.Any("seconds", "%.2f s: ", secs)
	p.Any("sent", "sent %d packets, ", rep.Sent)
	p.Any("received", "received %d", rep.Received)
	var lost uint64
	if rep.Sent > rep.Received {
		lost = rep.Sent - rep.Received
	}
	p.Any("lost", " (%d lost)\n", lost)
	p.Any("bytes", "", rep.Bytes)
	p.Any("gbps", "throughput %.3f Gb/s ", gbps)
	// The emulation is not bound by the link's rate: say which it is,
	// so that the figure is not read as a link measurement.
	p.Any("link_gbps", "(emulated link rate %g Gb/s), ", float64(rep.LinkMbps)/1000)
	p.Any("pps", "%.0f packets/s\n", pps)
	p.Any("cq_events_per_packet", "receive CQ events per packet %.4f\n", perPkt)
	return emit(o.F.IO.Out, o.F.Globals, p)
}

// perfMan is the page text of ibctl-perf(8).
var perfMan = ManDoc{
	Synopsis: []string{
		"ibctl perf [ -I DEV ] [ -t SEC ] [ -l LEN ] ADDRESS",
	},
	Examples: []ManItem{
		{"ibctl perf -t 2 10.0.0.2", "Streams to 10.0.0.2 for two seconds and prints the throughput the receiver saw."},
		{"ibctl perf -I ib0.8001 -l 1400 10.1.0.2", "Streams 1400-byte datagrams through the child ib0.8001."},
	},
	SeeAlso: []string{"ibctl(8)", "ibctl-ethtool(8)", "iperf3(1)"},
}
