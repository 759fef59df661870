package ibctl

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ibctl/ibctl/netlinkx"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// CaptureOptions are capture's options.
type CaptureOptions struct {
	F        *Factory
	Dev      string // -i
	Count    int    // -c; 0: until interrupted
	File     string // -w; "-" is standard output
	Snaplen  int    // -s
	EFlag    bool   // -e
	LinkType string // -y
	Fabric   bool   // --fabric: Dev is a fabric port NODE/PORT
	Expr     string // the filter expression, its words joined

	count, snaplen string // as given
	linktype       uint32
	filter         packetFilter
	loc            *time.Location // the timestamps' zone: local time
}

// maxSnaplen is tcpdump's MAXIMUM_SNAPLEN, the default.
const maxSnaplen = 262144

// NewCmdCapture is `ibctl capture`: tcpdump on an IPoIB interface of the
// node; runF, when not nil, gets the parsed options instead of running.
func NewCmdCapture(f *Factory, runF func(*CaptureOptions) error) *cobra.Command {
	o := &CaptureOptions{F: f}
	cmd := &cobra.Command{
		Use:   "capture [--fabric] -i DEV [-c COUNT] [-w FILE] [-s SNAPLEN] [-e] [-y LINKTYPE] [EXPRESSION]",
		Short: "Watch an interface's packets, as tcpdump does",
		Long: `Print the packets an IPoIB interface of the node sends and receives, multicast
included, one line each in tcpdump's style (numeric addresses, as tcpdump -n), or write
them to a pcap file with -w FILE ("-" for standard output). Packets the driver drops
are shown too, marked "[dropped: REASON]" with the kernel's drop reason (PKT_TOO_BIG,
NEIGH_FAILED, NEIGH_QUEUEFULL, NEIGH_DEAD, ...).

Files are what tcpdump writes on a real IPoIB interface: Linux cooked capture
(LINUX_SLL, link type 113) with hardware type 32 (InfiniBand) and the EtherType of the
IPoIB header; -y IPOIB writes link type 242 instead, each packet after a 40-byte
pseudo-header (20 zero bytes and the destination's 20-byte address) and with its 4-byte
IPoIB header. Wireshark and tshark read both.

-c COUNT stops after COUNT packets, -s SNAPLEN keeps the first SNAPLEN bytes of each
(0 or none: 262144), -e prints the cooked header (direction, EtherType and length).
Capture runs until -c is reached, an interrupt (Ctrl-C), or the interface goes down or
is deleted; it then prints tcpdump's statistics on standard error. An interface that is
not up and joined cannot be captured on.

EXPRESSION is a subset of pcap-filter(7): arp, rarp, ip, ip6, icmp, icmp6, host ADDR,
combined with and (&&), or (||), not (!) and parentheses.

--fabric -i NODE/PORT captures what crosses an HCA port's link instead, as InfiniBand
packets: LRH, GRH where present, BTH, DETH (UD) or AETH (acknowledgements), immediate
data, payload, ICRC and VCRC, an RC message sent as one train written as the packets it
stands for. Files have link type INFINIBAND (247); the text shows one line per packet
(direction, LIDs, opcode, P_Key, destination QP, PSN, length). It takes no EXPRESSION.`,
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: completeCaptureArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			if f.Globals.JSON {
				return usagef("capture: -j: capture has no JSON output")
			}
			o.Expr = strings.Join(args, " ")
			o.count, o.snaplen = flagText(cmd, "count"), flagText(cmd, "snapshot-length")
			if err := o.parse(); err != nil {
				return err
			}
			return runOr(o, runF, captureRun)
		}),
	}
	fl := cmd.Flags()
	fl.StringVarP(&o.Dev, "interface", "i", "", "the interface to capture on")
	fl.StringP("count", "c", "", "stop after COUNT packets")
	fl.StringVarP(&o.File, "write", "w", "", "write the packets to FILE as pcap (\"-\": standard output)")
	fl.StringP("snapshot-length", "s", "", "bytes of each packet to keep (0: 262144, the default)")
	fl.BoolVarP(&o.EFlag, "link-header", "e", false, "print the link-level header")
	fl.StringVarP(&o.LinkType, "linktype", "y", "", "data link type of the file: LINUX_SLL (the default) or IPOIB; INFINIBAND with --fabric")
	fl.BoolVar(&o.Fabric, "fabric", false, "capture a fabric port's link (-i NODE/PORT) as InfiniBand packets")
	_ = cmd.RegisterFlagCompletionFunc("interface", func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		if fabric, _ := cmd.Flags().GetBool("fabric"); fabric {
			return nodePorts(f), cobra.ShellCompDirectiveNoFileComp
		}
		return linkNames(f), cobra.ShellCompDirectiveNoFileComp
	})
	_ = cmd.RegisterFlagCompletionFunc("write", completeFiles)
	_ = cmd.RegisterFlagCompletionFunc("linktype", cobra.FixedCompletions([]string{"LINUX_SLL", "IPOIB"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// parse checks the options as tcpdump does before it opens the device.
func (o *CaptureOptions) parse() error {
	if o.Dev == "" {
		return usagef("capture: no interface: give one with -i DEV")
	}
	if o.count != "" {
		n, err := strconv.Atoi(o.count)
		if err != nil || n <= 0 {
			return usagef("capture: invalid packet count %s", o.count)
		}
		o.Count = n
	}
	o.Snaplen = maxSnaplen
	if o.snaplen != "" {
		n, err := strconv.Atoi(o.snaplen)
		if err != nil || n < 0 || n > maxSnaplen {
			return usagef("capture: invalid snaplen %s", o.snaplen)
		}
		if n != 0 {
			o.Snaplen = n
		}
	}
	switch lt := strings.ToUpper(o.LinkType); {
	case o.Fabric && (lt == "" || lt == "INFINIBAND"):
		o.linktype = linktypeInfiniband
	case o.Fabric:
		return usagef("capture: %s: data link type %s not supported (INFINIBAND)", o.Dev, o.LinkType)
	case lt == "" || lt == "LINUX_SLL":
		o.linktype = linktypeLinuxSLL
	case lt == "IPOIB":
		o.linktype = linktypeIPoIB
	default:
		return usagef("capture: %s: data link type %s not supported (LINUX_SLL, IPOIB)", o.Dev, o.LinkType)
	}
	if o.Fabric && o.Expr != "" {
		return usagef("capture: --fabric takes no filter expression")
	}
	f, err := parseFilter(o.Expr)
	if err != nil {
		return usagef("capture: %v", err)
	}
	o.filter = f
	if o.loc == nil {
		o.loc = time.Local
	}
	return nil
}

// linkTypeBanner is how tcpdump names the link type it listens with.
func linkTypeBanner(lt uint32) string {
	switch lt {
	case linktypeIPoIB:
		return "IPOIB (RFC 4391 IP-over-Infiniband)"
	case linktypeInfiniband:
		return "INFINIBAND (InfiniBand)"
	}
	return "LINUX_SLL (Linux cooked v1)"
}

func captureRun(o *CaptureOptions) error {
	c, err := o.F.client()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return o.capture(ctx, c)
}

// capture runs the capture on c until ctx is done.
func (o *CaptureOptions) capture(ctx context.Context, c *netlinkx.Client) error {
	errOut := o.F.IO.ErrOut
	var pw *pcapWriter
	var bw *bufio.Writer
	var file *os.File
	var openErr error
	// The file is created once the driver captures, as tcpdump opens it
	// after the device: a capture that fails leaves no file.
	started := func() {
		fmt.Fprintf(errOut, "listening on %s, link-type %s, snapshot length %d bytes\n", o.Dev, linkTypeBanner(o.linktype), o.Snaplen)
		if o.File == "" {
			return
		}
		var w io.Writer = o.F.IO.Out
		if o.File != "-" {
			if file, openErr = os.Create(o.File); openErr != nil {
				return
			}
			w = file
		}
		bw = bufio.NewWriter(w)
		pw, openErr = newPcapWriter(bw, o.linktype, uint32(o.Snaplen))
	}
	var matched, captured uint64
	out := o.F.IO.Out
	st, err := c.Capture(ctx, netlinkx.CaptureRequest{Dev: o.Dev, Snaplen: uint32(o.Snaplen), Fabric: o.Fabric}, started, func(p netlinkx.CapturedPacket) error {
		if openErr != nil {
			return openErr
		}
		if !o.Fabric && (len(p.Data) < 4 || !o.filter(binary.BigEndian.Uint16(p.Data[0:2]), p.Data[4:])) {
			return nil
		}
		matched++
		if pw != nil {
			if err := pw.write(p); err != nil {
				return err
			}
			if o.File == "-" {
				// tcpdump -U: a reader of the pipe sees each packet
				if err := bw.Flush(); err != nil {
					return err
				}
			}
		} else if o.Fabric {
			fmt.Fprintln(out, fabricLine(p, o.loc))
		} else {
			fmt.Fprintln(out, packetLine(p, o.loc, o.EFlag))
		}
		captured++
		if o.Count > 0 && captured >= uint64(o.Count) {
			return netlinkx.ErrStopCapture
		}
		return nil
	})
	if bw != nil {
		if ferr := bw.Flush(); ferr != nil && err == nil {
			err = ferr
		}
	}
	if file != nil {
		if cerr := file.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	if openErr != nil {
		return fmt.Errorf("capture: %s: %s", o.File, reason(openErr))
	}
	if err != nil {
		if e, ok := Errno(err); ok {
			switch e {
			case unix.ENODEV:
				return fmt.Errorf("capture: %s: No such device exists", o.Dev)
			case unix.EINVAL:
				if o.Fabric {
					return fmt.Errorf("capture: %s: a fabric port is NODE/PORT", o.Dev)
				}
			case unix.ENETDOWN:
				return fmt.Errorf("capture: %s: That device is not up", o.Dev)
			}
		}
		return opError("capture", err)
	}
	var end string
	switch st.End {
	case netlinkx.CaptureWentDown:
		end = "The interface went down"
	case netlinkx.CaptureDisappeared:
		end = "The interface disappeared"
	}
	if end != "" {
		fmt.Fprintf(errOut, "ibctl: capture: %s: %s\n", o.Dev, end)
	} else if ctx.Err() != nil {
		fmt.Fprintln(errOut)
	}
	fmt.Fprintf(errOut, "%d packet%s captured\n", captured, plural(captured))
	fmt.Fprintf(errOut, "%d packet%s received by filter\n", matched, plural(matched))
	fmt.Fprintf(errOut, "%d packet%s dropped by kernel\n", st.Lost, plural(st.Lost))
	if end != "" {
		return &SilentError{Status: ExitFailure}
	}
	return nil
}

func plural(n uint64) string {
	if n == 1 {
		return ""
	}
	return "s"
}

var _ = registerMan("ibctl capture", ManDoc{
	Synopsis: []string{
		"ibctl capture -i DEV [ -c COUNT ] [ -w FILE ] [ -s SNAPLEN ] [ -e ] [ -y { LINUX_SLL | IPOIB } ] [ EXPRESSION ]",
		"ibctl capture --fabric -i NODE/PORT [ -c COUNT ] [ -w FILE ] [ -s SNAPLEN ]",
		"EXPRESSION := { arp | rarp | ip | ip6 | icmp | icmp6 | host ADDR | not EXPRESSION | EXPRESSION and EXPRESSION | EXPRESSION or EXPRESSION | ( EXPRESSION ) }",
	},
	Examples: []ManItem{
		{"ibctl capture -i ib0 -c 10 icmp", "Prints the next ten ICMP packets of ib0."},
		{"ibctl capture -i ib0 -w ib0.pcap", "Writes ib0's packets to ib0.pcap until interrupted; tshark -r ib0.pcap reads it."},
		{"ibctl capture --fabric -i node0/1 -c 4", "Prints four InfiniBand packets crossing port 1 of node0's HCA."},
	},
	SeeAlso: []string{"ibctl(8)", "tcpdump(8)", "pcap-filter(7)", "tshark(1)"},
})
