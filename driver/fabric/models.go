package fabric

import (
	"fmt"
	"slices"
)

// caModel is an HCA model as ibstat identifies it: the PCI device ID its
// "CA type" shows, the kernel driver that names its device (mlx4_0,
// mlx5_0), what the driver reports as firmware and hardware version, the
// fastest link speed it runs, and the capability mask its ports report
// (PortInfo:CapabilityMask; IsSM is added on the port the SM runs on).
type caModel struct {
	Type     string // "MT4115"
	Product  string // "ConnectX-4"
	Driver   string // "mlx5"
	Firmware string // a firmware version of the family
	HWVer    string // the hw_rev sysfs file
	MaxSpeed string // the fastest lane speed, a key of laneRates
	CapMask  uint32
	BoardID  string // the PSID mlx5 reports beside its firmware version
}

// caModels are the HCAs a topology may name in "ca_type". ConnectX-3
// stops at FDR; ConnectX-4 and -5 run EDR, -6 HDR, -7 NDR. On ConnectX-4
// and later the classic ib_ipoib driver runs when mlx5's enhanced IPoIB
// is off (ipoib_enhanced=0), as it is here.
var caModels = []caModel{
	{"MT4099", "ConnectX-3", "mlx4", "2.42.5000", "1", "FDR", 0x02514868, "MT_1090120019"},
	{"MT4103", "ConnectX-3 Pro", "mlx4", "2.42.5000", "0", "FDR", 0x02514868, "MT_1090111023"},
	{"MT4115", "ConnectX-4", "mlx5", "12.28.2006", "0", "EDR", 0x2651e848, "MT_2190110032"},
	{"MT4119", "ConnectX-5", "mlx5", "16.35.2000", "0", "EDR", 0x2651e848, "MT_0000000008"},
	{"MT4123", "ConnectX-6", "mlx5", "20.38.1002", "0", "HDR", 0x2651e848, "MT_0000000223"},
	{"MT4129", "ConnectX-7", "mlx5", "28.39.1002", "0", "NDR", 0x2651e848, "MT_0000000834"},
}

// DefaultCAType is the HCA of a node whose topology names none: a card
// that runs the default 4X EDR with the classic IPoIB driver.
const DefaultCAType = "MT4115"

// speedOrder ranks lane speeds, slowest first.
var speedOrder = []string{"SDR", "DDR", "QDR", "FDR10", "FDR", "EDR", "HDR", "NDR", "XDR"}

// modelOf returns the model of a CA type.
func modelOf(caType string) (caModel, bool) {
	i := slices.IndexFunc(caModels, func(m caModel) bool { return m.Type == caType })
	if i < 0 {
		return caModel{}, false
	}
	return caModels[i], true
}

// checkModel refuses a CA type that does not exist here or cannot run a
// port's speed.
func checkModel(n *Node) error {
	m, ok := modelOf(n.CAType)
	if !ok {
		var known []string
		for _, m := range caModels {
			known = append(known, m.Type)
		}
		return fmt.Errorf("node %q: unknown ca_type %q (one of %v)", n.Name, n.CAType, known)
	}
	max := slices.Index(speedOrder, m.MaxSpeed)
	for p, port := range n.Ports {
		if slices.Index(speedOrder, port.Speed) > max {
			return fmt.Errorf("node %q port %d: ca_type %s (%s) cannot run %s", n.Name, p+1, m.Type, m.Product, port.Speed)
		}
	}
	return nil
}

// checkKind refuses a port's IPoIB kind that is not one, or that its HCA
// cannot run: enhanced IPoIB is mlx5's (ConnectX-4 and later), it always
// offers checksum offload and LSO and never connected mode.
func checkKind(n *Node, p int, port *Port) error {
	switch port.IPoIB {
	case "", IPoIBClassic:
		return nil
	case IPoIBEnhanced:
	default:
		return fmt.Errorf("node %q port %d: invalid ipoib %q (want %q or %q)", n.Name, p+1, port.IPoIB, IPoIBClassic, IPoIBEnhanced)
	}
	m, ok := modelOf(n.CAType)
	if ok && m.Driver != "mlx5" {
		return fmt.Errorf("node %q port %d: ipoib %q needs a ConnectX-4 or later, not ca_type %s (%s)", n.Name, p+1, port.IPoIB, m.Type, m.Product)
	}
	if c := port.Caps; c != nil && (c.Connected || !c.Checksum || !c.LSO) {
		return fmt.Errorf("node %q port %d: ipoib %q has checksum offload and LSO and no connected mode", n.Name, p+1, port.IPoIB)
	}
	return nil
}

// CAIdentity is what the HCA reports of itself.
type CAIdentity struct {
	Name    string // the device: mlx5_0
	Type    string // MT4115
	HWVer   string
	CapMask uint32
	// PartitionCap is NodeInfo:PartitionCap: the P_Key table's size
	// (128 on ConnectX HCAs, pkey_table_len).
	PartitionCap uint32
	// GIDTableLen is a port's gid_tbl_len: 128 on mlx4, 8 on an mlx5
	// InfiniBand port.
	GIDTableLen int
	BoardID     string // the board's PSID (mdev->board_id)
}

// Identity returns the node's HCA identity.
func (n Node) Identity() CAIdentity {
	m, _ := modelOf(n.CAType)
	gids := 8
	if m.Driver == "mlx4" {
		gids = 128
	}
	return CAIdentity{Name: m.Driver + "_0", Type: m.Type, HWVer: m.HWVer, CapMask: m.CapMask, PartitionCap: 128,
		GIDTableLen: gids, BoardID: m.BoardID}
}
