package driver

import (
	"fmt"
	"github.com/ibctl/ibctl/driver/header"
	"strconv"

	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// ValidPKey is the one P_Key rule both front ends share: the low 15 bits
// (the partition) must not be zero, so 0x0000 and 0x8000 are invalid.
func ValidPKey(pkey uint16) bool { return header.PKeyValid(pkey) }

// legacyName is the name create_child gives: "%.10s.%04x" of the parent
// name and the P_Key as written.
func legacyName(parent string, pkey uint16) string {
	if len(parent) > 10 {
		parent = parent[:10]
	}
	return fmt.Sprintf("%s.%04x", parent, pkey)
}

// addChild is __ipoib_vlan_add for both front ends: uniqueness (legacy
// only), name clash, registration with the full-member bit forced. An
// empty name is the next free "ipoib%d".
func (n *Node) addChild(op string, p *Netdev, pkey uint16, name string, legacy bool) (*Netdev, error) {
	if p.parent != nil {
		p.warn("child creation disallowed for child devices")
		return nil, errorf(op, p.name, unix.EINVAL, "child creation disallowed for child devices")
	}
	if !ValidPKey(pkey) {
		return nil, errorf(op, p.name, unix.EINVAL, "invalid P_Key 0x%04x", pkey)
	}
	if legacy {
		if pkey == p.pkey {
			return nil, errorf(op, p.name, unix.ENOTUNIQ, "P_Key 0x%04x is the parent's", pkey)
		}
		// The index, not a walk of every device: the check runs for
		// every child created.
		if c := n.legacy.get(p, pkey); c != nil {
			return nil, errorf(op, p.name, unix.ENOTUNIQ, "P_Key 0x%04x already used by %s", pkey, c.name)
		}
	}
	if name == "" { // register_netdevice names it from "ipoib%d"
		var err error
		if name, err = n.nextDefaultName(op); err != nil {
			return nil, err
		}
	}
	if !validName(name) {
		return nil, errorf(op, name, unix.EINVAL, "invalid device name %q", name)
	}
	if _, ok := n.byName[name]; ok {
		return nil, errorf(op, name, unix.EEXIST, "device %s already exists", name)
	}
	c := n.newNetdev(name, p.port, p)
	c.legacy = legacy
	c.pkey = header.PKeyFull(pkey)
	c.numTxQ, c.numRxQ = c.allocQueues()
	c.wanted = c.initialWanted()
	n.insert(c)
	return c, nil
}

// nextDefaultName is __dev_alloc_name of "ipoib%d": the lowest number
// no device's name is "ipoib%d" of, ENFILE when all of one page's bits
// are taken.
func (n *Node) nextDefaultName(op string) (string, error) {
	v := 0
	if n.ipoibN != nil {
		v = n.ipoibN.lowestFree()
	}
	if v == maxIpoibNames {
		return "", errorf(op, "", unix.ENFILE, "")
	}
	return "ipoib" + strconv.Itoa(v), nil
}

// CreateChild is create_child_store after parsing.
func (n *Node) CreateChild(parent string, pkey uint16) error {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	p, err := n.lookup("create_child", 0, parent)
	if err != nil {
		return err
	}
	c, err := n.addChild("create_child", p, pkey, legacyName(p.name, pkey), true)
	if err != nil {
		return err
	}
	if err := n.persist(c); err != nil {
		n.remove(c)
		return err
	}
	return nil
}

// DeleteChild is delete_child_store: the first sysfs-created child whose
// stored P_Key equals pkey.
func (n *Node) DeleteChild(parent string, pkey uint16) error {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	p, err := n.lookup("delete_child", 0, parent)
	if err != nil {
		return err
	}
	if c := n.legacy.get(p, pkey); c != nil {
		return n.unregister(c)
	}
	return errorf("delete_child", p.name, unix.ENODEV, "no child with P_Key 0x%04x", pkey)
}

// unregister removes a child (closing it first) and makes that durable.
func (n *Node) unregister(c *Netdev) error {
	n.remove(c)
	if err := n.persistDelete(c); err != nil {
		n.insert(c)
		return err
	}
	c.stop()
	n.ip.Forget(c.index)
	return nil
}

// NewLink is rtnl newlink for kind ipoib: rtnl_create_link, then
// ipoib_new_child_link.
func (n *Node) NewLink(r netlinkx.LinkRequest) error {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	const op = "newlink"
	if r.Name != "" {
		if _, ok := n.byName[r.Name]; ok {
			return errorf(op, r.Name, unix.EEXIST, "")
		}
	}
	if r.Kind != "ipoib" {
		return errorf(op, r.Name, unix.EOPNOTSUPP, "Unknown device type")
	}
	// rtnl_create_link's dev_validate_mtu runs before the device has a
	// maximum (min_mtu and max_mtu are 0 until ipoib_ndo_init), so only an
	// MTU that is negative as the kernel's int is refused.
	if r.MTU != nil && int32(*r.MTU) < 0 {
		return errorf(op, r.Name, unix.EINVAL, "mtu less than device minimum")
	}
	if r.ParentIndex == 0 {
		return errorf(op, r.Name, unix.EINVAL, "")
	}
	p := n.order.get(r.ParentIndex)
	if p == nil {
		return errorf(op, r.Name, unix.ENODEV, "")
	}
	pkey := p.pkey
	if r.PKey != nil {
		pkey = *r.PKey
	} else {
		p.dbg("no pkey specified, using parent pkey")
	}
	c, err := n.addChild(op, p, pkey, r.Name, false)
	if err != nil {
		return err
	}
	if err := n.changelink(c, r); err != nil {
		n.remove(c)
		return err
	}
	// The requested MTU is not applied: ipoib_ndo_init (ipoib_main.c)
	// replaced it with the port's datagram MTU when the device registered,
	// and rtnl_newlink_create does not set it again.
	if r.Up != nil && *r.Up {
		c.open()
	}
	if err := n.persist(c); err != nil {
		c.stop()
		n.remove(c)
		return err
	}
	return nil
}

// changelink is ipoib_changelink: mode then umcast; pkey is ignored.
func (n *Node) changelink(nd *Netdev, r netlinkx.LinkRequest) error {
	if r.Mode != nil {
		if err := nd.setMode(*r.Mode); err != nil {
			return err
		}
	}
	if r.Umcast != nil {
		nd.setUmcast(*r.Umcast > 0)
	}
	return nil
}

// DelLink is rtnl dellink: children are unregistered, parents ignored.
func (n *Node) DelLink(index int32, name string) error {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	nd, err := n.lookup("dellink", index, name)
	if err != nil {
		return err
	}
	if nd.parent == nil {
		return nil
	}
	return n.unregister(nd)
}
