package header

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"testing"
)

func udPacket() *IBPacket {
	return &IBPacket{SLID: 1, DLID: 3, Opcode: OpUDSendOnly, PKey: 0xffff, DestQP: 0x48, PSN: 7,
		QKey: 0xb1b, SrcQP: 0x49, Payload: []byte{0x08, 0x00, 0x00, 0x00, 0x45}}
}

func TestIBPacketLayout(t *testing.T) {
	b := AppendIBPacket(nil, udPacket())
	// LRH 8, BTH 12, DETH 8, payload 5 + pad 3, ICRC 4, VCRC 2
	want := "00020003000a0001" + // VL 0 LVer 0, SL 0 LNH 2, DLID 3, PktLen 10 words, SLID 1
		"6430ffff00000048" + "00000007" + // opcode, PadCnt 3, P_Key, DestQP, PSN
		"00000b1b00000049" + // Q_Key, SrcQP
		"0800000045000000"
	if got := hex.EncodeToString(b[:len(b)-6]); got != want {
		t.Errorf("packet\n got %s\nwant %s", got, want)
	}
	n := len(b)
	if got, want := binary.LittleEndian.Uint32(b[n-6:]), ICRC(b[:n-6], false); got != want {
		t.Errorf("ICRC %08x, want %08x", got, want)
	}
	if got, want := binary.LittleEndian.Uint16(b[n-2:]), VCRC(b[:n-2]); got != want {
		t.Errorf("VCRC %04x, want %04x", got, want)
	}
	// PktLen counts LRH to ICRC
	if words := int(binary.BigEndian.Uint16(b[4:]) & 0x7ff); words*4 != n-2 {
		t.Errorf("PktLen %d words for %d bytes", words, n-2)
	}
	g := udPacket()
	g.GRH, g.DGID = true, [16]byte{0xff, 0x12, 15: 1}
	gb := AppendIBPacket(nil, g)
	if gb[1]&3 != 3 || gb[8]>>4 != 6 || gb[8+6] != 0x1b || binary.BigEndian.Uint16(gb[8+4:]) != uint16(len(gb)-2-8-40) {
		t.Errorf("GRH: % x", gb[:48])
	}
	ack := AppendIBPacket(nil, &IBPacket{SLID: 3, DLID: 1, Opcode: OpRCAck, PKey: 0xffff, DestQP: 0x100, PSN: 9, Syndrome: 0x1f, MSN: 4})
	if got, want := hex.EncodeToString(ack[8:24]), "1100ffff0000010000000009"+"1f000004"; got != want {
		t.Errorf("ACK BTH+AETH %s, want %s", got, want)
	}
}

// TestICRCMasksVariantFields: the ICRC does not change with the LRH, the
// GRH's traffic class, flow label and hop limit or the BTH's resv8a, and
// changes with everything else.
func TestICRCMasksVariantFields(t *testing.T) {
	p := udPacket()
	p.GRH = true
	b := AppendIBPacket(nil, p)
	body := b[:len(b)-6]
	base := ICRC(body, true)
	variant := []int{0, 1, 2, 3, 4, 5, 6, 7, 8 + 0, 8 + 1, 8 + 2, 8 + 3, 8 + 7, 48 + 4}
	isVariant := map[int]bool{}
	for _, i := range variant {
		isVariant[i] = true
	}
	for i := range body {
		c := bytes.Clone(body)
		c[i] ^= 0x01
		if i == 8 { // the low bits of byte 0 of the GRH are the traffic class's
			c[i] ^= 0x03
		}
		if changed := ICRC(c, true) != base; changed == isVariant[i] {
			t.Errorf("byte %d: ICRC changed %t", i, changed)
		}
	}
}

// TestICRCSeed checks the masked LRH against rxe's RoCE ICRC, which
// starts from 0xdebb20e3: the CRC of 8 bytes of ones.
func TestICRCSeed(t *testing.T) {
	ones := bytes.Repeat([]byte{0xff}, 8)
	if got := ^crc32.Update(0, crc32.IEEETable, ones); got != 0xdebb20e3 {
		t.Errorf("CRC of the masked LRH %08x, want 0xdebb20e3", got)
	}
}

// TestVCRC compares the table with the polynomial division done bit by
// bit (x^16 + x^12 + x^3 + x + 1, bits least significant first) and
// checks that any one-bit error is caught.
func TestVCRC(t *testing.T) {
	bitwise := func(b []byte) uint16 {
		c := uint16(0xffff)
		for _, x := range b {
			for i := range 8 {
				in := uint16(x>>i) & 1
				fb := (c ^ in) & 1
				c >>= 1
				if fb != 0 {
					c ^= 0xd008 // 0x100b reversed
				}
			}
		}
		return ^c
	}
	b := AppendIBPacket(nil, udPacket())
	for _, in := range [][]byte{nil, {0}, []byte("123456789"), b} {
		if got, want := VCRC(in), bitwise(in); got != want {
			t.Errorf("VCRC(% x) = %04x, want %04x", in, got, want)
		}
	}
	body := b[:len(b)-2]
	base := VCRC(body)
	for i := range len(body) * 8 {
		c := bytes.Clone(body)
		c[i/8] ^= 1 << (i % 8)
		if VCRC(c) == base {
			t.Fatalf("bit %d flipped: same VCRC", i)
		}
	}
}

// TestVCRCBitOrder pins the VCRC's bit order against Endace's DAG
// library, whose capture cards check the VCRC of the InfiniBand links
// they tap (dagcrc.c, dagcrc_make_infiniband_vcrc_table_r and
// dagcrc_infiniband_vcrc16_r, as in github.com/mgrosvenor/camio1.0
// dag/dagcrc.c): the table of 0x100B reflected (0xD008), bits least
// significant first, the register seeded with 0xFFFF and the result
// inverted. Computed most significant bit first, the CRC of "123456789"
// would differ: 0x0A3D is the reflected one.
func TestVCRCBitOrder(t *testing.T) {
	var table [256]uint16
	for n := range table {
		c := uint16(n)
		for range 8 {
			if c&1 != 0 {
				c = 0xd008 ^ c>>1
			} else {
				c >>= 1
			}
		}
		table[n] = c
	}
	dag := func(crc uint32, buf []byte) uint16 {
		c := uint16(crc ^ 0xffff)
		for _, x := range buf {
			c = table[(c^uint16(x))&0xff] ^ c>>8
		}
		return c ^ 0xffff
	}
	msbFirst := func(buf []byte) uint16 {
		c := uint16(0xffff)
		for _, x := range buf {
			c ^= uint16(x) << 8
			for range 8 {
				if c&0x8000 != 0 {
					c = c<<1 ^ 0x100b
				} else {
					c <<= 1
				}
			}
		}
		return ^c
	}
	tests := []struct {
		in   []byte
		want uint16
	}{
		{[]byte("123456789"), 0x0a3d},
		{AppendIBPacket(nil, udPacket())[:20], 0xf883}, // LRH and BTH
		{nil, 0x0000},
	}
	for _, tt := range tests {
		if got := VCRC(tt.in); got != tt.want || got != dag(0, tt.in) {
			t.Errorf("VCRC(% x) = %04x, want %04x (DAG's %04x)", tt.in, got, tt.want, dag(0, tt.in))
		}
		if len(tt.in) > 0 && msbFirst(tt.in) == tt.want {
			t.Errorf("VCRC(% x): the most significant bit first gives the same %04x", tt.in, tt.want)
		}
	}
}
