package verbs

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// NewDevice fills in the documented defaults: MTU 4096 sizes the packet
// buffers, and the pool has room for 256 free packets unless Packets
// asks for a positive number.
func TestNewDeviceDefaults(t *testing.T) {
	tests := []struct {
		name     string
		opts     DeviceOptions
		mtu      MTU
		bufBytes int
		room     int // cap of the pool's free list
	}{
		{"zero options", DeviceOptions{}, MTU4096, 4096, 256},
		{"MTU and packets given", DeviceOptions{MTU: MTU1024, Packets: 16}, MTU1024, 1024, 16},
		{"one packet", DeviceOptions{MTU: MTU256, Packets: 1}, MTU256, 256, 1},
		{"negative packets", DeviceOptions{Packets: -1}, MTU4096, 4096, 256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := NewDevice(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if d.MTU() != tt.mtu || d.mtu != tt.bufBytes || d.pool.size != tt.bufBytes {
				t.Errorf("MTU %v, %d-byte MTU, %d-byte buffers; want %v, %d, %d", d.MTU(), d.mtu, d.pool.size, tt.mtu, tt.bufBytes, tt.bufBytes)
			}
			if got := cap(d.pool.free); got != tt.room {
				t.Errorf("pool has room for %d free packets, want %d", got, tt.room)
			}
		})
	}
}

// QPNs are handed out cyclically (as rxe_pool.c's xa_alloc_cyclic): after
// 0xFFFFFE, the highest QPN, allocation wraps to 0x48, the lowest not
// reserved, skipping numbers in use.
func TestQPNWrap(t *testing.T) {
	tests := []struct {
		name  string
		next  uint32   // d.nextQPN before the creations
		inUse []uint32 // QPNs created first, by number
		want  []uint32 // QPNs of the next creations
	}{
		{"up to the highest", maxQPN - 2, nil, []uint32{0xFFFFFC, 0xFFFFFD, 0xFFFFFE, 0x48}},
		{"wrap skips used", maxQPN, []uint32{0x48, 0x49}, []uint32{0xFFFFFE, 0x4A, 0x4B}},
		{"highest in use", maxQPN, []uint32{maxQPN}, []uint32{0x48}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := NewDevice(DeviceOptions{LID: 1})
			if err != nil {
				t.Fatal(err)
			}
			cq, err := d.NewCQ(4, nil)
			if err != nil {
				t.Fatal(err)
			}
			mk := func(n uint32) *QP {
				qp, err := d.CreateQP(QPInitAttr{Type: UD, SendCQ: cq, RecvCQ: cq, MaxSend: 1, MaxRecv: 1, MaxSGE: 1, QPN: n})
				if err != nil {
					t.Fatalf("CreateQP(QPN %#x): %v", n, err)
				}
				return qp
			}
			for _, n := range tt.inUse {
				mk(n)
			}
			d.mu.Lock()
			d.nextQPN = tt.next
			d.mu.Unlock()
			var got []uint32
			for range tt.want {
				got = append(got, mk(0).Num())
			}
			if d := diff(tt.want, got); d != "" {
				t.Errorf("QPNs (-want +got):\n%s", d)
			}
		})
	}
}

// The create verbs take depths up to the device's limits
// (ib_device_attr: max_cqe, max_srq_wr, max_qp_wr 65536; max_sge,
// max_srq_sge 32) and refuse one more with EINVAL.
func TestCreateLimits(t *testing.T) {
	d, err := NewDevice(DeviceOptions{LID: 1})
	if err != nil {
		t.Fatal(err)
	}
	cq, err := d.NewCQ(1, nil)
	if err != nil {
		t.Fatal(err)
	}
	qp := func(send, recv, sge int) func() error {
		return func() error {
			_, err := d.CreateQP(QPInitAttr{Type: RC, SendCQ: cq, RecvCQ: cq, MaxSend: send, MaxRecv: recv, MaxSGE: sge})
			return err
		}
	}
	tests := []struct {
		name   string
		create func() error
		ok     bool
	}{
		{"CQ of 65536", func() error { _, err := d.NewCQ(1<<16, nil); return err }, true},
		{"CQ of 65537", func() error { _, err := d.NewCQ(1<<16+1, nil); return err }, false},
		{"CQ of 0", func() error { _, err := d.NewCQ(0, nil); return err }, false},
		{"SRQ of 65536 with 32 SGEs", func() error { _, err := d.NewSRQ(1<<16, 32); return err }, true},
		{"SRQ of 65537", func() error { _, err := d.NewSRQ(1<<16+1, 1); return err }, false},
		{"SRQ with 33 SGEs", func() error { _, err := d.NewSRQ(1, 33); return err }, false},
		{"SRQ of 0", func() error { _, err := d.NewSRQ(0, 1); return err }, false},
		{"QP of 65536 sends and receives, 32 SGEs", qp(1<<16, 1<<16, 32), true},
		{"QP of 65537 sends", qp(1<<16+1, 1, 1), false},
		{"QP of 65537 receives", qp(1, 1<<16+1, 1), false},
		{"QP with 33 SGEs", qp(1, 1, 33), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.create()
			if tt.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, unix.EINVAL) {
				t.Fatalf("err = %v, want EINVAL", err)
			}
		})
	}
}
