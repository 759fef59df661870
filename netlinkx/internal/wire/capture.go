package wire

import (
	"github.com/mdlayher/netlink"
)

// Kinds of capture stream messages.
const (
	CaptureMsgPacket = iota
	CaptureMsgStart  // the capture point is attached
	CaptureMsgEnd    // the statistics that end the stream
)

// DecodeCaptured decodes one message of a capture stream.
func DecodeCaptured(b []byte) (CapturedPacket, CaptureStats, int, error) {
	var p CapturedPacket
	var st CaptureStats
	kind := CaptureMsgPacket
	_, rest, err := ParseGenl(b)
	if err != nil {
		return p, st, kind, err
	}
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		return p, st, kind, err
	}
	for ad.Next() {
		switch ad.Type() {
		case AttrTime:
			p.TimeNs = int64(ad.Uint64())
		case AttrPktType:
			p.PktType = ad.Uint8()
		case AttrSrc:
			p.Src = ad.Bytes()
		case AttrDst:
			p.Dst = ad.Bytes()
		case AttrRC:
			p.RC = ad.Uint8() != 0
		case AttrIface:
			p.Iface = ad.Uint32()
		case AttrDrop:
			p.Drop = ad.String()
		case AttrOrigLen:
			p.OrigLen = ad.Uint32()
		case AttrData:
			p.Data = ad.Bytes()
		case AttrSnaplen:
			kind = CaptureMsgStart
		case AttrCaptured:
			st.Captured, kind = ad.Uint64(), CaptureMsgEnd
		case AttrLost:
			st.Lost = ad.Uint64()
		case AttrEnd:
			st.End, kind = CaptureEnd(ad.Uint8()), CaptureMsgEnd
		}
	}
	return p, st, kind, ad.Err()
}

// EncodeCaptureRequest adds the attributes of a CmdCapture request: one
// AttrDev for Dev and each of Also, in order.
func EncodeCaptureRequest(ae *netlink.AttributeEncoder, r CaptureRequest) {
	ae.String(AttrDev, r.Dev)
	for _, d := range r.Also {
		ae.String(AttrDev, d)
	}
	ae.Uint32(AttrSnaplen, r.Snaplen)
	if r.Fabric {
		ae.Uint8(AttrFabric, 1)
	}
}

// DecodeCaptureRequest decodes what EncodeCaptureRequest encodes.
func DecodeCaptureRequest(ad *netlink.AttributeDecoder) CaptureRequest {
	var r CaptureRequest
	for ad.Next() {
		switch ad.Type() {
		case AttrDev:
			if r.Dev == "" {
				r.Dev = ad.String()
			} else {
				r.Also = append(r.Also, ad.String())
			}
		case AttrSnaplen:
			r.Snaplen = ad.Uint32()
		case AttrFabric:
			r.Fabric = ad.Uint8() != 0
		}
	}
	return r
}

// MarshalCaptureStart encodes the message of a capture stream that says
// the capture point is attached.
func MarshalCaptureStart(snaplen uint32) []byte {
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(AttrSnaplen, snaplen)
	return append(GenlHeader(CmdCapture), Encode(ae)...)
}

// MarshalCapturedPacket encodes the message of a capture stream that
// carries p.
func MarshalCapturedPacket(p CapturedPacket) []byte {
	ae := netlink.NewAttributeEncoder()
	ae.Uint64(AttrTime, uint64(p.TimeNs))
	ae.Uint8(AttrPktType, p.PktType)
	ae.Bytes(AttrSrc, p.Src)
	ae.Bytes(AttrDst, p.Dst)
	if p.RC {
		ae.Uint8(AttrRC, 1)
	}
	if p.Iface != 0 {
		ae.Uint32(AttrIface, p.Iface)
	}
	if p.Drop != "" {
		ae.String(AttrDrop, p.Drop)
	}
	ae.Uint32(AttrOrigLen, p.OrigLen)
	ae.Bytes(AttrData, p.Data)
	return append(GenlHeader(CmdCapture), Encode(ae)...)
}

// MarshalCaptureStats encodes the message that ends a capture stream.
func MarshalCaptureStats(st CaptureStats) []byte {
	ae := netlink.NewAttributeEncoder()
	ae.Uint64(AttrCaptured, st.Captured)
	ae.Uint64(AttrLost, st.Lost)
	ae.Uint8(AttrEnd, uint8(st.End))
	return append(GenlHeader(CmdCapture), Encode(ae)...)
}
