package ipoib

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"

	"github.com/ibctl/ibctl/driver/header"
)

// tcpGSOPacket is an IPoIB packet carrying a TCP segment of payload
// bytes from 10.0.0.1 to 10.0.0.2 with a 32-byte TCP header, its TCP
// checksum left partial as a GSO packet's is.
func tcpGSOPacket(payload int) []byte {
	const hl = header.IPoIBHeaderLen + header.IPv4MinHeaderLen + 32
	pkt := make([]byte, hl+payload)
	header.IPoIB(pkt).Encode(header.EtherTypeIPv4)
	ip := pkt[header.IPoIBHeaderLen:]
	header.EncodeIPv4(ip, header.IPv4Fields{TotalLength: uint16(len(ip)), ID: 7, TTL: 64, Protocol: header.ProtocolTCP,
		Flags: header.IPv4FlagDontFragment, Src: [4]byte{10, 0, 0, 1}, Dst: [4]byte{10, 0, 0, 2}})
	tcp := ip[header.IPv4MinHeaderLen:]
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], 5201)
	binary.BigEndian.PutUint32(tcp[4:], 1)
	tcp[12], tcp[13] = 8<<4, 0x10|header.TCPFlagPSH
	binary.BigEndian.PutUint16(tcp[16:], 0x1234)
	for i := range payload {
		pkt[hl+i] = byte(i * 7)
	}
	return pkt
}

// segmentsOf is what a GSO packet becomes on the wire: its TCP segment
// cut at mss, each with the encapsulation header.
func segmentsOf(t *testing.T, pkt []byte, mss int) [][]byte {
	t.Helper()
	segs, ok := header.SegmentTCP(pkt[header.IPoIBHeaderLen:], mss, header.IPoIBHeaderLen)
	if !ok {
		t.Fatal("not a TCP packet")
	}
	for _, s := range segs {
		copy(s, pkt[:header.IPoIBHeaderLen])
	}
	return segs
}

// copier is a dispatcher that keeps a copy of every packet, and counts
// them for waitRx.
type copier struct {
	c    *counter
	mu   sync.Mutex
	pkts [][]byte
}

func (r *copier) DeliverPacket(_ header.HWAddr, pkt header.IPoIB) {
	r.mu.Lock()
	r.pkts = append(r.pkts, bytes.Clone(pkt))
	r.mu.Unlock()
	r.c.n.Add(1)
}

func (r *copier) take() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pkts
	r.pkts = nil
	return p
}

// A GSO packet to a UD neighbour goes as one LSO send: the receiver gets
// the packets tcp_gso_segment would make, and the sender counts one
// packet of the TCP payload's bytes (ipoib_send pulled the headers off
// the skb whose length the completion counts), with no UD MTU check.
// Where LSO cannot go (a multicast group, a connection) it is cut before
// the send, and each packet counts as itself. In the qdisc it waits
// whole.
func TestWritePacketGSO(t *testing.T) {
	for _, c := range []struct {
		name      string
		connected bool
		dst       func(tp *testPair) header.HWAddr
		payload   int
		mss       int
		stopped   bool // the queue is stopped when it is written
		// the sender's counts
		txPackets, txBytes uint64
	}{
		{"UD", false, func(tp *testPair) header.HWAddr { return tp.n1.hw }, 5000, 1400, false, 1, 5000},
		{"UD, largest mss", false, func(tp *testPair) header.HWAddr { return tp.n1.hw }, 4000, 2044 - 52, false, 1, 4000},
		{"UD, from the qdisc", false, func(tp *testPair) header.HWAddr { return tp.n1.hw }, 5000, 1400, true, 1, 5000},
		{"broadcast", false, func(tp *testPair) header.HWAddr { return tp.n0.ep.Broadcast() }, 3000, 1400, false, 3, 3000 + 3*56},
		{"connected", true, func(tp *testPair) header.HWAddr { return tp.n1.hw }, 5000, 1400, false, 4, 5000 + 4*56},
	} {
		t.Run(c.name, func(t *testing.T) {
			tp := newTestPair(t, c.connected)
			if c.connected {
				tp.connect()
				tp.n1.waitRx(1)
			}
			rec := &copier{c: tp.n1.rx}
			tp.n1.ep.Attach(rec)
			before, rxBefore := tp.n0.ep.Stats().Snapshot(), tp.n1.rx.n.Load()
			pkt := tcpGSOPacket(c.payload)
			want := segmentsOf(t, pkt, c.mss)
			if c.stopped {
				tp.n0.ep.txmu.Lock()
				tp.n0.ep.stopped = true
				tp.n0.ep.qdiscBusy.Store(true)
				tp.n0.ep.txmu.Unlock()
			}
			if err := tp.n0.ep.WritePacketGSO(pkt, c.dst(tp), c.mss); err != nil {
				t.Fatal(err)
			}
			if c.stopped {
				tp.n0.ep.txmu.Lock()
				if len(tp.n0.ep.backlog) != 1 || tp.n0.ep.backlog[0].mss != c.mss || !bytes.Equal(tp.n0.ep.backlog[0].pkt, pkt) {
					t.Errorf("qdisc holds %d packets, want the GSO packet whole with its mss", len(tp.n0.ep.backlog))
				}
				tp.n0.ep.stopped = false
				tp.n0.ep.wakeLocked()
				tp.n0.ep.txmu.Unlock()
			}
			if got := tp.n1.waitRx(rxBefore + int64(len(want))); got != rxBefore+int64(len(want)) {
				t.Fatalf("received %d packets, want %d", got-rxBefore, len(want))
			}
			got := rec.take()
			if fmt.Sprintf("%x", got) != fmt.Sprintf("%x", want) {
				t.Errorf("received\n%x\nwant\n%x", got, want)
			}
			after := tp.n0.ep.Stats().Snapshot()
			if dp, db := after.TxPackets-before.TxPackets, after.TxBytes-before.TxBytes; dp != c.txPackets || db != c.txBytes ||
				after.TxDropped != before.TxDropped || after.TxErrors != before.TxErrors {
				t.Errorf("sender counted %d packets, %d bytes, %d dropped, %d errors; want %d, %d, 0, 0",
					dp, db, after.TxDropped-before.TxDropped, after.TxErrors-before.TxErrors, c.txPackets, c.txBytes)
			}
		})
	}
}

// A GSO packet that is not TCP is dropped, counted as ipoib_send counts
// a skb whose headers it cannot pull.
func TestWritePacketGSONotTCP(t *testing.T) {
	tp := newTestPair(t, false)
	if err := tp.n0.ep.WritePacketGSO(udpPacket(3000), tp.n1.hw, 1400); err == nil {
		t.Fatal("accepted")
	}
	s := tp.n0.ep.Stats().Snapshot()
	if s.TxPackets != 0 || s.TxDropped != 1 || s.TxErrors != 1 {
		t.Errorf("counted %+v, want 1 dropped, 1 error", s)
	}
}
