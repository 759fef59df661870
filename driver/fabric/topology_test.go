package fabric_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/ibctl/ibctl/driver/fabric"
)

func TestRate(t *testing.T) {
	tests := []struct {
		width, speed string
		mbps         int
		ibstat       string
	}{
		{"1X", "SDR", 2500, "2.5"},
		{"4X", "SDR", 10000, "10"},
		{"1X", "DDR", 5000, "5"},
		{"4X", "QDR", 40000, "40"},
		{"12X", "QDR", 120000, "120"},
		{"4X", "FDR10", 40000, "40 (FDR10)"},
		{"1X", "FDR", 14000, "14"},
		{"4X", "FDR", 56000, "56"},
		{"4X", "EDR", 100000, "100"},
		{"2X", "HDR", 100000, "100"},
		{"4X", "NDR", 400000, "400"},
		{"8X", "XDR", 1600000, "1600"},
	}
	for _, tt := range tests {
		p := fabric.Port{Width: tt.width, Speed: tt.speed}
		if got := p.LinkSpeed(); got != tt.mbps {
			t.Errorf("%s %s: LinkSpeed = %d, want %d", tt.width, tt.speed, got, tt.mbps)
		}
		if got := p.RateString(); got != tt.ibstat {
			t.Errorf("%s %s: RateString = %q, want %q", tt.width, tt.speed, got, tt.ibstat)
		}
	}
}

func TestValidatePartitions(t *testing.T) {
	tests := []struct {
		name string
		p    fabric.Partition
		want string
	}{
		{"zero pkey", fabric.Partition{PKey: "0x8000"}, `partition 1: invalid pkey "0x8000"`},
		{"not a number", fabric.Partition{PKey: "abc"}, `partition 1: invalid pkey "abc"`},
		{"duplicate of the default", fabric.Partition{PKey: "0x7fff"}, `partition "0x7fff": duplicate`},
		{"mtu", fabric.Partition{PKey: "0x8001", MTU: 1500}, `partition "0x8001": invalid ib_mtu 1500`},
		{"all", fabric.Partition{PKey: "0x8001", All: "some"}, `partition "0x8001": all must be "full" or "limited"`},
		{"node", fabric.Partition{PKey: "0x8001", Members: []fabric.Member{{Node: "node9", Port: 1}}}, `partition "0x8001": unknown node "node9"`},
		{"port", fabric.Partition{PKey: "0x8001", Members: []fabric.Member{{Node: "node1", Port: 3}}}, `partition "0x8001": node "node1" has no port 3`},
		{"duplicate member", fabric.Partition{PKey: "0x8001", Members: []fabric.Member{{Node: "node1", Port: 1}, {Node: "node1", Port: 1, Full: true}}},
			`partition "0x8001": duplicate member node1/1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topo := fabric.DefaultTopology()
			topo.Partitions = append(topo.Partitions, tt.p)
			err := topo.Validate()
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Validate = %v, want %s", err, tt.want)
			}
		})
	}
	topo := fabric.DefaultTopology()
	topo.Partitions = append(topo.Partitions, fabric.Partition{PKey: "0x8001"})
	if err := topo.Validate(); err != nil {
		t.Fatal(err)
	}
	if topo.Partitions[1].MTU != 2048 {
		t.Fatalf("default partition MTU = %d, want 2048", topo.Partitions[1].MTU)
	}
}

// A node's HCA model must run its ports' speed (ConnectX-3 stops at FDR,
// ConnectX-4 and -5 at EDR); the default model runs the default EDR.
func TestValidateCAType(t *testing.T) {
	for _, tt := range []struct {
		caType, speed, want string
	}{
		{"", "EDR", ""},
		{"MT4099", "FDR", ""},
		{"MT4099", "FDR10", ""},
		{"MT4099", "EDR", `node "node0" port 1: ca_type MT4099 (ConnectX-3) cannot run EDR`},
		{"MT4115", "EDR", ""},
		{"MT4115", "HDR", `node "node0" port 1: ca_type MT4115 (ConnectX-4) cannot run HDR`},
		{"MT4123", "HDR", ""},
		{"MT4129", "NDR", ""},
		{"MT4129", "XDR", `node "node0" port 1: ca_type MT4129 (ConnectX-7) cannot run XDR`},
		{"MT9999", "EDR", `node "node0": unknown ca_type "MT9999" (one of [MT4099 MT4103 MT4115 MT4119 MT4123 MT4129])`},
	} {
		topo := fabric.DefaultTopology()
		topo.Nodes[0].CAType, topo.Nodes[0].Firmware = tt.caType, ""
		topo.Nodes[0].Ports[0].Speed = tt.speed
		topo.Nodes[0].Ports[1].Speed = "SDR"
		err := topo.Validate()
		if got := fmt.Sprint(err); (tt.want == "" && err != nil) || (tt.want != "" && got != tt.want) {
			t.Errorf("%s at %s: %v, want %q", tt.caType, tt.speed, err, tt.want)
		}
	}
	topo := fabric.DefaultTopology()
	topo.Nodes[0].CAType, topo.Nodes[0].Firmware = "MT4099", ""
	topo.Nodes[0].Ports[0].Speed, topo.Nodes[0].Ports[1].Speed = "FDR", "FDR"
	if err := topo.Validate(); err != nil {
		t.Fatal(err)
	}
	if id := topo.Nodes[0].Identity(); id != (fabric.CAIdentity{Name: "mlx4_0", Type: "MT4099", HWVer: "1", CapMask: 0x02514868, PartitionCap: 128, GIDTableLen: 128, BoardID: "MT_1090120019"}) ||
		topo.Nodes[0].Firmware != "2.42.5000" {
		t.Errorf("ConnectX-3: %+v, firmware %s", id, topo.Nodes[0].Firmware)
	}
	if id := fabric.DefaultTopology().Nodes[1].Identity(); id.Name != "mlx5_0" || id.Type != fabric.DefaultCAType || id.GIDTableLen != 8 {
		t.Errorf("default: %+v", id)
	}
}

// A port's "ipoib" kind is "classic" (or left out) or "enhanced", and
// enhanced IPoIB is mlx5's: ConnectX-4 and later, always with checksum
// offload and LSO, never with connected mode (ib_ipoib runs
// ipoib_cm_dev_init only on its own netdev, so the address has no RC
// flag). Without caps an enhanced port gets exactly those.
func TestValidateIPoIBKind(t *testing.T) {
	noCM := &fabric.Capabilities{Checksum: true, LSO: true}
	for _, tt := range []struct {
		name, caType, kind string
		caps               *fabric.Capabilities
		want               string
		wantCaps           fabric.Capabilities
	}{
		{"left out", "", "", nil, "", fabric.Capabilities{Checksum: true, LSO: true, Connected: true}},
		{"classic", "MT4099", "classic", nil, "", fabric.Capabilities{Checksum: true, LSO: true, Connected: true}},
		{"enhanced", "", "enhanced", nil, "", fabric.Capabilities{Checksum: true, LSO: true}},
		{"enhanced ConnectX-7", "MT4129", "enhanced", noCM, "", *noCM},
		{"unknown kind", "", "Enhanced", nil, `node "a" port 1: invalid ipoib "Enhanced" (want "classic" or "enhanced")`, fabric.Capabilities{}},
		{"ConnectX-3", "MT4099", "enhanced", nil, `node "a" port 1: ipoib "enhanced" needs a ConnectX-4 or later, not ca_type MT4099 (ConnectX-3)`, fabric.Capabilities{}},
		{"ConnectX-3 Pro", "MT4103", "enhanced", nil, `node "a" port 1: ipoib "enhanced" needs a ConnectX-4 or later, not ca_type MT4103 (ConnectX-3 Pro)`, fabric.Capabilities{}},
		{"connected", "", "enhanced", &fabric.Capabilities{Checksum: true, LSO: true, Connected: true},
			`node "a" port 1: ipoib "enhanced" has checksum offload and LSO and no connected mode`, fabric.Capabilities{}},
		{"no checksum", "", "enhanced", &fabric.Capabilities{},
			`node "a" port 1: ipoib "enhanced" has checksum offload and LSO and no connected mode`, fabric.Capabilities{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			topo := &fabric.Topology{Nodes: []fabric.Node{{Name: "a", CAType: tt.caType,
				Ports: []fabric.Port{{Speed: "FDR", IPoIB: tt.kind, Caps: tt.caps}}}}}
			err := topo.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Fatalf("Validate = %q, want %q", got, tt.want)
			}
			if err == nil && *topo.Nodes[0].Ports[0].Caps != tt.wantCaps {
				t.Fatalf("caps = %+v, want %+v", *topo.Nodes[0].Ports[0].Caps, tt.wantCaps)
			}
		})
	}
}

// A topology file's "nodes" may be a count: that many nodes as the
// default topology's, named node0 up; a count out of range or a value of
// another kind is refused by name.
func TestLoadTopologyNodeCount(t *testing.T) {
	tests := []struct {
		name, json string
		want       string // error; "" for success
		nodes      int
	}{
		{"one", `{"nodes": 1}`, "", 1},
		{"two", `{"nodes": 2, "partitions": [{"pkey": "0xffff", "ib_mtu": 2048, "all": "full"}]}`, "", 2},
		{"1024", `{"nodes": 1024, "partitions": [{"pkey": "0xffff", "all": "full"}]}`, "", 1024},
		{"largest", fmt.Sprintf(`{"nodes": %d}`, fabric.MaxShorthandNodes), "", fabric.MaxShorthandNodes},
		{"zero", `{"nodes": 0}`, "nodes: invalid count 0 (want 1…24575)", 0},
		{"negative", `{"nodes": -3}`, "nodes: invalid count -3 (want 1…24575)", 0},
		{"too many", `{"nodes": 24576}`, "nodes: invalid count 24576 (want 1…24575)", 0},
		{"fraction", `{"nodes": 1.5}`, "nodes: 1.5 is neither a list of nodes nor a count", 0},
		{"string", `{"nodes": "64"}`, `nodes: "64" is neither a list of nodes nor a count`, 0},
		{"list, unknown field", `{"nodes": [{"name": "a", "ports": [{}], "colour": "red"}]}`, `json: unknown field "colour"`, 0},
		{"partition member beyond the count", `{"nodes": 2, "partitions": [{"pkey": "0x8001", "members": [{"node": "node2", "port": 1}]}]}`,
			`partition "0x8001": unknown node "node2"`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "topo.json")
			if err := os.WriteFile(path, []byte(tt.json), 0o600); err != nil {
				t.Fatal(err)
			}
			topo, err := fabric.LoadTopology(path)
			if tt.want != "" {
				if want := "topology " + path + ": " + tt.want; err == nil || err.Error() != want {
					t.Fatalf("LoadTopology = %v, want %s", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(topo.Nodes) != tt.nodes {
				t.Fatalf("%d nodes, want %d", len(topo.Nodes), tt.nodes)
			}
			def := fabric.DefaultTopology()
			if err := def.Validate(); err != nil {
				t.Fatal(err)
			}
			first := min(len(topo.Nodes), len(def.Nodes))
			got, _ := json.Marshal(topo.Nodes[:first])
			if want, _ := json.Marshal(def.Nodes[:first]); string(got) != string(want) {
				t.Errorf("first nodes %s, want the default's %s", got, want)
			}
			if last := topo.Nodes[len(topo.Nodes)-1].Name; last != fmt.Sprintf("node%d", tt.nodes-1) {
				t.Errorf("last node %q, want node%d", last, tt.nodes-1)
			}
		})
	}
}

// A node without a bus_info gets a PCI address in lspci's form
// DDDD:BB:DD.F: the bus field is 8 bits, so the numbering carries into
// the PCI domain instead of printing a three-digit bus; every node of the
// largest shorthand fabric gets its own address.
func TestDefaultBusInfo(t *testing.T) {
	for _, tt := range []struct {
		node int
		want string
	}{
		{0, "0000:81:00.0"},
		{1, "0000:82:00.0"},
		{126, "0000:ff:00.0"},
		{127, "0001:00:00.0"},
		{383, "0002:00:00.0"},
		{fabric.MaxShorthandNodes - 1, "0060:7f:00.0"},
	} {
		if got := fabric.DefaultBusInfo(tt.node); got != tt.want {
			t.Errorf("DefaultBusInfo(%d) = %q, want %q", tt.node, got, tt.want)
		}
	}
	pci := regexp.MustCompile(`^[0-9a-f]{4}:[0-9a-f]{2}:[01][0-9a-f]\.[0-7]$`)
	topo := &fabric.Topology{Nodes: make(fabric.NodeList, 0, fabric.MaxShorthandNodes)}
	if err := json.Unmarshal([]byte(fmt.Sprintf(`{"nodes": %d}`, fabric.MaxShorthandNodes)), topo); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, n := range topo.Nodes {
		if !pci.MatchString(n.BusInfo) {
			t.Fatalf("%s: bus_info %q is not a PCI address", n.Name, n.BusInfo)
		}
		if other, dup := seen[n.BusInfo]; dup {
			t.Fatalf("%s and %s share bus_info %s", other, n.Name, n.BusInfo)
		}
		seen[n.BusInfo] = n.Name
	}
	// A listed node without one gets the same, by its position.
	listed := &fabric.Topology{Nodes: fabric.NodeList{{Name: "a", Ports: []fabric.Port{{}}}, {Name: "b", Ports: []fabric.Port{{}}}},
		Partitions: []fabric.Partition{{PKey: "0xffff", All: "full"}}}
	if err := listed.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := listed.Nodes[1].BusInfo; got != "0000:82:00.0" {
		t.Errorf("listed node b: bus_info %q, want 0000:82:00.0", got)
	}
}

// A bus_info given in the topology must be a PCI address as pci_name
// prints it; anything else is refused by name.
func TestValidateBusInfo(t *testing.T) {
	for _, tt := range []struct {
		bus string
		ok  bool
	}{
		{"0000:03:00.0", true},
		{"0000:81:1f.7", true},
		{"0000:99:19.0", true},  // 9, the last decimal digit
		{"10000:00:00.0", true}, // a VMD domain
		{"abcdef01:ff:00.1", true},
		{"000:03:00.0", false},       // domain too short
		{"123456789:03:00.0", false}, // domain too long
		{"0000:3:00.0", false},
		{"0000:103:00.0", false}, // a bus is 8 bits
		{"0000:03:20.0", false},  // a device is 5 bits
		{"0000:03:00.8", false},  // a function is 3 bits
		{"0000:03:00.", false},
		{"0000:03:00.0 ", false},
		{"0000:0G:00.0", false},
		{"0000:03:0g.0", false},
		{"0000:0/:00.0", false}, // the characters just outside 0-9 and a-f
		{"0000:0::00.0", false},
		{"0000:0`:00.0", false},
		{"0000:03:00.a", false},
		{"0000:0A:00.0", false}, // the kernel prints lower case
		{"0000-03:00.0", false},
		{"0000:03-00.0", false},
		{"0000:03:00-0", false},
		{"pci-0000:03:00.0", false},
	} {
		topo := &fabric.Topology{Nodes: fabric.NodeList{{Name: "a", BusInfo: tt.bus, Ports: []fabric.Port{{}}}},
			Partitions: []fabric.Partition{{PKey: "0xffff", All: "full"}}}
		err := topo.Validate()
		want := ""
		if !tt.ok {
			want = fmt.Sprintf(`node "a": invalid bus_info %q (want a PCI address such as 0000:81:00.0)`, tt.bus)
		}
		if got := fmt.Sprint(err); err == nil && want != "" || err != nil && got != want {
			t.Errorf("bus_info %q: Validate = %v, want %q", tt.bus, err, want)
		}
	}
}

// Two ports of a fabric cannot share a GUID (their GIDs would be one):
// a node GUID given in the topology that makes a port GUID another
// node's is refused by name, whether the other is given or derived.
func TestNewRefusesDuplicatePortGUID(t *testing.T) {
	port := []fabric.Port{{}, {}}
	for _, tt := range []struct {
		name  string
		nodes fabric.NodeList
		want  string
	}{
		{"same node GUID", fabric.NodeList{{Name: "a", GUID: "0x10", Ports: port}, {Name: "b", GUID: "0x10", Ports: port}},
			`node "b" port 1: port GUID 0x0000000000000011 is also a/1's`},
		{"overlapping ports", fabric.NodeList{{Name: "a", GUID: "0x10", Ports: port}, {Name: "b", GUID: "0x11", Ports: port}},
			`node "b" port 1: port GUID 0x0000000000000012 is also a/2's`},
		{"a derived one", fabric.NodeList{{Name: "a", Ports: port}, {Name: "b", GUID: "0x0002c90300001000", Ports: port}},
			`node "b" port 1: port GUID 0x0002c90300001001 is also a/1's`},
		{"adjacent", fabric.NodeList{{Name: "a", GUID: "0x10", Ports: port}, {Name: "b", GUID: "0x12", Ports: port}}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := fabric.New(&fabric.Topology{Nodes: tt.nodes, Partitions: []fabric.Partition{{PKey: "0xffff", All: "full"}}})
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if n, _ := f.Node("b"); n.PortGUID(2) != 0x14 {
					t.Fatalf("b/2's GUID %#x, want 0x14", n.PortGUID(2))
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("New = %v, want %s", err, tt.want)
			}
		})
	}
}

// Validate refuses a node or port entry it cannot run by name, with the
// port numbered from 1, and takes a node of one to eight ports.
func TestValidateNodes(t *testing.T) {
	ports := func(n int) []fabric.Port { return make([]fabric.Port, n) }
	second := func(p fabric.Port) []fabric.Port { return []fabric.Port{{}, p} }
	for _, tt := range []struct {
		name  string
		nodes fabric.NodeList
		want  string // "" for success
	}{
		{"no nodes", nil, "no nodes"},
		{"empty name", fabric.NodeList{{Name: "a", Ports: ports(1)}, {Name: "", Ports: ports(1)}}, `node 1: invalid name ""`},
		{"slash in a name", fabric.NodeList{{Name: "a/b", Ports: ports(1)}}, `node 0: invalid name "a/b"`},
		{"space in a name", fabric.NodeList{{Name: "a b", Ports: ports(1)}}, `node 0: invalid name "a b"`},
		{"tab in a name", fabric.NodeList{{Name: "a\tb", Ports: ports(1)}}, `node 0: invalid name "a\tb"`},
		{"duplicate name", fabric.NodeList{{Name: "a", Ports: ports(1)}, {Name: "a", Ports: ports(1)}}, `node "a": duplicate name`},
		{"no ports", fabric.NodeList{{Name: "a"}}, `node "a": 0 ports (want 1…8)`},
		{"one port", fabric.NodeList{{Name: "a", Ports: ports(1)}}, ""},
		{"eight ports", fabric.NodeList{{Name: "a", Ports: ports(8)}}, ""},
		{"nine ports", fabric.NodeList{{Name: "a", Ports: ports(9)}}, `node "a": 9 ports (want 1…8)`},
		{"GUID not hex", fabric.NodeList{{Name: "a", GUID: "0x12g4", Ports: ports(1)}}, `node "a": invalid guid "0x12g4"`},
		{"GUID beyond 64 bits", fabric.NodeList{{Name: "a", GUID: "0x10000000000000000", Ports: ports(1)}},
			`node "a": invalid guid "0x10000000000000000"`},
		{"width", fabric.NodeList{{Name: "a", Ports: second(fabric.Port{Width: "3X"})}}, `node "a" port 2: invalid width "3X"`},
		{"speed", fabric.NodeList{{Name: "a", Ports: second(fabric.Port{Speed: "FDR14"})}}, `node "a" port 2: invalid speed "FDR14"`},
		{"IB MTU", fabric.NodeList{{Name: "a", Ports: second(fabric.Port{MTU: 1500})}}, `node "a" port 2: invalid ib_mtu 1500`},
		{"LSO without checksum", fabric.NodeList{{Name: "a", Ports: second(fabric.Port{Caps: &fabric.Capabilities{LSO: true}})}},
			`node "a" port 2: lso needs checksum`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			topo := &fabric.Topology{Nodes: tt.nodes}
			got := fmt.Sprint(topo.Validate())
			if tt.want == "" && got != "<nil>" || tt.want != "" && got != tt.want {
				t.Fatalf("Validate = %s, want %q", got, tt.want)
			}
		})
	}
}
