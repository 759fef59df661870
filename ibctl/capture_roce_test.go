package ibctl

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/netlinkx"
)

// TestRoCEICRCKnownAnswer checks the RoCEv2 ICRC against a frame a
// ConnectX-4 Lx sent (a CNP over IPv4, from scapy's RoCE tests,
// test/contrib/roce.uts): its last four bytes are the ICRC the adapter
// computed.
func TestRoCEICRCKnownAnswer(t *testing.T) {
	frame, err := hex.DecodeString(strings.Join(strings.Fields(`
		e41d 2dab 2bc2 7cfe 9064 3b32 0800 45c2
		003c 718c 4000 4011 9161 0a00 1101 0a00
		1201 0000 12b7 0028 0000 8100 ffff 4000
		0118 0000 0000 0000 0000 0000 0000 0000
		0000 0000 0000 82fd 002a`), ""))
	if err != nil {
		t.Fatal(err)
	}
	n := len(frame)
	got := binary.LittleEndian.AppendUint32(nil, roceICRC(frame[14:n-4]))
	if !bytes.Equal(got, frame[n-4:]) {
		t.Errorf("ICRC % x, the adapter sent % x", got, frame[n-4:])
	}
}

// roceICRCSpec is the RoCEv2 ICRC of an IPv6 packet as IBA annex A17
// describes it, computed apart from roceICRC: CRC-32 over 8 bytes of ones
// for the LRH and the packet with the traffic class, flow label, hop
// limit, UDP checksum and BTH resv8a set to ones.
func roceICRCSpec(ip []byte) uint32 {
	m := append(bytes.Repeat([]byte{0xff}, 8), ip...)
	ones := []int{8 + 0, 8 + 1, 8 + 2, 8 + 3, 8 + 7, 8 + 40 + 6, 8 + 40 + 7, 8 + 48 + 4}
	for _, i := range ones {
		m[i] = 0xff
	}
	m[8] = 0x6f // the version stays
	return crc32.ChecksumIEEE(m)
}

// TestRoCEFrame converts IB packets, unicast without a GRH and multicast
// with one, to RoCEv2 frames and compares them byte for byte.
func TestRoCEFrame(t *testing.T) {
	gid := func(s string) [16]byte {
		b, _ := hex.DecodeString(s)
		return [16]byte(b)
	}
	g1, g2 := gid("fe800000000000000002c90300001001"), gid("fe800000000000000002c90300002001")
	mgid := gid("ff12401bffff00000000000000000001")
	ud := &header.IBPacket{SLID: 1, DLID: 3, Opcode: header.OpUDSendOnly, PKey: 0xffff, DestQP: 0x48, PSN: 7,
		QKey: 0xb1b, SrcQP: 0x49, Payload: []byte{0x08, 0x00, 0x00, 0x00, 0x45}}
	mc := *ud
	mc.DLID, mc.GRH, mc.SGID, mc.DGID, mc.HopLimit, mc.DestQP = 0xc000, true, g1, mgid, 0xff, 0xffffff
	transport := "6430ffff00000048" + "00000007" + "00000b1b00000049" + "0800000045000000"
	tests := []struct {
		name     string
		pkt      *header.IBPacket
		src, dst header.HWAddr
		want     string // up to the ICRC
	}{
		{"unicast", ud, header.NewHWAddr(0, 0x49, g1), header.NewHWAddr(0, 0x48, g2),
			"0002c9002001" + "0002c9001001" + "86dd" + // made-up MACs of the GUIDs
				"60000000" + "0028" + "11" + "40" + hex.EncodeToString(g1[:]) + hex.EncodeToString(g2[:]) +
				"d488" + "12b7" + "0028" + "0000" + // sport of QPNs 0x49 and 0x48
				transport},
		{"multicast", &mc, header.NewHWAddr(0, 0x49, g1), header.NewHWAddr(0, 0xffffff, mgid),
			"333300000001" + "0002c9001001" + "86dd" +
				"60000000" + "0028" + "11" + "ff" + hex.EncodeToString(g1[:]) + hex.EncodeToString(mgid[:]) +
				"fb07" + "12b7" + "0028" + "0000" + // QPNs 0x49 and 0xffffff
				"6430ffff00ffffff" + transport[16:]},
	}
	for _, tt := range tests {
		ib := header.AppendIBPacket(nil, tt.pkt)
		p := netlinkx.CapturedPacket{Src: tt.src[:], Dst: tt.dst[:], OrigLen: uint32(len(ib)), Data: ib}
		frame, ok := roceFrame(nil, p)
		if !ok {
			t.Fatalf("%s: no frame", tt.name)
		}
		n := len(frame)
		if got := hex.EncodeToString(frame[:n-4]); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
		if got, want := binary.LittleEndian.Uint32(frame[n-4:]), roceICRCSpec(frame[14:n-4]); got != want {
			t.Errorf("%s: ICRC %08x, want %08x", tt.name, got, want)
		}
	}
	if _, ok := roceFrame(nil, netlinkx.CapturedPacket{Src: make([]byte, 20), Dst: make([]byte, 20), Data: make([]byte, 25)}); ok {
		t.Error("a packet shorter than LRH, BTH and CRCs makes a frame")
	}
}

// TestRoCESourcePort checks rdma_get_udp_sport's arithmetic: a flow
// label folds to 14 bits, and without one the QPNs' product makes one,
// the same both ways.
func TestRoCESourcePort(t *testing.T) {
	tests := []struct {
		flow, lqpn, rqpn uint32
		want             uint16
	}{
		{0, 0x49, 0x48, 0xd488},         // 0x1488
		{0, 0x48, 0x49, 0xd488},         // either end
		{0x12345, 0x49, 0x48, 0xe341},   // 0x2345 ^ 0x4
		{0, 0x49, 0xffffff, 0xfb07},     // 0x48ffffb7 ^ 0x48f: label 0xffb38, 0x3b38 ^ 0x3f
		{0, 0x123456, 0x654321, 0xf787}, // 0x7336bf94116 ^ 0x7336bf9 ^ 0x7: label 0xa77ae, 0x37ae ^ 0x29
	}
	for _, tt := range tests {
		if got := roceSourcePort(tt.flow, tt.lqpn, tt.rqpn); got != tt.want {
			t.Errorf("roceSourcePort(%#x, %#x, %#x) = %#04x, want %#04x", tt.flow, tt.lqpn, tt.rqpn, got, tt.want)
		}
	}
}
