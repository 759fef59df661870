package header

import (
	"errors"
	"testing"
)

func TestIPoIBEncode(t *testing.T) {
	for _, tc := range []struct {
		name      string
		ethertype uint16
		want      string
	}{
		{"ipv4", EtherTypeIPv4, "08 00 00 00"},
		{"ipv6", EtherTypeIPv6, "86 dd 00 00"},
		{"arp", EtherTypeARP, "08 06 00 00"},
		{"rarp", EtherTypeRARP, "80 35 00 00"},
		{"tipc", EtherTypeTIPC, "88 ca 00 00"},
		{"vlan (not allowed, still encodable)", 0x8100, "81 00 00 00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := filled(6)
			IPoIB(b).Encode(tc.ethertype)
			checkBytes(t, "header", b[:4], unhexString(t, tc.want))
			checkBytes(t, "after header", b[4:], []byte{0xee, 0xee})
			h := IPoIB(b)
			if !h.Valid() || h.Type() != tc.ethertype || h.Reserved() != 0 || len(h.Payload()) != 2 {
				t.Errorf("Valid %v Type %#04x Reserved %#x payload %d", h.Valid(), h.Type(), h.Reserved(), len(h.Payload()))
			}
		})
	}
}

func TestIPoIBValid(t *testing.T) {
	for n, want := range []bool{false, false, false, false, true, true} {
		if got := IPoIB(make([]byte, n)).Valid(); got != want {
			t.Errorf("Valid(%d bytes) = %v, want %v", n, got, want)
		}
	}
	// Reserved bytes are read, not checked.
	h := IPoIB{0x86, 0xdd, 0x12, 0x34}
	if !h.Valid() || h.Type() != EtherTypeIPv6 || h.Reserved() != 0x1234 {
		t.Errorf("got Valid %v Type %#04x Reserved %#04x", h.Valid(), h.Type(), h.Reserved())
	}
}

func TestAllowedType(t *testing.T) {
	for _, tc := range []struct {
		ethertype uint16
		want      bool
	}{
		{0x0800, true},
		{0x86dd, true},
		{0x0806, true},
		{0x8035, true},
		{0x88ca, true},
		{0x0000, false},
		{0x8100, false}, // VLAN: IPoIB is VLAN_CHALLENGED
		{0x88cc, false}, // LLDP
		{0x8906, false}, // FCoE
		{0x0801, false},
		{0xffff, false},
	} {
		if got := AllowedType(tc.ethertype); got != tc.want {
			t.Errorf("AllowedType(%#04x) = %v, want %v", tc.ethertype, got, tc.want)
		}
	}
}

func TestHWAddr(t *testing.T) {
	for _, tc := range []struct {
		name      string
		addr      HWAddr
		want      string
		flags     byte
		qpn       uint32
		gid       [16]byte
		guid      [8]byte
		multicast bool
	}{
		{
			name:  "reference example",
			addr:  hwA,
			want:  "80:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0b:3b:51",
			flags: 0x80, qpn: 0x208, gid: gidA,
			guid: [8]byte{0x00, 0x02, 0xc9, 0x03, 0x00, 0x0b, 0x3b, 0x51},
		},
		{
			name:  "qpn truncated to 24 bits",
			addr:  NewHWAddr(HWFlagConnected|HWFlagUC, 0x12abcdef, gidB),
			want:  "c0:ab:cd:ef:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0b:3b:52",
			flags: 0xc0, qpn: 0xabcdef, gid: gidB,
			guid: [8]byte{0x00, 0x02, 0xc9, 0x03, 0x00, 0x0b, 0x3b, 0x52},
		},
		{
			name:  "broadcast",
			addr:  BroadcastAddr(0xffff),
			want:  "00:ff:ff:ff:ff:12:40:1b:ff:ff:00:00:00:00:00:00:ff:ff:ff:ff",
			flags: 0, qpn: 0xffffff,
			gid:       [16]byte{0xff, 0x12, 0x40, 0x1b, 0xff, 0xff, 12: 0xff, 13: 0xff, 14: 0xff, 15: 0xff},
			guid:      [8]byte{4: 0xff, 5: 0xff, 6: 0xff, 7: 0xff},
			multicast: true,
		},
		{
			name: "zero",
			want: "00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.addr
			if got := a.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
			if a.Flags() != tc.flags || a.QPN() != tc.qpn || a.GID() != tc.gid || a.GUID() != tc.guid || a.IsMulticast() != tc.multicast {
				t.Errorf("Flags %#x QPN %#x GID % x GUID % x multicast %v", a.Flags(), a.QPN(), a.GID(), a.GUID(), a.IsMulticast())
			}
			p, err := ParseHWAddr(tc.want)
			if err != nil || p != a {
				t.Errorf("ParseHWAddr(String()) = %v, %v", p, err)
			}
		})
	}
	checkBytes(t, "NewHWAddr bytes", hwA[:], unhexString(t, "80 00 02 08 fe 80 00 00 00 00 00 00 00 02 c9 03 00 0b 3b 51"))
}

func TestParseHWAddr(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want HWAddr
		ok   bool
	}{
		{"80:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0b:3b:51", hwA, true},
		{"80:00:02:08:FE:80:00:00:00:00:00:00:00:02:C9:03:00:0B:3B:51", hwA, true},
		{"80:0:2:8:fe:80:0:0:0:0:0:0:0:2:c9:3:0:b:3b:51", hwA, true},
		// Each end of each digit range, in both cases (ll_addr_a2n's sscanf "%x").
		{"09:af:AF:90:fa:FA:0:9:a:f:A:F:00:00:00:00:00:00:00:00",
			HWAddr{0x09, 0xaf, 0xaf, 0x90, 0xfa, 0xfa, 0, 9, 0xa, 0xf, 0xa, 0xf}, true},
		{"", HWAddr{}, false},
		{"80:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0b:3b", HWAddr{}, false},       // 19 bytes
		{"80:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0b:3b:51:00", HWAddr{}, false}, // 21 bytes
		{"80:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0b:3b:51:", HWAddr{}, false},   // trailing colon
		{":80:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0b:3b:51", HWAddr{}, false},   // leading colon
		{"80:00:02:08:fe:80::00:00:00:00:00:02:c9:03:00:0b:3b:51:00", HWAddr{}, false},      // empty group
		{"80:00:02:08:fe:800:00:00:00:00:00:00:02:c9:03:00:0b:3b:51:00", HWAddr{}, false},   // 3 digits
		{"80:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0b:3b:5g", HWAddr{}, false},    // not hex
		{"80-00-02-08-fe-80-00-00-00-00-00-00-00-02-c9-03-00-0b-3b-51", HWAddr{}, false},    // dashes
		{" 80:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0b:3b:51", HWAddr{}, false},   // blank
		{"/0:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0b:3b:51", HWAddr{}, false},    // '0'-1
		{"@0:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0b:3b:51", HWAddr{}, false},    // 'A'-1
		{"G0:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0b:3b:51", HWAddr{}, false},    // 'F'+1
		{"`0:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0b:3b:51", HWAddr{}, false},    // 'a'-1
	} {
		got, err := ParseHWAddr(tc.in)
		if tc.ok {
			if err != nil || got != tc.want {
				t.Errorf("ParseHWAddr(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
			continue
		}
		if !errors.Is(err, ErrBadHWAddr) || got != (HWAddr{}) {
			t.Errorf("ParseHWAddr(%q) = %v, %v; want ErrBadHWAddr", tc.in, got, err)
		}
	}
	_, err := ParseHWAddr("xyz")
	if want := `invalid IPoIB hardware address "xyz"`; err == nil || err.Error() != want {
		t.Errorf("error text = %v, want %q", err, want)
	}
}

func TestBroadcastAddr(t *testing.T) {
	for _, tc := range []struct {
		pkey     uint16
		want     string
		wantKey  uint16
		wantMGID string
	}{
		{0xffff, "00:ff:ff:ff:ff:12:40:1b:ff:ff:00:00:00:00:00:00:ff:ff:ff:ff", 0xffff, "ff12:401b:ffff:0:0:0:ffff:ffff"},
		{0x7fff, "00:ff:ff:ff:ff:12:40:1b:ff:ff:00:00:00:00:00:00:ff:ff:ff:ff", 0xffff, "ff12:401b:ffff:0:0:0:ffff:ffff"},
		{0x8001, "00:ff:ff:ff:ff:12:40:1b:80:01:00:00:00:00:00:00:ff:ff:ff:ff", 0x8001, "ff12:401b:8001:0:0:0:ffff:ffff"},
		{0x0001, "00:ff:ff:ff:ff:12:40:1b:80:01:00:00:00:00:00:00:ff:ff:ff:ff", 0x8001, "ff12:401b:8001:0:0:0:ffff:ffff"},
		{0x1234, "00:ff:ff:ff:ff:12:40:1b:92:34:00:00:00:00:00:00:ff:ff:ff:ff", 0x9234, "ff12:401b:9234:0:0:0:ffff:ffff"},
	} {
		a := BroadcastAddr(tc.pkey)
		if got := a.String(); got != tc.want {
			t.Errorf("BroadcastAddr(%#04x) = %s, want %s", tc.pkey, got, tc.want)
		}
		if a.PKey() != tc.wantKey || a.QPN() != MulticastQPN || !a.IsMulticast() {
			t.Errorf("BroadcastAddr(%#04x): PKey %#04x QPN %#x multicast %v", tc.pkey, a.PKey(), a.QPN(), a.IsMulticast())
		}
		if got := FormatGID(a.GID()); got != tc.wantMGID {
			t.Errorf("BroadcastAddr(%#04x) MGID = %s, want %s", tc.pkey, got, tc.wantMGID)
		}
	}
}

func TestWithPKey(t *testing.T) {
	// A group address mapped with the default partition, sent from an
	// interface on partition 0x8001.
	a := MulticastAddr(IPv4MGID([4]byte{224, 0, 0, 1}, BroadcastAddr(0xffff)))
	got := a.WithPKey(0x8001)
	if want := "00:ff:ff:ff:ff:12:40:1b:80:01:00:00:00:00:00:00:00:00:00:01"; got.String() != want {
		t.Errorf("WithPKey(0x8001) = %s, want %s", got, want)
	}
	if a.PKey() != 0xffff {
		t.Error("WithPKey modified its receiver")
	}
	if got := a.WithPKey(0x0001).PKey(); got != 0x0001 {
		t.Errorf("WithPKey(0x0001).PKey() = %#04x, bit 15 must not be forced", got)
	}
}
