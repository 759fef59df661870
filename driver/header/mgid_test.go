package header

import "testing"

// bcastScope is a broadcast address whose byte 5 has flags nibble 3 and
// scope 5 (site-local): the mappings keep the scope and force flags 1, so
// (as in the kernel) the mapped groups then fail ipoib_mcast_addr_is_valid,
// which compares the whole byte 5.
var bcastScope = func() HWAddr {
	a := BroadcastAddr(0x8001)
	a[5] = 0x35
	return a
}()

func TestIPv4MGID(t *testing.T) {
	for _, tc := range []struct {
		name     string
		group    [4]byte
		bcast    HWAddr
		wantMGID string
		wantAddr string
		noJoin   bool
	}{
		{
			name: "all-hosts, default partition (reference example)", group: [4]byte{224, 0, 0, 1}, bcast: BroadcastAddr(0xffff),
			wantMGID: "ff12:401b:ffff:0:0:0:0:1",
			wantAddr: "00:ff:ff:ff:ff:12:40:1b:ff:ff:00:00:00:00:00:00:00:00:00:01",
		},
		{
			name: "SSDP keeps only 28 bits", group: [4]byte{239, 255, 255, 250}, bcast: BroadcastAddr(0xffff),
			wantMGID: "ff12:401b:ffff:0:0:0:fff:fffa",
			wantAddr: "00:ff:ff:ff:ff:12:40:1b:ff:ff:00:00:00:00:00:00:0f:ff:ff:fa",
		},
		{
			name: "mDNS on partition 0x8001", group: [4]byte{224, 0, 0, 251}, bcast: BroadcastAddr(0x8001),
			wantMGID: "ff12:401b:8001:0:0:0:0:fb",
			wantAddr: "00:ff:ff:ff:ff:12:40:1b:80:01:00:00:00:00:00:00:00:00:00:fb",
		},
		{
			name: "scope from broadcast, flags forced to 1", group: [4]byte{230, 1, 2, 3}, bcast: bcastScope,
			wantMGID: "ff15:401b:8001:0:0:0:601:203",
			wantAddr: "00:ff:ff:ff:ff:15:40:1b:80:01:00:00:00:00:00:00:06:01:02:03",
			noJoin:   true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := IPv4MGID(tc.group, tc.bcast)
			if got := FormatGID(m); got != tc.wantMGID {
				t.Errorf("IPv4MGID = %s, want %s", got, tc.wantMGID)
			}
			if got := MulticastAddr(m).String(); got != tc.wantAddr {
				t.Errorf("MulticastAddr = %s, want %s", got, tc.wantAddr)
			}
			if got := MGIDMatchesBroadcast(m, tc.bcast); got != !tc.noJoin {
				t.Errorf("MGIDMatchesBroadcast = %v, want %v", got, !tc.noJoin)
			}
		})
	}
}

func TestIPv6MGID(t *testing.T) {
	for _, tc := range []struct {
		name     string
		group    [16]byte
		bcast    HWAddr
		wantMGID string
		wantAddr string
		noJoin   bool
	}{
		{
			name: "all-nodes (reference example)", group: [16]byte{0xff, 0x02, 15: 1}, bcast: BroadcastAddr(0xffff),
			wantMGID: "ff12:601b:ffff:0:0:0:0:1",
			wantAddr: "00:ff:ff:ff:ff:12:60:1b:ff:ff:00:00:00:00:00:00:00:00:00:01",
		},
		{
			name: "solicited-node", group: SolicitedNodeAddr(v6B), bcast: BroadcastAddr(0xffff),
			wantMGID: "ff12:601b:ffff:0:0:1:ff0b:3b52",
			wantAddr: "00:ff:ff:ff:ff:12:60:1b:ff:ff:00:00:00:00:00:01:ff:0b:3b:52",
		},
		{
			name:     "group scope and bytes 2-5 are dropped",
			group:    [16]byte{0xff, 0x05, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 15: 2},
			bcast:    BroadcastAddr(0x8001),
			wantMGID: "ff12:601b:8001:9abc:0:0:0:2",
			wantAddr: "00:ff:ff:ff:ff:12:60:1b:80:01:9a:bc:00:00:00:00:00:00:00:02",
		},
		{
			name: "scope from broadcast", group: [16]byte{0xff, 0x02, 15: 0xfb}, bcast: bcastScope,
			wantMGID: "ff15:601b:8001:0:0:0:0:fb",
			wantAddr: "00:ff:ff:ff:ff:15:60:1b:80:01:00:00:00:00:00:00:00:00:00:fb",
			noJoin:   true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := IPv6MGID(tc.group, tc.bcast)
			if got := FormatGID(m); got != tc.wantMGID {
				t.Errorf("IPv6MGID = %s, want %s", got, tc.wantMGID)
			}
			if got := MulticastAddr(m).String(); got != tc.wantAddr {
				t.Errorf("MulticastAddr = %s, want %s", got, tc.wantAddr)
			}
			if got := MGIDMatchesBroadcast(m, tc.bcast); got != !tc.noJoin {
				t.Errorf("MGIDMatchesBroadcast = %v, want %v", got, !tc.noJoin)
			}
		})
	}
}

func TestMulticastAddrValid(t *testing.T) {
	bcast := BroadcastAddr(0xffff)
	mgid := func(s string) [16]byte {
		var m [16]byte
		copy(m[:], unhexString(t, s))
		return m
	}
	for _, tc := range []struct {
		name string
		mgid [16]byte
		want bool
	}{
		{"broadcast itself", bcast.GID(), true},
		{"IPv4 group", mgid("ff12 401b ffff 0000 0000 0000 0000 0001"), true},
		{"IPv6 group", mgid("ff12 601b ffff 0000 0000 0000 0000 0001"), true},
		{"byte 2 (signature high) is not compared", mgid("ff12 001b ffff 0000 0000 0000 0000 0001"), true},
		{"bytes 6-15 are not compared", mgid("ff12 401b ffff 1234 5678 9abc def0 1234"), true},
		{"byte 0 differs (not multicast)", mgid("fe12 401b ffff 0000 0000 0000 0000 0001"), false},
		{"flags nibble differs", mgid("ff02 401b ffff 0000 0000 0000 0000 0001"), false},
		{"scope differs", mgid("ff15 401b ffff 0000 0000 0000 0000 0001"), false},
		{"byte 3 (signature low) differs", mgid("ff12 401c ffff 0000 0000 0000 0000 0001"), false},
		{"P_Key high byte differs", mgid("ff12 401b 7fff 0000 0000 0000 0000 0001"), false},
		{"P_Key low byte differs", mgid("ff12 401b fffe 0000 0000 0000 0000 0001"), false},
	} {
		if got := MGIDMatchesBroadcast(tc.mgid, bcast); got != tc.want {
			t.Errorf("%s: MGIDMatchesBroadcast(%s) = %v, want %v", tc.name, FormatGID(tc.mgid), got, tc.want)
		}
	}

	// On hardware addresses, bytes 0-3 count too.
	for _, tc := range []struct {
		name string
		addr HWAddr
		want bool
	}{
		{"multicast address", MulticastAddr(IPv4MGID([4]byte{224, 0, 0, 1}, bcast)), true},
		{"flags byte set", NewHWAddr(0x80, MulticastQPN, IPv4MGID([4]byte{224, 0, 0, 1}, bcast)), false},
		{"QPN not multicast", NewHWAddr(0, 0xfffffe, IPv4MGID([4]byte{224, 0, 0, 1}, bcast)), false},
		{"unicast", hwA, false},
		{"other partition", MulticastAddr(IPv4MGID([4]byte{224, 0, 0, 1}, BroadcastAddr(0x8001))), false},
	} {
		if got := MulticastAddrValid(tc.addr, bcast); got != tc.want {
			t.Errorf("%s: MulticastAddrValid(%s) = %v, want %v", tc.name, tc.addr, got, tc.want)
		}
	}
}

func TestFormatGID(t *testing.T) {
	for _, tc := range []struct {
		gid  [16]byte
		want string
	}{
		{BroadcastAddr(0xffff).GID(), "ff12:401b:ffff:0:0:0:ffff:ffff"},
		{gidA, "fe80:0:0:0:2:c903:b:3b51"},
		{[16]byte{}, "0:0:0:0:0:0:0:0"},
		{[16]byte{0x00, 0x10, 0x01, 0x00, 0x10, 0x00, 0x00, 0x01, 0xab, 0xcd}, "10:100:1000:1:abcd:0:0:0"},
		{[16]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
	} {
		if got := FormatGID(tc.gid); got != tc.want {
			t.Errorf("FormatGID(% x) = %q, want %q", tc.gid, got, tc.want)
		}
	}
}

func TestInterfaceID(t *testing.T) {
	for _, tc := range []struct {
		guid, want [8]byte
	}{
		{hwA.GUID(), [8]byte{0x02, 0x02, 0xc9, 0x03, 0x00, 0x0b, 0x3b, 0x51}},
		{[8]byte{0x02, 0x02, 0xc9, 0x03, 0x00, 0x0b, 0x3b, 0x51}, [8]byte{0x02, 0x02, 0xc9, 0x03, 0x00, 0x0b, 0x3b, 0x51}}, // OR, not XOR
		{[8]byte{0x01, 1, 2, 3, 4, 5, 6, 7}, [8]byte{0x03, 1, 2, 3, 4, 5, 6, 7}},
		{[8]byte{0xfc, 0xff}, [8]byte{0xfe, 0xff}},
	} {
		if got := InterfaceID(tc.guid); got != tc.want {
			t.Errorf("InterfaceID(% x) = % x, want % x", tc.guid, got, tc.want)
		}
	}
	// The fixtures' link-local address is fe80:: + InterfaceID(GUID).
	id := InterfaceID(hwA.GUID())
	if [8]byte(v6A[8:]) != id {
		t.Errorf("v6A interface ID % x, want % x", v6A[8:], id)
	}
}
