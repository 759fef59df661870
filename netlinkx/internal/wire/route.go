package wire

import (
	"github.com/mdlayher/netlink"
)

// EncodeRoute encodes a table's route.
func EncodeRoute(ae *netlink.AttributeEncoder, r Route) {
	ae.Uint8(AttrFamily, r.Family)
	ae.Bytes(AttrDst, r.Dst)
	ae.Uint8(AttrDstLen, r.DstLen)
	if r.Src != nil {
		ae.Bytes(AttrSrc, r.Src)
	}
	ae.String(AttrDev, r.Dev)
	ae.Uint32(AttrIndex, uint32(r.Index))
	ae.Uint8(AttrTable, r.Table)
	ae.Uint8(AttrProtocol, r.Protocol)
	ae.Uint8(AttrScope, r.Scope)
	ae.Uint32(AttrMetric, r.Metric)
	ae.Uint32(AttrFlags, r.Flags)
}

// DecodeRoute decodes what EncodeRoute encodes.
func DecodeRoute(ad *netlink.AttributeDecoder) Route {
	var r Route
	for ad.Next() {
		switch ad.Type() {
		case AttrFamily:
			r.Family = ad.Uint8()
		case AttrDst:
			r.Dst = ad.Bytes()
		case AttrDstLen:
			r.DstLen = ad.Uint8()
		case AttrSrc:
			r.Src = ad.Bytes()
		case AttrDev:
			r.Dev = ad.String()
		case AttrIndex:
			r.Index = int32(ad.Uint32())
		case AttrTable:
			r.Table = ad.Uint8()
		case AttrProtocol:
			r.Protocol = ad.Uint8()
		case AttrScope:
			r.Scope = ad.Uint8()
		case AttrMetric:
			r.Metric = ad.Uint32()
		case AttrFlags:
			r.Flags = ad.Uint32()
		}
	}
	return r
}
