package ibctl

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/netlinkx"
)

// ipoibPacket is an IPoIB packet: the 4-byte header and l3.
func ipoibPacket(etherType uint16, l3 []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, etherType)
	return append(append(b, 0, 0), l3...)
}

func ipv4Packet(src, dst string, proto byte, frag uint16, payload []byte) []byte {
	h := make([]byte, 20)
	h[0], h[8], h[9] = 0x45, 64, proto
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(payload)))
	binary.BigEndian.PutUint16(h[6:], frag)
	copy(h[12:], netip.MustParseAddr(src).AsSlice())
	copy(h[16:], netip.MustParseAddr(dst).AsSlice())
	return append(h, payload...)
}

func ipv6Packet(src, dst string, nh byte, payload []byte) []byte {
	h := make([]byte, 40)
	h[0], h[6], h[7] = 0x60, nh, 255
	binary.BigEndian.PutUint16(h[4:], uint16(len(payload)))
	copy(h[8:], netip.MustParseAddr(src).AsSlice())
	copy(h[24:], netip.MustParseAddr(dst).AsSlice())
	return append(h, payload...)
}

func arpPacket(op uint16, sha []byte, spa string, tha []byte, tpa string) []byte {
	b := []byte{0, 32, 8, 0, 20, 4, 0, byte(op)}
	b = append(append(b, sha...), netip.MustParseAddr(spa).AsSlice()...)
	return append(append(b, tha...), netip.MustParseAddr(tpa).AsSlice()...)
}

// TestPacketLine checks the text of every kind of packet the emulated
// stack sends against a golden file: tcpdump's lines for a Linux cooked
// capture, without and with -e.
func TestPacketLine(t *testing.T) {
	hw0 := []byte{0x80, 0, 0, 0x48, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 2, 0xc9, 3, 0, 0, 0x10, 1}
	hw1 := append(append([]byte(nil), hw0[:18]...), 0x20, 1)
	zero := make([]byte, 20)
	echo := func(typ byte, size int) []byte {
		b := make([]byte, 8+size)
		b[0] = typ
		binary.BigEndian.PutUint16(b[4:], 0x1234)
		binary.BigEndian.PutUint16(b[6:], 7)
		return b
	}
	inner := ipv4Packet("10.0.0.1", "10.0.0.9", 1, 0, echo(8, 0))
	icmpErr := func(typ, code byte, mtu uint16) []byte {
		b := []byte{typ, code, 0, 0, 0, 0, 0, 0}
		binary.BigEndian.PutUint16(b[6:], mtu)
		return append(b, inner...)
	}
	ns := append([]byte{135, 0, 0, 0, 0, 0, 0, 0}, netip.MustParseAddr("fe80::202:c903:0:2001").AsSlice()...)
	na := append([]byte{136, 0, 0, 0, 0x60, 0, 0, 0}, netip.MustParseAddr("fe80::202:c903:0:2001").AsSlice()...)
	mld := append([]byte{58, 0, 5, 2, 0, 0, 1, 0}, 143, 0, 0, 0, 0, 0, 0, 1)
	mld = append(mld, make([]byte, 20)...)
	ptb := append([]byte{2, 0, 0, 0, 0, 0, 0x07, 0xfc}, ipv6Packet("fe80::1", "fe80::2", 58, echo(128, 0))...)
	frag6 := []byte{58, 0, 0, 1, 0, 0, 0, 1}
	udp := []byte{0x13, 0x89, 0x13, 0x89, 0, 28, 0, 0}
	udp = append(udp, make([]byte, 20)...)
	pkts := []struct {
		typ  uint8
		et   uint16
		l3   []byte
		drop string
	}{
		{netlinkx.PacketOutgoing, etherARP, arpPacket(1, hw0, "10.0.0.1", zero, "10.0.0.2"), ""},
		{netlinkx.PacketBroadcast, etherARP, arpPacket(1, hw1, "10.0.0.2", zero, "10.0.0.1"), ""},
		{netlinkx.PacketOutgoing, etherARP, arpPacket(1, hw0, "10.0.0.1", hw1, "10.0.0.2"), ""},
		{netlinkx.PacketHost, etherARP, arpPacket(2, hw1, "10.0.0.2", hw0, "10.0.0.1"), ""},
		{netlinkx.PacketOutgoing, etherIPv4, ipv4Packet("10.0.0.1", "10.0.0.2", 1, 0x4000, echo(8, 56)), ""},
		{netlinkx.PacketHost, etherIPv4, ipv4Packet("10.0.0.2", "10.0.0.1", 1, 0, echo(0, 56)), ""},
		{netlinkx.PacketOutgoing, etherIPv4, ipv4Packet("10.0.0.1", "10.0.0.2", 1, 0x2000, echo(8, 2016)), ""},
		{netlinkx.PacketOutgoing, etherIPv4, ipv4Packet("10.0.0.1", "10.0.0.2", 1, 253, make([]byte, 1992)), ""},
		{netlinkx.PacketOutgoing, etherIPv4, ipv4Packet("10.0.0.1", "10.0.0.2", 1, 0, echo(8, 4000)), "PKT_TOO_BIG"},
		{netlinkx.PacketHost, etherIPv4, ipv4Packet("10.0.0.2", "10.0.0.1", 1, 0, icmpErr(3, 4, 2044)), ""},
		{netlinkx.PacketHost, etherIPv4, ipv4Packet("10.0.0.1", "10.0.0.1", 1, 0, icmpErr(3, 1, 0)), ""},
		{netlinkx.PacketHost, etherIPv4, ipv4Packet("10.0.0.2", "10.0.0.1", 1, 0, icmpErr(11, 1, 0)), ""},
		{netlinkx.PacketHost, etherIPv4, ipv4Packet("10.0.0.2", "10.0.0.1", 17, 0, udp), ""},
		{netlinkx.PacketOutgoing, etherIPv6, ipv6Packet("fe80::202:c903:0:1001", "ff02::1:ff00:2001", 58, ns), ""},
		{netlinkx.PacketHost, etherIPv6, ipv6Packet("fe80::202:c903:0:2001", "fe80::202:c903:0:1001", 58, na), ""},
		{netlinkx.PacketOutgoing, etherIPv6, ipv6Packet("fe80::202:c903:0:1001", "fe80::202:c903:0:2001", 58, echo(128, 56)), ""},
		{netlinkx.PacketHost, etherIPv6, ipv6Packet("fe80::202:c903:0:2001", "fe80::202:c903:0:1001", 58, echo(129, 56)), ""},
		{netlinkx.PacketMulticast, etherIPv6, ipv6Packet("fe80::202:c903:0:2001", "ff02::16", 0, mld), ""},
		{netlinkx.PacketHost, etherIPv6, ipv6Packet("fe80::2", "fe80::1", 58, ptb), ""},
		{netlinkx.PacketHost, etherIPv6, ipv6Packet("fe80::2", "fe80::1", 44, append(frag6, echo(129, 8)...)), ""},
		{netlinkx.PacketHost, etherIPv6, ipv6Packet("fe80::2", "fe80::1", 17, udp), ""},
		{netlinkx.PacketHost, 0x88ca, []byte{1, 2, 3, 4}, ""},
		{netlinkx.PacketHost, etherIPv4, []byte{0x45, 0}, "PKT_TOO_SMALL"},
	}
	var b strings.Builder
	for _, eflag := range []bool{false, true} {
		for i, p := range pkts {
			data := ipoibPacket(p.et, p.l3)
			cp := netlinkx.CapturedPacket{TimeNs: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano() + int64(i)*1001,
				PktType: p.typ, Drop: p.drop, OrigLen: uint32(len(data)), Data: data}
			b.WriteString(packetLine(cp, time.UTC, eflag) + "\n")
		}
	}
	golden(t, "capture_lines", b.String())
}

func TestFabricLine(t *testing.T) {
	ud := header.AppendIBPacket(nil, &header.IBPacket{SLID: 1, DLID: 0xc000, GRH: true, Opcode: header.OpUDSendOnly,
		PKey: 0xffff, DestQP: 0xffffff, QKey: 0xb1b, SrcQP: 0x48, Payload: make([]byte, 60)})
	ack := header.AppendIBPacket(nil, &header.IBPacket{SLID: 3, DLID: 1, Opcode: header.OpRCAck, PKey: 0x8001,
		DestQP: 0x4a, PSN: 601388, Syndrome: 0x1f})
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC).UnixNano()
	tests := []struct {
		p    netlinkx.CapturedPacket
		want string
	}{
		{netlinkx.CapturedPacket{TimeNs: at, PktType: netlinkx.PacketOutgoing, OrigLen: uint32(len(ud)), Data: ud},
			"03:04:05.000006 Out LID 0x0001 > 0xc000, UD_SEND_ONLY, P_Key 0xffff, QP 0xffffff, PSN 0, length 134"},
		{netlinkx.CapturedPacket{TimeNs: at, PktType: netlinkx.PacketHost, OrigLen: uint32(len(ack)), Data: ack},
			"03:04:05.000006  In LID 0x0003 > 0x0001, RC_ACKNOWLEDGE, P_Key 0x8001, QP 0x00004a, PSN 601388, length 30"},
		{netlinkx.CapturedPacket{TimeNs: at, PktType: netlinkx.PacketHost, OrigLen: 30, Data: ack[:18]},
			"03:04:05.000006  In LID 0x0003 > 0x0001, [|bth]"},
	}
	for _, tt := range tests {
		if got := fabricLine(tt.p, time.UTC, "", nil); got != tt.want {
			t.Errorf("got  %q\nwant %q", got, tt.want)
		}
	}
	// several ports: the port's name; --roce: the RoCEv2 frame's IPv6
	// addresses and UDP ports (rdma_get_udp_sport of QPNs 0x4b and 0x4a
	// is 0xd5ae) and its length, 14 + 40 + 8 + 12 + 4 + 4
	gid := func(s string) [16]byte { return netip.MustParseAddr(s).As16() }
	src, dst := header.NewHWAddr(0, 0x4b, gid("fe80::2:c903:0:2001")), header.NewHWAddr(0, 0x4a, gid("fe80::2:c903:0:1001"))
	p := netlinkx.CapturedPacket{TimeNs: at, PktType: netlinkx.PacketHost, Src: src[:], Dst: dst[:], OrigLen: uint32(len(ack)), Data: ack}
	frame, ok := roceFrame(nil, p)
	if !ok {
		t.Fatal("no RoCEv2 frame")
	}
	want := "03:04:05.000006 node1/1  In IP6 fe80::2:c903:0:2001.54702 > fe80::2:c903:0:1001.4791: RoCEv2 RC_ACKNOWLEDGE, " +
		"P_Key 0x8001, QP 0x00004a, PSN 601388, length 82"
	if got := fabricLine(p, time.UTC, "node1/1", frame); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
