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

func marshalStats(s Stats) []byte {
	f := statsFields(&s)
	b := make([]byte, 8*len(f))
	for i, p := range f {
		binary.NativeEndian.PutUint64(b[8*i:], *p)
	}
	return b
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

// MarshalLink encodes l as an RTM_NEWLINK payload.
func MarshalLink(l Link) []byte {
	ae := netlink.NewAttributeEncoder()
	ae.String(unix.IFLA_IFNAME, l.Name)
	ae.Uint32(unix.IFLA_TXQLEN, l.TxQLen)
	if l.Qdisc != "" {
		ae.String(unix.IFLA_QDISC, l.Qdisc)
	}
	ae.Uint8(unix.IFLA_OPERSTATE, l.Operstate)
	ae.Uint32(unix.IFLA_MTU, l.MTU)
	ae.Uint32(unix.IFLA_MIN_MTU, l.MinMTU)
	ae.Uint32(unix.IFLA_MAX_MTU, l.MaxMTU)
	ae.Uint32(unix.IFLA_NUM_TX_QUEUES, l.NumTxQ)
	ae.Uint32(unix.IFLA_NUM_RX_QUEUES, l.NumRxQ)
	ae.Uint32(unix.IFLA_GSO_MAX_SIZE, l.GSOMaxSize)
	ae.Uint32(unix.IFLA_GSO_MAX_SEGS, l.GSOMaxSegs)
	ae.Uint32(unix.IFLA_TSO_MAX_SIZE, l.TSOMaxSize)
	ae.Uint32(unix.IFLA_TSO_MAX_SEGS, l.TSOMaxSegs)
	ae.Uint32(unix.IFLA_GRO_MAX_SIZE, l.GROMaxSize)
	if l.Carrier {
		ae.Uint8(unix.IFLA_CARRIER, 1)
	} else {
		ae.Uint8(unix.IFLA_CARRIER, 0)
	}
	ae.Uint32(unix.IFLA_CARRIER_CHANGES, l.CarrierChanges)
	if l.ParentIndex != 0 {
		ae.Uint32(unix.IFLA_LINK, uint32(l.ParentIndex))
	}
	ae.Bytes(unix.IFLA_ADDRESS, l.Address)
	ae.Bytes(unix.IFLA_BROADCAST, l.Broadcast)
	ae.Bytes(unix.IFLA_STATS64, marshalStats(l.Stats))
	if l.Kind != "" {
		ae.Nested(unix.IFLA_LINKINFO, func(nae *netlink.AttributeEncoder) error {
			nae.String(unix.IFLA_INFO_KIND, l.Kind)
			if l.IPoIB != nil {
				nae.Nested(unix.IFLA_INFO_DATA, func(d *netlink.AttributeEncoder) error {
					d.Uint16(unix.IFLA_IPOIB_PKEY, l.IPoIB.PKey)
					d.Uint16(unix.IFLA_IPOIB_MODE, l.IPoIB.Mode)
					d.Uint16(unix.IFLA_IPOIB_UMCAST, l.IPoIB.Umcast)
					return nil
				})
			}
			return nil
		})
	}
	if l.ParentDev != "" {
		ae.String(unix.IFLA_PARENT_DEV_NAME, l.ParentDev)
		ae.String(unix.IFLA_PARENT_DEV_BUS_NAME, l.ParentBus)
	}
	hdr := Ifinfomsg{Type: l.Type, Index: l.Index, Flags: l.Flags}
	return append(hdr.Marshal(), Encode(ae)...)
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
