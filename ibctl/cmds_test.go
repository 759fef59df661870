package ibctl

import (
	"io"
	"net/netip"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/ibctl/ibctl/netlinkx"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// parseFactory is a Factory whose driver a parse test must never reach.
func parseFactory(t *testing.T) *Factory {
	return &Factory{IO: &IOStreams{Out: io.Discard, ErrOut: io.Discard}, Globals: &Globals{},
		Connect: func(*Globals) (*netlinkx.Client, error) {
			t.Error("a parse test connected to the driver")
			return nil, unix.ECONNREFUSED
		}}
}

// parseCase is an argument list and what parsing it must give: the
// options the run function receives, or the exact usage error.
type parseCase struct {
	argv string
	want any    // the options, F cleared
	err  string // a usage error (exit status 2)
}

// checkParse runs each argv through the command newCmd builds with a run
// function that records the options it gets.
func checkParse[O any](t *testing.T, tests []parseCase, newCmd func(f *Factory, runF func(*O) error) *cobra.Command, clear func(*O)) {
	t.Helper()
	for _, tt := range tests {
		f := parseFactory(t)
		var got *O
		cmd := newCmd(f, func(o *O) error {
			got = o
			return nil
		})
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		args, err := splitLine(tt.argv)
		if err != nil {
			t.Fatal(err)
		}
		cmd.SetArgs(args)
		err = execute(cmd)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err || ExitStatus(err) != ExitUsage {
				t.Errorf("%q: err %v (status %d), want usage error %q", tt.argv, err, ExitStatus(err), tt.err)
			}
			if got != nil {
				t.Errorf("%q: ran with %+v after a usage error", tt.argv, *got)
			}
			continue
		}
		if err != nil || got == nil {
			t.Errorf("%q: err %v, ran %v", tt.argv, err, got != nil)
			continue
		}
		// NewCmdX gives every verb the factory's lazy connection; cmp
		// tells functions apart only when nil.
		if c := reflect.ValueOf(got).Elem().FieldByName("Client"); c.IsValid() {
			if c.IsNil() {
				t.Errorf("%q: the options hold no Client", tt.argv)
			}
			c.SetZero()
		}
		clear(got)
		if diff := cmp.Diff(tt.want, *got, cmpopts.IgnoreUnexported(PingOptions{}), cmp.AllowUnexported(inetPrefix{}), cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tt.argv, diff)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestParseLinkCmd(t *testing.T) {
	checkParse(t, []parseCase{
		{argv: "", want: LinkOptions{Verb: "show"}},
		{argv: "show", want: LinkOptions{Verb: "show"}},
		{argv: "ls -s -s dev ib0", want: LinkOptions{Verb: "show", Stats: 2, Args: LinkArgs{Dev: "ib0"}}},
		{argv: "add link ib0 name ib0.8001 up type ipoib pkey 0x8001 mode connected umcast 1",
			want: LinkOptions{Verb: "add", Args: LinkArgs{Dev: "ib0.8001", Parent: "ib0", Up: ptr(true), Type: "ipoib",
				PKey: ptr(uint16(0x8001)), Mode: ptr(uint16(1)), Umcast: ptr(uint16(1))}}},
		{argv: "set ib0 down mtu 2044", want: LinkOptions{Verb: "set", Args: LinkArgs{Dev: "ib0", Up: ptr(false), MTU: ptr(uint32(2044))}}},
		{argv: "del dev ib0.8001", want: LinkOptions{Verb: "delete", Args: LinkArgs{Dev: "ib0.8001"}}},
		{argv: "set ib0 mtu", err: `link set: Command line is not complete. Try option "help"`},
		{argv: "add link ib0 type ipoib pkey zz", err: `link add: argument "zz" is wrong: pkey is invalid`},
		{argv: "show -x", err: `unknown shorthand flag: 'x' in -x`},
		{argv: "frob", err: `unknown command "frob" for "link"`},
	}, NewCmdLink, func(o *LinkOptions) { o.F = nil })
}

func TestParseAddrCmd(t *testing.T) {
	v4 := []byte{10, 0, 0, 1}
	checkParse(t, []parseCase{
		{argv: "", want: AddrOptions{Verb: "show"}},
		{argv: "show dev ib0 up", want: AddrOptions{Verb: "show", Args: AddrArgs{Dev: "ib0", Up: true}}},
		{argv: "add 10.0.0.1/24 brd + dev ib0", want: AddrOptions{Verb: "add", Args: AddrArgs{Dev: "ib0", Family: unix.AF_INET,
			Local: v4, PrefixLen: 24, Broadcast: []byte{10, 0, 0, 255}}}},
		{argv: "del fd00::1/64 dev ib0", want: AddrOptions{Verb: "delete", Args: AddrArgs{Dev: "ib0", Family: unix.AF_INET6,
			Local: []byte{0xfd, 15: 1}, PrefixLen: 64}}},
		{argv: "add 10.0.0.1/24", err: `addr add: Not enough information: "dev" argument is required.`},
		{argv: "add 10.0.0.1/33 dev ib0", err: `addr add: Error: any valid prefix is expected rather than "10.0.0.1/33".`},
		{argv: "show ib0 ib1", err: `addr show: Error: either "dev" is duplicate, or "ib1" is a garbage.`},
		{argv: "show dev", err: `addr show: Command line is not complete. Try option "help"`},
	}, NewCmdAddr, func(o *AddrOptions) { o.F = nil })
}

func TestParseEthtoolCmd(t *testing.T) {
	checkParse(t, []parseCase{
		{argv: "ib0", want: EthtoolOptions{Dev: "ib0"}},
		{argv: "-k ib0.8001", want: EthtoolOptions{ShowFeatures: true, Dev: "ib0.8001"}},
		{argv: "--driver ib0", want: EthtoolOptions{Driver: true, Dev: "ib0"}},
		{argv: "-K ib0 tso off rx-checksumming on", want: EthtoolOptions{Features: true, Dev: "ib0", Args: []string{"tso", "off", "rx-checksumming", "on"}}},
		{argv: "-C ib0 rx-usecs 10", want: EthtoolOptions{Coalesce: true, Dev: "ib0", Args: []string{"rx-usecs", "10"},
			CoalesceSet: netlinkx.CoalesceSet{unix.ETHTOOL_A_COALESCE_RX_USECS: 10}, CoalesceOrder: []uint16{unix.ETHTOOL_A_COALESCE_RX_USECS}}},
		{argv: "-C ib0 rx-usecs 10 tx-usecs", err: `ethtool -C: parameter 'tx-usecs' needs a value`},
		{argv: "-C ib0", err: `ethtool -C: no coalescing parameters given`},
		{argv: "-g ib0", want: EthtoolOptions{ShowRings: true, Dev: "ib0"}},
		{argv: "-G ib0 tx 64 rx 300 tx 32", want: EthtoolOptions{Rings: true, Dev: "ib0", Args: []string{"tx", "64", "rx", "300", "tx", "32"},
			RingsSet:   netlinkx.RingsSet{unix.ETHTOOL_A_RINGS_TX: 32, unix.ETHTOOL_A_RINGS_RX: 300},
			RingsOrder: []uint16{unix.ETHTOOL_A_RINGS_TX, unix.ETHTOOL_A_RINGS_RX}}},
		{argv: "-k -c ib0", err: `ethtool: only one of -i, -k, -K, -c, -C, -g, -G, -l, -L, -S may be given`},
		{argv: "-k ib0 tso", err: `ethtool: unexpected argument "tso"`},
		{argv: "", err: `ethtool: missing DEVNAME (try "ibctl ethtool --help")`},
		{argv: "-x ib0", err: `unknown shorthand flag: 'x' in -x`},
	}, NewCmdEthtool, func(o *EthtoolOptions) { o.F = nil })
}

func TestParsePingCmd(t *testing.T) {
	def := PingOptions{Size: 56, Interval: 1, Wait: 10, PMTU: "want"}
	with := func(fn func(o *PingOptions)) PingOptions {
		o := def
		fn(&o)
		return o
	}
	checkParse(t, []parseCase{
		{argv: "10.0.0.2", want: with(func(o *PingOptions) { o.Dst, o.Addr = "10.0.0.2", netip.MustParseAddr("10.0.0.2") })},
		{argv: "-I ib0 -c 3 -s 1000 -i 0.2 -W 2 -M do fd00::2", want: with(func(o *PingOptions) {
			o.Dev, o.Count, o.Size, o.Interval, o.Wait, o.PMTU = "ib0", 3, 1000, 0.2, 2, "do"
			o.Dst, o.Addr = "fd00::2", netip.MustParseAddr("fd00::2")
		})},
		{argv: "fe80::2%ib0", want: with(func(o *PingOptions) { o.Dst, o.Addr = "fe80::2%ib0", netip.MustParseAddr("fe80::2%ib0") })},
		{argv: "-q -w 3 -c 2 10.0.0.2", want: with(func(o *PingOptions) {
			o.Quiet, o.Deadline, o.Count = true, 3, 2
			o.Dst, o.Addr = "10.0.0.2", netip.MustParseAddr("10.0.0.2")
		})},
		{argv: "-n 10.0.0.2", want: with(func(o *PingOptions) {
			o.Numeric, o.Dst, o.Addr = true, "10.0.0.2", netip.MustParseAddr("10.0.0.2")
		})},
		{argv: "-w 0 10.0.0.2", want: with(func(o *PingOptions) { o.Dst, o.Addr = "10.0.0.2", netip.MustParseAddr("10.0.0.2") })},
		{argv: "-w 1.5 10.0.0.2", err: `ping: invalid argument: '1.5'`},
		{argv: "host.example", err: `ping: host.example: Name or service not known`},
		{argv: "-c 0 10.0.0.2", err: `ping: invalid argument: '0': out of range: 1 <= value <= 9223372036854775807`},
		{argv: "-c x 10.0.0.2", err: `ping: invalid argument: 'x'`},
		{argv: "-s 65508 10.0.0.2", err: `ping: invalid argument: '65508': out of range: 0 <= value <= 65507`},
		{argv: "-i -1 10.0.0.2", err: `ping: bad timing interval: -1`},
		{argv: "-W 0 10.0.0.2", err: `ping: bad linger time: 0`},
		{argv: "-M sometimes 10.0.0.2", err: `ping: invalid -M argument: sometimes`},
		{argv: "10.0.0.2 10.0.0.3", err: `ping: unexpected argument "10.0.0.3"`},
	}, NewCmdPing, func(o *PingOptions) { o.F = nil })
}

func TestParseSysCmd(t *testing.T) {
	checkParse(t, []parseCase{
		{argv: "read class/net/ib0/mode", want: SysOptions{Verb: "read", Path: "class/net/ib0/mode"}},
		{argv: "cat /sys/class/net/ib0/mode", want: SysOptions{Verb: "read", Path: "/sys/class/net/ib0/mode"}},
		{argv: "write class/net/ib0/create_child 0x8001", want: SysOptions{Verb: "write", Path: "class/net/ib0/create_child", Value: "0x8001"}},
		{argv: "write --no-newline class/net/ib0/mode connected", want: SysOptions{Verb: "write", Path: "class/net/ib0/mode", Value: "connected", NoNewline: true}},
		{argv: "write class/net/ib0/mode -n", want: SysOptions{Verb: "write", Path: "class/net/ib0/mode", Value: "-n"}},
		{argv: "ls", want: SysOptions{Verb: "ls"}},
		{argv: "ls class/net", want: SysOptions{Verb: "ls", Path: "class/net"}},
		{argv: "read", err: `read: missing PATH (try "ibctl read --help")`},
		{argv: "write class/net/ib0/mode", err: `write: missing VALUE (try "ibctl write --help")`},
		{argv: "ls a b", err: `ls: unexpected argument "b"`},
	}, NewCmdSys, func(o *SysOptions) { o.F = nil })
}

func TestParseOtherCmds(t *testing.T) {
	all := uint32(0xff &^ unix.NUD_NOARP)
	checkParse(t, []parseCase{
		{argv: "", want: NeighOptions{Args: NeighArgs{State: all}}},
		{argv: "show dev ib0 nud stale", want: NeighOptions{Args: NeighArgs{Dev: "ib0", State: unix.NUD_STALE}}},
		{argv: "show to 10.0.0.0/8", want: NeighOptions{Args: NeighArgs{State: all, Family: unix.AF_INET,
			To: inetPrefix{family: unix.AF_INET, data: []byte{10, 0, 0, 0}, bitlen: 8, plenSet: true}}}},
		{argv: "show dev ib0 dev ib1", err: `neigh show: Error: duplicate "dev": "ib1" is the second value.`},
		{argv: "show nud bogus", err: `neigh show: Error: argument "bogus" is wrong: nud state is bad`},
	}, NewCmdNeigh, func(o *NeighOptions) { o.F = nil })
	checkParse(t, []parseCase{
		{argv: "show", want: SMOptions{Verb: "show"}},
		{argv: "groups", want: SMOptions{Verb: "groups"}},
		{argv: "partition ls", want: SMOptions{Verb: "partition list"}},
		{argv: "part add 0x8001 mtu 4096 all limited member n10/1 member n2/2:limited", want: SMOptions{Verb: "partition add",
			Partition: netlinkx.Partition{PKey: 0x8001, MTU: 4096, All: "limited", Members: []netlinkx.PartitionMember{
				{Node: "n10", Port: 1, Full: true}, {Node: "n2", Port: 2}}}}},
		{argv: "partition del 0x8001", want: SMOptions{Verb: "partition del", Partition: netlinkx.Partition{PKey: 0x8001}}},
		{argv: "partition add 0x8001 mtu", err: `sm partition add: "mtu" needs a value`},
		{argv: "partition add 0x8001 member n1/1:half", err: `sm partition add: member "n1/1:half": membership must be full or limited`},
		{argv: "partition del zz", err: `sm partition del: argument "zz" is wrong: pkey is invalid`},
		{argv: "groups x", err: `unknown command "x" for "sm groups"`},
	}, NewCmdSM, func(o *SMOptions) { o.F = nil })
	checkParse(t, []parseCase{
		{argv: "start --foreground --param send_queue_size=256 --param debug_level=1 --topology t.json --recover",
			want: DriverOptions{Verb: "start", Foreground: true, Topology: "t.json", Recover: true,
				Params: []string{"send_queue_size=256", "debug_level=1"}, ParamVals: map[string]int{"send_queue_size": 256, "debug_level": 1}}},
		{argv: "stop", want: DriverOptions{Verb: "stop"}},
		{argv: "status", want: DriverOptions{Verb: "status"}},
		{argv: "start --param debug_level", err: `driver start: --param "debug_level": want NAME=VALUE`},
		{argv: "start --param debug_level=x", err: `driver start: --param debug_level: invalid value "x"`},
		{argv: "status now", err: `unknown command "now" for "driver status"`},
	}, NewCmdDriver, func(o *DriverOptions) { o.F = nil })
	checkParse(t, []parseCase{
		{argv: "-I ib0 -t 0.5 -l 1000 10.0.0.2", want: PerfOptions{Dev: "ib0", Seconds: 0.5, Length: 1000, Dst: "10.0.0.2", Addr: netip.MustParseAddr("10.0.0.2")}},
		{argv: "fd00::2", err: `perf: fd00::2: not an IPv4 address`},
		{argv: "-t 0 10.0.0.2", err: `perf: invalid time 0 (0.001 <= SEC <= 3600)`},
		{argv: "-l 65508 10.0.0.2", err: `perf: invalid length 65508 (0 ... 65507)`},
	}, NewCmdPerf, func(o *PerfOptions) { o.F = nil })
	checkParse(t, []parseCase{
		{argv: "show", want: MaddrOptions{}},
		{argv: "show dev ib0", want: MaddrOptions{Dev: "ib0"}},
		{argv: "show ib0", want: MaddrOptions{Dev: "ib0"}},
		{argv: "show dev", err: `maddr show: want [dev DEV]`},
	}, NewCmdMaddr, func(o *MaddrOptions) { o.F = nil })
	checkParse(t, []parseCase{
		{argv: "get fd00::2", want: RouteOptions{Verb: "get", Dst: netip.MustParseAddr("fd00::2")}},
		{argv: "", want: RouteOptions{Verb: "show", Table: "main"}},
		{argv: "list", want: RouteOptions{Verb: "show", Table: "main"}},
		{argv: "show dev ib0 table 254", want: RouteOptions{Verb: "show", Dev: "ib0", Table: "main"}},
		{argv: "show table 100", want: RouteOptions{Verb: "show", Table: "100"}},
		{argv: "get 10.0.0.300", err: `route get: Error: inet address is expected rather than "10.0.0.300".`},
	}, NewCmdRoute, func(o *RouteOptions) { o.F = nil })
	checkParse(t, []parseCase{
		{argv: "-f", want: DmesgOptions{Follow: true}},
		{argv: "-T -c", want: DmesgOptions{Ctime: true, ReadClear: true}},
		{argv: "--clear", want: DmesgOptions{Clear: true}},
		{argv: "-C -c", err: `dmesg: mutually exclusive arguments: --clear --read-clear`},
		{argv: "x", err: `unknown command "x" for "dmesg"`},
	}, NewCmdDmesg, func(o *DmesgOptions) { o.F = nil })
	checkParse(t, []parseCase{
		{argv: "show", want: HCAOptions{Verb: "show"}},
		{argv: "", want: HCAOptions{Verb: "show"}},
		{argv: "pkeys", want: HCAOptions{Verb: "pkeys", Port: 1}},
		{argv: "pkeys 2", want: HCAOptions{Verb: "pkeys", Port: 2}},
		{argv: "pkeys 0x3", want: HCAOptions{Verb: "pkeys", Port: 3}},
		{argv: "pkeys 0", err: `hca pkeys: invalid port "0"`},
		{argv: "pkeys 256", err: `hca pkeys: invalid port "256"`},
		{argv: "pkeys 1 2", err: `accepts at most 1 arg(s), received 2`},
	}, NewCmdHCA, func(o *HCAOptions) { o.F = nil })
	checkParse(t, []parseCase{
		{argv: "zsh", want: CompletionOptions{Shell: "zsh"}},
		{argv: "tcsh", err: `completion: unknown shell "tcsh" (bash, zsh or fish)`},
	}, NewCmdCompletion, func(o *CompletionOptions) { o.F, o.Root = nil, nil })
}
