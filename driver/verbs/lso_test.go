package verbs

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"

	"github.com/ibctl/ibctl/driver/header"
	"golang.org/x/sys/unix"
)

const (
	tcpACK = 0x10
	tcpPSH = header.TCPFlagPSH
	tcpFIN = header.TCPFlagFIN
	tcpCWR = header.TCPFlagCWR
)

// lsoHeader is an LSO header as IPoIB posts one: the encapsulation
// header, IPv4 (ID 100) or IPv6, and a 32-byte TCP header with sequence
// number 1000 and flags, its lengths those of a segment of payload
// bytes and its checksum field left partial (garbage to the engine).
func lsoHeader(v6 bool, flags uint8, payload int) []byte {
	ipLen, typ := 20, header.EtherTypeIPv4
	if v6 {
		ipLen, typ = 40, header.EtherTypeIPv6
	}
	h := make([]byte, header.IPoIBHeaderLen+ipLen+32)
	header.IPoIB(h).Encode(typ)
	ip := h[header.IPoIBHeaderLen:]
	if v6 {
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], uint16(32+payload))
		ip[6], ip[7] = header.ProtocolTCP, 64
		s, d := netip.MustParseAddr("fd00::1").As16(), netip.MustParseAddr("fd00::2").As16()
		copy(ip[8:], s[:])
		copy(ip[24:], d[:])
	} else {
		header.EncodeIPv4(ip, header.IPv4Fields{TotalLength: uint16(20 + 32 + payload), ID: 100, TTL: 64,
			Protocol: header.ProtocolTCP, Flags: header.IPv4FlagDontFragment, Src: [4]byte{10, 0, 0, 1}, Dst: [4]byte{10, 0, 0, 2}})
	}
	tcp := ip[ipLen:]
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], 5201)
	binary.BigEndian.PutUint32(tcp[4:], 1000)
	binary.BigEndian.PutUint32(tcp[8:], 777)
	tcp[12], tcp[13] = 8<<4, flags
	binary.BigEndian.PutUint16(tcp[14:], 512)
	binary.BigEndian.PutUint16(tcp[16:], 0xbeef)
	copy(tcp[20:], []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2})
	return h
}

// withoutTCPOptions is an lsoHeader cut to a 20-byte TCP header, with
// the IP length fields to match.
func withoutTCPOptions(h []byte) []byte {
	ip := h[header.IPoIBHeaderLen:]
	ipLen, _, _ := header.TCPHeaderLens(ip)
	out := append([]byte(nil), h[:header.IPoIBHeaderLen+ipLen+20]...)
	ip = out[header.IPoIBHeaderLen:]
	ip[ipLen+12] = 5 << 4
	if ipLen == 20 {
		binary.BigEndian.PutUint16(ip[2:], binary.BigEndian.Uint16(ip[2:])-12)
	} else {
		binary.BigEndian.PutUint16(ip[4:], binary.BigEndian.Uint16(ip[4:])-12)
	}
	return out
}

// checkSegment fails unless a datagram is the LSO header's segment i of
// the payload cut at mss: the same encapsulation header, options and
// ports, the sequence number, ID, flags and payload of its place, and
// lengths and checksums that verify when recomputed here.
func checkSegment(t *testing.T, what string, got, hdr, payload []byte, i, mss int) {
	t.Helper()
	ip := got[header.IPoIBHeaderLen:]
	ipLen, tcpLen, ok := header.TCPHeaderLens(ip)
	if !ok || string(got[:header.IPoIBHeaderLen]) != string(hdr[:header.IPoIBHeaderLen]) {
		t.Fatalf("%s: datagram %d is not IPoIB TCP: %x", what, i, got)
	}
	off, end := i*mss, min((i+1)*mss, len(payload))
	if string(ip[ipLen+tcpLen:]) != string(payload[off:end]) {
		t.Errorf("%s: datagram %d: %d bytes of payload, not bytes %d to %d", what, i, len(ip)-ipLen-tcpLen, off, end)
	}
	orig := hdr[header.IPoIBHeaderLen:]
	if string(ip[ipLen+20:ipLen+tcpLen]) != string(orig[ipLen+20:]) || string(ip[ipLen:ipLen+4]) != string(orig[ipLen:ipLen+4]) {
		t.Errorf("%s: datagram %d: ports or options changed", what, i)
	}
	if seq := binary.BigEndian.Uint32(ip[ipLen+4:]); seq != 1000+uint32(off) {
		t.Errorf("%s: datagram %d: seq %d, want %d", what, i, seq, 1000+off)
	}
	flags := orig[ipLen+13]
	if i > 0 {
		flags &^= tcpCWR
	}
	if end < len(payload) {
		flags &^= tcpFIN | tcpPSH
	}
	if ip[ipLen+13] != flags {
		t.Errorf("%s: datagram %d: flags %#x, want %#x", what, i, ip[ipLen+13], flags)
	}
	var sum uint16
	if ipLen == 20 {
		v4 := header.IPv4(ip)
		if v4.ID() != 100+uint16(i) || int(v4.TotalLength()) != len(ip) || !v4.IsChecksumValid() {
			t.Errorf("%s: datagram %d: ID %d, length %d of %d, header checksum valid %v", what, i, v4.ID(), v4.TotalLength(), len(ip), v4.IsChecksumValid())
		}
		sum = header.PseudoHeaderChecksumV4(header.ProtocolTCP, v4.SourceAddress(), v4.DestinationAddress(), uint16(len(ip)-ipLen))
	} else {
		v6 := header.IPv6(ip)
		if int(v6.PayloadLength()) != len(ip)-40 {
			t.Errorf("%s: datagram %d: payload length %d of %d", what, i, v6.PayloadLength(), len(ip)-40)
		}
		sum = header.PseudoHeaderChecksumV6(header.ProtocolTCP, v6.SourceAddress(), v6.DestinationAddress(), uint32(len(ip)-ipLen))
	}
	if header.Checksum(ip[ipLen:], sum) != 0xffff {
		t.Errorf("%s: datagram %d: TCP checksum does not verify", what, i)
	}
}

// An LSO work request goes as one UD datagram per MSS of its data, each
// the header fixed up for its place (tcp_gso_segment's rules), and
// completes once; the receiver completes each datagram.
func TestUDLSO(t *testing.T) {
	for _, c := range []struct {
		name    string
		v6      bool
		flags   uint8
		sgl     []int // the data's SGEs
		mss     int
		packets int
		noOpts  bool // a TCP header without options: the shortest LSO header
	}{
		{"short last", false, tcpACK | tcpPSH | tcpCWR, []int{5000}, 1400, 4, false},
		{"exact multiple", false, tcpACK | tcpFIN | tcpPSH, []int{2800}, 1400, 2, false},
		{"one datagram", false, tcpACK | tcpPSH | tcpCWR, []int{900}, 1400, 1, false},
		{"no data", false, tcpACK | tcpFIN, nil, 1400, 1, false},
		{"ipv6", true, tcpACK | tcpPSH | tcpCWR, []int{5000}, 1400, 4, false},
		{"split SGL", false, tcpACK | tcpPSH, []int{700, 1500, 1}, 1000, 3, false},
		{"header and mss fill the MTU", false, tcpACK, []int{4000}, 2048 - 56, 3, false},
		{"no TCP options", false, tcpACK | tcpPSH, []int{3000}, 1400, 3, true},
		{"ipv6 no TCP options", true, tcpACK | tcpPSH, []int{3000}, 1400, 3, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFabric(t, fabricOpts{mtu: MTU2048})
			s := newEnd(t, f.a, endOpts{typ: UD, sigAll: true})
			r := newEnd(t, f.b, endOpts{typ: UD})
			udRTS(t, s.qp, 0)
			udRTS(t, r.qp, 0)
			var payload []byte
			var sgl [][]byte
			for i, n := range c.sgl {
				b := pattern(n, byte(i+1))
				sgl = append(sgl, b)
				payload = append(payload, b...)
			}
			hdr := lsoHeader(c.v6, c.flags, len(payload))
			if c.noOpts {
				hdr = withoutTCPOptions(hdr)
			}
			hdrCopy := append([]byte(nil), hdr...)
			bufs := make([][]byte, c.packets+1)
			for i := range bufs {
				bufs[i] = make([]byte, 40+2048)
				if err := r.qp.PostRecv(&RecvWR{WRID: uint64(100 + i), SGL: [][]byte{bufs[i]}}); err != nil {
					t.Fatal(err)
				}
			}
			ah := AH{DLID: lidB, DestQPN: r.qp.Num(), QKey: qkey}
			if err := s.qp.PostSend(&SendWR{WRID: 5, Opcode: WRLSO, Header: hdr, MSS: c.mss, SGL: sgl, AH: ah}); err != nil {
				t.Fatal(err)
			}
			wantSend := []WC{{WRID: 5, Status: WCSuccess, Opcode: WCSend, ByteLen: uint32(len(hdr) + len(payload)), QPNum: s.qp.Num()}}
			if d := diff(wantSend, poll(s, s.scq)); d != "" {
				t.Errorf("send CQ (-want +got):\n%s", d)
			}
			got := poll(r, r.rcq)
			if len(got) != c.packets {
				t.Fatalf("%d receive completions, want %d", len(got), c.packets)
			}
			for i, wc := range got {
				n := min(c.mss, len(payload)-i*c.mss)
				want := WC{WRID: uint64(100 + i), Status: WCSuccess, Opcode: WCRecv, ByteLen: uint32(40 + len(hdr) + n),
					QPNum: r.qp.Num(), SrcQP: s.qp.Num(), SLID: lidA}
				if d := diff(want, wc); d != "" {
					t.Errorf("receive %d (-want +got):\n%s", i, d)
				}
				checkSegment(t, c.name, bufs[i][40:wc.ByteLen], hdr, payload, i, c.mss)
			}
			if string(hdr) != string(hdrCopy) {
				t.Errorf("the posted header was written to")
			}
			if st := f.a.Stats(); st.TxPackets != uint64(c.packets) {
				t.Errorf("TxPackets = %d, want %d", st.TxPackets, c.packets)
			}
		})
	}
}

// An LSO whose header and MSS exceed the port MTU completes with a local
// length error, sending nothing, and the QP goes on; the next WQE is
// sent. A header the engine cannot parse is a local QP operation error.
// Each WQE completes once, after its last datagram.
func TestUDLSOErrors(t *testing.T) {
	f := newFabric(t, fabricOpts{mtu: MTU2048})
	s := newEnd(t, f.a, endOpts{typ: UD, sigAll: true})
	r := newEnd(t, f.b, endOpts{typ: UD})
	udRTS(t, s.qp, 0)
	udRTS(t, r.qp, 0)
	for i := range 8 {
		if err := r.qp.PostRecv(&RecvWR{WRID: uint64(100 + i), SGL: [][]byte{make([]byte, 40+2048)}}); err != nil {
			t.Fatal(err)
		}
	}
	ah := AH{DLID: lidB, DestQPN: r.qp.Num(), QKey: qkey}
	hdr := lsoHeader(false, tcpACK, 3000)
	udp := append([]byte(nil), hdr...)
	udp[header.IPoIBHeaderLen+9] = header.ProtocolUDP
	data := [][]byte{pattern(3000, 1)}
	for _, wr := range []SendWR{
		{WRID: 1, Opcode: WRLSO, Header: hdr, MSS: 2048 - 56 + 1, SGL: data, AH: ah}, // one byte over the MTU
		{WRID: 2, Opcode: WRLSO, Header: hdr, MSS: 1500, SGL: data, AH: ah},
		{WRID: 3, Opcode: WRLSO, Header: udp, MSS: 1500, SGL: data, AH: ah},
		{WRID: 4, Opcode: WRLSO, Header: hdr, MSS: 1000, SGL: data, AH: ah},
	} {
		if err := s.qp.PostSend(&wr); err != nil {
			t.Fatal(err)
		}
	}
	want := []WC{
		{WRID: 1, Status: WCLocLenErr, Opcode: WCSend, ByteLen: 3056, QPNum: s.qp.Num()},
		{WRID: 2, Status: WCSuccess, Opcode: WCSend, ByteLen: 3056, QPNum: s.qp.Num()},
		{WRID: 3, Status: WCLocQPOpErr, Opcode: WCSend, ByteLen: 3056, QPNum: s.qp.Num()},
		{WRID: 4, Status: WCSuccess, Opcode: WCSend, ByteLen: 3056, QPNum: s.qp.Num()},
	}
	if d := diff(want, poll(s, s.scq)); d != "" {
		t.Errorf("send CQ (-want +got):\n%s", d)
	}
	var lens []uint32
	for _, wc := range poll(r, r.rcq) {
		lens = append(lens, wc.ByteLen-40-56)
	}
	if fmt.Sprint(lens) != "[1500 1500 1000 1000 1000]" {
		t.Errorf("received payloads %v, want [1500 1500 1000 1000 1000]", lens)
	}
	if got := s.qp.State(); got != QPRTS {
		t.Errorf("state = %v, want RTS", got)
	}
}

// An LSO is refused at post time on an RC QP, without an MSS and without
// room for its headers.
func TestLSOPostRefused(t *testing.T) {
	f := newFabric(t, fabricOpts{mtu: MTU2048})
	ud := newEnd(t, f.a, endOpts{typ: UD, sigAll: true})
	udRTS(t, ud.qp, 0)
	rc := newEnd(t, f.a, endOpts{typ: RC})
	peer := newEnd(t, f.b, endOpts{typ: RC})
	rcConnect(t, rc.qp, peer.qp, MTU2048, 7)
	hdr := lsoHeader(false, tcpACK, 100)
	data := [][]byte{pattern(100, 1)}
	for _, c := range []struct {
		name string
		qp   *QP
		wr   SendWR
	}{
		{"rc", rc.qp, SendWR{Opcode: WRLSO, Header: hdr, MSS: 1000, SGL: data}},
		{"no mss", ud.qp, SendWR{Opcode: WRLSO, Header: hdr, SGL: data}},
		{"short header", ud.qp, SendWR{Opcode: WRLSO, Header: hdr[:43], MSS: 1000, SGL: data}},
	} {
		err := c.qp.PostSend(&c.wr)
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		wantErrno(t, err, unix.EINVAL)
	}
	if n := len(poll(ud, ud.scq)) + len(poll(rc, rc.scq)); n != 0 {
		t.Errorf("%d completions of refused posts", n)
	}
}
