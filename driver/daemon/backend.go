package daemon

import (
	"github.com/ibctl/ibctl/driver"
	"github.com/ibctl/ibctl/netlinkx"
	"github.com/ibctl/ibctl/sysfs"
)

// Backend serves d over the protocol: each node's netdev operations are
// the driver's, and its sysfs files are the sysfs front end's over that
// same node, as the kernel's sysfs files call into the driver they
// describe. This is where the front end meets the driver; neither builds
// the other.
func Backend(d *driver.Driver) netlinkx.Backend { return backend{d} }

type backend struct{ d *driver.Driver }

// node is a driver node with its sysfs files. Embedding the concrete
// *driver.Node keeps every optional capability (Pinger, Perfer, ...)
// visible to the server's type assertions.
type node struct {
	*driver.Node
	sys *sysfs.Tree
}

var (
	_ netlinkx.Backend     = backend{}
	_ netlinkx.SMInfoer    = backend{}
	_ netlinkx.Node        = node{}
	_ netlinkx.Deferrer    = node{}
	_ netlinkx.AddrNode    = node{}
	_ netlinkx.MaddrNode   = node{}
	_ netlinkx.RouteGetter = node{}
	_ netlinkx.Pinger      = node{}
	_ netlinkx.Perfer      = node{}
	_ netlinkx.Logger      = node{}
	_ netlinkx.LogClearer  = node{}
	_ netlinkx.LinkPager   = node{}
	_ sysfs.Debugfs        = node{}
)

func newNode(n *driver.Node) node { return node{Node: n, sys: sysfs.New(n)} }

func (b backend) Node(name string) (netlinkx.Node, error) {
	n, err := b.d.Node(name)
	if err != nil {
		return nil, err
	}
	return newNode(n), nil
}

func (b backend) Status() netlinkx.Status { return b.d.Status() }
func (b backend) Stop()                   { b.d.Stop() }
func (b backend) Sync() error             { return b.d.Sync() }

func (b backend) Partitions() []netlinkx.Partition        { return b.d.Partitions() }
func (b backend) AddPartition(p netlinkx.Partition) error { return b.d.AddPartition(p) }
func (b backend) DelPartition(pkey uint16) error          { return b.d.DelPartition(pkey) }
func (b backend) Groups() []netlinkx.Group                { return b.d.Groups() }
func (b backend) SMInfo() netlinkx.SMInfo                 { return b.d.SMInfo() }

// Deferred is the node's handle that acknowledges changes before they are
// synced (a batch), with its own sysfs files.
func (n node) Deferred() netlinkx.Node { return newNode(n.Node.Deferred()) }

// SysRead reads a sysfs file of the node.
func (n node) SysRead(path, comm string) ([]byte, error) { return n.sys.ReadAs(path, comm) }

// SysWrite writes a sysfs file of the node.
func (n node) SysWrite(path string, data []byte) (int, error) { return n.sys.Write(path, data) }

// SysList lists a sysfs directory of the node.
func (n node) SysList(path string) ([]netlinkx.SysEntry, error) { return n.sys.List(path) }
