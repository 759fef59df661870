package netns

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// arphrdInfiniband is the link type of an IPoIB netdev (ARPHRD_INFINIBAND).
const arphrdInfiniband = 32

// TUN is a layer-3 TUN device (IFF_TUN|IFF_NO_PI) with the link type of
// an IPoIB netdev. Its frames carry a virtio-net header (IFF_VNET_HDR,
// vnet.go), so that TCP crosses it in segments of up to 64 KiB. It
// disappears when it is closed.
type TUN struct {
	Name  string
	Index uint32
	f     *os.File
	raw   syscall.RawConn // f's, for writev
	rbuf  []byte          // ReadPacket's buffer; nil after a packet took it
}

// NewTUN creates a TUN device called name in the namespace, with the
// link type of InfiniBand (set while the device is down: the kernel
// refuses it later) and the carrier off. Its ifindex is index
// (TUNSETIFINDEX) when that is not 0 and free in the namespace, else one
// the kernel picks: Index tells which.
func (ns *Namespace) NewTUN(name string, index uint32) (*TUN, error) {
	t, err := ns.newTUN(name, index)
	if errors.Is(err, unix.EBUSY) && index != 0 {
		// register_netdevice: another device of the namespace has
		// that ifindex already.
		t, err = ns.newTUN(name, 0)
	}
	return t, err
}

func (ns *Namespace) newTUN(name string, index uint32) (*TUN, error) {
	var fd int
	err := ns.Do(func() error {
		var err error
		fd, err = unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != nil {
			return err
		}
		if index != 0 {
			// before TUNSETIFF, which registers the device
			err = unix.IoctlSetPointerInt(fd, unix.TUNSETIFINDEX, int(index))
		}
		ifr, ierr := unix.NewIfreq(name)
		if err == nil {
			err = ierr
		}
		if err == nil {
			ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
			err = unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
		}
		if err == nil {
			err = unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, tunFCsum|tunFTSO4|tunFTSO6)
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
	if t.raw, err = t.f.SyscallConn(); err != nil {
		t.Close()
		return nil, fmt.Errorf("tun %s in %s: %w", name, ns.Name, err)
	}
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

// Offloads are what the kernel may hand the reader of a TUN: packets
// whose checksum is left to it (TUN_F_CSUM) and TCP segments larger than
// the MTU for it to split (TUN_F_TSO4, TUN_F_TSO6, which need Csum). The
// kernel does in software what the reader does not take, and shows the
// device's features accordingly (ethtool -k).
type Offloads struct{ Csum, TSO4, TSO6 bool }

// SetOffloads sets what the kernel may hand the reader (TUNSETOFFLOAD),
// a device's offloads following the features of the interface it stands
// for.
func (t *TUN) SetOffloads(o Offloads) error {
	v := 0
	if o.Csum {
		v |= tunFCsum
		if o.TSO4 {
			v |= tunFTSO4
		}
		if o.TSO6 {
			v |= tunFTSO6
		}
	}
	var ierr error
	if err := t.raw.Control(func(fd uintptr) { ierr = unix.IoctlSetInt(int(fd), unix.TUNSETOFFLOAD, v) }); err != nil {
		return err
	}
	if ierr != nil {
		return fmt.Errorf("tun %s: offloads: %w", t.Name, ierr)
	}
	return nil
}

// ReadPacket reads what the kernel sent through the device next, as an
// IP packet: a packet whose checksum the kernel left partial comes with
// it complete, and a TSO segment comes whole, with its MSS (gso_size; 0
// for any other packet) and its TCP checksum partial, for the device's
// large send offload to cut and complete (see readFrame). The packet
// p[room:] follows room bytes that are the caller's, for a link header
// to go in front of it without a copy; it is the caller's to keep. A
// large packet (a TSO segment) is the read buffer itself, handed over
// without a copy, and the next read takes another buffer from the free
// list; ReleaseRead gives it back once nothing reads the packet any
// more. A smaller one is copied out of it. It blocks until a frame comes
// or the device is closed; a malformed frame is dropped with
// ErrMalformed. One goroutine at a time may call it.
func (t *TUN) ReadPacket(room int) (p []byte, mss int, err error) {
	if t.rbuf == nil {
		t.rbuf = readBufs.get()
	}
	n, err := t.f.Read(t.rbuf)
	if err != nil {
		return nil, 0, err
	}
	inPlace := n > len(t.rbuf)/2 && room <= vnetHdrLen
	p, mss, err = readFrame(t.rbuf[:n], room, inPlace)
	if err == nil && inPlace && len(p) > 0 && &p[0] == &t.rbuf[vnetHdrLen-room] {
		readBufs.lend(p, t.rbuf) // the packet keeps it
		t.rbuf = nil
	}
	return p, mss, err
}

// ReleaseRead gives back the read buffer of a packet that ReadPacket
// handed over in place, for a later read to reuse: the caller, and
// whatever it gave the packet to, must no longer read or write it. A
// packet that ReadPacket copied out, any other slice, and a packet
// released already are ignored. It is safe for concurrent use.
func ReleaseRead(p []byte) {
	if len(p) > 0 {
		readBufs.release(&p[0])
	}
}

// readBufs is the read buffers of every TUN: the free ones, and those
// that packets handed over in place hold, by the packet's first byte.
var readBufs = readBufPool{lent: map[*byte][]byte{}}

// maxFreeReadBuffers bounds the free list: beyond it, released buffers
// go to the garbage collector.
const maxFreeReadBuffers = 64

// readBufPool is a free list of read buffers with the registry of those
// that packets hold.
type readBufPool struct {
	mu   sync.Mutex
	free [][]byte
	lent map[*byte][]byte
}

// get takes a free buffer, or a new one when there is none.
func (r *readBufPool) get() []byte {
	r.mu.Lock()
	if n := len(r.free); n > 0 {
		b := r.free[n-1]
		r.free[n-1] = nil
		r.free = r.free[:n-1]
		r.mu.Unlock()
		return b
	}
	r.mu.Unlock()
	return make([]byte, readBufferSize)
}

// lend records that the packet p, which starts inside buf, holds buf.
func (r *readBufPool) lend(p, buf []byte) {
	r.mu.Lock()
	r.lent[&p[0]] = buf
	r.mu.Unlock()
}

// release puts the buffer of the packet starting at first back on the
// free list; a first it does not know is ignored.
func (r *readBufPool) release(first *byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	buf, ok := r.lent[first]
	if !ok {
		return
	}
	delete(r.lent, first)
	if len(r.free) < maxFreeReadBuffers {
		r.free = append(r.free, buf)
	}
}

// ErrMalformed is the error of a frame ReadPacket dropped.
var ErrMalformed = errBadFrame

// readBufferSize is the size of ReadPacket's buffer: the largest frame.
const readBufferSize = vnetHdrLen + 65535

// WritePackets gives the kernel received IP packets, each in a frame
// made by Frame, merging runs of one TCP flow into segments as GRO does
// (one writev of their pieces each). It takes the frames: they go back to
// Frame's free list, and the caller must not use them afterwards.
func (t *TUN) WritePackets(frames [][]byte) error {
	defer func() {
		for _, f := range frames {
			FreeFrame(f)
		}
	}()
	for _, iov := range coalesce(frames) {
		if err := t.write(iov); err != nil {
			return fmt.Errorf("tun %s: write: %w", t.Name, err)
		}
	}
	return nil
}

// write writes one frame given in pieces.
func (t *TUN) write(iov [][]byte) error {
	if len(iov) == 1 {
		_, err := t.f.Write(iov[0])
		return err
	}
	var werr error
	err := t.raw.Write(func(fd uintptr) bool {
		_, werr = unix.Writev(int(fd), iov)
		return werr != unix.EAGAIN
	})
	if err != nil {
		return err
	}
	return werr
}

// Close removes the device.
func (t *TUN) Close() error { return t.f.Close() }
