package ibctl

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/ibctl/ibctl/netlinkx"
	"github.com/mdlayher/ethtool"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// EthtoolOptions are the inputs of `ibctl ethtool`.
type EthtoolOptions struct {
	F *Factory
	// Client connects to the driver when the command needs it: the
	// factory's connection, or what a test gives.
	Client       func() (*netlinkx.Client, error)
	Driver       bool // -i
	ShowFeatures bool // -k
	Features     bool // -K
	ShowCoalesce bool // -c
	Coalesce     bool // -C
	ShowRings    bool // -g
	Rings        bool // -G
	ShowChannels bool // -l
	Channels     bool // -L
	Statistics   bool // -S
	Dev          string
	Args         []string
	// CoalesceSet and CoalesceOrder are -C's parameters, parsed from Args.
	CoalesceSet   netlinkx.CoalesceSet
	CoalesceOrder []uint16
	// RingsSet and RingsOrder are -G's parameters, parsed from Args.
	RingsSet   netlinkx.RingsSet
	RingsOrder []uint16
	// ChannelsSet and ChannelsOrder are -L's parameters, parsed from Args.
	ChannelsSet   netlinkx.ChannelsSet
	ChannelsOrder []uint16
}

// NewCmdEthtool is `ibctl ethtool`: ethtool's option letters and output;
// runF, when not nil, gets the parsed options instead of running.
func NewCmdEthtool(f *Factory, runF func(*EthtoolOptions) error) *cobra.Command {
	o := &EthtoolOptions{F: f, Client: connector(f)}
	cmd := &cobra.Command{
		Use:   "ethtool [-i|-k|-K|-c|-C|-g|-G|-l|-L|-S] DEVICE [ARGS...]",
		Short: "Query or control IPoIB device settings (ethtool)",
		Long: `Query or control an IPoIB device as ethtool does, with its option letters and output:

  ibctl ethtool DEVICE                          link settings (speed = lane rate x width)
  ibctl ethtool -i DEVICE                       driver information
  ibctl ethtool -k DEVICE                       offload features
  ibctl ethtool -K DEVICE FEATURE on|off ...    change features (kernel or ethtool short names)
  ibctl ethtool -c DEVICE                       interrupt moderation
  ibctl ethtool -C DEVICE rx-usecs N rx-frames N
  ibctl ethtool -C DEVICE adaptive-rx on|off ...  (enhanced IPoIB: also tx-usecs, tx-frames, adaptive-tx)
  ibctl ethtool -g DEVICE                       ring sizes (send and receive queues)
  ibctl ethtool -G DEVICE rx N tx N             change ring sizes
  ibctl ethtool -l DEVICE                       channels (enhanced IPoIB only)
  ibctl ethtool -L DEVICE combined N            change the number of channels
  ibctl ethtool -S DEVICE                       statistics

Checksum offload and LSO are off in connected mode and come back in datagram mode; LRO
(rx-lro, "lro") is offered on checksum-capable ports and works in datagram mode only.
IPoIB moderates only the receive side: other -C parameters fail with "Invalid argument
(cannot modify an unsupported parameter)", values above 65535 with "Invalid argument".

Ring sizes are the interface's own, from send_queue_size and recv_queue_size when it
is created: -G takes 2 to 8192, rounds up to a power of two, and takes an interface that
is up down and up again. -g prints text only (ethtool 6.1 has no JSON for it).

An enhanced IPoIB port (mlx5's) reports mlx5's driver name, features, rings (64 to
8192, 512 receive and 1024 send at first) and channels (combined, one per CPU);
the classic driver has no channels: -l and -L fail with "Operation not supported".
Its moderation is mlx5's: adaptive on both ways at first (8 usecs, 128 frames), CQE
mode on for RX; -C takes rx/tx usecs up to 4095 and frames up to 65535 ("Numerical
result out of range" above), takes values only while adaptive moderation stays off,
and turning adaptive-rx or adaptive-tx on or off resets that direction to mlx5's
defaults.`,
		DisableFlagsInUseLine: true,
		Args:                  needAtLeast("DEVNAME"),
		ValidArgsFunction:     completeEthtoolArgs(f, o),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			o.Dev, o.Args = args[0], args[1:]
			o.CoalesceSet, o.CoalesceOrder, o.RingsSet, o.RingsOrder = netlinkx.CoalesceSet{}, nil, netlinkx.RingsSet{}, nil
			o.ChannelsSet, o.ChannelsOrder = netlinkx.ChannelsSet{}, nil
			if err := o.parse(); err != nil {
				return err
			}
			return runOr(o, runF, ethtoolRun)
		}),
	}
	fl := cmd.Flags()
	fl.BoolVarP(&o.Driver, "driver", "i", false, "show driver information")
	fl.BoolVarP(&o.ShowFeatures, "show-features", "k", false, "show offload features")
	fl.BoolVarP(&o.Features, "features", "K", false, "change offload features")
	fl.BoolVarP(&o.ShowCoalesce, "show-coalesce", "c", false, "show interrupt moderation")
	fl.BoolVarP(&o.Coalesce, "coalesce", "C", false, "change interrupt moderation")
	fl.BoolVarP(&o.ShowRings, "show-ring", "g", false, "show ring sizes")
	fl.BoolVarP(&o.Rings, "set-ring", "G", false, "change ring sizes")
	fl.BoolVarP(&o.ShowChannels, "show-channels", "l", false, "show channel counts")
	fl.BoolVarP(&o.Channels, "set-channels", "L", false, "change channel counts")
	fl.BoolVarP(&o.Statistics, "statistics", "S", false, "show statistics")
	fl.SetInterspersed(false)
	cmd.Flags().SetNormalizeFunc(nil)
	return cmd
}

// parse checks the option letters and the arguments -K and -C take.
func (o *EthtoolOptions) parse() error {
	n := 0
	for _, b := range []bool{o.Driver, o.ShowFeatures, o.Features, o.ShowCoalesce, o.Coalesce, o.ShowRings, o.Rings,
		o.ShowChannels, o.Channels, o.Statistics} {
		if b {
			n++
		}
	}
	if n > 1 {
		return usagef("ethtool: only one of -i, -k, -K, -c, -C, -g, -G, -l, -L, -S may be given")
	}
	if len(o.Args) > 0 && !o.Features && !o.Coalesce && !o.Rings && !o.Channels {
		return usagef("ethtool: unexpected argument %q", o.Args[0])
	}
	if o.Features {
		if err := checkFeatureArgs(o.Args); err != nil {
			return err
		}
	}
	if o.Coalesce {
		var err error
		if o.CoalesceSet, o.CoalesceOrder, err = parseCoalesceArgs(o.Args); err != nil {
			return err
		}
	}
	if o.Rings {
		var err error
		if o.RingsSet, o.RingsOrder, err = parseRingsArgs(o.Args); err != nil {
			return err
		}
	}
	if o.Channels {
		var err error
		if o.ChannelsSet, o.ChannelsOrder, err = parseChannelsArgs(o.Args); err != nil {
			return err
		}
	}
	return nil
}

func ethtoolRun(o *EthtoolOptions) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	g := o.F.Globals
	w := o.F.IO.Out
	switch {
	case o.Driver:
		di, err := c.DriverInfo(o.Dev)
		if err != nil {
			return opError("ethtool -i "+o.Dev, err)
		}
		return emit(w, g, driverInfoPrinter(di))
	case o.ShowFeatures:
		fs, err := c.Features(o.Dev)
		if err != nil {
			return opError("ethtool -k "+o.Dev, err)
		}
		return emit(w, g, featuresPrinter(o.Dev, fs))
	case o.Features:
		return setFeatures(o, c)
	case o.ShowCoalesce:
		co, err := c.Coalesce(o.Dev)
		if err != nil {
			return opError("ethtool -c "+o.Dev, err)
		}
		return emit(w, g, coalescePrinter(o.Dev, co))
	case o.Coalesce:
		if err := c.SetCoalesce(o.Dev, o.CoalesceSet, o.CoalesceOrder); err != nil {
			return opError("ethtool -C "+o.Dev, err)
		}
		return nil
	case o.ShowRings:
		if g.JSON {
			// ethtool 6.1's -g has no JSON output.
			return usagef("ethtool -g: JSON output not available for this subcommand")
		}
		r, err := c.Rings(o.Dev)
		if err != nil {
			return opError("ethtool -g "+o.Dev, err)
		}
		_, err = io.WriteString(w, ringsText(o.Dev, r))
		return err
	case o.Rings:
		if err := c.SetRings(o.Dev, o.RingsSet, o.RingsOrder); err != nil {
			return opError("ethtool -G "+o.Dev, err)
		}
		return nil
	case o.ShowChannels:
		if g.JSON {
			// ethtool 6.1's -l has no JSON output.
			return usagef("ethtool -l: JSON output not available for this subcommand")
		}
		ch, err := c.Channels(o.Dev)
		if err != nil {
			return opError("ethtool -l "+o.Dev, err)
		}
		_, err = io.WriteString(w, channelsText(o.Dev, ch))
		return err
	case o.Channels:
		if err := c.SetChannels(o.Dev, o.ChannelsSet, o.ChannelsOrder); err != nil {
			return opError("ethtool -L "+o.Dev, err)
		}
		return nil
	case o.Statistics:
		st, err := c.Stats(o.Dev)
		if err != nil {
			return opError("ethtool -S "+o.Dev, err)
		}
		return emit(w, g, statsPrinter(st))
	}
	ls, err := c.LinkSettings(o.Dev)
	if err != nil {
		return opError("ethtool "+o.Dev, err)
	}
	return emit(w, g, linkSettingsPrinter(o.Dev, ls))
}

// emit prints a record as text or JSON.
func emit(w io.Writer, g *Globals, p *Printer) error {
	if g.JSON {
		return writeJSON(w, p.Object(), g.Pretty)
	}
	_, err := io.WriteString(w, p.TextOut())
	return err
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// driverInfoPrinter is `ethtool -i`.
func driverInfoPrinter(di netlinkx.DriverInfo) *Printer {
	p := NewPrinter()
	p.Any("driver", "driver: %s\n", di.Driver)
	p.Any("version", "version: %s\n", di.Version)
	p.Any("firmware-version", "firmware-version: %s\n", di.Firmware)
	p.Any("expansion-rom-version", "expansion-rom-version: %s\n", "")
	p.Any("bus-info", "bus-info: %s\n", di.BusInfo)
	p.Any("supports-statistics", "supports-statistics: %s\n", yesNo(di.NStats > 0))
	p.Any("supports-test", "supports-test: %s\n", "no")
	p.Any("supports-eeprom-access", "supports-eeprom-access: %s\n", "no")
	p.Any("supports-register-dump", "supports-register-dump: %s\n", "no")
	p.Any("supports-priv-flags", "supports-priv-flags: %s\n", "no")
	return p
}

// statsPrinter is `ethtool -S`.
func statsPrinter(st []netlinkx.Stat) *Printer {
	p := NewPrinter()
	p.Text("NIC statistics:\n")
	for _, s := range st {
		p.Any(s.Name, "     "+s.Name+": %d\n", s.Value)
	}
	return p
}

// linkSettingsPrinter is `ethtool DEVICE` as ethtool 6.1 prints an IPoIB
// device over netlink: no link modes, speed from lane rate × width.
func linkSettingsPrinter(dev string, ls netlinkx.LinkSettings) *Printer {
	p := NewPrinter()
	p.Any("ifname", "Settings for %s:\n", dev)
	p.Text("\tSupported ports: [  ]\n\tSupported link modes:   Not reported\n\tSupported pause frame use: No\n" +
		"\tSupports auto-negotiation: No\n\tSupported FEC modes: Not reported\n\tAdvertised link modes:  Not reported\n" +
		"\tAdvertised pause frame use: No\n\tAdvertised auto-negotiation: No\n\tAdvertised FEC modes: Not reported\n")
	if ls.SpeedMegabits > 0 {
		p.Any("speed", "\tSpeed: %dMb/s\n", ls.SpeedMegabits)
	} else {
		p.Text("\tSpeed: Unknown!\n")
		p.Any("speed", "", nil)
	}
	switch ls.Duplex {
	case ethtool.Full:
		p.Any("duplex", "\tDuplex: %s\n", "Full")
	case ethtool.Half:
		p.Any("duplex", "\tDuplex: %s\n", "Half")
	default:
		p.Text(fmt.Sprintf("\tDuplex: Unknown! (%d)\n", ls.Duplex))
		p.Any("duplex", "", "Unknown")
	}
	p.Any("auto-negotiation", "\tAuto-negotiation: %s\n", onOff(ls.Autoneg == ethtool.AutonegOn))
	p.Any("port", "\tPort: %s\n", portName(ls.Port))
	p.Any("phyad", "\tPHYAD: %d\n", ls.PHYAddress)
	p.Any("transceiver", "\tTransceiver: %s\n", "internal")
	if ls.Port == ethtool.TwistedPair {
		// ethtool prints MDI-X for twisted-pair ports; IPoIB leaves it 0.
		p.Any("mdi-x", "\tMDI-X: %s\n", "Unknown")
	}
	p.Any("link-detected", "\tLink detected: %s\n", yesNo(ls.Link))
	return p
}

func portName(port ethtool.Port) string {
	switch port {
	case ethtool.TwistedPair:
		return "Twisted Pair"
	case ethtool.AUI:
		return "AUI"
	case ethtool.MII:
		return "MII"
	case ethtool.Fibre:
		return "FIBRE"
	case ethtool.BNC:
		return "BNC"
	case ethtool.DirectAttach:
		return "Direct Attach Copper"
	case ethtool.None:
		return "None"
	case ethtool.Other:
		return "Other"
	}
	return fmt.Sprintf("Unknown! (%d)", port)
}

// coalesceRows are ethtool 6.1's -c layout: attribute, label, blank line
// after. A zero attribute prints "n/a" unless supported.
var coalesceRows = []struct {
	attr  uint16
	label string
	blank bool
}{
	{unix.ETHTOOL_A_COALESCE_STATS_BLOCK_USECS, "stats-block-usecs", false},
	{unix.ETHTOOL_A_COALESCE_RATE_SAMPLE_INTERVAL, "sample-interval", false},
	{unix.ETHTOOL_A_COALESCE_PKT_RATE_LOW, "pkt-rate-low", false},
	{unix.ETHTOOL_A_COALESCE_PKT_RATE_HIGH, "pkt-rate-high", true},
	{unix.ETHTOOL_A_COALESCE_RX_USECS, "rx-usecs", false},
	{unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES, "rx-frames", false},
	{unix.ETHTOOL_A_COALESCE_RX_USECS_IRQ, "rx-usecs-irq", false},
	{unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES_IRQ, "rx-frames-irq", true},
	{unix.ETHTOOL_A_COALESCE_TX_USECS, "tx-usecs", false},
	{unix.ETHTOOL_A_COALESCE_TX_MAX_FRAMES, "tx-frames", false},
	{unix.ETHTOOL_A_COALESCE_TX_USECS_IRQ, "tx-usecs-irq", false},
	{unix.ETHTOOL_A_COALESCE_TX_MAX_FRAMES_IRQ, "tx-frames-irq", true},
	{unix.ETHTOOL_A_COALESCE_RX_USECS_LOW, "rx-usecs-low", false},
	{unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES_LOW, "rx-frame-low", false},
	{unix.ETHTOOL_A_COALESCE_TX_USECS_LOW, "tx-usecs-low", false},
	{unix.ETHTOOL_A_COALESCE_TX_MAX_FRAMES_LOW, "tx-frame-low", true},
	{unix.ETHTOOL_A_COALESCE_RX_USECS_HIGH, "rx-usecs-high", false},
	{unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES_HIGH, "rx-frame-high", false},
	{unix.ETHTOOL_A_COALESCE_TX_USECS_HIGH, "tx-usecs-high", false},
	{unix.ETHTOOL_A_COALESCE_TX_MAX_FRAMES_HIGH, "tx-frame-high", true},
}

// coalescePrinter is `ethtool -c` (ethtool 6.1 netlink/coalesce.c
// coalesce_reply_cb): a parameter the reply does not carry is "n/a" in
// text and absent from JSON, where the flags take the keys "rx" and "tx",
// twice, as ethtool 6.1's show_bool calls name them.
func coalescePrinter(dev string, c netlinkx.Coalesce) *Printer {
	p := NewPrinter()
	p.Any("ifname", "Coalesce parameters for %s:\n", dev)
	present := map[uint16]bool{}
	for _, a := range c.Supported {
		present[a] = true
	}
	showBool := func(key, format string, attr uint16, v bool) {
		if !present[attr] {
			p.Text(fmt.Sprintf(format, "n/a"))
			return
		}
		p.Text(fmt.Sprintf(format, onOff(v)))
		p.Any(key, "", v)
	}
	showBool("rx", "Adaptive RX: %s  ", unix.ETHTOOL_A_COALESCE_USE_ADAPTIVE_RX, c.AdaptiveRx)
	showBool("tx", "TX: %s\n", unix.ETHTOOL_A_COALESCE_USE_ADAPTIVE_TX, c.AdaptiveTx)
	values := map[uint16]uint32{unix.ETHTOOL_A_COALESCE_RX_USECS: c.RxUsecs, unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES: c.RxFrames,
		unix.ETHTOOL_A_COALESCE_TX_USECS: c.TxUsecs, unix.ETHTOOL_A_COALESCE_TX_MAX_FRAMES: c.TxFrames}
	for _, r := range coalesceRows {
		if present[r.attr] {
			p.Any(r.label, r.label+": %d\n", values[r.attr])
		} else {
			p.Text(r.label + ": n/a\n")
		}
		if r.blank {
			p.Text("\n")
		}
	}
	showBool("rx", "CQE mode RX: %s  ", unix.ETHTOOL_A_COALESCE_USE_CQE_MODE_RX, c.CQEModeRx)
	showBool("tx", "TX: %s\n", unix.ETHTOOL_A_COALESCE_USE_CQE_MODE_TX, c.CQEModeTx)
	p.Text("\n")
	return p
}

// coalesceParams are the names `ethtool -C` accepts, with their attribute
// and whether they take on/off, built on first use.
var coalesceParams = sync.OnceValue(func() map[string]ethtoolParam {
	return map[string]ethtoolParam{
		"adaptive-rx":       {unix.ETHTOOL_A_COALESCE_USE_ADAPTIVE_RX, true},
		"adaptive-tx":       {unix.ETHTOOL_A_COALESCE_USE_ADAPTIVE_TX, true},
		"sample-interval":   {unix.ETHTOOL_A_COALESCE_RATE_SAMPLE_INTERVAL, false},
		"stats-block-usecs": {unix.ETHTOOL_A_COALESCE_STATS_BLOCK_USECS, false},
		"pkt-rate-low":      {unix.ETHTOOL_A_COALESCE_PKT_RATE_LOW, false},
		"pkt-rate-high":     {unix.ETHTOOL_A_COALESCE_PKT_RATE_HIGH, false},
		"rx-usecs":          {unix.ETHTOOL_A_COALESCE_RX_USECS, false},
		"rx-frames":         {unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES, false},
		"rx-usecs-irq":      {unix.ETHTOOL_A_COALESCE_RX_USECS_IRQ, false},
		"rx-frames-irq":     {unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES_IRQ, false},
		"tx-usecs":          {unix.ETHTOOL_A_COALESCE_TX_USECS, false},
		"tx-frames":         {unix.ETHTOOL_A_COALESCE_TX_MAX_FRAMES, false},
		"tx-usecs-irq":      {unix.ETHTOOL_A_COALESCE_TX_USECS_IRQ, false},
		"tx-frames-irq":     {unix.ETHTOOL_A_COALESCE_TX_MAX_FRAMES_IRQ, false},
		"rx-usecs-low":      {unix.ETHTOOL_A_COALESCE_RX_USECS_LOW, false},
		"rx-frames-low":     {unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES_LOW, false},
		"tx-usecs-low":      {unix.ETHTOOL_A_COALESCE_TX_USECS_LOW, false},
		"tx-frames-low":     {unix.ETHTOOL_A_COALESCE_TX_MAX_FRAMES_LOW, false},
		"rx-usecs-high":     {unix.ETHTOOL_A_COALESCE_RX_USECS_HIGH, false},
		"rx-frames-high":    {unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES_HIGH, false},
		"tx-usecs-high":     {unix.ETHTOOL_A_COALESCE_TX_USECS_HIGH, false},
		"tx-frames-high":    {unix.ETHTOOL_A_COALESCE_TX_MAX_FRAMES_HIGH, false},
		"cqe-mode-rx":       {unix.ETHTOOL_A_COALESCE_USE_CQE_MODE_RX, true},
		"cqe-mode-tx":       {unix.ETHTOOL_A_COALESCE_USE_CQE_MODE_TX, true},
	}
})

// parseCoalesceArgs parses `-C DEV name value ...` as ethtool does (u32
// values, on/off for the boolean ones).
func parseCoalesceArgs(args []string) (netlinkx.CoalesceSet, []uint16, error) {
	if len(args) == 0 {
		return nil, nil, usagef("ethtool -C: no coalescing parameters given")
	}
	set, order, err := parseParamArgs("-C", args, func(name string) (ethtoolParam, bool) {
		p, ok := coalesceParams()[name]
		return p, ok
	})
	return netlinkx.CoalesceSet(set), order, err
}

// ethtoolParam is a `name value` parameter of -C or -G: its attribute,
// and whether it takes on/off rather than a number.
type ethtoolParam struct {
	attr  uint16
	onOff bool
}

// parseParamArgs parses `name value ...` pairs of ethtool option opt as
// ethtool does: u32 values (strtoul's forms, no sign), on/off where the
// parameter is boolean; a repeated name keeps its last value and its
// first place in the returned order.
func parseParamArgs(opt string, args []string, lookup func(string) (ethtoolParam, bool)) (map[uint16]uint32, []uint16, error) {
	set := map[uint16]uint32{}
	var order []uint16
	for i := 0; i < len(args); i += 2 {
		name := args[i]
		prm, ok := lookup(name)
		if !ok {
			return nil, nil, usagef("ethtool %s: unknown parameter '%s'", opt, name)
		}
		if i+1 >= len(args) {
			return nil, nil, usagef("ethtool %s: parameter '%s' needs a value", opt, name)
		}
		val := args[i+1]
		var v uint32
		if prm.onOff {
			switch val {
			case "on":
				v = 1
			case "off":
			default:
				return nil, nil, usagef("ethtool %s: invalid value '%s' for parameter '%s'", opt, val, name)
			}
		} else {
			u, ok := strtoul(val)
			if !ok || u > 0xffffffff || strings.HasPrefix(strings.TrimSpace(val), "-") {
				return nil, nil, usagef("ethtool %s: invalid value '%s' for parameter '%s'", opt, val, name)
			}
			v = uint32(u)
		}
		if _, dup := set[prm.attr]; !dup {
			order = append(order, prm.attr)
		}
		set[prm.attr] = v
	}
	return set, order, nil
}

// ethtoolMan is the page text of ibctl-ethtool(8).
var ethtoolMan = ManDoc{
	Synopsis: []string{
		"ibctl ethtool DEVICE",
		"ibctl ethtool -i|--driver DEVICE",
		"ibctl ethtool -k|--show-features DEVICE",
		"ibctl ethtool -K|--features DEVICE FEATURE on|off ...",
		"ibctl ethtool -c|--show-coalesce DEVICE",
		"ibctl ethtool -C|--coalesce DEVICE [ rx-usecs N ] [ rx-frames N ]",
		"ibctl ethtool -g|--show-ring DEVICE",
		"ibctl ethtool -G|--set-ring DEVICE [ rx N ] [ tx N ]",
		"ibctl ethtool -l|--show-channels DEVICE",
		"ibctl ethtool -L|--set-channels DEVICE [ combined N ]",
		"ibctl ethtool -S|--statistics DEVICE",
	},
	Examples: []ManItem{
		{"ibctl ethtool ib0", "Shows ib0's speed (lane rate times width), duplex and link state."},
		{"ibctl ethtool -K ib0 tso off rx-checksum on", "Turns TCP segmentation offload off and receive checksumming on."},
		{"ibctl ethtool -C ib0 rx-usecs 16 rx-frames 32", "Moderates receive interrupts: one per 32 packets or 16 microseconds."},
		{"ibctl ethtool -G ib0 rx 512 tx 128", "Resizes the receive and send queues (an interface that is up goes down and up)."},
		{"ibctl ethtool -S ib0", "Shows the driver's statistics."},
	},
	SeeAlso: []string{"ibctl(8)", "ibctl-link(8)", "ibctl-perf(8)", "ethtool(8)"},
}
