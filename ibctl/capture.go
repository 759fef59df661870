package ibctl

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ibctl/ibctl/netlinkx"
	"github.com/mdlayher/netlink"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// CaptureOptions are capture's options.
type CaptureOptions struct {
	F *Factory
	// Client connects to the driver when the command needs it: the
	// factory's connection, or what a test gives.
	Client   func() (*netlinkx.Client, error)
	Dev      string   // -i, the first
	Devs     []string // every -i: fabric ports can be captured together
	Count    int      // -c; 0: until interrupted
	File     string   // -w; "-" is standard output
	Snaplen  int      // -s
	EFlag    bool     // -e
	LinkType string   // -y
	Fabric   bool     // --fabric: Dev is a fabric port NODE/PORT
	RoCE     bool     // --roce: fabric packets as RoCEv2
	Pcapng   bool     // --pcapng: -w writes pcapng
	Expr     string   // the filter expression, its words joined

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
	o := &CaptureOptions{F: f, Client: connector(f)}
	cmd := &cobra.Command{
		Use:   "capture [--fabric [--roce]] -i DEV... [-c COUNT] [-w FILE [--pcapng]] [-s SNAPLEN] [-e] [-y LINKTYPE] [EXPRESSION]",
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
IPoIB header. Wireshark and tshark read both. --pcapng writes pcapng instead of pcap:
an interface description (if_name, link type, snapshot length, nanosecond timestamps)
for each interface and each packet naming its interface.

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
stands for. Files have link type INFINIBAND (247), which Wireshark maps to no dissector
(tshark reads it through a user DLT); -y ERF writes each packet in an Endace ERF record of
type InfiniBand instead (link type 197), which Wireshark reads as it is. The text shows
one line per packet (direction, LIDs, opcode, P_Key, destination QP, PSN, length). It
takes no EXPRESSION.

Several -i NODE/PORT capture several ports together, written as pcapng with one
interface per port (as dumpcap does), the text naming each packet's port.

--roce (or -y EN10MB) writes the same traffic as RoCEv2 would carry it, which Wireshark
decodes as RRoCE: Ethernet (addresses made up of the port GUID's first and last three
bytes), IPv6 between the GIDs, UDP to port 4791 from the port rdma_get_udp_sport picks,
checksum 0, then the BTH and what follows, and the ICRC over the RoCEv2 invariant
fields; no LRH, GRH or VCRC. Link type EN10MB (1).`,
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
	fl.StringArrayVarP(&o.Devs, "interface", "i", nil, "the interface to capture on; with --fabric, a port NODE/PORT, repeated for several")
	fl.StringP("count", "c", "", "stop after COUNT packets")
	fl.StringVarP(&o.File, "write", "w", "", "write the packets to FILE as pcap (\"-\": standard output)")
	fl.StringP("snapshot-length", "s", "", "bytes of each packet to keep (0: 262144, the default)")
	fl.BoolVarP(&o.EFlag, "link-header", "e", false, "print the link-level header")
	fl.StringVarP(&o.LinkType, "linktype", "y", "", "data link type of the file: LINUX_SLL (the default) or IPOIB; INFINIBAND, ERF or EN10MB with --fabric")
	fl.BoolVar(&o.Fabric, "fabric", false, "capture a fabric port's link (-i NODE/PORT) as InfiniBand packets")
	fl.BoolVar(&o.RoCE, "roce", false, "with --fabric, write the packets as RoCEv2 over Ethernet (link type EN10MB)")
	fl.BoolVar(&o.Pcapng, "pcapng", false, "write -w FILE as pcapng, one interface description per interface")
	_ = cmd.RegisterFlagCompletionFunc("interface", func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		if fabric, _ := cmd.Flags().GetBool("fabric"); fabric {
			return nodePorts(f), cobra.ShellCompDirectiveNoFileComp
		}
		return linkNames(f), cobra.ShellCompDirectiveNoFileComp
	})
	_ = cmd.RegisterFlagCompletionFunc("write", completeFiles)
	_ = cmd.RegisterFlagCompletionFunc("linktype", cobra.FixedCompletions([]string{"LINUX_SLL", "IPOIB", "INFINIBAND", "ERF", "EN10MB"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// parse checks the options as tcpdump does before it opens the device.
func (o *CaptureOptions) parse() error {
	if len(o.Devs) == 0 || o.Devs[0] == "" {
		return usagef("capture: no interface: give one with -i DEV")
	}
	o.Dev = o.Devs[0]
	for i, d := range o.Devs[1:] {
		if !o.Fabric {
			return usagef("capture: %s: one interface only; several -i take fabric ports (--fabric)", d)
		}
		if slices.Contains(o.Devs[:i+1], d) {
			return usagef("capture: %s: port given twice", d)
		}
	}
	if o.RoCE && !o.Fabric {
		return usagef("capture: --roce needs --fabric: RoCEv2 carries the fabric's packets")
	}
	if o.Pcapng && o.File == "" {
		return usagef("capture: --pcapng writes a file: give one with -w FILE")
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
	case o.Fabric && (lt == "EN10MB" || lt == "" && o.RoCE):
		o.linktype, o.RoCE = linktypeEthernet, true
	case o.Fabric && (lt == "" || lt == "INFINIBAND") && !o.RoCE:
		o.linktype = linktypeInfiniband
	case o.Fabric && lt == "ERF" && !o.RoCE:
		o.linktype = linktypeERF
	case o.Fabric && o.RoCE:
		return usagef("capture: %s: data link type %s not supported with --roce (EN10MB)", o.Dev, o.LinkType)
	case o.Fabric:
		return usagef("capture: %s: data link type %s not supported (INFINIBAND, ERF, EN10MB)", o.Dev, o.LinkType)
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
	case linktypeEthernet:
		return "EN10MB (Ethernet)"
	case linktypeERF:
		return "ERF (Endace ERF record)"
	}
	return "LINUX_SLL (Linux cooked v1)"
}

func captureRun(o *CaptureOptions) error {
	c, err := o.Client()
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
	var pw packetWriter
	var bw *bufio.Writer
	var file *os.File
	var openErr error
	// The file is created once the driver captures, as tcpdump opens it
	// after the device: a capture that fails leaves no file.
	started := func() {
		for _, d := range o.Devs {
			fmt.Fprintf(errOut, "listening on %s, link-type %s, snapshot length %d bytes\n", d, linkTypeBanner(o.linktype), o.Snaplen)
		}
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
		if o.Pcapng || len(o.Devs) > 1 {
			pw, openErr = newPcapngWriter(bw, o.linktype, uint32(o.Snaplen), o.Devs)
		} else {
			pw, openErr = newPcapWriter(bw, o.linktype, uint32(o.Snaplen))
		}
	}
	var matched, captured uint64
	out := o.F.IO.Out
	req := netlinkx.CaptureRequest{Dev: o.Dev, Also: o.Devs[1:], Snaplen: uint32(o.Snaplen), Fabric: o.Fabric}
	if o.RoCE {
		req.Snaplen = 0 // the ICRC is over the whole packet: cut the frame instead
	}
	var roce []byte
	st, err := c.Capture(ctx, req, started, func(p netlinkx.CapturedPacket) error {
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
			var name string
			if len(o.Devs) > 1 && int(p.Iface) < len(o.Devs) {
				name = o.Devs[p.Iface]
			}
			if o.RoCE {
				roce, _ = roceFrame(roce, p)
			}
			fmt.Fprintln(out, fabricLine(p, o.loc, name, roce))
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
				return fmt.Errorf("capture: %s: No such device exists", o.failedDev(err))
			case unix.EINVAL:
				if o.Fabric {
					return fmt.Errorf("capture: %s: a fabric port is NODE/PORT", o.failedDev(err))
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

// failedDev is the interface a capture's error is about: the fabric port
// the driver's message starts with, or the first.
func (o *CaptureOptions) failedDev(err error) string {
	var oe *netlink.OpError
	if o.Fabric && errors.As(err, &oe) {
		if name, _, ok := strings.Cut(oe.Message, ": "); ok && slices.Contains(o.Devs, name) {
			return name
		}
	}
	return o.Dev
}

// packetWriter writes captured packets to a file.
type packetWriter interface {
	write(p netlinkx.CapturedPacket) error
}

func plural(n uint64) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// captureMan is the page text of ibctl-capture(8).
var captureMan = ManDoc{
	Synopsis: []string{
		"ibctl capture -i DEV [ -c COUNT ] [ -w FILE [ --pcapng ] ] [ -s SNAPLEN ] [ -e ] [ -y { LINUX_SLL | IPOIB } ] [ EXPRESSION ]",
		"ibctl capture --fabric -i NODE/PORT [ -i NODE/PORT ]... [ -c COUNT ] [ -w FILE [ --pcapng ] ] [ -s SNAPLEN ] [ -y { INFINIBAND | ERF | EN10MB } | --roce ]",
		"EXPRESSION := { arp | rarp | ip | ip6 | icmp | icmp6 | host ADDR | not EXPRESSION | EXPRESSION and EXPRESSION | EXPRESSION or EXPRESSION | ( EXPRESSION ) }",
	},
	Examples: []ManItem{
		{"ibctl capture -i ib0 -c 10 icmp", "Prints the next ten ICMP packets of ib0."},
		{"ibctl capture -i ib0 -w ib0.pcap", "Writes ib0's packets to ib0.pcap until interrupted; tshark -r ib0.pcap reads it."},
		{"ibctl capture --fabric -i node0/1 -c 4", "Prints four InfiniBand packets crossing port 1 of node0's HCA."},
		{"ibctl capture --fabric -i node0/1 -i node1/1 -w fabric.pcapng", "Writes both ports' packets to one pcapng file, one interface per port."},
		{"ibctl capture --fabric --roce -i node0/1 -w roce.pcap", "Writes port 1's packets as RoCEv2 over Ethernet, which Wireshark decodes as RRoCE."},
	},
	SeeAlso: []string{"ibctl(8)", "tcpdump(8)", "pcap-filter(7)", "tshark(1)"},
}
