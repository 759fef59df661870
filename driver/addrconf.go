package driver

import (
	"net/netip"

	"github.com/ibctl/ibctl/driver/header"
)

// IPv6 address autoconfiguration of an IPoIB interface, as
// net/ipv6/addrconf.c does it for ARPHRD_INFINIBAND. An interface has
// IPv6 while its MTU is at least 1280 (ipv6_add_dev). When it is up and
// its link becomes ready (carrier on: addrconf_notify's NETDEV_UP or
// NETDEV_CHANGE, or an MTU raised back to 1280 or more), it gets the
// link-local address fe80::/64 + the interface ID
// (addrconf_ifid_infiniband: the port GUID with 0x02 ORed into its first
// byte), scope link, permanent, lifetimes forever (addrconf_add_linklocal);
// duplicate address detection is taken as done at once. Children share
// the parent's GUID, so they get the same address. Going down removes
// every IPv6 address of the interface, the configured ones too
// (addrconf_ifdown with keep_addr_on_down 0, the default), as does an MTU
// below 1280 (NETDEV_CHANGEMTU); losing carrier removes none. The
// automatic address is derived again at each start, never saved.

// linkLocal is the interface's automatic link-local address.
func (nd *Netdev) linkLocal() netip.Addr {
	id := header.InterfaceID([8]byte(nd.hwAddr()[12:20]))
	var a [16]byte
	a[0], a[1] = 0xfe, 0x80
	copy(a[8:], id[:])
	return netip.AddrFrom16(a)
}

// addrconfReady is the link becoming ready: the first time since the
// interface came up (IF_READY), with carrier and IPv6 enabled, the
// link-local address is added.
func (nd *Netdev) addrconfReady() {
	if nd.v6Ready || !nd.up || !nd.carrier || nd.mtu < header.IPv6MinMTU {
		return
	}
	nd.v6Ready = true
	// addrconf_dev_config → ipv6_find_idev: ipv6_mc_up puts ff02::1 back
	// on the dev_mc list after a down.
	nd.mcAdd(allNodesLink)
	nd.node.ip.AddLinkLocal(nd.index, netip.PrefixFrom(nd.linkLocal(), 64))
}

// addrconfDown is addrconf_ifdown: every IPv6 address goes.
func (nd *Netdev) addrconfDown() {
	nd.v6Ready = false
	nd.node.ip.DropIPv6(nd.index)
}

// addrconfMTU follows an MTU change from old (NETDEV_CHANGEMTU): below
// 1280 IPv6 stops; back at 1280 or more on a ready link it starts again.
// The multicast memberships follow.
func (nd *Netdev) addrconfMTU(old uint32) {
	switch {
	case nd.mtu < header.IPv6MinMTU && (old >= header.IPv6MinMTU || nd.v6Ready):
		// addrconf_ifdown destroys the inet6_dev with its groups
		nd.addrconfDown()
		nd.mcDel(allNodesLink)
	case nd.mtu >= header.IPv6MinMTU && old < header.IPv6MinMTU:
		// a new inet6_dev joins ff02::1, up or down (ipv6_add_dev)
		nd.mcAdd(allNodesLink)
		nd.addrconfReady()
	default:
		return
	}
	nd.syncMcast()
}
