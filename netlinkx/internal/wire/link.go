package wire

import (
	"encoding/binary"
	"fmt"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// statsFields is rtnl_link_stats64 in kernel field order.
func statsFields(s *Stats) []*uint64 {
	var lengthErrors, rxCompressed, txCompressed, otherhost uint64
	return []*uint64{&s.RxPackets, &s.TxPackets, &s.RxBytes, &s.TxBytes, &s.RxErrors, &s.TxErrors,
		&s.RxDropped, &s.TxDropped, &s.Multicast, &s.Collisions, &lengthErrors, &s.RxOverErrors,
		&s.RxCRCErrors, &s.RxFrameErrors, &s.RxFIFOErrors, &s.RxMissedErrors, &s.TxAbortedErrors,
		&s.TxCarrierErrors, &s.TxFIFOErrors, &s.TxHeartbeatErrors, &s.TxWindowErrors,
		&rxCompressed, &txCompressed, &s.RxNoHandler, &otherhost}
}

func unmarshalStats(b []byte) Stats {
	var s Stats
	for i, p := range statsFields(&s) {
		if 8*i+8 > len(b) {
			break
		}
		*p = binary.NativeEndian.Uint64(b[8*i:])
	}
	return s
}

// MarshalLink encodes l as an RTM_NEWLINK payload. It appends the
// attributes to one buffer, the bytes netlink.AttributeEncoder gives
// without its allocations per attribute: a link dump encodes one message
// per device.
func MarshalLink(l Link) []byte {
	// The ifinfomsg (family AF_UNSPEC), then the attributes: a device's
	// message is some 480 bytes.
	b := make([]byte, ifinfomsgLen, 512)
	binary.NativeEndian.PutUint16(b[2:4], l.Type)
	binary.NativeEndian.PutUint32(b[4:8], uint32(l.Index))
	binary.NativeEndian.PutUint32(b[8:12], l.Flags)
	b = appendStringAttr(b, unix.IFLA_IFNAME, l.Name)
	b = appendUint32Attr(b, unix.IFLA_TXQLEN, l.TxQLen)
	if l.Qdisc != "" {
		b = appendStringAttr(b, unix.IFLA_QDISC, l.Qdisc)
	}
	b = appendUint8Attr(b, unix.IFLA_OPERSTATE, l.Operstate)
	b = appendUint32Attr(b, unix.IFLA_MTU, l.MTU)
	b = appendUint32Attr(b, unix.IFLA_MIN_MTU, l.MinMTU)
	b = appendUint32Attr(b, unix.IFLA_MAX_MTU, l.MaxMTU)
	b = appendUint32Attr(b, unix.IFLA_NUM_TX_QUEUES, l.NumTxQ)
	b = appendUint32Attr(b, unix.IFLA_NUM_RX_QUEUES, l.NumRxQ)
	b = appendUint32Attr(b, unix.IFLA_GSO_MAX_SIZE, l.GSOMaxSize)
	b = appendUint32Attr(b, unix.IFLA_GSO_MAX_SEGS, l.GSOMaxSegs)
	b = appendUint32Attr(b, unix.IFLA_TSO_MAX_SIZE, l.TSOMaxSize)
	b = appendUint32Attr(b, unix.IFLA_TSO_MAX_SEGS, l.TSOMaxSegs)
	b = appendUint32Attr(b, unix.IFLA_GRO_MAX_SIZE, l.GROMaxSize)
	carrier := uint8(0)
	if l.Carrier {
		carrier = 1
	}
	b = appendUint8Attr(b, unix.IFLA_CARRIER, carrier)
	b = appendUint32Attr(b, unix.IFLA_CARRIER_CHANGES, l.CarrierChanges)
	if l.ParentIndex != 0 {
		b = appendUint32Attr(b, unix.IFLA_LINK, uint32(l.ParentIndex))
	}
	b = appendBytesAttr(b, unix.IFLA_ADDRESS, l.Address)
	b = appendBytesAttr(b, unix.IFLA_BROADCAST, l.Broadcast)
	b = appendStats(b, &l.Stats)
	if l.Kind != "" {
		info := len(b)
		b = appendAttrHeader(b, unix.IFLA_LINKINFO|unix.NLA_F_NESTED, 0)
		b = appendStringAttr(b, unix.IFLA_INFO_KIND, l.Kind)
		if l.IPoIB != nil {
			data := len(b)
			b = appendAttrHeader(b, unix.IFLA_INFO_DATA|unix.NLA_F_NESTED, 0)
			b = appendUint16Attr(b, unix.IFLA_IPOIB_PKEY, l.IPoIB.PKey)
			b = appendUint16Attr(b, unix.IFLA_IPOIB_MODE, l.IPoIB.Mode)
			b = appendUint16Attr(b, unix.IFLA_IPOIB_UMCAST, l.IPoIB.Umcast)
			endNested(b, data)
		}
		endNested(b, info)
	}
	if l.ParentDev != "" {
		b = appendStringAttr(b, unix.IFLA_PARENT_DEV_NAME, l.ParentDev)
		b = appendStringAttr(b, unix.IFLA_PARENT_DEV_BUS_NAME, l.ParentBus)
	}
	return b
}

// appendStats appends IFLA_STATS64: rtnl_link_stats64, the fields of
// statsFields in its order, without taking their addresses.
func appendStats(b []byte, s *Stats) []byte {
	b = appendAttrHeader(b, unix.IFLA_STATS64, 8*25)
	for _, v := range [25]uint64{s.RxPackets, s.TxPackets, s.RxBytes, s.TxBytes, s.RxErrors, s.TxErrors,
		s.RxDropped, s.TxDropped, s.Multicast, s.Collisions, 0, s.RxOverErrors,
		s.RxCRCErrors, s.RxFrameErrors, s.RxFIFOErrors, s.RxMissedErrors, s.TxAbortedErrors,
		s.TxCarrierErrors, s.TxFIFOErrors, s.TxHeartbeatErrors, s.TxWindowErrors,
		0, 0, s.RxNoHandler, 0} {
		b = binary.NativeEndian.AppendUint64(b, v)
	}
	return b
}

// appendAttrHeader appends the header of an attribute of typ with n
// bytes of payload. Attributes start 4-byte aligned: at a multiple of 4
// of b, which starts with a header of such a length.
func appendAttrHeader(b []byte, typ uint16, n int) []byte {
	if 4+n > 0xffff {
		panic(fmt.Sprintf("wire: encode: attribute %d of %d bytes", typ, n))
	}
	b = binary.NativeEndian.AppendUint16(b, uint16(4+n))
	return binary.NativeEndian.AppendUint16(b, typ)
}

// padAttr pads b to the next attribute's alignment.
func padAttr(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// endNested sets the length of the nested attribute at b[start:] to what
// follows it.
func endNested(b []byte, start int) {
	if len(b)-start > 0xffff {
		panic(fmt.Sprintf("wire: encode: nested attribute of %d bytes", len(b)-start))
	}
	binary.NativeEndian.PutUint16(b[start:], uint16(len(b)-start))
}

func appendUint8Attr(b []byte, typ uint16, v uint8) []byte {
	return padAttr(append(appendAttrHeader(b, typ, 1), v))
}

func appendUint16Attr(b []byte, typ uint16, v uint16) []byte {
	return padAttr(binary.NativeEndian.AppendUint16(appendAttrHeader(b, typ, 2), v))
}

func appendUint32Attr(b []byte, typ uint16, v uint32) []byte {
	return binary.NativeEndian.AppendUint32(appendAttrHeader(b, typ, 4), v)
}

func appendBytesAttr(b []byte, typ uint16, v []byte) []byte {
	return padAttr(append(appendAttrHeader(b, typ, len(v)), v...))
}

// appendStringAttr appends s NUL-terminated, as netlink strings are.
func appendStringAttr(b []byte, typ uint16, s string) []byte {
	return padAttr(append(append(appendAttrHeader(b, typ, len(s)+1), s...), 0))
}

// UnmarshalLink decodes an RTM_NEWLINK payload.
func UnmarshalLink(b []byte) (Link, error) {
	hdr, rest, err := ParseIfinfomsg(b)
	if err != nil {
		return Link{}, err
	}
	l := Link{Index: hdr.Index, Type: hdr.Type, Flags: hdr.Flags}
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		return Link{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	for ad.Next() {
		switch ad.Type() {
		case unix.IFLA_IFNAME:
			l.Name = ad.String()
		case unix.IFLA_TXQLEN:
			l.TxQLen = ad.Uint32()
		case unix.IFLA_QDISC:
			l.Qdisc = ad.String()
		case unix.IFLA_OPERSTATE:
			l.Operstate = ad.Uint8()
		case unix.IFLA_MTU:
			l.MTU = ad.Uint32()
		case unix.IFLA_MIN_MTU:
			l.MinMTU = ad.Uint32()
		case unix.IFLA_MAX_MTU:
			l.MaxMTU = ad.Uint32()
		case unix.IFLA_NUM_TX_QUEUES:
			l.NumTxQ = ad.Uint32()
		case unix.IFLA_NUM_RX_QUEUES:
			l.NumRxQ = ad.Uint32()
		case unix.IFLA_GSO_MAX_SIZE:
			l.GSOMaxSize = ad.Uint32()
		case unix.IFLA_GSO_MAX_SEGS:
			l.GSOMaxSegs = ad.Uint32()
		case unix.IFLA_TSO_MAX_SIZE:
			l.TSOMaxSize = ad.Uint32()
		case unix.IFLA_TSO_MAX_SEGS:
			l.TSOMaxSegs = ad.Uint32()
		case unix.IFLA_GRO_MAX_SIZE:
			l.GROMaxSize = ad.Uint32()
		case unix.IFLA_CARRIER:
			l.Carrier = ad.Uint8() != 0
		case unix.IFLA_CARRIER_CHANGES:
			l.CarrierChanges = ad.Uint32()
		case unix.IFLA_LINK:
			l.ParentIndex = int32(ad.Uint32())
		case unix.IFLA_ADDRESS:
			l.Address = ad.Bytes()
		case unix.IFLA_BROADCAST:
			l.Broadcast = ad.Bytes()
		case unix.IFLA_STATS64:
			l.Stats = unmarshalStats(ad.Bytes())
		case unix.IFLA_PARENT_DEV_NAME:
			l.ParentDev = ad.String()
		case unix.IFLA_PARENT_DEV_BUS_NAME:
			l.ParentBus = ad.String()
		case unix.IFLA_LINKINFO:
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				for nad.Next() {
					switch nad.Type() {
					case unix.IFLA_INFO_KIND:
						l.Kind = nad.String()
					case unix.IFLA_INFO_DATA:
						info := &IPoIB{}
						nad.Nested(func(d *netlink.AttributeDecoder) error {
							for d.Next() {
								switch d.Type() {
								case unix.IFLA_IPOIB_PKEY:
									info.PKey = d.Uint16()
								case unix.IFLA_IPOIB_MODE:
									info.Mode = d.Uint16()
								case unix.IFLA_IPOIB_UMCAST:
									info.Umcast = d.Uint16()
								}
							}
							return nil
						})
						l.IPoIB = info
					}
				}
				return nil
			})
		}
	}
	if err := ad.Err(); err != nil {
		return Link{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return l, nil
}

// MarshalLinkRequest encodes a RTM_NEWLINK / RTM_SETLINK request payload.
func MarshalLinkRequest(r LinkRequest) []byte {
	hdr := Ifinfomsg{Index: r.Index}
	if r.Up != nil {
		hdr.Change = unix.IFF_UP
		if *r.Up {
			hdr.Flags = unix.IFF_UP
		}
	}
	ae := netlink.NewAttributeEncoder()
	if r.Name != "" {
		ae.String(unix.IFLA_IFNAME, r.Name)
	}
	if r.ParentIndex != 0 {
		ae.Uint32(unix.IFLA_LINK, uint32(r.ParentIndex))
	}
	if r.MTU != nil {
		ae.Uint32(unix.IFLA_MTU, *r.MTU)
	}
	if r.Kind != "" {
		ae.Nested(unix.IFLA_LINKINFO, func(nae *netlink.AttributeEncoder) error {
			nae.String(unix.IFLA_INFO_KIND, r.Kind)
			if r.PKey != nil || r.Mode != nil || r.Umcast != nil {
				nae.Nested(unix.IFLA_INFO_DATA, func(d *netlink.AttributeEncoder) error {
					if r.PKey != nil {
						d.Uint16(unix.IFLA_IPOIB_PKEY, *r.PKey)
					}
					if r.Mode != nil {
						d.Uint16(unix.IFLA_IPOIB_MODE, *r.Mode)
					}
					if r.Umcast != nil {
						d.Uint16(unix.IFLA_IPOIB_UMCAST, *r.Umcast)
					}
					return nil
				})
			}
			return nil
		})
	}
	return append(hdr.Marshal(), Encode(ae)...)
}

// UnmarshalLinkRequest decodes a RTM_NEWLINK / RTM_SETLINK / RTM_DELLINK /
// RTM_GETLINK request payload.
func UnmarshalLinkRequest(b []byte) (LinkRequest, error) {
	hdr, rest, err := ParseIfinfomsg(b)
	if err != nil {
		return LinkRequest{}, err
	}
	r := LinkRequest{Index: hdr.Index}
	if hdr.Change&unix.IFF_UP != 0 {
		up := hdr.Flags&unix.IFF_UP != 0
		r.Up = &up
	}
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		return LinkRequest{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	for ad.Next() {
		switch ad.Type() {
		case unix.IFLA_IFNAME:
			r.Name = ad.String()
		case unix.IFLA_LINK:
			r.ParentIndex = int32(ad.Uint32())
		case unix.IFLA_MTU:
			v := ad.Uint32()
			r.MTU = &v
		case unix.IFLA_LINKINFO:
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				for nad.Next() {
					switch nad.Type() {
					case unix.IFLA_INFO_KIND:
						r.Kind = nad.String()
					case unix.IFLA_INFO_DATA:
						nad.Nested(func(d *netlink.AttributeDecoder) error {
							for d.Next() {
								v := d.Uint16()
								switch d.Type() {
								case unix.IFLA_IPOIB_PKEY:
									r.PKey = &v
								case unix.IFLA_IPOIB_MODE:
									r.Mode = &v
								case unix.IFLA_IPOIB_UMCAST:
									r.Umcast = &v
								}
							}
							return nil
						})
					}
				}
				return nil
			})
		}
	}
	if err := ad.Err(); err != nil {
		return LinkRequest{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return r, nil
}
