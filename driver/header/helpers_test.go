package header

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

// Fixtures shared by the tests. The expected byte strings in the tests were
// computed by an independent implementation (a short Python script written
// from the RFCs), not by this package.
var (
	gidA = [16]byte{0xfe, 0x80, 9: 0x02, 10: 0xc9, 11: 0x03, 12: 0x00, 13: 0x0b, 14: 0x3b, 15: 0x51}
	gidB = [16]byte{0xfe, 0x80, 9: 0x02, 10: 0xc9, 11: 0x03, 12: 0x00, 13: 0x0b, 14: 0x3b, 15: 0x52}
	// hwA is the reference's example address:
	// 80:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0b:3b:51.
	hwA = NewHWAddr(HWFlagConnected, 0x000208, gidA)
	hwB = NewHWAddr(0, 0x000449, gidB)

	v4A = [4]byte{10, 0, 0, 1}
	v4B = [4]byte{10, 0, 0, 2}
	// v6A and v6B are the link-local addresses of the GUIDs of gidA and
	// gidB (fe80::202:c903:b:3b51, fe80::202:c903:b:3b52).
	v6A = [16]byte{0xfe, 0x80, 8: 0x02, 9: 0x02, 10: 0xc9, 11: 0x03, 12: 0x00, 13: 0x0b, 14: 0x3b, 15: 0x51}
	v6B = [16]byte{0xfe, 0x80, 8: 0x02, 9: 0x02, 10: 0xc9, 11: 0x03, 12: 0x00, 13: 0x0b, 14: 0x3b, 15: 0x52}
)

// unhexString decodes hex written with optional spaces, colons or newlines.
func unhexString(t testing.TB, s string) []byte {
	t.Helper()
	s = strings.NewReplacer(" ", "", ":", "", "\n", "", "\t", "").Replace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

func checkBytes(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s:\n got % x\nwant % x", what, got, want)
	}
}

// filled returns n bytes of 0xee, so that tests see every byte an encoder
// is supposed to write.
func filled(n int) []byte { return bytes.Repeat([]byte{0xee}, n) }

// pattern returns n bytes counting up from 0.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// udp4Packet builds the 4092-byte IPv4/UDP packet the ICMP tests report:
// ID 0xbeef, DF, TTL 64, 10.0.0.1 → 10.0.0.2, ports 40000 → 5001, UDP
// checksum 0, payload counting up from 0.
func udp4Packet(t testing.TB, tos uint8) []byte {
	t.Helper()
	p := make([]byte, 4092)
	EncodeIPv4(p, IPv4Fields{TOS: tos, TotalLength: 4092, ID: 0xbeef, Flags: IPv4FlagDontFragment, TTL: 64, Protocol: ProtocolUDP, Src: v4A, Dst: v4B})
	copy(p[20:], []byte{0x9c, 0x40, 0x13, 0x89, 0x0f, 0xe8, 0, 0})
	copy(p[28:], pattern(4092-28))
	return p
}

// udp6Packet builds an IPv6/UDP packet of n bytes from v6A to v6B, hop
// limit 64, ports 40000 → 5001, UDP checksum 0, payload counting up.
func udp6Packet(t testing.TB, n int) []byte {
	t.Helper()
	p := make([]byte, n)
	EncodeIPv6(p, IPv6Fields{PayloadLength: uint16(n - 40), NextHeader: ProtocolUDP, HopLimit: 64, Src: v6A, Dst: v6B})
	copy(p[40:], []byte{0x9c, 0x40, 0x13, 0x89, byte((n - 40) >> 8), byte(n - 40), 0, 0})
	copy(p[48:], pattern(n-48))
	return p
}
