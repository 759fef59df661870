package sysfs

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// IBDevice is one RDMA device, an HCA, as class/infiniband/<name> shows it
// (drivers/infiniband/core/sysfs.c and the HCA driver's own files).
type IBDevice struct {
	Name         string // "mlx5_0"
	NodeType     uint8  // enum rdma_node_type: 1 is RDMA_NODE_IB_CA
	NodeGUID     uint64
	SysImageGUID uint64
	FWVer        string // as the HCA driver's get_dev_fw_str formats it
	HWRev        uint32 // the PCI revision mlx4 and mlx5 print as hw_rev
	HCAType      string // "MT4115": "MT%d" of the PCI device ID
	BoardID      string // the board's PSID
	NodeDesc     string // NodeDescription, up to 64 bytes
	Ports        []IBPort
}

// IBPort is one port of an IBDevice, as ib_query_port, ib_query_gid and
// ib_query_pkey answer for it: states and link enums as in ib_verbs.h.
type IBPort struct {
	Num         int
	State       int    // enum ib_port_state: 1 DOWN … 4 ACTIVE
	PhysState   int    // enum ib_port_phys_state: 3 Disabled, 5 LinkUp
	ActiveWidth int    // enum ib_port_width: IB_WIDTH_4X is 2
	ActiveSpeed int    // enum ib_port_speed: IB_SPEED_EDR is 32
	LID, SMLID  uint16 // 0 before the SM assigned them
	SMSL, LMC   uint8
	CapMask     uint32 // port_cap_flags (PortInfo:CapabilityMask)
	// GIDs is the GID table (gid_tbl_len entries); an entry not in use is
	// all zeros.
	GIDs [][16]byte
	// PKeys is the P_Key table as the SM programmed it (pkey_tbl_len
	// entries); an entry not in use is 0.
	PKeys []uint16
}

// InfiniBand is implemented by drivers with RDMA devices: they get
// class/infiniband/<dev>/... . A driver without it has the directory
// and no device in it, as a kernel with ib_core and no HCA.
type InfiniBand interface {
	// IBDevices lists the devices' names in registration order.
	IBDevices() []string
	// IBDevice returns one device, read live (ENODEV when absent).
	IBDevice(name string) (IBDevice, error)
}

// enum ib_port_width and ib_port_speed (include/rdma/ib_verbs.h).
const (
	IBWidth1X  = 1
	IBWidth2X  = 16
	IBWidth4X  = 2
	IBWidth8X  = 4
	IBWidth12X = 8

	IBSpeedSDR   = 1
	IBSpeedDDR   = 2
	IBSpeedQDR   = 4
	IBSpeedFDR10 = 8
	IBSpeedFDR   = 16
	IBSpeedEDR   = 32
	IBSpeedHDR   = 64
	IBSpeedNDR   = 128
	IBSpeedXDR   = 256
)

// ibFiles are the files of class/infiniband.
func ibFiles() []node {
	dev := func(name string, mode uint32, show func(d IBDevice) string) node {
		return node{path: "class/infiniband/{ibdev}/" + name, mode: mode,
			show: func(a *args) (string, error) { return show(a.ibdev), nil }}
	}
	port := func(name string, show func(p IBPort) (string, error)) node {
		return node{path: "class/infiniband/{ibdev}/ports/{ibport}/" + name, mode: 0o444,
			show: func(a *args) (string, error) { return show(a.ibport) }}
	}
	return []node{
		// core/sysfs.c ib_dev_attrs. node_desc is 0644 there; the
		// emulated HCAs have no modify_device, so a write fails as
		// node_desc_store fails without one.
		dev("node_type", 0o444, func(d IBDevice) string { return nodeTypeShow(d.NodeType) }),
		dev("node_guid", 0o444, func(d IBDevice) string { return guidShow(d.NodeGUID) }),
		dev("sys_image_guid", 0o444, func(d IBDevice) string { return guidShow(d.SysImageGUID) }),
		dev("fw_ver", 0o444, func(d IBDevice) string { return d.FWVer + "\n" }),
		{path: "class/infiniband/{ibdev}/node_desc", mode: 0o644, show: nodeDescShow,
			store: func(*args, string) error { return unix.EOPNOTSUPP }},
		// mlx4 and mlx5's own device attributes (mlx5_class_attributes).
		dev("hw_rev", 0o444, func(d IBDevice) string { return fmt.Sprintf("%x\n", d.HWRev) }),
		dev("hca_type", 0o444, func(d IBDevice) string { return d.HCAType + "\n" }),
		dev("board_id", 0o444, func(d IBDevice) string { return d.BoardID + "\n" }),

		// core/sysfs.c port_default_attrs.
		port("state", stateShow),
		port("lid", func(p IBPort) (string, error) { return fmt.Sprintf("0x%x\n", p.LID), nil }),
		port("lid_mask_count", func(p IBPort) (string, error) { return fmt.Sprintf("%d\n", p.LMC), nil }),
		port("sm_lid", func(p IBPort) (string, error) { return fmt.Sprintf("0x%x\n", p.SMLID), nil }),
		port("sm_sl", func(p IBPort) (string, error) { return fmt.Sprintf("%d\n", p.SMSL), nil }),
		port("cap_mask", func(p IBPort) (string, error) { return fmt.Sprintf("0x%08x\n", p.CapMask), nil }),
		port("rate", rateShow),
		port("phys_state", physStateShow),
		// link_layer_show: the emulated ports are InfiniBand.
		port("link_layer", func(IBPort) (string, error) { return "InfiniBand\n", nil }),
		// alloc_port_table_group: gids/N and pkeys/N, 0444.
		{path: "class/infiniband/{ibdev}/ports/{ibport}/gids/{gid}", mode: 0o444,
			show: func(a *args) (string, error) { return gidShow(a.ibport.GIDs[a.index]), nil }},
		{path: "class/infiniband/{ibdev}/ports/{ibport}/pkeys/{pkey}", mode: 0o444,
			show: func(a *args) (string, error) { return fmt.Sprintf("0x%04x\n", a.ibport.PKeys[a.index]), nil }},
	}
}

// nodeTypeShow is node_type_show: "%u: %s" with node_type_string's names.
func nodeTypeShow(t uint8) string {
	names := map[uint8]string{1: "CA", 2: "switch", 3: "router", 4: "RNIC", 5: "usNIC", 6: "usNIC UDP", 7: "unspecified"}
	name, ok := names[t]
	if !ok {
		name = "<unknown>"
	}
	return fmt.Sprintf("%d: %s\n", t, name)
}

// guidShow is node_guid_show and sys_image_guid_show: the GUID as four
// big-endian 16-bit groups, "%04x:%04x:%04x:%04x".
func guidShow(g uint64) string {
	return fmt.Sprintf("%04x:%04x:%04x:%04x\n", g>>48, g>>32&0xffff, g>>16&0xffff, g&0xffff)
}

// nodeDescShow is node_desc_show: "%.64s", so at most 64 bytes and
// nothing from a NUL on.
func nodeDescShow(a *args) (string, error) {
	s := a.ibdev.NodeDesc
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return s[:min(len(s), 64)] + "\n", nil
}

// stateShow is state_show: "%d: %s" with the ib_port_state names,
// UNKNOWN beyond them.
func stateShow(p IBPort) (string, error) {
	names := []string{"NOP", "DOWN", "INIT", "ARMED", "ACTIVE", "ACTIVE_DEFER"}
	name := "UNKNOWN"
	if p.State >= 0 && p.State < len(names) {
		name = names[p.State]
	}
	return fmt.Sprintf("%d: %s\n", p.State, name), nil
}

// physStateShow is phys_state_show: "%u: %s" with phys_state_to_str's
// names, "<unknown>" for 0 and beyond 7.
func physStateShow(p IBPort) (string, error) {
	names := map[int]string{1: "Sleep", 2: "Polling", 3: "Disabled", 4: "PortConfigurationTraining",
		5: "LinkUp", 6: "LinkErrorRecovery", 7: "Phy Test"}
	name, ok := names[p.PhysState]
	if !ok {
		name = "<unknown>"
	}
	return fmt.Sprintf("%d: %s\n", p.PhysState, name), nil
}

// ibWidthLanes is ib_width_enum_to_int for the widths it knows: the
// lane count of an enum ib_port_width.
var ibWidthLanes = map[int]int{IBWidth1X: 1, IBWidth2X: 2, IBWidth4X: 4, IBWidth8X: 8, IBWidth12X: 12}

// rateShow is rate_show: the rate in 0.1 Gb/s units per lane times the
// lanes, printed with ".5" for a half, then the width and speed; an
// unknown speed counts as SDR, an unknown width is EINVAL.
func rateShow(p IBPort) (string, error) {
	speeds := map[int]struct {
		name string
		deci int
	}{
		IBSpeedDDR: {"DDR", 50}, IBSpeedQDR: {"QDR", 100}, IBSpeedFDR10: {"FDR10", 100},
		IBSpeedFDR: {"FDR", 140}, IBSpeedEDR: {"EDR", 250}, IBSpeedHDR: {"HDR", 500},
		IBSpeedNDR: {"NDR", 1000}, IBSpeedXDR: {"XDR", 2000},
	}
	s, ok := speeds[p.ActiveSpeed]
	if !ok {
		s.name, s.deci = "SDR", 25
	}
	// ib_width_enum_to_int is -1 for another width, which makes the
	// rate negative: EINVAL.
	lanes, ok := ibWidthLanes[p.ActiveWidth]
	if !ok {
		return "", unix.EINVAL
	}
	rate := s.deci * lanes
	half := ""
	if rate%10 != 0 {
		half = ".5"
	}
	return fmt.Sprintf("%d%s Gb/sec (%dX %s)\n", rate/10, half, lanes, s.name), nil
}

// gidShow is show_port_gid: "%pI6", eight groups of four hex digits,
// uncompressed; an unused entry reads as the zero GID.
func gidShow(g [16]byte) string {
	var b strings.Builder
	for i := 0; i < 16; i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02x%02x", g[i], g[i+1])
	}
	b.WriteByte('\n')
	return b.String()
}

// ibDevice returns the named RDMA device, nil when the driver has none.
func (c *call) ibDevice(name string) (*IBDevice, error) {
	if d, ok := c.ibdevs[name]; ok {
		return d, nil
	}
	ib, ok := c.drv.(InfiniBand)
	if !ok {
		return nil, nil
	}
	if c.ibdevs == nil {
		c.ibdevs = map[string]*IBDevice{}
	}
	d, err := ib.IBDevice(name)
	switch {
	case errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT):
		c.ibdevs[name] = nil
		return nil, nil
	case err != nil:
		return nil, err
	}
	c.ibdevs[name] = &d
	return &d, nil
}

func (c *call) ibDevices() []string {
	if ib, ok := c.drv.(InfiniBand); ok {
		return ib.IBDevices()
	}
	return nil
}

// indexNames are the decimal names of a table's n entries.
func indexNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}

// bindIndex binds v when it is the decimal name of an entry of a table of
// n entries, as the kernel names them ("%d": no sign, no leading zero).
func bindIndex(a *args, v string, n int) bool {
	i, err := strconv.Atoi(v)
	if err != nil || i < 0 || i >= n || strconv.Itoa(i) != v {
		return false
	}
	a.index = i
	return true
}

// ibKinds are the parameter types of the infiniband class: a device, one
// of its ports, and an index into the port's GID or P_Key table.
func ibKinds() map[string]*kind {
	return map[string]*kind{
		"ibdev": {
			list: func(c *call, _ *args) ([]string, error) { return c.ibDevices(), nil },
			bind: func(c *call, a *args, v string) (bool, error) {
				d, err := c.ibDevice(v)
				if err != nil || d == nil {
					return false, err
				}
				a.ibdev = *d
				return true, nil
			},
		},
		"ibport": {
			list: func(_ *call, a *args) ([]string, error) {
				out := make([]string, len(a.ibdev.Ports))
				for i, p := range a.ibdev.Ports {
					out[i] = strconv.Itoa(p.Num)
				}
				return out, nil
			},
			bind: func(_ *call, a *args, v string) (bool, error) {
				for _, p := range a.ibdev.Ports {
					if strconv.Itoa(p.Num) == v {
						a.ibport = p
						return true, nil
					}
				}
				return false, nil
			},
		},
		"gid": {
			list: func(_ *call, a *args) ([]string, error) { return indexNames(len(a.ibport.GIDs)), nil },
			bind: func(_ *call, a *args, v string) (bool, error) { return bindIndex(a, v, len(a.ibport.GIDs)), nil },
		},
		"pkey": {
			list: func(_ *call, a *args) ([]string, error) { return indexNames(len(a.ibport.PKeys)), nil },
			bind: func(_ *call, a *args, v string) (bool, error) { return bindIndex(a, v, len(a.ibport.PKeys)), nil },
		},
	}
}
