package netlinkx

import (
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Commands of the ibctl family for the HCA and the subnet manager.
const (
	CmdHCA      uint8 = 10
	CmdPartList uint8 = 11
	CmdPartAdd  uint8 = 12
	CmdPartDel  uint8 = 13
	CmdGroups   uint8 = 14
	CmdSMShow   uint8 = 19
)

// SMInfo describes the subnet manager.
type SMInfo struct {
	LID        uint16
	Node       string
	Port       uint32
	Partitions uint32
	Groups     uint32
}

// SMInfoer is implemented by backends that can describe their SM.
type SMInfoer interface {
	SMInfo() SMInfo
}

// Attributes of HCA, partition and group messages (nested under
// AttrEntry where a list is sent).
const (
	AttrHCAName   uint16 = 30
	AttrHCAType   uint16 = 31
	AttrNodeGUID  uint16 = 32
	AttrSysGUID   uint16 = 33
	AttrPort      uint16 = 34 // nested port
	AttrPortNum   uint16 = 35
	AttrState     uint16 = 36
	AttrPhysState uint16 = 37
	AttrRate      uint16 = 38
	AttrLID       uint16 = 39
	AttrSMLID     uint16 = 40
	AttrPortGUID  uint16 = 41
	AttrWidth     uint16 = 42
	AttrSpeed     uint16 = 43
	AttrMTU       uint16 = 44
	AttrPKey      uint16 = 45 // u16, repeated for a table
	AttrAll       uint16 = 46
	AttrMember    uint16 = 47 // nested: AttrNode, AttrPortNum, AttrFull / AttrJoinState
	AttrFull      uint16 = 48
	AttrMGID      uint16 = 49
	AttrMLID      uint16 = 50
	AttrQKey      uint16 = 51
	AttrBroadcast uint16 = 52
	AttrJoinState uint16 = 53
)

func encodeHCA(ae *netlink.AttributeEncoder, h HCA) {
	ae.String(AttrHCAName, h.Name)
	ae.String(AttrHCAType, h.Type)
	ae.String(AttrFirmware, h.Firmware)
	ae.Uint64(AttrNodeGUID, h.NodeGUID)
	ae.Uint64(AttrSysGUID, h.SysImageGUID)
	for _, p := range h.Ports {
		encodeNested(ae, AttrPort, func(n *netlink.AttributeEncoder) {
			n.Uint32(AttrPortNum, p.Num)
			n.String(AttrState, p.State)
			n.String(AttrPhysState, p.PhysState)
			n.String(AttrRate, p.Rate)
			n.Uint16(AttrLID, p.LID)
			n.Uint16(AttrSMLID, p.SMLID)
			n.Uint64(AttrPortGUID, p.PortGUID)
			n.String(AttrWidth, p.Width)
			n.String(AttrSpeed, p.Speed)
			n.Uint32(AttrMTU, p.MTU)
			for _, k := range p.PKeys {
				n.Uint16(AttrPKey, k)
			}
		})
	}
}

func decodeHCA(ad *netlink.AttributeDecoder) HCA {
	var h HCA
	for ad.Next() {
		switch ad.Type() {
		case AttrHCAName:
			h.Name = ad.String()
		case AttrHCAType:
			h.Type = ad.String()
		case AttrFirmware:
			h.Firmware = ad.String()
		case AttrNodeGUID:
			h.NodeGUID = ad.Uint64()
		case AttrSysGUID:
			h.SysImageGUID = ad.Uint64()
		case AttrPort:
			var p HCAPort
			ad.Nested(func(n *netlink.AttributeDecoder) error {
				for n.Next() {
					switch n.Type() {
					case AttrPortNum:
						p.Num = n.Uint32()
					case AttrState:
						p.State = n.String()
					case AttrPhysState:
						p.PhysState = n.String()
					case AttrRate:
						p.Rate = n.String()
					case AttrLID:
						p.LID = n.Uint16()
					case AttrSMLID:
						p.SMLID = n.Uint16()
					case AttrPortGUID:
						p.PortGUID = n.Uint64()
					case AttrWidth:
						p.Width = n.String()
					case AttrSpeed:
						p.Speed = n.String()
					case AttrMTU:
						p.MTU = n.Uint32()
					case AttrPKey:
						p.PKeys = append(p.PKeys, n.Uint16())
					}
				}
				return nil
			})
			h.Ports = append(h.Ports, p)
		}
	}
	return h
}

func encodePartition(ae *netlink.AttributeEncoder, p Partition) {
	ae.Uint16(AttrPKey, p.PKey)
	ae.Uint32(AttrMTU, p.MTU)
	if p.All != "" {
		ae.String(AttrAll, p.All)
	}
	for _, m := range p.Members {
		encodeNested(ae, AttrMember, func(n *netlink.AttributeEncoder) {
			n.String(AttrNode, m.Node)
			n.Uint32(AttrPortNum, m.Port)
			n.Flag(AttrFull, m.Full)
		})
	}
}

func decodePartition(ad *netlink.AttributeDecoder) Partition {
	var p Partition
	for ad.Next() {
		switch ad.Type() {
		case AttrPKey:
			p.PKey = ad.Uint16()
		case AttrMTU:
			p.MTU = ad.Uint32()
		case AttrAll:
			p.All = ad.String()
		case AttrMember:
			var m PartitionMember
			ad.Nested(func(n *netlink.AttributeDecoder) error {
				for n.Next() {
					switch n.Type() {
					case AttrNode:
						m.Node = n.String()
					case AttrPortNum:
						m.Port = n.Uint32()
					case AttrFull:
						m.Full = true
					}
				}
				return nil
			})
			p.Members = append(p.Members, m)
		}
	}
	return p
}

func encodeGroup(ae *netlink.AttributeEncoder, g Group) {
	ae.Bytes(AttrMGID, g.MGID[:])
	ae.Uint16(AttrMLID, g.MLID)
	ae.Uint16(AttrPKey, g.PKey)
	ae.Uint32(AttrQKey, g.QKey)
	ae.Uint32(AttrMTU, g.MTU)
	ae.Uint32(AttrRate, g.Rate)
	ae.Flag(AttrBroadcast, g.Broadcast)
	for _, m := range g.Members {
		encodeNested(ae, AttrMember, func(n *netlink.AttributeEncoder) {
			n.String(AttrNode, m.Node)
			n.Uint32(AttrPortNum, m.Port)
			n.Uint8(AttrJoinState, m.JoinState)
		})
	}
}

func decodeGroup(ad *netlink.AttributeDecoder) Group {
	var g Group
	for ad.Next() {
		switch ad.Type() {
		case AttrMGID:
			copy(g.MGID[:], ad.Bytes())
		case AttrMLID:
			g.MLID = ad.Uint16()
		case AttrPKey:
			g.PKey = ad.Uint16()
		case AttrQKey:
			g.QKey = ad.Uint32()
		case AttrMTU:
			g.MTU = ad.Uint32()
		case AttrRate:
			g.Rate = ad.Uint32()
		case AttrBroadcast:
			g.Broadcast = true
		case AttrMember:
			var m GroupMember
			ad.Nested(func(n *netlink.AttributeDecoder) error {
				for n.Next() {
					switch n.Type() {
					case AttrNode:
						m.Node = n.String()
					case AttrPortNum:
						m.Port = n.Uint32()
					case AttrJoinState:
						m.JoinState = n.Uint8()
					}
				}
				return nil
			})
			g.Members = append(g.Members, m)
		}
	}
	return g
}

// smRequest serves the HCA and subnet manager commands; ok is false for
// other commands.
func smRequest(b Backend, node Node, cmd uint8, rest []byte, ae *netlink.AttributeEncoder) (ok bool, err error) {
	switch cmd {
	case CmdHCA:
		h, err := node.HCA()
		if err != nil {
			return true, err
		}
		encodeHCA(ae, h)
	case CmdPartAdd, CmdPartDel:
		ad, err := netlink.NewAttributeDecoder(rest)
		if err != nil {
			return true, withMsg(unix.EINVAL, "malformed partition request")
		}
		p := decodePartition(ad)
		if ad.Err() != nil {
			return true, withMsg(unix.EINVAL, "malformed partition request")
		}
		if cmd == CmdPartAdd {
			return true, b.AddPartition(p)
		}
		return true, b.DelPartition(p.PKey)
	case CmdSMShow:
		si, ok := b.(SMInfoer)
		if !ok {
			return true, withMsg(unix.EOPNOTSUPP, "no subnet manager")
		}
		i := si.SMInfo()
		ae.Uint16(AttrLID, i.LID)
		ae.String(AttrNode, i.Node)
		ae.Uint32(AttrPortNum, i.Port)
		ae.Uint32(AttrEntry, i.Partitions)
		ae.Uint32(AttrMember, i.Groups)
	default:
		return false, nil
	}
	return true, nil
}

// HCA describes the bound node's HCA.
func (c *Client) HCA() (HCA, error) {
	ad, err := c.ibctl(CmdHCA, nil)
	if err != nil {
		return HCA{}, err
	}
	h := decodeHCA(ad)
	return h, ad.Err()
}

// Partitions lists the subnet manager's partition table.
func (c *Client) Partitions() ([]Partition, error) {
	var out []Partition
	err := c.dump(CmdPartList, AttrEntry, nil, func(n *netlink.AttributeDecoder) {
		p := decodePartition(n)
		// A partition with many members comes in consecutive parts.
		if last := len(out) - 1; last >= 0 && out[last].PKey == p.PKey {
			out[last].Members = append(out[last].Members, p.Members...)
			return
		}
		out = append(out, p)
	})
	return out, err
}

// Groups lists the subnet manager's multicast groups.
func (c *Client) Groups() ([]Group, error) {
	var out []Group
	err := c.dump(CmdGroups, AttrEntry, nil, func(n *netlink.AttributeDecoder) {
		g := decodeGroup(n)
		// A group with many members comes in consecutive parts.
		if last := len(out) - 1; last >= 0 && out[last].MGID == g.MGID {
			out[last].Members = append(out[last].Members, g.Members...)
			return
		}
		out = append(out, g)
	})
	return out, err
}

// AddPartition adds a partition to the subnet manager.
func (c *Client) AddPartition(p Partition) error {
	_, err := c.genl(FamilyIbctl, CmdPartAdd, func(ae *netlink.AttributeEncoder) { encodePartition(ae, p) })
	return err
}

// DelPartition removes a partition.
func (c *Client) DelPartition(pkey uint16) error {
	_, err := c.genl(FamilyIbctl, CmdPartDel, func(ae *netlink.AttributeEncoder) { ae.Uint16(AttrPKey, pkey) })
	return err
}

// SMInfo describes the subnet manager.
func (c *Client) SMInfo() (SMInfo, error) {
	ad, err := c.ibctl(CmdSMShow, nil)
	if err != nil {
		return SMInfo{}, err
	}
	var i SMInfo
	for ad.Next() {
		switch ad.Type() {
		case AttrLID:
			i.LID = ad.Uint16()
		case AttrNode:
			i.Node = ad.String()
		case AttrPortNum:
			i.Port = ad.Uint32()
		case AttrEntry:
			i.Partitions = ad.Uint32()
		case AttrMember:
			i.Groups = ad.Uint32()
		}
	}
	return i, ad.Err()
}
