package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/mdlayher/ethtool"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// EthtoolHeader adds to ae the ETHTOOL_A_*_HEADER nest naming a device.
func EthtoolHeader(ae *netlink.AttributeEncoder, dev string) {
	ae.Nested(unix.ETHTOOL_A_HEADER_UNSPEC+1, func(h *netlink.AttributeEncoder) error {
		h.String(unix.ETHTOOL_A_HEADER_DEV_NAME, dev)
		return nil
	})
}

// ParseEthtoolDev returns the device named in an ethtool request header
// (attribute 1 of every ethtool message).
func ParseEthtoolDev(ad *netlink.AttributeDecoder) string {
	var dev string
	ad.Nested(func(h *netlink.AttributeDecoder) error {
		for h.Next() {
			if h.Type() == unix.ETHTOOL_A_HEADER_DEV_NAME {
				dev = h.String()
			}
		}
		return nil
	})
	return dev
}

// Bit is one bit of a verbose ethtool bitset.
type Bit struct {
	Index uint32
	Name  string
	Value bool // ETHTOOL_A_BITSET_BIT_VALUE was set
}

// DecodeBitset decodes the verbose ethtool bitset nested in the current
// attribute of ad: its bits in the order sent.
func DecodeBitset(ad *netlink.AttributeDecoder) []Bit {
	var out []Bit
	ad.Nested(func(b *netlink.AttributeDecoder) error {
		for b.Next() {
			if b.Type() != unix.ETHTOOL_A_BITSET_BITS {
				continue
			}
			b.Nested(func(bits *netlink.AttributeDecoder) error {
				for bits.Next() {
					var x Bit
					bits.Nested(func(one *netlink.AttributeDecoder) error {
						for one.Next() {
							switch one.Type() {
							case unix.ETHTOOL_A_BITSET_BIT_INDEX:
								x.Index = one.Uint32()
							case unix.ETHTOOL_A_BITSET_BIT_NAME:
								x.Name = one.String()
							case unix.ETHTOOL_A_BITSET_BIT_VALUE:
								x.Value = true
							}
						}
						return nil
					})
					out = append(out, x)
				}
				return nil
			})
		}
		return nil
	})
	return out
}

// encodeBitset encodes features as a verbose ethtool bitset: every bit with its
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

// MarshalFeatures encodes a FEATURES_GET reply.
func MarshalFeatures(dev string, fs []Feature) []byte {
	ae := netlink.NewAttributeEncoder()
	EthtoolHeader(ae, dev)
	encodeBitset(ae, unix.ETHTOOL_A_FEATURES_HW, fs, func(f Feature) bool { return f.Available })
	encodeBitset(ae, unix.ETHTOOL_A_FEATURES_WANTED, fs, func(f Feature) bool { return f.Wanted })
	encodeBitset(ae, unix.ETHTOOL_A_FEATURES_ACTIVE, fs, func(f Feature) bool { return f.Active })
	encodeBitset(ae, unix.ETHTOOL_A_FEATURES_NOCHANGE, fs, func(f Feature) bool { return f.NoChange })
	return append(GenlHeader(unix.ETHTOOL_MSG_FEATURES_GET_REPLY), Encode(ae)...)
}

// UnmarshalFeatures decodes a FEATURES_GET reply.
func UnmarshalFeatures(b []byte) ([]Feature, error) {
	_, rest, err := ParseGenl(b)
	if err != nil {
		return nil, err
	}
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var fs []Feature
	bad := false
	set := func(bits []Bit, apply func(*Feature, bool)) {
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
			set(DecodeBitset(ad), func(f *Feature, v bool) { f.Available = v })
		case unix.ETHTOOL_A_FEATURES_WANTED:
			set(DecodeBitset(ad), func(f *Feature, v bool) { f.Wanted = v })
		case unix.ETHTOOL_A_FEATURES_ACTIVE:
			set(DecodeBitset(ad), func(f *Feature, v bool) { f.Active = v })
		case unix.ETHTOOL_A_FEATURES_NOCHANGE:
			set(DecodeBitset(ad), func(f *Feature, v bool) { f.NoChange = v })
		}
	}
	if err := ad.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if bad {
		return nil, fmt.Errorf("%w: feature index out of range", ErrMalformed)
	}
	return fs, nil
}

// MarshalFeaturesSet encodes a FEATURES_SET request: the named features of
// want, with their wanted value (a verbose bitset with a mask).
func MarshalFeaturesSet(dev string, names []string, want map[string]bool) []byte {
	ae := netlink.NewAttributeEncoder()
	EthtoolHeader(ae, dev)
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
	return append(GenlHeader(unix.ETHTOOL_MSG_FEATURES_SET), Encode(ae)...)
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

// MarshalFeaturesChange encodes a FEATURES_SET reply.
func MarshalFeaturesChange(dev string, c FeaturesChange) []byte {
	ae := netlink.NewAttributeEncoder()
	EthtoolHeader(ae, dev)
	encodeMaskedBitset(ae, unix.ETHTOOL_A_FEATURES_WANTED, c.Wanted)
	encodeMaskedBitset(ae, unix.ETHTOOL_A_FEATURES_ACTIVE, c.Active)
	return append(GenlHeader(unix.ETHTOOL_MSG_FEATURES_SET_REPLY), Encode(ae)...)
}

// UnmarshalFeaturesChange decodes a FEATURES_SET reply.
func UnmarshalFeaturesChange(b []byte) (FeaturesChange, error) {
	_, rest, err := ParseGenl(b)
	if err != nil {
		return FeaturesChange{}, err
	}
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		return FeaturesChange{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var c FeaturesChange
	conv := func(bits []Bit) []FeatureBit {
		out := make([]FeatureBit, 0, len(bits))
		for _, x := range bits {
			out = append(out, FeatureBit(x))
		}
		return out
	}
	for ad.Next() {
		switch ad.Type() {
		case unix.ETHTOOL_A_FEATURES_WANTED:
			c.Wanted = conv(DecodeBitset(ad))
		case unix.ETHTOOL_A_FEATURES_ACTIVE:
			c.Active = conv(DecodeBitset(ad))
		}
	}
	if err := ad.Err(); err != nil {
		return FeaturesChange{}, fmt.Errorf("%w: %v", ErrMalformed, err)
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

// coalesceU32s and coalesceBools map the attributes to c's fields.
func coalesceU32s(c *Coalesce) map[uint16]*uint32 {
	return map[uint16]*uint32{unix.ETHTOOL_A_COALESCE_RX_USECS: &c.RxUsecs, unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES: &c.RxFrames,
		unix.ETHTOOL_A_COALESCE_TX_USECS: &c.TxUsecs, unix.ETHTOOL_A_COALESCE_TX_MAX_FRAMES: &c.TxFrames}
}

func coalesceBools(c *Coalesce) map[uint16]*bool {
	return map[uint16]*bool{unix.ETHTOOL_A_COALESCE_USE_ADAPTIVE_RX: &c.AdaptiveRx, unix.ETHTOOL_A_COALESCE_USE_ADAPTIVE_TX: &c.AdaptiveTx,
		unix.ETHTOOL_A_COALESCE_USE_CQE_MODE_TX: &c.CQEModeTx, unix.ETHTOOL_A_COALESCE_USE_CQE_MODE_RX: &c.CQEModeRx}
}

// MarshalCoalesce encodes a COALESCE_GET reply as coalesce_fill_reply
// (net/ethtool/coalesce.c) does: a parameter is there when the driver
// supports it or its value is not zero; flags are u8.
func MarshalCoalesce(dev string, c Coalesce) []byte {
	ae := netlink.NewAttributeEncoder()
	EthtoolHeader(ae, dev)
	u32s, bools := coalesceU32s(&c), coalesceBools(&c)
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
	return append(GenlHeader(unix.ETHTOOL_MSG_COALESCE_GET_REPLY), Encode(ae)...)
}

func b2u8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// UnmarshalCoalesce decodes a COALESCE_GET reply; Supported lists the
// attributes it carried, in its order.
func UnmarshalCoalesce(b []byte) (Coalesce, error) {
	_, rest, err := ParseGenl(b)
	if err != nil {
		return Coalesce{}, err
	}
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		return Coalesce{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var c Coalesce
	u32s, bools := coalesceU32s(&c), coalesceBools(&c)
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
		return Coalesce{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return c, nil
}

// MarshalCoalesceSet encodes a COALESCE_SET request: flags as u8, as the
// kernel's policy (NLA_U8) and ethtool's nl_parse_u8bool have them.
func MarshalCoalesceSet(dev string, set CoalesceSet, order []uint16) []byte {
	ae := netlink.NewAttributeEncoder()
	EthtoolHeader(ae, dev)
	for _, typ := range order {
		if coalesceBoolAttr(typ) {
			ae.Uint8(typ, uint8(min(set[typ], 1)))
		} else {
			ae.Uint32(typ, set[typ])
		}
	}
	return append(GenlHeader(unix.ETHTOOL_MSG_COALESCE_SET), Encode(ae)...)
}

// MarshalRings encodes a RINGS_GET reply as rings_fill_reply
// (net/ethtool/rings.c) does: zero maximums and their sizes are left out,
// ETHTOOL_A_RINGS_TX_PUSH is always there.
func MarshalRings(dev string, r Rings) []byte {
	ae := netlink.NewAttributeEncoder()
	EthtoolHeader(ae, dev)
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
	return append(GenlHeader(unix.ETHTOOL_MSG_RINGS_GET_REPLY), Encode(ae)...)
}

// UnmarshalRings decodes a RINGS_GET reply.
func UnmarshalRings(b []byte) (Rings, error) {
	_, rest, err := ParseGenl(b)
	if err != nil {
		return Rings{}, err
	}
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		return Rings{}, fmt.Errorf("%w: %v", ErrMalformed, err)
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
		return Rings{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return r, nil
}

// MarshalRingsSet encodes a RINGS_SET request.
func MarshalRingsSet(dev string, set RingsSet, order []uint16) []byte {
	ae := netlink.NewAttributeEncoder()
	EthtoolHeader(ae, dev)
	for _, typ := range order {
		if typ == unix.ETHTOOL_A_RINGS_TX_PUSH {
			ae.Uint8(typ, uint8(set[typ]))
		} else {
			ae.Uint32(typ, set[typ])
		}
	}
	return append(GenlHeader(unix.ETHTOOL_MSG_RINGS_SET), Encode(ae)...)
}

// MarshalChannels encodes a CHANNELS_GET reply as channels_fill_reply
// (net/ethtool/channels.c) does: a kind of channel with a zero maximum is
// left out, its count with it.
func MarshalChannels(dev string, c Channels) []byte {
	ae := netlink.NewAttributeEncoder()
	EthtoolHeader(ae, dev)
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
	return append(GenlHeader(unix.ETHTOOL_MSG_CHANNELS_GET_REPLY), Encode(ae)...)
}

// UnmarshalChannels decodes a CHANNELS_GET reply.
func UnmarshalChannels(b []byte) (Channels, error) {
	_, rest, err := ParseGenl(b)
	if err != nil {
		return Channels{}, err
	}
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		return Channels{}, fmt.Errorf("%w: %v", ErrMalformed, err)
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
		return Channels{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return c, nil
}

// MarshalChannelsSet encodes a CHANNELS_SET request (u32 attributes in
// order).
func MarshalChannelsSet(dev string, set ChannelsSet, order []uint16) []byte {
	ae := netlink.NewAttributeEncoder()
	EthtoolHeader(ae, dev)
	for _, typ := range order {
		ae.Uint32(typ, set[typ])
	}
	return append(GenlHeader(unix.ETHTOOL_MSG_CHANNELS_SET), Encode(ae)...)
}

func portOf(v uint8) ethtool.Port { return ethtool.Port(v) }

func duplexOf(v uint8) ethtool.Duplex { return ethtool.Duplex(v) }

func autonegOf(v uint8) ethtool.Autoneg { return ethtool.Autoneg(v) }

// MarshalLinkSettings encodes the reply to the ethtool command cmd
// (LINKINFO_GET, LINKMODES_GET or LINKSTATE_GET): its part of ls.
func MarshalLinkSettings(cmd uint8, dev string, ls LinkSettings) []byte {
	ae := netlink.NewAttributeEncoder()
	EthtoolHeader(ae, dev)
	switch cmd {
	case unix.ETHTOOL_MSG_LINKINFO_GET:
		ae.Uint8(unix.ETHTOOL_A_LINKINFO_PORT, uint8(ls.Port))
		ae.Uint8(unix.ETHTOOL_A_LINKINFO_PHYADDR, ls.PHYAddress)
	case unix.ETHTOOL_MSG_LINKMODES_GET:
		ae.Uint8(unix.ETHTOOL_A_LINKMODES_AUTONEG, uint8(ls.Autoneg))
		speed := uint32(ls.SpeedMegabits)
		if ls.SpeedMegabits == 0 {
			speed = 0xffffffff // SPEED_UNKNOWN
		}
		ae.Uint32(unix.ETHTOOL_A_LINKMODES_SPEED, speed)
		ae.Uint8(unix.ETHTOOL_A_LINKMODES_DUPLEX, uint8(ls.Duplex))
	case unix.ETHTOOL_MSG_LINKSTATE_GET:
		v := uint8(0)
		if ls.Link {
			v = 1
		}
		ae.Uint8(unix.ETHTOOL_A_LINKSTATE_LINK, v)
	}
	return append(GenlHeader(cmd), Encode(ae)...)
}

// UnmarshalLinkSettings decodes a LINKINFO_GET, LINKMODES_GET or
// LINKSTATE_GET reply into its part of ls.
func UnmarshalLinkSettings(b []byte, ls *LinkSettings) error {
	cmd, rest, err := ParseGenl(b)
	if err != nil {
		return err
	}
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	for ad.Next() {
		switch {
		case cmd == unix.ETHTOOL_MSG_LINKINFO_GET && ad.Type() == unix.ETHTOOL_A_LINKINFO_PORT:
			ls.Port = portOf(ad.Uint8())
		case cmd == unix.ETHTOOL_MSG_LINKINFO_GET && ad.Type() == unix.ETHTOOL_A_LINKINFO_PHYADDR:
			ls.PHYAddress = ad.Uint8()
		case cmd == unix.ETHTOOL_MSG_LINKMODES_GET && ad.Type() == unix.ETHTOOL_A_LINKMODES_AUTONEG:
			ls.Autoneg = autonegOf(ad.Uint8())
		case cmd == unix.ETHTOOL_MSG_LINKMODES_GET && ad.Type() == unix.ETHTOOL_A_LINKMODES_SPEED:
			if v := ad.Uint32(); v != 0xffffffff {
				ls.SpeedMegabits = int(v)
			}
		case cmd == unix.ETHTOOL_MSG_LINKMODES_GET && ad.Type() == unix.ETHTOOL_A_LINKMODES_DUPLEX:
			ls.Duplex = duplexOf(ad.Uint8())
		case cmd == unix.ETHTOOL_MSG_LINKSTATE_GET && ad.Type() == unix.ETHTOOL_A_LINKSTATE_LINK:
			ls.Link = ad.Uint8() != 0
		}
	}
	return ad.Err()
}

// EthtoolRequest is an ethtool request as the server reads it: the
// command, the device its header names, and what a SET command asks.
type EthtoolRequest struct {
	Cmd      uint8
	Dev      string          // "" when the header names none
	Want     map[string]bool // FEATURES_SET: the wanted value of each feature named; nil without ETHTOOL_A_FEATURES_WANTED
	Coalesce CoalesceSet     // COALESCE_SET: each u32 or u8 attribute as a u32
	Rings    RingsSet        // RINGS_SET: likewise
	Channels ChannelsSet     // CHANNELS_SET: each u32 attribute
}

// ParseEthtoolRequest decodes the payload of an ethtool request. An
// attribute of a SET command of another size than the command takes
// is refused, naming the attribute and its length.
func ParseEthtoolRequest(b []byte) (EthtoolRequest, error) {
	cmd, rest, err := ParseGenl(b)
	if err != nil {
		return EthtoolRequest{}, err
	}
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		return EthtoolRequest{}, errMalformedAttrs
	}
	r := EthtoolRequest{Cmd: cmd, Coalesce: CoalesceSet{}, Rings: RingsSet{}, Channels: ChannelsSet{}}
	for ad.Next() {
		switch {
		case ad.Type() == unix.ETHTOOL_A_HEADER_UNSPEC+1: // ETHTOOL_A_*_HEADER
			r.Dev = ParseEthtoolDev(ad)
		case cmd == unix.ETHTOOL_MSG_FEATURES_SET && ad.Type() == unix.ETHTOOL_A_FEATURES_WANTED:
			r.Want = map[string]bool{}
			for _, x := range DecodeBitset(ad) {
				r.Want[x.Name] = x.Value
			}
		case cmd == unix.ETHTOOL_MSG_COALESCE_SET:
			if b := ad.Bytes(); len(b) == 4 {
				r.Coalesce[ad.Type()] = binary.NativeEndian.Uint32(b)
			} else if len(b) == 1 {
				r.Coalesce[ad.Type()] = uint32(b[0])
			} else {
				return EthtoolRequest{}, fmt.Errorf("coalesce attribute %d: bad length %d", ad.Type(), len(b))
			}
		case cmd == unix.ETHTOOL_MSG_CHANNELS_SET:
			if b := ad.Bytes(); len(b) == 4 {
				r.Channels[ad.Type()] = binary.NativeEndian.Uint32(b)
			} else {
				return EthtoolRequest{}, fmt.Errorf("channels attribute %d: bad length %d", ad.Type(), len(b))
			}
		case cmd == unix.ETHTOOL_MSG_RINGS_SET:
			if b := ad.Bytes(); len(b) == 4 {
				r.Rings[ad.Type()] = binary.NativeEndian.Uint32(b)
			} else if len(b) == 1 {
				r.Rings[ad.Type()] = uint32(b[0])
			} else {
				return EthtoolRequest{}, fmt.Errorf("rings attribute %d: bad length %d", ad.Type(), len(b))
			}
		}
	}
	if ad.Err() != nil {
		return EthtoolRequest{}, errMalformedAttrs
	}
	return r, nil
}

// errMalformedAttrs is a request whose attributes do not decode.
var errMalformedAttrs = errors.New("malformed attributes")
