// Package fabric is the emulated InfiniBand fabric, below any verbs layer:
// the topology (nodes, HCAs, ports, links; this file), the switch that
// forwards frames between ports by LID (switch.go), and the subnet manager
// with its subnet administrator: LIDs, GIDs, P_Key tables from the
// partition table (fabric.go, sm.go), port states (port.go), multicast
// groups (mcast.go), path records (path.go) and port events (events.go).
// Refused requests return *Error, which unwraps to an errno (errors.go).
// It may import driver/header.
package fabric

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/ibctl/ibctl/driver/header"
	"os"
	"strconv"
	"strings"
	"sync"
)

// laneRates and widths are the lane rates in Mb/s per lane, as
// ib_get_link_ksettings reports them, and the lane counts, built on first
// use.
var laneRates = sync.OnceValue(func() map[string]int {
	return map[string]int{
		"SDR": 2500, "DDR": 5000, "QDR": 10000, "FDR10": 10000, "FDR": 14000,
		"EDR": 25000, "HDR": 50000, "NDR": 100000, "XDR": 200000,
	}
})

var widths = sync.OnceValue(func() map[string]int {
	return map[string]int{"1X": 1, "2X": 2, "4X": 4, "8X": 8, "12X": 12}
})

// Capabilities are what a port's HCA offers IPoIB.
type Capabilities struct {
	Checksum  bool `json:"checksum"`  // UD IP checksum offload
	LSO       bool `json:"lso"`       // UD large send offload
	Connected bool `json:"connected"` // RC connected mode (address flag 0x80)
}

// Port is one HCA port and the link behind it.
type Port struct {
	Width string        `json:"width"`  // "4X"
	Speed string        `json:"speed"`  // "EDR"
	MTU   int           `json:"ib_mtu"` // port max IB MTU: 256…4096
	Caps  *Capabilities `json:"caps,omitempty"`
	// IPoIB is the kind of IPoIB interface the port gets: "classic" (the
	// ib_ipoib driver's own, the default when empty) or "enhanced" (mlx5's
	// IPoIB netdev below ib_ipoib, ConnectX-4 and later).
	IPoIB string `json:"ipoib,omitempty"`
}

// The port kinds of Port.IPoIB.
const (
	IPoIBClassic  = "classic"
	IPoIBEnhanced = "enhanced"
)

// Enhanced reports whether the port runs mlx5's enhanced IPoIB.
func (p Port) Enhanced() bool { return p.IPoIB == IPoIBEnhanced }

// Node is one host with one HCA.
type Node struct {
	Name     string `json:"name"`
	GUID     string `json:"guid,omitempty"`     // node GUID, hex; derived when empty
	BusInfo  string `json:"bus_info,omitempty"` // PCI address of the HCA
	Firmware string `json:"firmware,omitempty"`
	// CAType is the HCA model (models.go): its PCI device ID as ibstat
	// shows it; DefaultCAType when empty.
	CAType string `json:"ca_type,omitempty"`
	Ports  []Port `json:"ports"`
}

// Member is one port's membership of a partition.
type Member struct {
	Node string `json:"node"`
	Port int    `json:"port"`
	Full bool   `json:"full"`
}

// Partition is one entry of the subnet manager's partition table.
type Partition struct {
	PKey    string   `json:"pkey"`             // "0x7fff" / "0xffff"; bit 15 ignored
	MTU     int      `json:"ib_mtu,omitempty"` // broadcast group IB MTU, default 2048
	Members []Member `json:"members,omitempty"`
	All     string   `json:"all,omitempty"` // "full" or "limited": every port is a member
}

// Topology is the whole fabric as read from `driver start --topology FILE`.
type Topology struct {
	Nodes      NodeList    `json:"nodes"`
	Partitions []Partition `json:"partitions"`
	// Netns gives every node a network namespace with its interfaces as
	// kernel netdevs (driver start --netns).
	Netns bool `json:"netns,omitempty"`
}

// NodeList is a topology's nodes. In a topology file it is either the
// list of nodes or, as a shorthand for large fabrics, their number N:
// nodes node0 … node(N-1) as DefaultTopology's (one dual-port 4X EDR HCA
// each, port IB MTU 4096).
type NodeList []Node

// MaxShorthandNodes is the largest node count the shorthand takes: every
// node's two ports need a unicast LID.
const MaxShorthandNodes = MaxUnicastLID / 2

// UnmarshalJSON reads a list of nodes (unknown fields refused) or a count.
func (l *NodeList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] == '[' || b[0] == 'n' {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		return dec.Decode((*[]Node)(l))
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("nodes: %s is neither a list of nodes nor a count", b)
	}
	if n < 1 || n > MaxShorthandNodes {
		return fmt.Errorf("nodes: invalid count %d (want 1…%d)", n, MaxShorthandNodes)
	}
	*l = generateNodes(n)
	return nil
}

// generateNodes is n nodes as DefaultTopology's: node0 … node(n-1).
func generateNodes(n int) NodeList {
	caps := &Capabilities{Checksum: true, LSO: true, Connected: true}
	port := Port{Width: "4X", Speed: "EDR", MTU: 4096, Caps: caps}
	nodes := make(NodeList, n)
	for i := range nodes {
		nodes[i] = Node{
			Name:     "node" + strconv.Itoa(i),
			BusInfo:  DefaultBusInfo(i),
			Firmware: "12.28.2006",
			CAType:   DefaultCAType,
			Ports:    []Port{port, port},
		}
	}
	return nodes
}

// DefaultBusInfo is the PCI address of node i's HCA when the topology
// gives none: 0000:81:00.0 for the first node and one bus further for
// each next one. The bus number is 8 bits (domain:bus:device.function,
// as lspci and ethtool -i print it), so past bus ff the count goes on in
// the next PCI domain: node 127 is 0001:00:00.0.
func DefaultBusInfo(i int) string {
	k := firstBus + i
	return fmt.Sprintf("%04x:%02x:00.0", k>>8, k&0xff)
}

// isPCIAddress reports whether s is a PCI address as the kernel's
// pci_name prints it ("%04x:%02x:%02x.%d"): domain (4 to 8 digits), bus,
// device (0 to 1f) and function (0 to 7), in lower-case hex.
func isPCIAddress(s string) bool {
	domain, rest, ok := strings.Cut(s, ":")
	if !ok || len(domain) < 4 || len(domain) > 8 || !isLowerHex(domain) || len(rest) != 7 {
		return false
	}
	bus, dev, fn := rest[0:2], rest[3:5], rest[6]
	return rest[2] == ':' && rest[5] == '.' && isLowerHex(bus) && isLowerHex(dev) &&
		dev[0] <= '1' && fn >= '0' && fn <= '7'
}

// isLowerHex reports whether s is all lower-case hex digits.
func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// firstBus is the bus of the first node's HCA, as on a two-socket server
// whose second socket's root ports start at bus 0x80.
const firstBus = 0x81

// DefaultTopology is two nodes with one dual-port 4X EDR HCA each, port IB
// MTU 4096 and the default partition 0xffff with a 2048-byte broadcast group.
func DefaultTopology() *Topology {
	return &Topology{Nodes: generateNodes(2), Partitions: []Partition{{PKey: "0xffff", MTU: 2048, All: "full"}}}
}

// LoadTopology reads and validates a topology file.
func LoadTopology(path string) (*Topology, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	var t Topology
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("topology %s: %w", path, err)
	}
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("topology %s: %w", path, err)
	}
	return &t, nil
}

// Validate checks names, rates, MTUs and partitions and fills defaults.
func (t *Topology) Validate() error {
	if len(t.Nodes) == 0 {
		return fmt.Errorf("no nodes")
	}
	seen := map[string]bool{}
	for i := range t.Nodes {
		n := &t.Nodes[i]
		if n.Name == "" || strings.ContainsAny(n.Name, "/ \t") {
			return fmt.Errorf("node %d: invalid name %q", i, n.Name)
		}
		if seen[n.Name] {
			return fmt.Errorf("node %q: duplicate name", n.Name)
		}
		seen[n.Name] = true
		if len(n.Ports) == 0 || len(n.Ports) > 8 {
			return fmt.Errorf("node %q: %d ports (want 1…8)", n.Name, len(n.Ports))
		}
		if n.GUID != "" {
			if _, err := strconv.ParseUint(strings.TrimPrefix(n.GUID, "0x"), 16, 64); err != nil {
				return fmt.Errorf("node %q: invalid guid %q", n.Name, n.GUID)
			}
		}
		if n.BusInfo == "" {
			n.BusInfo = DefaultBusInfo(i)
		} else if !isPCIAddress(n.BusInfo) {
			return fmt.Errorf("node %q: invalid bus_info %q (want a PCI address such as 0000:81:00.0)", n.Name, n.BusInfo)
		}
		if n.CAType == "" {
			n.CAType = DefaultCAType
		}
		if n.Firmware == "" {
			if m, ok := modelOf(n.CAType); ok {
				n.Firmware = m.Firmware
			}
		}
		for p := range n.Ports {
			port := &n.Ports[p]
			if port.Width == "" {
				port.Width = "4X"
			}
			if port.Speed == "" {
				port.Speed = "EDR"
			}
			if port.MTU == 0 {
				port.MTU = 4096
			}
			if _, ok := widths()[port.Width]; !ok {
				return fmt.Errorf("node %q port %d: invalid width %q", n.Name, p+1, port.Width)
			}
			if _, ok := laneRates()[port.Speed]; !ok {
				return fmt.Errorf("node %q port %d: invalid speed %q", n.Name, p+1, port.Speed)
			}
			if !validIBMTU(port.MTU) {
				return fmt.Errorf("node %q port %d: invalid ib_mtu %d", n.Name, p+1, port.MTU)
			}
			if err := checkKind(n, p, port); err != nil {
				return err
			}
			if port.Caps == nil {
				// Enhanced IPoIB has no connected mode: ib_ipoib never runs
				// ipoib_cm_dev_init on an rdma_netdev.
				port.Caps = &Capabilities{Checksum: true, LSO: true, Connected: !port.Enhanced()}
			}
			if port.Caps.LSO && !port.Caps.Checksum {
				return fmt.Errorf("node %q port %d: lso needs checksum", n.Name, p+1)
			}
		}
		if err := checkModel(n); err != nil {
			return err
		}
	}
	ports := make(map[string]int, len(t.Nodes))
	for _, n := range t.Nodes {
		ports[n.Name] = len(n.Ports)
	}
	pkeys := map[uint16]bool{}
	for i := range t.Partitions {
		pt := &t.Partitions[i]
		key, err := checkPartition(pt, ports)
		if err != nil {
			if key == 0 {
				return fmt.Errorf("partition %d: %w", i, err)
			}
			return fmt.Errorf("partition %q: %w", pt.PKey, err)
		}
		if pkeys[key] {
			return fmt.Errorf("partition %q: duplicate", pt.PKey)
		}
		pkeys[key] = true
	}
	return nil
}

// checkPartition is the one rule for a partition entry, used by Validate
// and by Fabric.AddPartition: it fills the MTU default and returns the
// partition number (low 15 bits of the P_Key). ports maps node names to
// their port counts. On an invalid P_Key the returned number is 0.
func checkPartition(pt *Partition, ports map[string]int) (uint16, error) {
	key, ok := parsePKey(pt.PKey)
	if !ok {
		return 0, fmt.Errorf("invalid pkey %q", pt.PKey)
	}
	if pt.MTU == 0 {
		pt.MTU = 2048
	}
	if !validIBMTU(pt.MTU) {
		return key, fmt.Errorf("invalid ib_mtu %d", pt.MTU)
	}
	if pt.All != "" && pt.All != "full" && pt.All != "limited" {
		return key, fmt.Errorf("all must be \"full\" or \"limited\"")
	}
	seen := map[PortRef]bool{}
	for _, m := range pt.Members {
		n, ok := ports[m.Node]
		if !ok {
			return key, fmt.Errorf("unknown node %q", m.Node)
		}
		if m.Port < 1 || m.Port > n {
			return key, fmt.Errorf("node %q has no port %d", m.Node, m.Port)
		}
		ref := PortRef{m.Node, m.Port}
		if seen[ref] {
			return key, fmt.Errorf("duplicate member %s", ref)
		}
		seen[ref] = true
	}
	return key, nil
}

// parsePKey parses a P_Key as written in a topology (strconv base 0) and
// returns its partition number, the low 15 bits, which must not be zero.
func parsePKey(s string) (uint16, bool) {
	v, err := strconv.ParseUint(s, 0, 16)
	if err != nil || !header.PKeyValid(uint16(v)) {
		return 0, false
	}
	return header.PKeyBase(uint16(v)), true
}

func validIBMTU(m int) bool {
	switch m {
	case 256, 512, 1024, 2048, 4096:
		return true
	}
	return false
}

// LinkSpeed returns the port's speed in Mb/s: lane rate × width.
func (p Port) LinkSpeed() int { return laneRates()[p.Speed] * widths()[p.Width] }

// RateString is the port rate as ibstat prints it after "Rate: ". The
// kernel's sysfs rate file counts in units of 0.1 Gb/s with 14 Gb/s per FDR
// lane ("56 Gb/sec (4X FDR)", "2.5 Gb/sec (1X SDR)"); libibumad keeps the
// integer part, and ibstat prints it, except that 2 is shown as "2.5" (1X
// SDR, the only rate with a fraction) and FDR10 gets a " (FDR10)" suffix.
// So 4X EDR is "100", 4X FDR "56", 1X FDR "14", 4X FDR10 "40 (FDR10)". The
// SA's rate encoding (14.0625 Gb/s per FDR lane, ib_rate_to_mbps) is not
// what ibstat shows.
func (p Port) RateString() string {
	deci := p.LinkSpeed() / 100 // sysfs rate_show: 0.1 Gb/s units
	switch {
	case p.Speed == "FDR10":
		return strconv.Itoa(deci/10) + " (FDR10)"
	case deci/10 == 2:
		return "2.5"
	}
	return strconv.Itoa(deci / 10)
}
