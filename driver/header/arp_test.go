package header

import "testing"

func TestEncodeARP(t *testing.T) {
	for _, tc := range []struct {
		name     string
		op       uint16
		sha      HWAddr
		spa      [4]byte
		tha      HWAddr
		tpa      [4]byte
		want     string
		wantText string
	}{
		{
			name: "request", op: ARPRequest, sha: hwA, spa: v4A, tpa: v4B,
			want: `00 20 08 00 14 04 00 01
				80 00 02 08 fe 80 00 00 00 00 00 00 00 02 c9 03 00 0b 3b 51 0a 00 00 01
				00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 0a 00 00 02`,
		},
		{
			name: "reply", op: ARPReply, sha: hwB, spa: v4B, tha: hwA, tpa: v4A,
			want: `00 20 08 00 14 04 00 02
				00 00 04 49 fe 80 00 00 00 00 00 00 00 02 c9 03 00 0b 3b 52 0a 00 00 02
				80 00 02 08 fe 80 00 00 00 00 00 00 00 02 c9 03 00 0b 3b 51 0a 00 00 01`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := filled(ARPSize + 2)
			if n := EncodeARP(b, tc.op, tc.sha, tc.spa, tc.tha, tc.tpa); n != 56 {
				t.Fatalf("EncodeARP = %d, want 56", n)
			}
			checkBytes(t, "message", b[:56], unhexString(t, tc.want))
			checkBytes(t, "after message", b[56:], []byte{0xee, 0xee})
			a := ARP(b[:56])
			if !a.Valid() {
				t.Fatal("Valid() = false")
			}
			if a.HardwareType() != 32 || a.ProtocolType() != 0x0800 || a.HardwareAddrLen() != 20 || a.ProtocolAddrLen() != 4 || a.Op() != tc.op {
				t.Errorf("fixed part: htype %d ptype %#04x hlen %d plen %d op %d", a.HardwareType(), a.ProtocolType(), a.HardwareAddrLen(), a.ProtocolAddrLen(), a.Op())
			}
			if a.SenderHWAddr() != tc.sha || a.SenderIP() != tc.spa || a.TargetHWAddr() != tc.tha || a.TargetIP() != tc.tpa {
				t.Errorf("addresses: %s %v %s %v", a.SenderHWAddr(), a.SenderIP(), a.TargetHWAddr(), a.TargetIP())
			}
		})
	}

	short := filled(55)
	if n := EncodeARP(short, ARPRequest, hwA, v4A, HWAddr{}, v4B); n != 0 {
		t.Errorf("EncodeARP into 55 bytes = %d, want 0", n)
	}
	checkBytes(t, "short buffer untouched", short, filled(55))
}

func TestARPValid(t *testing.T) {
	good := make([]byte, ARPSize)
	EncodeARP(good, ARPRequest, hwA, v4A, HWAddr{}, v4B)
	with := func(i int, v byte) []byte {
		b := append([]byte(nil), good...)
		b[i] = v
		return b
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"request", good, true},
		{"reply", with(7, 2), true},
		{"trailing padding", append(append([]byte(nil), good...), 0, 0, 0, 0), true},
		{"empty", nil, false},
		{"fixed part only", good[:8], false},
		{"truncated by one", good[:55], false},
		{"Ethernet hardware type", with(1, 1), false},
		{"IPv6 protocol type", with(2, 0x86), false},
		{"hardware length 6", with(4, 6), false},
		{"protocol length 16", with(5, 16), false},
		{"op 0", with(7, 0), false},
		{"op 3 (RARP request)", with(7, 3), false},
		{"op 0x0101", with(6, 1), false},
	} {
		if got := ARP(tc.b).Valid(); got != tc.want {
			t.Errorf("%s: Valid() = %v, want %v", tc.name, got, tc.want)
		}
	}
}
