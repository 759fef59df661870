package driver

import (
	"strconv"

	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/sysfs"
	"golang.org/x/sys/unix"
)

var _ sysfs.InfiniBand = (*Node)(nil)

// rdmaNodeIBCA is RDMA_NODE_IB_CA, the node type of an HCA.
const rdmaNodeIBCA = 1

// ibWidths and ibSpeeds map the topology's width and speed names to
// enum ib_port_width and ib_port_speed.
var (
	ibWidths = map[string]int{"1X": sysfs.IBWidth1X, "2X": sysfs.IBWidth2X, "4X": sysfs.IBWidth4X,
		"8X": sysfs.IBWidth8X, "12X": sysfs.IBWidth12X}
	ibSpeeds = map[string]int{"SDR": sysfs.IBSpeedSDR, "DDR": sysfs.IBSpeedDDR, "QDR": sysfs.IBSpeedQDR,
		"FDR10": sysfs.IBSpeedFDR10, "FDR": sysfs.IBSpeedFDR, "EDR": sysfs.IBSpeedEDR, "HDR": sysfs.IBSpeedHDR,
		"NDR": sysfs.IBSpeedNDR, "XDR": sysfs.IBSpeedXDR}
)

// IBDevices lists the node's RDMA devices: its one HCA.
func (n *Node) IBDevices() []string { return []string{n.hw.Spec.Identity().Name} }

// IBDevice describes the node's HCA as class/infiniband shows it, read
// live from the fabric: port states, LIDs and P_Key tables are the
// subnet manager's now. ENODEV for another name.
func (n *Node) IBDevice(name string) (sysfs.IBDevice, error) {
	spec := n.hw.Spec
	id := spec.Identity()
	if name != id.Name {
		return sysfs.IBDevice{}, &Error{Op: "infiniband", Err: unix.ENODEV, Msg: "no RDMA device " + name}
	}
	hwRev, _ := strconv.ParseUint(id.HWVer, 16, 32)
	h := sysfs.IBDevice{Name: id.Name, NodeType: rdmaNodeIBCA, NodeGUID: n.hw.GUID,
		SysImageGUID: n.hw.GUID + uint64(len(spec.Ports)) + 1, FWVer: spec.Firmware, HWRev: uint32(hwRev),
		HCAType: id.Type, BoardID: id.BoardID, NodeDesc: n.name + " " + id.Name}
	for port := 1; port <= len(spec.Ports); port++ {
		pi, ok := n.d.fab.PortInfo(n.name, port)
		if !ok {
			continue
		}
		h.Ports = append(h.Ports, n.ibPort(pi, id))
	}
	return h, nil
}

// ibPort is one port as ib_query_port, ib_query_gid and ib_query_pkey
// answer: the GID table holds the port GID at index 0, the P_Key table
// the SM's entries, the rest of both tables zero.
func (n *Node) ibPort(pi fabric.PortInfo, id fabric.CAIdentity) sysfs.IBPort {
	capMask := id.CapMask
	if pi.LID != 0 && pi.LID == pi.SMLID {
		capMask |= capIsSM
	}
	p := sysfs.IBPort{Num: pi.Port.Port, State: int(pi.State), PhysState: int(pi.PhysState),
		ActiveWidth: ibWidths[pi.Spec.Width], ActiveSpeed: ibSpeeds[pi.Spec.Speed],
		LID: pi.LID, SMLID: pi.SMLID, CapMask: capMask,
		GIDs: make([][16]byte, id.GIDTableLen), PKeys: make([]uint16, id.PartitionCap)}
	p.GIDs[0] = pi.GID
	copy(p.PKeys, n.d.fab.PKeyTable(n.name, pi.Port.Port))
	return p
}
