package netlinkx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/ibctl/ibctl/netlinkx/internal/wire"
	"github.com/mdlayher/ethtool"
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

// marshalLink encodes l as an RTM_NEWLINK payload.
func marshalLink(l Link) []byte {
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
	hdr := wire.Ifinfomsg{Type: l.Type, Index: l.Index, Flags: l.Flags}
	return append(hdr.Marshal(), wire.Encode(ae)...)
}

// unmarshalLink decodes an RTM_NEWLINK payload.
func unmarshalLink(b []byte) (Link, error) {
	hdr, rest, err := wire.ParseIfinfomsg(b)
	if err != nil {
		return Link{}, err
	}
	l := Link{Index: hdr.Index, Type: hdr.Type, Flags: hdr.Flags}
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		return Link{}, fmt.Errorf("%w: %v", wire.ErrMalformed, err)
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
		return Link{}, fmt.Errorf("%w: %v", wire.ErrMalformed, err)
	}
	return l, nil
}

// marshalLinkRequest encodes a RTM_NEWLINK / RTM_SETLINK request payload.
func marshalLinkRequest(r LinkRequest) []byte {
	hdr := wire.Ifinfomsg{Index: r.Index}
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
	return append(hdr.Marshal(), wire.Encode(ae)...)
}

// unmarshalLinkRequest decodes a RTM_NEWLINK / RTM_SETLINK / RTM_DELLINK /
// RTM_GETLINK request payload.
func unmarshalLinkRequest(b []byte) (LinkRequest, error) {
	hdr, rest, err := wire.ParseIfinfomsg(b)
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
		return LinkRequest{}, fmt.Errorf("%w: %v", wire.ErrMalformed, err)
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
		return LinkRequest{}, fmt.Errorf("%w: %v", wire.ErrMalformed, err)
	}
	return r, nil
}

// bitset encodes features as a verbose ethtool bitset: every bit with its
// index and name, the VALUE flag on those for which pick returns true.
func encodeBitset(ae *netlink.AttributeEncoder, typ uint16, fs []Feature, pick func(Feature) bool) {
	ae.Nested(typ, func(b *netlink.AttributeEncoder) error {
		b.Flag(unix.ETHTOOL_A_BITSET_NOMASK, true)
		b.Uint32(unix.ETHTOOL_A_BITSET_SIZE, uint32(len(fs)))
		b.Nested(unix.ETHTOOL_A_BITSET_BITS, func(bits *netlink.AttributeEncoder) error {
			for i, f := range fs {
				bits.Nested(unix.ETHTOOL_A_BITSET_BITS_BIT, func(bit *netlink.AttributeEncoder) error {
					bit.Uint32(unix.ETHTOOL_A_BITSET_BIT_INDEX, uint32(i))
					bit.String(unix.ETHTOOL_A_BITSET_BIT_NAME, f.Name)
					if pick(f) {
						bit.Flag(unix.ETHTOOL_A_BITSET_BIT_VALUE, true)
					}
					return nil
				})
			}
			return nil
		})
		return nil
	})
}

// maxFeatures bounds a feature bitset (the kernel has 64 bits).
const maxFeatures = 1024

// marshalFeatures encodes a FEATURES_GET reply.
func marshalFeatures(dev string, fs []Feature) []byte {
	ae := netlink.NewAttributeEncoder()
	wire.EthtoolHeader(ae, dev)
	encodeBitset(ae, unix.ETHTOOL_A_FEATURES_HW, fs, func(f Feature) bool { return f.Available })
	encodeBitset(ae, unix.ETHTOOL_A_FEATURES_WANTED, fs, func(f Feature) bool { return f.Wanted })
	encodeBitset(ae, unix.ETHTOOL_A_FEATURES_ACTIVE, fs, func(f Feature) bool { return f.Active })
	encodeBitset(ae, unix.ETHTOOL_A_FEATURES_NOCHANGE, fs, func(f Feature) bool { return f.NoChange })
	return append(wire.GenlHeader(unix.ETHTOOL_MSG_FEATURES_GET_REPLY), wire.Encode(ae)...)
}

// unmarshalFeatures decodes a FEATURES_GET reply.
func unmarshalFeatures(b []byte) ([]Feature, error) {
	_, rest, err := wire.ParseGenl(b)
	if err != nil {
		return nil, err
	}
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", wire.ErrMalformed, err)
	}
	var fs []Feature
	bad := false
	set := func(bits []wire.Bit, apply func(*Feature, bool)) {
		for _, x := range bits {
			if x.Index >= maxFeatures {
				bad = true
				continue
			}
			for int(x.Index) >= len(fs) {
				fs = append(fs, Feature{})
			}
			fs[x.Index].Name = x.Name
			apply(&fs[x.Index], x.Value)
		}
	}
	for ad.Next() {
		switch ad.Type() {
		case unix.ETHTOOL_A_FEATURES_HW:
			set(wire.DecodeBitset(ad), func(f *Feature, v bool) { f.Available = v })
		case unix.ETHTOOL_A_FEATURES_WANTED:
			set(wire.DecodeBitset(ad), func(f *Feature, v bool) { f.Wanted = v })
		case unix.ETHTOOL_A_FEATURES_ACTIVE:
			set(wire.DecodeBitset(ad), func(f *Feature, v bool) { f.Active = v })
		case unix.ETHTOOL_A_FEATURES_NOCHANGE:
			set(wire.DecodeBitset(ad), func(f *Feature, v bool) { f.NoChange = v })
		}
	}
	if err := ad.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", wire.ErrMalformed, err)
	}
	if bad {
		return nil, fmt.Errorf("%w: feature index out of range", wire.ErrMalformed)
	}
	return fs, nil
}

// marshalFeaturesSet encodes a FEATURES_SET request: the named features of
// want, with their wanted value (a verbose bitset with a mask).
func marshalFeaturesSet(dev string, names []string, want map[string]bool) []byte {
	ae := netlink.NewAttributeEncoder()
	wire.EthtoolHeader(ae, dev)
	ae.Nested(unix.ETHTOOL_A_FEATURES_WANTED, func(b *netlink.AttributeEncoder) error {
		b.Nested(unix.ETHTOOL_A_BITSET_BITS, func(bits *netlink.AttributeEncoder) error {
			for _, n := range names {
				bits.Nested(unix.ETHTOOL_A_BITSET_BITS_BIT, func(bit *netlink.AttributeEncoder) error {
					bit.String(unix.ETHTOOL_A_BITSET_BIT_NAME, n)
					if want[n] {
						bit.Flag(unix.ETHTOOL_A_BITSET_BIT_VALUE, true)
					}
					return nil
				})
			}
			return nil
		})
		return nil
	})
	return append(wire.GenlHeader(unix.ETHTOOL_MSG_FEATURES_SET), wire.Encode(ae)...)
}

// diffFeatures is what ethnl_set_features reports of a change from before
// to after for the request want.
func diffFeatures(before, after []Feature, want map[string]bool) FeaturesChange {
	var c FeaturesChange
	for i, f := range after {
		if req, ok := want[f.Name]; ok && req != f.Active {
			c.Wanted = append(c.Wanted, FeatureBit{Index: uint32(i), Name: f.Name, Value: req})
		}
		if i < len(before) && before[i].Active != f.Active {
			c.Active = append(c.Active, FeatureBit{Index: uint32(i), Name: f.Name, Value: f.Active})
		}
	}
	return c
}

// encodeMaskedBitset encodes a verbose ethtool bitset with a mask: the
// bits listed are the mask, the VALUE flag marks those set.
func encodeMaskedBitset(ae *netlink.AttributeEncoder, typ uint16, bits []FeatureBit) {
	ae.Nested(typ, func(b *netlink.AttributeEncoder) error {
		size := uint32(0)
		if len(bits) > 0 {
			size = bits[len(bits)-1].Index + 1
		}
		b.Uint32(unix.ETHTOOL_A_BITSET_SIZE, size)
		b.Nested(unix.ETHTOOL_A_BITSET_BITS, func(list *netlink.AttributeEncoder) error {
			for _, x := range bits {
				list.Nested(unix.ETHTOOL_A_BITSET_BITS_BIT, func(bit *netlink.AttributeEncoder) error {
					bit.Uint32(unix.ETHTOOL_A_BITSET_BIT_INDEX, x.Index)
					bit.String(unix.ETHTOOL_A_BITSET_BIT_NAME, x.Name)
					if x.Value {
						bit.Flag(unix.ETHTOOL_A_BITSET_BIT_VALUE, true)
					}
					return nil
				})
			}
			return nil
		})
		return nil
	})
}

// marshalFeaturesChange encodes a FEATURES_SET reply.
func marshalFeaturesChange(dev string, c FeaturesChange) []byte {
	ae := netlink.NewAttributeEncoder()
	wire.EthtoolHeader(ae, dev)
	encodeMaskedBitset(ae, unix.ETHTOOL_A_FEATURES_WANTED, c.Wanted)
	encodeMaskedBitset(ae, unix.ETHTOOL_A_FEATURES_ACTIVE, c.Active)
	return append(wire.GenlHeader(unix.ETHTOOL_MSG_FEATURES_SET_REPLY), wire.Encode(ae)...)
}

// unmarshalFeaturesChange decodes a FEATURES_SET reply.
func unmarshalFeaturesChange(b []byte) (FeaturesChange, error) {
	_, rest, err := wire.ParseGenl(b)
	if err != nil {
		return FeaturesChange{}, err
	}
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		return FeaturesChange{}, fmt.Errorf("%w: %v", wire.ErrMalformed, err)
	}
	var c FeaturesChange
	conv := func(bits []wire.Bit) []FeatureBit {
		out := make([]FeatureBit, 0, len(bits))
		for _, x := range bits {
			out = append(out, FeatureBit{Index: x.Index, Name: x.Name, Value: x.Value})
		}
		return out
	}
	for ad.Next() {
		switch ad.Type() {
		case unix.ETHTOOL_A_FEATURES_WANTED:
			c.Wanted = conv(wire.DecodeBitset(ad))
		case unix.ETHTOOL_A_FEATURES_ACTIVE:
			c.Active = conv(wire.DecodeBitset(ad))
		}
	}
	if err := ad.Err(); err != nil {
		return FeaturesChange{}, fmt.Errorf("%w: %v", wire.ErrMalformed, err)
	}
	return c, nil
}

// coalesceU32 and coalesceBool are the COALESCE_GET attributes the
// Coalesce type carries, in the order coalesce_fill_reply puts them.
var (
	coalesceU32 = []uint16{unix.ETHTOOL_A_COALESCE_RX_USECS, unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES,
		unix.ETHTOOL_A_COALESCE_TX_USECS, unix.ETHTOOL_A_COALESCE_TX_MAX_FRAMES}
	coalesceBool = []uint16{unix.ETHTOOL_A_COALESCE_USE_ADAPTIVE_RX, unix.ETHTOOL_A_COALESCE_USE_ADAPTIVE_TX,
		unix.ETHTOOL_A_COALESCE_USE_CQE_MODE_TX, unix.ETHTOOL_A_COALESCE_USE_CQE_MODE_RX}
)

// coalesceBoolAttr reports whether a COALESCE attribute is a u8 flag.
func coalesceBoolAttr(typ uint16) bool { return slices.Contains(coalesceBool, typ) }

// u32s and bools map the attributes to c's fields.
func (c *Coalesce) u32s() map[uint16]*uint32 {
	return map[uint16]*uint32{unix.ETHTOOL_A_COALESCE_RX_USECS: &c.RxUsecs, unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES: &c.RxFrames,
		unix.ETHTOOL_A_COALESCE_TX_USECS: &c.TxUsecs, unix.ETHTOOL_A_COALESCE_TX_MAX_FRAMES: &c.TxFrames}
}

func (c *Coalesce) bools() map[uint16]*bool {
	return map[uint16]*bool{unix.ETHTOOL_A_COALESCE_USE_ADAPTIVE_RX: &c.AdaptiveRx, unix.ETHTOOL_A_COALESCE_USE_ADAPTIVE_TX: &c.AdaptiveTx,
		unix.ETHTOOL_A_COALESCE_USE_CQE_MODE_TX: &c.CQEModeTx, unix.ETHTOOL_A_COALESCE_USE_CQE_MODE_RX: &c.CQEModeRx}
}

// marshalCoalesce encodes a COALESCE_GET reply as coalesce_fill_reply
// (net/ethtool/coalesce.c) does: a parameter is there when the driver
// supports it or its value is not zero; flags are u8.
func marshalCoalesce(dev string, c Coalesce) []byte {
	ae := netlink.NewAttributeEncoder()
	wire.EthtoolHeader(ae, dev)
	u32s, bools := c.u32s(), c.bools()
	for _, typ := range coalesceU32 {
		if v := *u32s[typ]; v != 0 || slices.Contains(c.Supported, typ) {
			ae.Uint32(typ, v)
		}
	}
	for _, typ := range coalesceBool {
		if v := *bools[typ]; v || slices.Contains(c.Supported, typ) {
			ae.Uint8(typ, b2u8(v))
		}
	}
	return append(wire.GenlHeader(unix.ETHTOOL_MSG_COALESCE_GET_REPLY), wire.Encode(ae)...)
}

func b2u8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// unmarshalCoalesce decodes a COALESCE_GET reply; Supported lists the
// attributes it carried, in its order.
func unmarshalCoalesce(b []byte) (Coalesce, error) {
	_, rest, err := wire.ParseGenl(b)
	if err != nil {
		return Coalesce{}, err
	}
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		return Coalesce{}, fmt.Errorf("%w: %v", wire.ErrMalformed, err)
	}
	var c Coalesce
	u32s, bools := c.u32s(), c.bools()
	for ad.Next() {
		typ := ad.Type()
		if p, ok := u32s[typ]; ok {
			*p = ad.Uint32()
		} else if p, ok := bools[typ]; ok {
			*p = ad.Uint8() != 0
		} else {
			continue
		}
		c.Supported = append(c.Supported, typ)
	}
	if err := ad.Err(); err != nil {
		return Coalesce{}, fmt.Errorf("%w: %v", wire.ErrMalformed, err)
	}
	return c, nil
}

// marshalCoalesceSet encodes a COALESCE_SET request: flags as u8, as the
// kernel's policy (NLA_U8) and ethtool's nl_parse_u8bool have them.
func marshalCoalesceSet(dev string, set CoalesceSet, order []uint16) []byte {
	ae := netlink.NewAttributeEncoder()
	wire.EthtoolHeader(ae, dev)
	for _, typ := range order {
		if coalesceBoolAttr(typ) {
			ae.Uint8(typ, uint8(min(set[typ], 1)))
		} else {
			ae.Uint32(typ, set[typ])
		}
	}
	return append(wire.GenlHeader(unix.ETHTOOL_MSG_COALESCE_SET), wire.Encode(ae)...)
}

// marshalRings encodes a RINGS_GET reply as rings_fill_reply
// (net/ethtool/rings.c) does: zero maximums and their sizes are left out,
// ETHTOOL_A_RINGS_TX_PUSH is always there.
func marshalRings(dev string, r Rings) []byte {
	ae := netlink.NewAttributeEncoder()
	wire.EthtoolHeader(ae, dev)
	if r.RxMax != 0 {
		ae.Uint32(unix.ETHTOOL_A_RINGS_RX_MAX, r.RxMax)
	}
	if r.TxMax != 0 {
		ae.Uint32(unix.ETHTOOL_A_RINGS_TX_MAX, r.TxMax)
	}
	if r.RxMax != 0 {
		ae.Uint32(unix.ETHTOOL_A_RINGS_RX, r.Rx)
	}
	if r.TxMax != 0 {
		ae.Uint32(unix.ETHTOOL_A_RINGS_TX, r.Tx)
	}
	ae.Uint8(unix.ETHTOOL_A_RINGS_TX_PUSH, 0)
	return append(wire.GenlHeader(unix.ETHTOOL_MSG_RINGS_GET_REPLY), wire.Encode(ae)...)
}

// unmarshalRings decodes a RINGS_GET reply.
func unmarshalRings(b []byte) (Rings, error) {
	_, rest, err := wire.ParseGenl(b)
	if err != nil {
		return Rings{}, err
	}
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		return Rings{}, fmt.Errorf("%w: %v", wire.ErrMalformed, err)
	}
	var r Rings
	for ad.Next() {
		switch ad.Type() {
		case unix.ETHTOOL_A_RINGS_RX_MAX:
			r.RxMax = ad.Uint32()
		case unix.ETHTOOL_A_RINGS_TX_MAX:
			r.TxMax = ad.Uint32()
		case unix.ETHTOOL_A_RINGS_RX:
			r.Rx = ad.Uint32()
		case unix.ETHTOOL_A_RINGS_TX:
			r.Tx = ad.Uint32()
		}
	}
	if err := ad.Err(); err != nil {
		return Rings{}, fmt.Errorf("%w: %v", wire.ErrMalformed, err)
	}
	return r, nil
}

// marshalRingsSet encodes a RINGS_SET request.
func marshalRingsSet(dev string, set RingsSet, order []uint16) []byte {
	ae := netlink.NewAttributeEncoder()
	wire.EthtoolHeader(ae, dev)
	for _, typ := range order {
		if typ == unix.ETHTOOL_A_RINGS_TX_PUSH {
			ae.Uint8(typ, uint8(set[typ]))
		} else {
			ae.Uint32(typ, set[typ])
		}
	}
	return append(wire.GenlHeader(unix.ETHTOOL_MSG_RINGS_SET), wire.Encode(ae)...)
}

// marshalChannels encodes a CHANNELS_GET reply as channels_fill_reply
// (net/ethtool/channels.c) does: a kind of channel with a zero maximum is
// left out, its count with it.
func marshalChannels(dev string, c Channels) []byte {
	ae := netlink.NewAttributeEncoder()
	wire.EthtoolHeader(ae, dev)
	for _, k := range []struct {
		max, count uint16
		m, v       uint32
	}{
		{unix.ETHTOOL_A_CHANNELS_RX_MAX, unix.ETHTOOL_A_CHANNELS_RX_COUNT, c.RxMax, c.Rx},
		{unix.ETHTOOL_A_CHANNELS_TX_MAX, unix.ETHTOOL_A_CHANNELS_TX_COUNT, c.TxMax, c.Tx},
		{unix.ETHTOOL_A_CHANNELS_OTHER_MAX, unix.ETHTOOL_A_CHANNELS_OTHER_COUNT, c.OtherMax, c.Other},
		{unix.ETHTOOL_A_CHANNELS_COMBINED_MAX, unix.ETHTOOL_A_CHANNELS_COMBINED_COUNT, c.CombinedMax, c.Combined},
	} {
		if k.m != 0 {
			ae.Uint32(k.max, k.m)
			ae.Uint32(k.count, k.v)
		}
	}
	return append(wire.GenlHeader(unix.ETHTOOL_MSG_CHANNELS_GET_REPLY), wire.Encode(ae)...)
}

// unmarshalChannels decodes a CHANNELS_GET reply.
func unmarshalChannels(b []byte) (Channels, error) {
	_, rest, err := wire.ParseGenl(b)
	if err != nil {
		return Channels{}, err
	}
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		return Channels{}, fmt.Errorf("%w: %v", wire.ErrMalformed, err)
	}
	var c Channels
	for ad.Next() {
		p := map[uint16]*uint32{
			unix.ETHTOOL_A_CHANNELS_RX_MAX: &c.RxMax, unix.ETHTOOL_A_CHANNELS_TX_MAX: &c.TxMax,
			unix.ETHTOOL_A_CHANNELS_OTHER_MAX: &c.OtherMax, unix.ETHTOOL_A_CHANNELS_COMBINED_MAX: &c.CombinedMax,
			unix.ETHTOOL_A_CHANNELS_RX_COUNT: &c.Rx, unix.ETHTOOL_A_CHANNELS_TX_COUNT: &c.Tx,
			unix.ETHTOOL_A_CHANNELS_OTHER_COUNT: &c.Other, unix.ETHTOOL_A_CHANNELS_COMBINED_COUNT: &c.Combined,
		}[ad.Type()]
		if p != nil {
			*p = ad.Uint32()
		}
	}
	if err := ad.Err(); err != nil {
		return Channels{}, fmt.Errorf("%w: %v", wire.ErrMalformed, err)
	}
	return c, nil
}

// marshalChannelsSet encodes a CHANNELS_SET request (u32 attributes in
// order).
func marshalChannelsSet(dev string, set ChannelsSet, order []uint16) []byte {
	ae := netlink.NewAttributeEncoder()
	wire.EthtoolHeader(ae, dev)
	for _, typ := range order {
		ae.Uint32(typ, set[typ])
	}
	return append(wire.GenlHeader(unix.ETHTOOL_MSG_CHANNELS_SET), wire.Encode(ae)...)
}

// ErrnoOf extracts the errno an error carries (EIO when it carries none).
func ErrnoOf(err error) unix.Errno {
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	return unix.EIO
}

// ExtAck is implemented by errors that carry an extended-ack message.
type ExtAck interface{ ExtAck() string }

// extAckOf returns the extended-ack text an error carries, if any.
func extAckOf(err error) string {
	var x ExtAck
	if errors.As(err, &x) {
		return x.ExtAck()
	}
	return ""
}

func portOf(v uint8) ethtool.Port       { return ethtool.Port(v) }
func duplexOf(v uint8) ethtool.Duplex   { return ethtool.Duplex(v) }
func autonegOf(v uint8) ethtool.Autoneg { return ethtool.Autoneg(v) }
