package header

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func TestChecksumVectors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		data    string
		initial uint16
		want    uint16 // the sum, not complemented
	}{
		// RFC 1071 §3 numerical example: sum ddf2 (checksum 220d).
		{"RFC 1071 example", "00 01 f2 03 f4 f5 f6 f7", 0, 0xddf2},
		// The well-known IPv4 header example (checksum field zero):
		// 192.168.0.1 → 192.168.0.199, checksum b861.
		{"IPv4 header", "45 00 00 73 00 00 40 00 40 11 00 00 c0 a8 00 01 c0 a8 00 c7", 0, ^uint16(0xb861)},
		// The same header with its checksum in place sums to ffff.
		{"IPv4 header verifies", "45 00 00 73 00 00 40 00 40 11 b8 61 c0 a8 00 01 c0 a8 00 c7", 0, 0xffff},
		{"empty", "", 0, 0},
		{"empty keeps initial", "", 0x1234, 0x1234},
		{"odd byte is padded", "01", 0, 0x0100},
		{"odd tail after words", "00 01 02", 0, 0x0201},
		{"end-around carry", "ff ff 00 01", 0, 0x0001},
		{"initial carries", "ff ff", 0x0001, 0x0001},
		{"all ones stays ffff", "ff ff ff ff ff ff ff ff ff ff", 0, 0xffff},
		{"8-byte word carries", "ff ff ff ff ff ff ff ff 00 00 00 00 00 00 00 01", 0, 0x0001},
	} {
		if got := Checksum(unhexString(t, tc.data), tc.initial); got != tc.want {
			t.Errorf("%s: Checksum = %04x, want %04x", tc.name, got, tc.want)
		}
	}
}

// naiveChecksum is RFC 1071's reference loop.
func naiveChecksum(b []byte, initial uint16) uint16 {
	sum := uint32(initial)
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}

func TestChecksumMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 300)
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	ones := make([]byte, 300)
	for i := range ones {
		ones[i] = 0xff
	}
	for _, b := range [][]byte{buf, ones} {
		for start := 0; start < 9; start++ {
			for end := start; end <= len(b); end++ {
				for _, initial := range []uint16{0, 1, 0xfffe, 0xffff} {
					if got, want := Checksum(b[start:end], initial), naiveChecksum(b[start:end], initial); got != want {
						t.Fatalf("Checksum(b[%d:%d], %#x) = %04x, naive %04x", start, end, initial, got, want)
					}
				}
			}
		}
	}
}

// Long buffers, where the sum runs 32 bytes at a time, sum as the
// naive loop does, the largest words included.
func TestChecksumLong(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	random := make([]byte, 65535)
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	ones := bytes.Repeat([]byte{0xff}, 65535)
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"random 64 KiB", random}, {"random 64 KiB from byte 3", random[3:]}, {"random 33 bytes", random[:33]},
		{"64 KiB of 0xff", ones}, {"64 KiB of 0xff but one byte", ones[1:]},
	} {
		for _, initial := range []uint16{0, 0xffff} {
			if got, want := Checksum(c.b, initial), naiveChecksum(c.b, initial); got != want {
				t.Errorf("%s, initial %#x: %04x, naive %04x", c.name, initial, got, want)
			}
		}
	}
}

func TestPseudoHeaderChecksum(t *testing.T) {
	if got := PseudoHeaderChecksumV4(ProtocolUDP, v4A, v4B, 100); got != 0x1478 {
		t.Errorf("PseudoHeaderChecksumV4 = %04x, want 1478", got)
	}
	if got := PseudoHeaderChecksumV6(ProtocolICMPv6, v6A, v6B, 100); got != 0x0a65 {
		t.Errorf("PseudoHeaderChecksumV6 = %04x, want 0a65", got)
	}
	if got := ChecksumCombine(0xffff, 0x0001); got != 0x0001 {
		t.Errorf("ChecksumCombine(ffff, 1) = %04x, want 0001", got)
	}
}
