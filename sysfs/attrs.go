package sysfs

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// Interface flags (include/uapi/linux/if.h).
const (
	iffUp      = 0x1
	iffRunning = 0x40
	iffLowerUp = 0x10000
	iffDormant = 0x20000
)

// operstates are the names operstate_show prints for IF_OPER_* values.
var operstates = []string{"unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up"}

// files is the tree's file table. Adding a file is one entry; a debugfs
// file would be, for example,
//
//	{path: "kernel/debug/ipoib/{dev}_mcg", mode: 0o444, show: mcgShow}
//
// with show reading a.dev.
func files() []node {
	return []node{
		// net/core/net-sysfs.c net_class_attrs, the part the emulation
		// models. The kernel makes flags 0644 too; the Driver interface
		// has no setter for it, so here it is read-only.
		devAttr("addr_len", 0o444, nil, func(d Device) (string, error) { return dec(len(d.Link.Address)), nil }, nil),
		devAttr("address", 0o444, nil, func(d Device) (string, error) { return mac(d.Link.Address), nil }, nil),
		devAttr("broadcast", 0o444, nil, func(d Device) (string, error) { return mac(d.Link.Broadcast), nil }, nil),
		devAttr("carrier", 0o644, nil, carrierShow, carrierStore),
		{path: "class/net/{dev}/dev_id", mode: 0o444, show: devIDShow},
		devAttr("dev_port", 0o444, nil, func(d Device) (string, error) { return dec(int(d.DevPort)), nil }, nil),
		devAttr("flags", 0o444, nil, func(d Device) (string, error) { return hex(uint64(devFlags(d))), nil }, nil),
		devAttr("ifindex", 0o444, nil, func(d Device) (string, error) { return dec(int(d.Link.Index)), nil }, nil),
		devAttr("iflink", 0o444, nil, iflinkShow, nil),
		devAttr("mtu", 0o644, nil, func(d Device) (string, error) { return dec(int(int32(d.Link.MTU))), nil }, mtuStore),
		devAttr("operstate", 0o444, nil, operstateShow, nil),
		devAttr("tx_queue_len", 0o644, nil, func(d Device) (string, error) { return dec(int(int32(d.Link.TxQLen))), nil }, txQueueLenStore),
		devAttr("type", 0o444, nil, func(d Device) (string, error) { return dec(int(d.Link.Type)), nil }, nil),

		// net-sysfs.c netstat_group: statistics/<counter>, 0444, one per
		// rtnl_link_stats64 field netstat_attrs lists.
		statAttr("rx_packets", func(s netlinkx.Stats) uint64 { return s.RxPackets }),
		statAttr("tx_packets", func(s netlinkx.Stats) uint64 { return s.TxPackets }),
		statAttr("rx_bytes", func(s netlinkx.Stats) uint64 { return s.RxBytes }),
		statAttr("tx_bytes", func(s netlinkx.Stats) uint64 { return s.TxBytes }),
		statAttr("rx_errors", func(s netlinkx.Stats) uint64 { return s.RxErrors }),
		statAttr("tx_errors", func(s netlinkx.Stats) uint64 { return s.TxErrors }),
		statAttr("rx_dropped", func(s netlinkx.Stats) uint64 { return s.RxDropped }),
		statAttr("tx_dropped", func(s netlinkx.Stats) uint64 { return s.TxDropped }),
		statAttr("multicast", func(s netlinkx.Stats) uint64 { return s.Multicast }),
		statAttr("collisions", func(s netlinkx.Stats) uint64 { return s.Collisions }),
		// The driver never counts length errors or compressed packets.
		statAttr("rx_length_errors", func(netlinkx.Stats) uint64 { return 0 }),
		statAttr("rx_over_errors", func(s netlinkx.Stats) uint64 { return s.RxOverErrors }),
		statAttr("rx_crc_errors", func(s netlinkx.Stats) uint64 { return s.RxCRCErrors }),
		statAttr("rx_frame_errors", func(s netlinkx.Stats) uint64 { return s.RxFrameErrors }),
		statAttr("rx_fifo_errors", func(s netlinkx.Stats) uint64 { return s.RxFIFOErrors }),
		statAttr("rx_missed_errors", func(s netlinkx.Stats) uint64 { return s.RxMissedErrors }),
		statAttr("tx_aborted_errors", func(s netlinkx.Stats) uint64 { return s.TxAbortedErrors }),
		statAttr("tx_carrier_errors", func(s netlinkx.Stats) uint64 { return s.TxCarrierErrors }),
		statAttr("tx_fifo_errors", func(s netlinkx.Stats) uint64 { return s.TxFIFOErrors }),
		statAttr("tx_heartbeat_errors", func(s netlinkx.Stats) uint64 { return s.TxHeartbeatErrors }),
		statAttr("tx_window_errors", func(s netlinkx.Stats) uint64 { return s.TxWindowErrors }),
		statAttr("rx_compressed", func(netlinkx.Stats) uint64 { return 0 }),
		statAttr("tx_compressed", func(netlinkx.Stats) uint64 { return 0 }),
		statAttr("rx_nohandler", func(s netlinkx.Stats) uint64 { return s.RxNoHandler }),

		// drivers/infiniband/ulp/ipoib: parents and sysfs-created children
		// get pkey, mode (CONFIG_INFINIBAND_IPOIB_CM assumed) and umcast;
		// parents create_child and delete_child; sysfs-created children
		// parent. Netlink-created children get none of them.
		devAttr("create_child", 0o200, isParent, nil, createChildStore),
		devAttr("delete_child", 0o200, isParent, nil, deleteChildStore),
		devAttr("mode", 0o644, hasIPoIBAttrs, modeShow, modeStore),
		devAttr("parent", 0o444, isLegacyChild, func(d Device) (string, error) { return d.Parent + "\n", nil }, nil),
		devAttr("pkey", 0o444, hasIPoIBAttrs, func(d Device) (string, error) { return fmt.Sprintf("0x%04x\n", ipoib(d).PKey), nil }, nil),
		devAttr("umcast", 0o644, hasIPoIBAttrs, umcastShow, umcastStore),

		// ipoib_fs.c (CONFIG_INFINIBAND_IPOIB_DEBUG): debugfs files per
		// device, 0444.
		{path: "kernel/debug/ipoib/{dev}_mcg", mode: 0o444, show: mcgShow},
		{path: "kernel/debug/ipoib/{dev}_path", mode: 0o444, show: pathShow},

		// kernel/params.c: one file per module parameter, with its perm.
		{
			path: "module/ib_ipoib/parameters/{param}",
			perm: func(a *args) uint32 { return a.param.Perm & 0o777 },
			show: func(a *args) (string, error) { return dec(a.param.Value), nil },
			store: func(a *args, buf string) error {
				v, err := kstrtoint(buf) // param_set_int
				if err != nil {
					return err
				}
				return a.drv.SetParam(a.param.Name, int(v))
			},
		},
	}
}

// devAttr is a file of class/net/<dev>, with show and store functions
// shaped like the kernel's struct device_attribute. visible says whether
// the device has the file (nil: every device).
func devAttr(name string, mode uint32, visible func(d Device) bool,
	show func(d Device) (string, error), store func(drv Driver, d Device, buf string) error) node {
	n := node{path: "class/net/{dev}/" + name, mode: mode}
	if visible != nil {
		n.visible = func(a *args) bool { return visible(a.dev) }
	}
	if show != nil {
		n.show = func(a *args) (string, error) { return show(a.dev) }
	}
	if store != nil {
		n.store = func(a *args, buf string) error { return store(a.drv, a.dev, buf) }
	}
	return n
}

// statAttr is a statistics/ file: netstat_show prints the counter with
// fmt_u64 ("%llu\n").
func statAttr(name string, counter func(netlinkx.Stats) uint64) node {
	return devAttr("statistics/"+name, 0o444, nil, func(d Device) (string, error) {
		return fmt.Sprintf("%d\n", counter(d.Link.Stats)), nil
	}, nil)
}

func isParent(d Device) bool      { return d.Parent == "" }
func isLegacyChild(d Device) bool { return d.Parent != "" && d.Legacy }
func hasIPoIBAttrs(d Device) bool { return isParent(d) || isLegacyChild(d) }

// running is netif_running: the device is administratively up.
func running(d Device) bool { return d.Link.Flags&iffUp != 0 }

func ipoib(d Device) netlinkx.IPoIB {
	if d.Link.IPoIB == nil {
		return netlinkx.IPoIB{}
	}
	return *d.Link.IPoIB
}

// dec is the kernel's fmt_dec, "%d\n".
func dec(v int) string { return fmt.Sprintf("%d\n", v) }

// hex is the kernel's fmt_hex, "%#x\n": C prints zero without the 0x.
func hex(v uint64) string {
	if v == 0 {
		return "0\n"
	}
	return fmt.Sprintf("%#x\n", v)
}

// mac is sysfs_format_mac: "%*phC\n", lowercase bytes joined by ':'.
func mac(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02x", c)
	}
	return strings.Join(parts, ":") + "\n"
}

// devFlags is dev->flags as flags_show prints it: the kernel keeps
// IFF_RUNNING, IFF_LOWER_UP and IFF_DORMANT out of dev->flags (only
// dev_get_flags adds them for netlink and ioctl).
func devFlags(d Device) uint32 { return d.Link.Flags &^ (iffRunning | iffLowerUp | iffDormant) }

// iflinkShow is dev_get_iflink through ipoib_get_iflink: the parent's
// ifindex for a child, the device's own for a parent.
func iflinkShow(d Device) (string, error) {
	if d.Link.ParentIndex != 0 {
		return dec(int(d.Link.ParentIndex)), nil
	}
	return dec(int(d.Link.Index)), nil
}

// operstateShow: a device that is not running reads "down" whatever its
// operstate; a value beyond IF_OPER_UP is EINVAL.
func operstateShow(d Device) (string, error) {
	op := int(d.Link.Operstate)
	if !running(d) {
		op = 2 // IF_OPER_DOWN
	}
	if op >= len(operstates) {
		return "", unix.EINVAL
	}
	return operstates[op] + "\n", nil
}

// carrierShow: EINVAL unless the device is running.
func carrierShow(d Device) (string, error) {
	if !running(d) {
		return "", unix.EINVAL
	}
	if d.Link.Carrier {
		return "1\n", nil
	}
	return "0\n", nil
}

// carrierStore is carrier_store: IPoIB has no ndo_change_carrier, so it
// answers EOPNOTSUPP before netdev_store parses the value or
// change_carrier checks that the device is running.
func carrierStore(Driver, Device, string) error { return unix.EOPNOTSUPP }

// createChildStore is create_child_store: sscanf "%i", then 0 < v <=
// 0xffff. 0x8000 is left to Driver.CreateChild, which applies the P_Key
// rule netlink shares.
func createChildStore(drv Driver, d Device, buf string) error {
	v, ok := ParseInt(buf)
	if !ok || v <= 0 || v > 0xffff {
		return unix.EINVAL
	}
	return drv.CreateChild(d.Link.Name, uint16(v))
}

// deleteChildStore is delete_child_store: sscanf "%i", then 0 <= v <=
// 0xffff; the Driver matches sysfs-created children by stored P_Key.
func deleteChildStore(drv Driver, d Device, buf string) error {
	v, ok := ParseInt(buf)
	if !ok || v < 0 || v > 0xffff {
		return unix.EINVAL
	}
	return drv.DeleteChild(d.Link.Name, uint16(v))
}

func modeShow(d Device) (string, error) {
	if ipoib(d).Mode == netlinkx.ModeConnected {
		return "connected\n", nil
	}
	return "datagram\n", nil
}

// modeStore is mode_store → ipoib_set_mode: the buffer must be exactly
// "connected\n" or "datagram\n" (strcmp, so bytes after a NUL do not
// count), else EINVAL. EBUSY from the Driver (RTNL could not be re-taken
// after the flush) reports success, as the kernel does.
func modeStore(drv Driver, d Device, buf string) error {
	var mode uint16
	switch buf {
	case "connected\n":
		mode = netlinkx.ModeConnected
	case "datagram\n":
		mode = netlinkx.ModeDatagram
	default:
		return unix.EINVAL
	}
	if err := drv.SetMode(d.Link.Name, mode); err != nil && !errors.Is(err, unix.EBUSY) {
		return err
	}
	return nil
}

func umcastShow(d Device) (string, error) {
	if ipoib(d).Umcast != 0 {
		return "1\n", nil
	}
	return "0\n", nil
}

// umcastStore is umcast_store: simple_strtoul, then ipoib_set_umcast's
// "umcast_val > 0" on the value converted to int (the low 32 bits, signed:
// 0x100000000 and 0x80000000 clear the flag). It never rejects input.
func umcastStore(drv Driver, d Device, buf string) error {
	return drv.SetUmcast(d.Link.Name, int32(uint32(ParseUlong(buf))) > 0)
}

// txQueueLenStore is net-sysfs tx_queue_len_store: CAP_NET_ADMIN (the
// caller is root here), netdev_store's kstrtoul base 0 (EINVAL, ERANGE),
// then change_tx_queue_len: a value that does not fit an unsigned int is
// ERANGE.
func txQueueLenStore(drv Driver, d Device, buf string) error {
	v, err := kstrtoul(buf)
	if err != nil {
		return err
	}
	if v > 0xffffffff {
		return unix.ERANGE
	}
	return drv.SetTxQueueLen(d.Link.Name, uint32(v))
}

// mtuStore is net-sysfs mtu_store: kstrtoul base 0, then dev_set_mtu with
// the value as an int (so anything above INT_MAX is a negative MTU: EINVAL).
func mtuStore(drv Driver, d Device, buf string) error {
	v, err := kstrtoul(buf)
	if err != nil {
		return err
	}
	if v > 0x7fffffff {
		return unix.EINVAL
	}
	return drv.SetMTU(d.Link.Name, uint32(v))
}

// devIDShow is ipoib_main.c's dev_id_show, which IPoIB puts in place of
// the core's: the same "%#x\n", after telling the Driver who reads it
// (it logs that once when dev_port is not 0 and equals dev_id).
func devIDShow(a *args) (string, error) {
	if r, ok := a.drv.(DevIDReader); ok {
		r.DevIDRead(a.dev.Link.Name, a.comm)
	}
	return hex(uint64(a.dev.DevID)), nil
}
