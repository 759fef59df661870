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
