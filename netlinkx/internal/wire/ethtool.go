package wire

import (
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
