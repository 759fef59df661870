package wire

import (
	"github.com/mdlayher/netlink"
)

// EncodeHCA adds to ae the attributes of an HCA and its ports.
func EncodeHCA(ae *netlink.AttributeEncoder, h HCA) {
	ae.String(AttrHCAName, h.Name)
	ae.String(AttrHCAType, h.Type)
	ae.String(AttrFirmware, h.Firmware)
	ae.String(AttrHWVersion, h.HWVersion)
	ae.Uint32(AttrPKeyCap, h.PartitionCap)
	ae.Uint64(AttrNodeGUID, h.NodeGUID)
	ae.Uint64(AttrSysGUID, h.SysImageGUID)
	for _, p := range h.Ports {
		EncodeNested(ae, AttrPort, func(n *netlink.AttributeEncoder) {
			n.Uint32(AttrPortNum, p.Num)
			n.String(AttrState, p.State)
			n.String(AttrPhysState, p.PhysState)
			n.String(AttrRate, p.Rate)
			n.Uint16(AttrLID, p.LID)
			n.Uint16(AttrSMLID, p.SMLID)
			n.Uint32(AttrCapMask, p.CapMask)
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

// DecodeHCA decodes what EncodeHCA encodes.
func DecodeHCA(ad *netlink.AttributeDecoder) HCA {
	var h HCA
	for ad.Next() {
		switch ad.Type() {
		case AttrHCAName:
			h.Name = ad.String()
		case AttrHCAType:
			h.Type = ad.String()
		case AttrFirmware:
			h.Firmware = ad.String()
		case AttrHWVersion:
			h.HWVersion = ad.String()
		case AttrPKeyCap:
			h.PartitionCap = ad.Uint32()
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
					case AttrCapMask:
						p.CapMask = n.Uint32()
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

// EncodePartition adds to ae the attributes of a partition and its
// members.
func EncodePartition(ae *netlink.AttributeEncoder, p Partition) {
	ae.Uint16(AttrPKey, p.PKey)
	ae.Uint32(AttrMTU, p.MTU)
	if p.All != "" {
		ae.String(AttrAll, p.All)
	}
	for _, m := range p.Members {
		EncodeNested(ae, AttrMember, func(n *netlink.AttributeEncoder) {
			n.String(AttrNode, m.Node)
			n.Uint32(AttrPortNum, m.Port)
			n.Flag(AttrFull, m.Full)
		})
	}
}

// DecodePartition decodes what EncodePartition encodes.
func DecodePartition(ad *netlink.AttributeDecoder) Partition {
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

// EncodeGroup adds to ae the attributes of a multicast group and its
// members.
func EncodeGroup(ae *netlink.AttributeEncoder, g Group) {
	ae.Bytes(AttrMGID, g.MGID[:])
	ae.Uint16(AttrMLID, g.MLID)
	ae.Uint16(AttrPKey, g.PKey)
	ae.Uint32(AttrQKey, g.QKey)
	ae.Uint32(AttrMTU, g.MTU)
	ae.Uint32(AttrRate, g.Rate)
	ae.Flag(AttrBroadcast, g.Broadcast)
	for _, m := range g.Members {
		EncodeNested(ae, AttrMember, func(n *netlink.AttributeEncoder) {
			n.String(AttrNode, m.Node)
			n.Uint32(AttrPortNum, m.Port)
			n.Uint8(AttrJoinState, m.JoinState)
		})
	}
}

// DecodeGroup decodes what EncodeGroup encodes.
func DecodeGroup(ad *netlink.AttributeDecoder) Group {
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
