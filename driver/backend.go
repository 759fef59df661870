package driver

import (
	"github.com/ibctl/ibctl/netlinkx"
	"github.com/ibctl/ibctl/sysfs"
)

// Backend returns the driver as a netlinkx.Backend.
func (d *Driver) Backend() netlinkx.Backend { return backend{d} }

type backend struct{ d *Driver }

func (b backend) Node(name string) (netlinkx.Node, error) {
	n, err := b.d.Node(name)
	if err != nil {
		return nil, err
	}
	return n, nil
}

func (b backend) Status() netlinkx.Status { return b.d.Status() }
func (b backend) Stop()                   { b.d.Stop() }
func (b backend) Sync() error             { return b.d.Sync() }

func (b backend) Partitions() []netlinkx.Partition        { return b.d.Partitions() }
func (b backend) AddPartition(p netlinkx.Partition) error { return b.d.AddPartition(p) }
func (b backend) DelPartition(pkey uint16) error          { return b.d.DelPartition(pkey) }
func (b backend) Groups() []netlinkx.Group                { return b.d.Groups() }
func (b backend) SMInfo() netlinkx.SMInfo                 { return b.d.SMInfo() }

// SysRead reads a sysfs file of the node.
func (n *Node) SysRead(path string) ([]byte, error) { return sysfs.New(n).Read(path) }

// SysWrite writes a sysfs file of the node.
func (n *Node) SysWrite(path string, data []byte) (int, error) { return sysfs.New(n).Write(path, data) }

// SysList lists a sysfs directory of the node.
func (n *Node) SysList(path string) ([]netlinkx.SysEntry, error) { return sysfs.New(n).List(path) }
