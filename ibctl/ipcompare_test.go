package ibctl

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// ipJSONLink and ipJSONAddr are the keys of `ip -j link show` and
// `ip -j addr show` the comparison reads back.
type ipJSONLink struct {
	Ifindex   int32    `json:"ifindex"`
	Link      string   `json:"link"`
	Ifname    string   `json:"ifname"`
	Flags     []string `json:"flags"`
	MTU       uint32   `json:"mtu"`
	Qdisc     string   `json:"qdisc"`
	Operstate string   `json:"operstate"`
	Txqlen    uint32   `json:"txqlen"`
	Address   string   `json:"address"`
	AddrInfo  []map[string]any
}

// ipNetns runs ip -n ns args and returns its standard output.
func ipNetns(t *testing.T, ns string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command("ip", append([]string{"-n", ns}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("ip -n %s %s: %v: %s", ns, strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// netnsLinks reads the links and addresses of the namespace back from
// ip's JSON, as the driver would describe them.
func netnsLinks(t *testing.T, ns string) ([]netlinkx.Link, map[int32]*netlinkx.Link, []netlinkx.Addr) {
	t.Helper()
	var jl []ipJSONLink
	if err := json.Unmarshal([]byte(ipNetns(t, ns, "-j", "link", "show")), &jl); err != nil {
		t.Fatal(err)
	}
	var ja []struct {
		Ifindex  int32            `json:"ifindex"`
		AddrInfo []map[string]any `json:"addr_info"`
	}
	if err := json.Unmarshal([]byte(ipNetns(t, ns, "-j", "addr", "show")), &ja); err != nil {
		t.Fatal(err)
	}
	index := map[string]int32{}
	for _, l := range jl {
		index[l.Ifname] = l.Ifindex
	}
	var links []netlinkx.Link
	for _, j := range jl {
		l := netlinkx.Link{Index: j.Ifindex, Name: j.Ifname, MTU: j.MTU, Qdisc: j.Qdisc, TxQLen: j.Txqlen}
		if j.Link != "" {
			l.ParentIndex = index[j.Link]
		}
		carrier := true
		for _, f := range j.Flags {
			if f == "NO-CARRIER" {
				carrier = false
			}
			for _, n := range linkFlagNames {
				if n.name == f {
					l.Flags |= n.bit
				}
			}
		}
		if l.Flags&unix.IFF_UP != 0 && carrier {
			l.Flags |= unix.IFF_RUNNING
		}
		for i, s := range operstateNames {
			if s == j.Operstate {
				l.Operstate = uint8(i)
			}
		}
		hw, err := hex.DecodeString(strings.ReplaceAll(j.Address, ":", ""))
		if err != nil {
			t.Fatal(err)
		}
		l.Address = hw
		links = append(links, l)
	}
	byIndex := map[int32]*netlinkx.Link{}
	for i := range links {
		byIndex[links[i].Index] = &links[i]
	}
	var addrs []netlinkx.Addr
	for _, l := range ja {
		for _, ai := range l.AddrInfo {
			a := netlinkx.Addr{Index: l.Ifindex, Family: unix.AF_INET, Flags: unix.IFA_F_PERMANENT}
			if ai["family"] == "inet6" {
				a.Family = unix.AF_INET6
			}
			a.Local = netip.MustParseAddr(ai["local"].(string)).AsSlice()
			a.PrefixLen = uint8(ai["prefixlen"].(float64))
			if b, ok := ai["broadcast"].(string); ok {
				a.Broadcast = netip.MustParseAddr(b).AsSlice()
			}
			if s, ok := ai["label"].(string); ok {
				a.Label = s
			}
			for sc := 0; sc < 256; sc++ {
				if scopeName(uint8(sc)) == ai["scope"] {
					a.Scope = uint8(sc)
					break
				}
			}
			for _, f := range ifaFlagNames {
				if ai[f.name] == true {
					a.Flags |= f.bit
				}
			}
			if ai["dynamic"] == true {
				a.Flags &^= unix.IFA_F_PERMANENT
			}
			addrs = append(addrs, a)
		}
	}
	return links, byIndex, addrs
}

// netnsMaddrs reads the multicast groups of the namespace back from
// ip -j maddr.
func netnsMaddrs(t *testing.T, ns string) []netlinkx.Maddr {
	t.Helper()
	var jm []struct {
		Ifindex int32  `json:"ifindex"`
		Ifname  string `json:"ifname"`
		Maddr   []struct{ Link, Family, Address string }
	}
	if err := json.Unmarshal([]byte(ipNetns(t, ns, "-j", "maddr", "show")), &jm); err != nil {
		t.Fatal(err)
	}
	var list []netlinkx.Maddr
	for _, j := range jm {
		m := netlinkx.Maddr{Index: j.Ifindex, Name: j.Ifname}
		for _, a := range j.Maddr {
			if a.Link != "" {
				hw, err := hex.DecodeString(strings.ReplaceAll(a.Link, ":", ""))
				if err != nil {
					t.Fatal(err)
				}
				m.Link = append(m.Link, hw)
			} else {
				m.Inet = append(m.Inet, netip.MustParseAddr(a.Address).AsSlice())
			}
		}
		list = append(list, m)
	}
	return list
}

// TestGlobalFormatsMatchIP compares the formats of -br, -o and -4/-6/-0
// that do not depend on the link type with what the real ip (iproute2
// 6.1) prints for a veth pair in a network namespace of the test's own:
// the links and addresses are read back from ip's JSON and printed by
// ibctl's printers.
func TestGlobalFormatsMatchIP(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("creating a network namespace needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("iproute2's ip is not installed")
	}
	ns := fmt.Sprintf("ibctl-globals-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	for _, line := range []string{
		"link add va type veth peer name vb",
		"link add vc type veth peer name vd",
		"link set va addrgenmode none", "link set vb addrgenmode none",
		"link set vc addrgenmode none", "link set vd addrgenmode none",
		"link set va up", "link set vc up", "link set vd up", // vb down: va has no carrier
		"addr add 10.1.2.3/24 brd + dev va",
		"addr add 10.9.0.1/16 dev va label va:x",
		"addr add 2001:db8::1/64 dev va nodad",
		"addr add 192.0.2.1/24 dev vb",
		"addr add 2001:db8:1::1/64 dev vc nodad",
		"addr add fe80::1/64 dev vd nodad",
	} {
		ipNetns(t, ns, strings.Fields(line)...)
	}
	links, byIndex, addrs := netnsLinks(t, ns)
	for _, tc := range []struct {
		ip string
		g  Globals
		a  AddrArgs
		l  LinkArgs
	}{
		{ip: "-br link", g: Globals{Brief: true}},
		{ip: "-j -br link", g: Globals{Brief: true, JSON: true}},
		{ip: "-br link show up", g: Globals{Brief: true}, l: LinkArgs{ShowUp: true}},
		{ip: "-j -br link show up", g: Globals{Brief: true, JSON: true}, l: LinkArgs{ShowUp: true}},
		{ip: "-br -o link show up", g: Globals{Brief: true, Oneline: true}, l: LinkArgs{ShowUp: true}},
		{ip: "-br addr", g: Globals{Brief: true}},
		{ip: "-j -br addr", g: Globals{Brief: true, JSON: true}},
		{ip: "-br -4 addr", g: Globals{Brief: true, Family: "inet"}},
		{ip: "-br -6 addr", g: Globals{Brief: true, Family: "inet6"}},
		{ip: "-br -0 addr", g: Globals{Brief: true, Family: "link"}},
		{ip: "-j -br -0 addr", g: Globals{Brief: true, Family: "link", JSON: true}},
		{ip: "-br addr show up", g: Globals{Brief: true}, a: AddrArgs{Up: true}},
		{ip: "-br -o addr", g: Globals{Brief: true, Oneline: true}},
		{ip: "-j -br -o addr", g: Globals{Brief: true, Oneline: true, JSON: true}},
		{ip: "-s -br addr", g: Globals{Brief: true, Stats: 1}},
		{ip: "-o addr", g: Globals{Oneline: true}},
		{ip: "-j -o addr", g: Globals{Oneline: true, JSON: true}},
		{ip: "-o -4 addr", g: Globals{Oneline: true, Family: "inet"}},
		{ip: "-o -6 addr", g: Globals{Oneline: true, Family: "inet6"}},
		{ip: "-o -s addr", g: Globals{Oneline: true, Stats: 1}},
		{ip: "-4 addr", g: Globals{Family: "inet"}},
		{ip: "-j -4 addr", g: Globals{Family: "inet", JSON: true}},
		{ip: "-6 addr", g: Globals{Family: "inet6"}},
		{ip: "-j -6 addr", g: Globals{Family: "inet6", JSON: true}},
		{ip: "-6 addr show dev va", g: Globals{Family: "inet6"}, a: AddrArgs{Dev: "va"}},
		{ip: "-4 addr show dev vc", g: Globals{Family: "inet"}, a: AddrArgs{Dev: "vc"}},
		{ip: "-j -4 addr show dev vc", g: Globals{Family: "inet", JSON: true}, a: AddrArgs{Dev: "vc"}},
	} {
		want := ipNetns(t, ns, strings.Fields(tc.ip)...)
		show := links
		if tc.a.Dev != "" {
			show = nil
			for _, l := range links {
				if l.Name == tc.a.Dev {
					show = append(show, l)
				}
			}
		}
		var got bytes.Buffer
		var err error
		g := tc.g
		if strings.Contains(tc.ip, "link") {
			err = printLinks(&got, show, byIndex, &g, 0, tc.l.shown)
		} else {
			err = printAddrLinks(&got, show, byIndex, addrs, &g, tc.a)
		}
		if err != nil {
			t.Fatal(err)
		}
		if got.String() != want {
			t.Errorf("ip %s:\n%s\nibctl:\n%s", tc.ip, want, got.String())
		}
	}
	maddrs := netnsMaddrs(t, ns)
	for _, tc := range []struct {
		ip string
		g  Globals
	}{
		{ip: "maddr"},
		{ip: "-j maddr", g: Globals{JSON: true}},
		{ip: "-o maddr", g: Globals{Oneline: true}},
		{ip: "-j -o maddr", g: Globals{Oneline: true, JSON: true}},
		{ip: "-4 maddr", g: Globals{Family: "inet"}},
		{ip: "-6 -o maddr", g: Globals{Family: "inet6", Oneline: true}},
		{ip: "-0 maddr", g: Globals{Family: "link"}},
		{ip: "-j -0 maddr", g: Globals{Family: "link", JSON: true}},
	} {
		want := ipNetns(t, ns, strings.Fields(tc.ip)...)
		var got bytes.Buffer
		g := tc.g
		if err := printMaddrs(&got, maddrs, &g, ""); err != nil {
			t.Fatal(err)
		}
		if got.String() != want || want == "" {
			t.Errorf("ip %s:\n%s\nibctl:\n%s", tc.ip, want, got.String())
		}
	}
}
