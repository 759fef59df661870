package netns

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// arphrdInfiniband is the link type of an IPoIB netdev (ARPHRD_INFINIBAND).
const arphrdInfiniband = 32

// TUN is a layer-3 TUN device (IFF_TUN|IFF_NO_PI: one IP packet per read
// and write) with the link type of an IPoIB netdev. It disappears when
// it is closed.
type TUN struct {
	Name  string
	Index uint32
	f     *os.File
}

// NewTUN creates a TUN device called name in the namespace, with the
// link type of InfiniBand (set while the device is down: the kernel
// refuses it later) and the carrier off.
func (ns *Namespace) NewTUN(name string) (*TUN, error) {
	var fd int
	err := ns.Do(func() error {
		var err error
		fd, err = unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != nil {
			return err
		}
		ifr, err := unix.NewIfreq(name)
		if err == nil {
			ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
			err = unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
		}
		if err == nil {
			err = unix.IoctlSetInt(fd, unix.TUNSETLINK, arphrdInfiniband)
		}
		if err != nil {
			unix.Close(fd)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("tun %s in %s: %w", name, ns.Name, err)
	}
	t := &TUN{Name: name, f: os.NewFile(uintptr(fd), "/dev/net/tun")}
	if err := t.SetCarrier(false); err != nil {
		t.Close()
		return nil, err
	}
	var idx uint32
	err = ns.Do(func() error {
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			return err
		}
		s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(s)
		if err := unix.IoctlIfreq(s, unix.SIOCGIFINDEX, ifr); err != nil {
			return err
		}
		idx = ifr.Uint32()
		return nil
	})
	if err != nil {
		t.Close()
		return nil, fmt.Errorf("tun %s in %s: ifindex: %w", name, ns.Name, err)
	}
	t.Index = idx
	return t, nil
}

// SetCarrier turns the device's carrier on or off (TUNSETCARRIER): off, an
// up device is NO-CARRIER, as an IPoIB netdev whose port is down.
func (t *TUN) SetCarrier(on bool) error {
	v := 0
	if on {
		v = 1
	}
	raw, err := t.f.SyscallConn()
	if err != nil {
		return err
	}
	var ierr error
	if err := raw.Control(func(fd uintptr) { ierr = unix.IoctlSetPointerInt(int(fd), unix.TUNSETCARRIER, v) }); err != nil {
		return err
	}
	if ierr != nil {
		return fmt.Errorf("tun %s: carrier: %w", t.Name, ierr)
	}
	return nil
}

// Read reads one IP packet the kernel sent through the device. It blocks
// until one comes or the device is closed.
func (t *TUN) Read(b []byte) (int, error) { return t.f.Read(b) }

// Write gives the kernel one received IP packet.
func (t *TUN) Write(b []byte) (int, error) { return t.f.Write(b) }

// Close removes the device.
func (t *TUN) Close() error { return t.f.Close() }
