package netlinkx

import (
	"github.com/ibctl/ibctl/netlinkx/internal/wire"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
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

func encodeHCA(ae *netlink.AttributeEncoder, h HCA) {
	ae.String(wire.AttrHCAName, h.Name)
	ae.String(wire.AttrHCAType, h.Type)
	ae.String(wire.AttrFirmware, h.Firmware)
	ae.String(wire.AttrHWVersion, h.HWVersion)
	ae.Uint32(wire.AttrPKeyCap, h.PartitionCap)
	ae.Uint64(wire.AttrNodeGUID, h.NodeGUID)
	ae.Uint64(wire.AttrSysGUID, h.SysImageGUID)
	for _, p := range h.Ports {
		wire.EncodeNested(ae, wire.AttrPort, func(n *netlink.AttributeEncoder) {
			n.Uint32(wire.AttrPortNum, p.Num)
			n.String(wire.AttrState, p.State)
			n.String(wire.AttrPhysState, p.PhysState)
			n.String(wire.AttrRate, p.Rate)
			n.Uint16(wire.AttrLID, p.LID)
			n.Uint16(wire.AttrSMLID, p.SMLID)
			n.Uint32(wire.AttrCapMask, p.CapMask)
			n.Uint64(wire.AttrPortGUID, p.PortGUID)
			n.String(wire.AttrWidth, p.Width)
			n.String(wire.AttrSpeed, p.Speed)
			n.Uint32(wire.AttrMTU, p.MTU)
			for _, k := range p.PKeys {
				n.Uint16(wire.AttrPKey, k)
			}
		})
	}
}

func decodeHCA(ad *netlink.AttributeDecoder) HCA {
	var h HCA
	for ad.Next() {
		switch ad.Type() {
		case wire.AttrHCAName:
			h.Name = ad.String()
		case wire.AttrHCAType:
			h.Type = ad.String()
		case wire.AttrFirmware:
			h.Firmware = ad.String()
		case wire.AttrHWVersion:
			h.HWVersion = ad.String()
		case wire.AttrPKeyCap:
			h.PartitionCap = ad.Uint32()
		case wire.AttrNodeGUID:
			h.NodeGUID = ad.Uint64()
		case wire.AttrSysGUID:
			h.SysImageGUID = ad.Uint64()
		case wire.AttrPort:
			var p HCAPort
			ad.Nested(func(n *netlink.AttributeDecoder) error {
				for n.Next() {
					switch n.Type() {
					case wire.AttrPortNum:
						p.Num = n.Uint32()
					case wire.AttrState:
						p.State = n.String()
					case wire.AttrPhysState:
						p.PhysState = n.String()
					case wire.AttrRate:
						p.Rate = n.String()
					case wire.AttrLID:
						p.LID = n.Uint16()
					case wire.AttrSMLID:
						p.SMLID = n.Uint16()
					case wire.AttrCapMask:
						p.CapMask = n.Uint32()
					case wire.AttrPortGUID:
						p.PortGUID = n.Uint64()
					case wire.AttrWidth:
						p.Width = n.String()
					case wire.AttrSpeed:
						p.Speed = n.String()
					case wire.AttrMTU:
						p.MTU = n.Uint32()
					case wire.AttrPKey:
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
	ae.Uint16(wire.AttrPKey, p.PKey)
	ae.Uint32(wire.AttrMTU, p.MTU)
	if p.All != "" {
		ae.String(wire.AttrAll, p.All)
	}
	for _, m := range p.Members {
		wire.EncodeNested(ae, wire.AttrMember, func(n *netlink.AttributeEncoder) {
			n.String(wire.AttrNode, m.Node)
			n.Uint32(wire.AttrPortNum, m.Port)
			n.Flag(wire.AttrFull, m.Full)
		})
	}
}

func decodePartition(ad *netlink.AttributeDecoder) Partition {
	var p Partition
	for ad.Next() {
		switch ad.Type() {
		case wire.AttrPKey:
			p.PKey = ad.Uint16()
		case wire.AttrMTU:
			p.MTU = ad.Uint32()
		case wire.AttrAll:
			p.All = ad.String()
		case wire.AttrMember:
			var m PartitionMember
			ad.Nested(func(n *netlink.AttributeDecoder) error {
				for n.Next() {
					switch n.Type() {
					case wire.AttrNode:
						m.Node = n.String()
					case wire.AttrPortNum:
						m.Port = n.Uint32()
					case wire.AttrFull:
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
	ae.Bytes(wire.AttrMGID, g.MGID[:])
	ae.Uint16(wire.AttrMLID, g.MLID)
	ae.Uint16(wire.AttrPKey, g.PKey)
	ae.Uint32(wire.AttrQKey, g.QKey)
	ae.Uint32(wire.AttrMTU, g.MTU)
	ae.Uint32(wire.AttrRate, g.Rate)
	ae.Flag(wire.AttrBroadcast, g.Broadcast)
	for _, m := range g.Members {
		wire.EncodeNested(ae, wire.AttrMember, func(n *netlink.AttributeEncoder) {
			n.String(wire.AttrNode, m.Node)
			n.Uint32(wire.AttrPortNum, m.Port)
			n.Uint8(wire.AttrJoinState, m.JoinState)
		})
	}
}

func decodeGroup(ad *netlink.AttributeDecoder) Group {
	var g Group
	for ad.Next() {
		switch ad.Type() {
		case wire.AttrMGID:
			copy(g.MGID[:], ad.Bytes())
		case wire.AttrMLID:
			g.MLID = ad.Uint16()
		case wire.AttrPKey:
			g.PKey = ad.Uint16()
		case wire.AttrQKey:
			g.QKey = ad.Uint32()
		case wire.AttrMTU:
			g.MTU = ad.Uint32()
		case wire.AttrRate:
			g.Rate = ad.Uint32()
		case wire.AttrBroadcast:
			g.Broadcast = true
		case wire.AttrMember:
			var m GroupMember
			ad.Nested(func(n *netlink.AttributeDecoder) error {
				for n.Next() {
					switch n.Type() {
					case wire.AttrNode:
						m.Node = n.String()
					case wire.AttrPortNum:
						m.Port = n.Uint32()
					case wire.AttrJoinState:
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
	case wire.CmdHCA:
		h, err := node.HCA()
		if err != nil {
			return true, err
		}
		encodeHCA(ae, h)
	case wire.CmdPartAdd, wire.CmdPartDel:
		ad, err := netlink.NewAttributeDecoder(rest)
		if err != nil {
			return true, withMsg(unix.EINVAL, "malformed partition request")
		}
		p := decodePartition(ad)
		if ad.Err() != nil {
			return true, withMsg(unix.EINVAL, "malformed partition request")
		}
		if cmd == wire.CmdPartAdd {
			return true, b.AddPartition(p)
		}
		return true, b.DelPartition(p.PKey)
	case wire.CmdSMShow:
		si, ok := b.(SMInfoer)
		if !ok {
			return true, withMsg(unix.EOPNOTSUPP, "no subnet manager")
		}
		i := si.SMInfo()
		ae.Uint16(wire.AttrLID, i.LID)
		ae.String(wire.AttrNode, i.Node)
		ae.Uint32(wire.AttrPortNum, i.Port)
		ae.Uint32(wire.AttrEntry, i.Partitions)
		ae.Uint32(wire.AttrMember, i.Groups)
	default:
		return false, nil
	}
	return true, nil
}

// HCA describes the bound node's HCA.
func (c *Client) HCA() (HCA, error) {
	ad, err := c.ibctl(wire.CmdHCA, nil)
	if err != nil {
		return HCA{}, err
	}
	h := decodeHCA(ad)
	return h, ad.Err()
}

// Partitions lists the subnet manager's partition table.
func (c *Client) Partitions() ([]Partition, error) {
	var out []Partition
	err := c.dump(wire.CmdPartList, wire.AttrEntry, nil, func(n *netlink.AttributeDecoder) {
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
	err := c.dump(wire.CmdGroups, wire.AttrEntry, nil, func(n *netlink.AttributeDecoder) {
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
	_, err := c.genl(wire.FamilyIbctl, wire.CmdPartAdd, func(ae *netlink.AttributeEncoder) { encodePartition(ae, p) })
	return err
}

// DelPartition removes a partition.
func (c *Client) DelPartition(pkey uint16) error {
	_, err := c.genl(wire.FamilyIbctl, wire.CmdPartDel, func(ae *netlink.AttributeEncoder) { ae.Uint16(wire.AttrPKey, pkey) })
	return err
}

// SMInfo describes the subnet manager.
func (c *Client) SMInfo() (SMInfo, error) {
	ad, err := c.ibctl(wire.CmdSMShow, nil)
	if err != nil {
		return SMInfo{}, err
	}
	var i SMInfo
	for ad.Next() {
		switch ad.Type() {
		case wire.AttrLID:
			i.LID = ad.Uint16()
		case wire.AttrNode:
			i.Node = ad.String()
		case wire.AttrPortNum:
			i.Port = ad.Uint32()
		case wire.AttrEntry:
			i.Partitions = ad.Uint32()
		case wire.AttrMember:
			i.Groups = ad.Uint32()
		}
	}
	return i, ad.Err()
}
