package netlinkx

import (
	"github.com/ibctl/ibctl/netlinkx/internal/wire"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// SMInfoer is implemented by backends that can describe their SM.
type SMInfoer interface {
	SMInfo() SMInfo
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
		wire.EncodeHCA(ae, h)
	case wire.CmdPartAdd, wire.CmdPartDel:
		ad, err := netlink.NewAttributeDecoder(rest)
		if err != nil {
			return true, withMsg(unix.EINVAL, "malformed partition request")
		}
		p := wire.DecodePartition(ad)
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
		wire.EncodeSMInfo(ae, si.SMInfo())
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
	h := wire.DecodeHCA(ad)
	return h, ad.Err()
}

// Partitions lists the subnet manager's partition table.
func (c *Client) Partitions() ([]Partition, error) {
	var out []Partition
	err := c.dump(wire.CmdPartList, wire.AttrEntry, nil, func(n *netlink.AttributeDecoder) {
		p := wire.DecodePartition(n)
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
		g := wire.DecodeGroup(n)
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
	_, err := c.genl(wire.FamilyIbctl, wire.CmdPartAdd, func(ae *netlink.AttributeEncoder) { wire.EncodePartition(ae, p) })
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
	i := wire.DecodeSMInfo(ad)
	return i, ad.Err()
}
