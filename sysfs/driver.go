// Package sysfs gives the emulated IPoIB driver the kernel's sysfs files:
// paths such as class/net/ib0/create_child or
// module/ib_ipoib/parameters/debug_level map to show/store functions with
// the kernel's parse rules, formats and errno.
// It may import netlinkx, whose types the driver answers in.
package sysfs

import "github.com/ibctl/ibctl/netlinkx"

// Device is one network device as its sysfs directory shows it.
type Device struct {
	Link    netlinkx.Link
	Legacy  bool   // created through create_child: has pkey/mode/umcast/parent files
	Parent  string // parent device name; empty for a parent (port) device
	DevID   uint16 // dev_id: port number − 1 for parents, 0 for children
	DevPort uint16 // dev_port: as dev_id
}

// DevIDReader is what a Driver implements to hear of dev_id reads: IPoIB
// overrides dev_id_show to log, once, who reads it (ipoib_main.c).
type DevIDReader interface {
	DevIDRead(dev, comm string)
}

// Param is one module parameter.
type Param struct {
	Name  string
	Perm  uint32 // 0444 or 0644
	Value int
}

// Driver is what the sysfs tree needs from the IPoIB driver of one node.
// Errors carry the kernel's errno (errors.As to unix.Errno).
type Driver interface {
	// Devices lists device names in ifindex order.
	Devices() []string
	// Device returns one device (ENODEV when absent).
	Device(name string) (Device, error)
	// CreateChild is create_child_store after parsing: pkey is the value
	// as written (0 < pkey <= 0xffff, already range-checked by sysfs).
	CreateChild(parent string, pkey uint16) error
	// DeleteChild is delete_child_store after parsing.
	DeleteChild(parent string, pkey uint16) error
	// SetMode is ipoib_set_mode: netlinkx.ModeDatagram or ModeConnected.
	SetMode(dev string, mode uint16) error
	// SetMTU is dev_set_mtu (the mtu file's store).
	SetMTU(dev string, mtu uint32) error
	// SetUmcast is ipoib_set_umcast.
	SetUmcast(dev string, on bool) error
	// SetTxQueueLen is dev_change_tx_queue_len (the tx_queue_len file's
	// store, the value already range-checked).
	SetTxQueueLen(dev string, qlen uint32) error
	// Params lists the ib_ipoib module parameters in name order.
	Params() []Param
	// SetParam sets a writable module parameter.
	SetParam(name string, value int) error
}
