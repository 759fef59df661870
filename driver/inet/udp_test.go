package inet

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver/header"
	"golang.org/x/sys/unix"
)

// udpTo is an IPoIB packet with a UDP datagram of 8 data bytes from a to
// b's port.
func udpTo(port uint16) header.IPoIB {
	pkt := make([]byte, header.IPoIBHeaderLen+header.IPv4MinHeaderLen+8+8)
	header.IPoIB(pkt).Encode(header.EtherTypeIPv4)
	ip := pkt[header.IPoIBHeaderLen:]
	header.EncodeIPv4(ip, header.IPv4Fields{TotalLength: uint16(len(ip)), TTL: 64, Protocol: unix.IPPROTO_UDP,
		Src: pairAddr(false, 1).As4(), Dst: pairAddr(false, 2).As4()})
	binary.BigEndian.PutUint16(ip[header.IPv4MinHeaderLen+2:], port)
	binary.BigEndian.PutUint16(ip[header.IPv4MinHeaderLen+4:], 16)
	return header.IPoIB(pkt)
}

// A sink counts the datagrams to its port on its interface only, and
// Wait returns as soon as the count is reached, or at its deadline or
// when its context ends, with the count it saw.
func TestUDPSinkCountsAndWait(t *testing.T) {
	p := newPair(t, false, 2044)
	sink, err := p.b.OpenUDPSink(ifB, 5201)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	other, err := p.b.OpenUDPSink(ifB, 5201)
	if err != nil || other.Port() != 5202 {
		t.Fatalf("second sink: port %d, %v; want 5202", other.Port(), err)
	}
	other.Close()

	got := make(chan uint64)
	go func() { got <- sink.Wait(context.Background(), 2, time.Now().Add(time.Hour)) }()
	p.nb.DeliverPacket(hwA, udpTo(5201))
	p.nb.DeliverPacket(hwA, udpTo(5999)) // another port: not the sink's
	p.nb.DeliverPacket(hwA, udpTo(5201))
	select {
	case n := <-got:
		if n != 2 {
			t.Errorf("Wait for 2 returned %d", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return when the second datagram came")
	}
	if pk, b := sink.Counts(); pk != 2 || b != 2*uint64(len(udpTo(5201))) {
		t.Errorf("counts %d packets %d bytes", pk, b)
	}
	if n := sink.Wait(context.Background(), 3, time.Now().Add(10*time.Millisecond)); n != 2 {
		t.Errorf("Wait past its deadline returned %d, want 2", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if n := sink.Wait(ctx, 3, time.Now().Add(time.Minute)); n != 2 {
		t.Errorf("Wait with a done context returned %d, want 2", n)
	}
}
