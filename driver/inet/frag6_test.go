package inet

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/verbs"
)

var (
	frag6Src = netip.MustParseAddr("fd00::1").As16()
	frag6Dst = netip.MustParseAddr("fd00::2").As16()
)

// echo6 is an IPv6 echo request carrying size data bytes counting up.
func echo6(t *testing.T, src, dst [16]byte, size int) header.IPv6 {
	t.Helper()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	b := make([]byte, header.IPv6HeaderLen+header.ICMPv6MinHeaderLen+size)
	if header.EncodeICMPv6Echo(b, header.IPv6Fields{TrafficClass: 0x10, FlowLabel: 0x12345, HopLimit: 64, Src: src, Dst: dst},
		header.ICMPv6EchoRequest, 7, 1, data) == 0 {
		t.Fatal("EncodeICMPv6Echo failed")
	}
	return header.IPv6(b)
}

// fragsOf fragments ip at mtu and strips the encapsulation headers.
func fragsOf(t *testing.T, ip header.IPv6, mtu int, id uint32) []header.IPv6 {
	t.Helper()
	bufs, err := fragment6(ip, mtu, id)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]header.IPv6, len(bufs))
	for i, b := range bufs {
		if header.IPoIB(b).Type() != header.EtherTypeIPv6 {
			t.Fatalf("fragment %d: ethertype %#x", i, header.IPoIB(b).Type())
		}
		out[i] = header.IPv6(b[header.IPoIBHeaderLen:])
	}
	return out
}

func TestFragment6SizesAndOffsets(t *testing.T) {
	type frag struct {
		off, n int
		more   bool
	}
	for _, tc := range []struct {
		name      string
		data, mtu int
		want      []frag
	}{
		// 4000 data bytes: 4008 bytes of ICMPv6 at the 2044 datagram MTU,
		// (2044 − 48) &^ 7 = 1992 per fragment
		{"ping -s 4000 at 2044", 4000, 2044, []frag{{0, 1992, true}, {1992, 1992, true}, {3984, 24, false}}},
		{"one byte over 2044", 1997, 2044, []frag{{0, 1992, true}, {1992, 13, false}}},
		{"minimum MTU", 3000, 1280, []frag{{0, 1232, true}, {1232, 1232, true}, {2464, 544, false}}},
		{"exact multiple", 1992*2 - 8, 2044, []frag{{0, 1992, true}, {1992, 1992, false}}},
		// the smallest MTU ip6_fragment takes: room for 8 bytes of data
		// after the header and the Fragment header (net/ipv6/ip6_output.c)
		{"8 bytes a fragment", 12, 56, []frag{{0, 8, true}, {8, 8, true}, {16, 4, false}}},
		{"UD MTU 4092", 65000, 4092, nil}, // checked by sum below
	} {
		t.Run(tc.name, func(t *testing.T) {
			ip := echo6(t, frag6Src, frag6Dst, tc.data)
			frags := fragsOf(t, ip, tc.mtu, 0xfeedf00d)
			total := 0
			for i, f := range frags {
				fh := header.IPv6Fragment(f.Payload())
				if !f.Valid() || f.NextHeader() != header.ProtocolIPv6Fragment || len(f) > tc.mtu ||
					f.SourceAddress() != frag6Src || f.DestinationAddress() != frag6Dst || f.HopLimit() != 64 ||
					f.TrafficClass() != 0x10 || f.FlowLabel() != 0x12345 {
					t.Fatalf("fragment %d: bad header % x", i, f[:header.IPv6HeaderLen])
				}
				if fh.NextHeader() != header.ProtocolICMPv6 || fh.ID() != 0xfeedf00d || f[header.IPv6HeaderLen+1] != 0 {
					t.Fatalf("fragment %d: bad fragment header % x", i, f[header.IPv6HeaderLen:header.IPv6HeaderLen+8])
				}
				if int(fh.FragmentOffset()) != total || (fh.More() && len(fh.Payload())%8 != 0) || fh.More() != (i < len(frags)-1) {
					t.Fatalf("fragment %d: offset %d len %d more %v", i, fh.FragmentOffset(), len(fh.Payload()), fh.More())
				}
				if !bytes.Equal(fh.Payload(), ip.Payload()[total:total+len(fh.Payload())]) {
					t.Fatalf("fragment %d: data differs", i)
				}
				if tc.want != nil && (i >= len(tc.want) || tc.want[i] != (frag{int(fh.FragmentOffset()), len(fh.Payload()), fh.More()})) {
					t.Fatalf("fragment %d = {%d %d %v}, want %v", i, fh.FragmentOffset(), len(fh.Payload()), fh.More(), tc.want)
				}
				total += len(fh.Payload())
			}
			if (tc.want != nil && len(frags) != len(tc.want)) || total != len(ip.Payload()) {
				t.Fatalf("%d fragments carrying %d bytes, want %d carrying %d", len(frags), total, len(tc.want), len(ip.Payload()))
			}
		})
	}
	var tb TooBig
	if _, err := fragment6(echo6(t, frag6Src, frag6Dst, 100), 55, 1); !errors.As(err, &tb) || tb.TooBigMTU() != 55 {
		t.Fatalf("MTU 55: %v", err)
	}
}

// newClockedStack is a stack whose timers run when the clock is advanced.
func newClockedStack() (*Stack, *verbs.ManualClock) {
	clock := verbs.NewManualClock(start)
	return New(clock), clock
}

// newTestStack is a stack on a clock that does not move.
func newTestStack() *Stack {
	s, _ := newClockedStack()
	return s
}

// rawFragment builds a fragment of datagram id's at off with the M flag more, over data.
func rawFragment(t *testing.T, id uint32, off int, more bool, data []byte) header.IPv6 {
	t.Helper()
	b := make([]byte, header.IPv6HeaderLen+header.IPv6FragmentHeaderLen+len(data))
	header.EncodeIPv6(b, header.IPv6Fields{PayloadLength: uint16(header.IPv6FragmentHeaderLen + len(data)),
		NextHeader: header.ProtocolIPv6Fragment, HopLimit: 64, Src: frag6Src, Dst: frag6Dst})
	if header.EncodeIPv6Fragment(b[header.IPv6HeaderLen:], header.IPv6FragmentFields{NextHeader: header.ProtocolICMPv6,
		Offset: uint16(off), More: more, ID: id}) == 0 {
		t.Fatalf("offset %d", off)
	}
	copy(b[header.IPv6HeaderLen+header.IPv6FragmentHeaderLen:], data)
	return header.IPv6(b)
}

func TestReassemble6(t *testing.T) {
	ip := echo6(t, frag6Src, frag6Dst, 4000)
	frags := fragsOf(t, ip, 2044, 9) // 1992 + 1992 + 24
	data := ip.Payload()
	part := func(off, end int) []byte { return data[off:end] }
	tests := []struct {
		name  string
		steps []header.IPv6 // fed in order; the last one completes the datagram or not
		whole bool          // the last step returns the datagram
		left  int           // queues pending afterwards
	}{
		{"in order", []header.IPv6{frags[0], frags[1], frags[2]}, true, 0},
		{"reversed", []header.IPv6{frags[2], frags[1], frags[0]}, true, 0},
		{"last first", []header.IPv6{frags[2], frags[0], frags[1]}, true, 0},
		{"duplicate ignored", []header.IPv6{frags[0], frags[0], frags[1], frags[1], frags[2]}, true, 0},
		{"missing middle", []header.IPv6{frags[0], frags[2]}, false, 1},
		// RFC 5722: an overlapping fragment drops the datagram; what comes
		// after starts a new queue that cannot complete.
		{"overlap at the tail", []header.IPv6{frags[0], rawFragment(t, 9, 1984, true, part(1984, 3984)), frags[1], frags[2]}, false, 1},
		{"overlap in a gap", []header.IPv6{frags[0], frags[2], rawFragment(t, 9, 1992, true, part(1992, 4000)), frags[1]}, false, 1},
		{"overlap at the head", []header.IPv6{frags[1], rawFragment(t, 9, 0, true, part(0, 2000)), frags[0], frags[2]}, false, 1},
		// a fragment wholly inside what came is a duplicate: dropped, the
		// queue kept
		{"inside a run", []header.IPv6{frags[0], frags[1], rawFragment(t, 9, 8, true, part(8, 16)), frags[2]}, true, 0},
		{"second last with another end", []header.IPv6{frags[2], rawFragment(t, 9, 3984, false, part(3984, 4000)), frags[0], frags[1]}, false, 1},
		{"last ends before data seen", []header.IPv6{frags[1], rawFragment(t, 9, 8, false, part(8, 16))}, false, 0},
		{"data beyond the last", []header.IPv6{frags[2], rawFragment(t, 9, 4008, true, make([]byte, 8))}, false, 0},
		{"empty fragment", []header.IPv6{frags[0], rawFragment(t, 9, 1992, true, nil)}, false, 0},
		// M set and not a multiple of 8: only that fragment is dropped
		{"unaligned fragment dropped", []header.IPv6{frags[0], rawFragment(t, 9, 1992, true, part(1992, 1999)), frags[1], frags[2]}, true, 0},
		{"another identification", []header.IPv6{frags[0], frags[1], fragsOf(t, ip, 2044, 10)[2]}, false, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStack()
			var got header.IPv6
			for i, f := range tc.steps {
				got = s.reassemble6(2, f)
				if got != nil && i < len(tc.steps)-1 {
					t.Fatalf("step %d completed the datagram", i)
				}
			}
			if (got != nil) != tc.whole {
				t.Fatalf("completed = %v", got != nil)
			}
			if got != nil && !bytes.Equal(got, ip) {
				t.Fatalf("reassembled\n% x\nwant\n% x", got[:64], ip[:64])
			}
			if n := len(s.reasm6); n != tc.left {
				t.Fatalf("%d queues left, want %d", n, tc.left)
			}
		})
	}
}

// A datagram whose fragments end at 65535 bytes, the largest payload
// length (IPV6_MAXPLEN), reassembles; a fragment that ends beyond it is
// dropped alone (ip6_frag_queue's "(unsigned int)end > IPV6_MAXPLEN",
// net/ipv6/reassembly.c), the queue left to expire.
func TestReassemble6MaxPayload(t *testing.T) {
	for _, size := range []int{0xffff, 0xffff + 1} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := counting(size)
			s := newTestStack()
			var got header.IPv6
			bounds := []int{0, 8192, 16384, 24576, 32768, 40960, 49152, 57344, 0xfff8, size}
			for i := 0; i < len(bounds)-1; i++ {
				off, end := bounds[i], bounds[i+1]
				got = s.reassemble6(2, rawFragment(t, 3, off, end < size, data[off:end]))
				if end < size && got != nil {
					t.Fatalf("completed at %d", end)
				}
			}
			if want := size <= 0xffff; (got != nil) != want {
				t.Fatalf("delivered = %v, want %v", got != nil, want)
			}
			if got != nil && (int(got.PayloadLength()) != size || !bytes.Equal(got.Payload(), data)) {
				t.Fatalf("payload length %d of %d bytes", got.PayloadLength(), len(got.Payload()))
			}
			if n, left := len(s.reasm6), map[bool]int{true: 0, false: 1}[got != nil]; n != left {
				t.Fatalf("%d queues left, want %d", n, left)
			}
			checkFragMem(t, s)
		})
	}
}

// An atomic fragment (offset 0, M clear) is the whole packet, processed
// without a queue.
func TestReassemble6AtomicFragment(t *testing.T) {
	ip := echo6(t, frag6Src, frag6Dst, 100)
	s := newTestStack()
	got := s.reassemble6(2, rawFragment(t, 11, 0, false, ip.Payload()))
	if !got.Valid() || got.NextHeader() != header.ProtocolICMPv6 || !bytes.Equal(got.Payload(), ip.Payload()) ||
		got.SourceAddress() != frag6Src || len(s.reasm6) != 0 {
		t.Fatalf("atomic fragment: % x", got)
	}
}

func TestReassemble6Timeout(t *testing.T) {
	ip := echo6(t, frag6Src, frag6Dst, 4000)
	frags := fragsOf(t, ip, 2044, 9)
	for _, tc := range []struct {
		wait  time.Duration
		whole bool
	}{
		{60*time.Second - time.Nanosecond, true},
		{60 * time.Second, false}, // ip6frag_time: the queue expired, the rest starts anew
	} {
		t.Run(fmt.Sprint(tc.wait), func(t *testing.T) {
			s, clock := newClockedStack()
			s.reassemble6(2, frags[0])
			s.reassemble6(2, frags[1])
			clock.Advance(tc.wait)
			if got := s.reassemble6(2, frags[2]); (got != nil) != tc.whole {
				t.Fatalf("completed = %v", got != nil)
			}
			if !tc.whole && len(s.reasm6) != 1 {
				t.Fatalf("%d queues", len(s.reasm6))
			}
		})
	}
}

// Link-local destinations are keyed by interface too (frag_v6_compare_key).
func TestReassemble6LinkLocalKeyedByInterface(t *testing.T) {
	src, dst := netip.MustParseAddr("fe80::1").As16(), netip.MustParseAddr("fe80::2").As16()
	ip := echo6(t, src, dst, 3000)
	frags := fragsOf(t, ip, 2044, 5)
	s := newTestStack()
	s.reassemble6(2, frags[0])
	if got := s.reassemble6(4, frags[1]); got != nil || len(s.reasm6) != 2 {
		t.Fatalf("fragments of two interfaces mixed: %v, %d queues", got != nil, len(s.reasm6))
	}
	if got := s.reassemble6(2, frags[1]); !bytes.Equal(got, ip) {
		t.Fatal("not reassembled on interface 2")
	}
}

// An IPv6 echo larger than the 2044-byte MTU goes in fragments both ways
// and is reassembled at both ends; -M do refuses it with the path MTU
// and -M dont fragments what is one byte over.
func TestEchoIPv6Fragmented(t *testing.T) {
	p := resolvedPair(t, true, 2044)
	dst := pairAddr(true, 2)
	echo := func(seq uint16, size int, disc PMTUDisc) EchoReply {
		t.Helper()
		rep, err := p.a.Echo(EchoRequest{Index: ifA, Src: pairAddr(true, 1), Dst: dst, Ident: 1, Seq: seq, Size: size, PMTUDisc: disc, Deadline: far()})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := echo(2, 4000, PMTUDiscDont); rep.Status != EchoReplied || rep.Bytes != 4008 || rep.TTL != 64 || rep.From != dst {
		t.Fatalf("4000 bytes = %+v", rep)
	}
	// three fragments each way: two of 2040 bytes (1992 of data) and one
	// of 72, each with the 4-byte encapsulation header
	for _, l := range []*fakeLink{p.la, p.lb} {
		if got, want := sizes(l.take()), []int{2044, 2044, 76}; !equalInts(got, want) {
			t.Fatalf("sent %v, want %v", got, want)
		}
	}
	if queues(p.a, true) != 0 || queues(p.b, true) != 0 {
		t.Fatalf("reassembly queues left: %d, %d", queues(p.a, true), queues(p.b, true))
	}
	checkFragMem(t, p.a)
	checkFragMem(t, p.b)
	if rep := echo(3, 4000, PMTUDiscDo); rep != (EchoReply{Status: EchoTooLong, MTU: 2044}) {
		t.Fatalf("-M do = %+v", rep)
	}
	samePackets(t, "-M do", p.la.take(), nil)
	if rep := echo(4, 1996, PMTUDiscDo); rep.Status != EchoReplied || rep.Bytes != 2004 {
		t.Fatalf("1996 bytes (2044 on the wire), -M do = %+v", rep)
	}
	if got := sizes(p.la.take()); !equalInts(got, []int{2048}) {
		t.Fatalf("1996 bytes sent as %v", got)
	}
	if rep := echo(5, 1997, PMTUDiscDont); rep.Status != EchoReplied || rep.Bytes != 2005 {
		t.Fatalf("1997 bytes, -M dont = %+v", rep)
	}
	if got := sizes(p.la.take()); !equalInts(got, []int{2044, 4 + 48 + 13}) {
		t.Fatalf("1997 bytes sent as %v", got)
	}
}

// A peer reached over a link that refuses packets larger than 2044 bytes
// (a UD peer of a connected-mode interface): the first large echo gets the
// link's "packet too big", after which the path MTU is 2044 for 600 s
// (net.ipv6.route.mtu_expires) and echoes are fragmented to it.
func TestEchoIPv6PathMTU(t *testing.T) {
	p := resolvedPair(t, true, 65520)
	p.la.maxTo = map[header.HWAddr]uint32{hwB: 2044}
	dst := pairAddr(true, 2)
	echo := func(seq uint16, size int, disc PMTUDisc) EchoReply {
		t.Helper()
		rep, err := p.a.Echo(EchoRequest{Index: ifA, Src: pairAddr(true, 1), Dst: dst, Ident: 1, Seq: seq, Size: size, PMTUDisc: disc, Deadline: far()})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if _, _, ok := p.a.PathMTU(dst); ok {
		t.Fatal("path MTU before the echo")
	}
	if rep := echo(1, 4000, PMTUDiscWant); rep != (EchoReply{Status: EchoFragNeeded, From: pairAddr(true, 1), MTU: 2044}) {
		t.Fatalf("first 4000 bytes: %+v", rep)
	}
	if _, _, refused := p.la.counters(); refused != 1 {
		t.Fatalf("%d refused, want 1", refused)
	}
	pmtu := func(mtu uint32, left time.Duration) {
		t.Helper()
		got, exp, ok := p.a.PathMTU(dst)
		if ok != (mtu != 0) || got != mtu || (ok && exp.Sub(p.clock.Now()) != left) {
			t.Fatalf("path MTU %d %v expires in %v; want %d in %v", got, ok, exp.Sub(p.clock.Now()), mtu, left)
		}
	}
	pmtu(2044, 600*time.Second)
	if rep := echo(2, 4000, PMTUDiscWant); rep.Status != EchoReplied || rep.Bytes != 4008 {
		t.Fatalf("4000 bytes at the path MTU: %+v", rep)
	}
	if got := sizes(p.la.take()); !equalInts(got, []int{2044, 2044, 76}) {
		t.Fatalf("sent %v, want 3 fragments", got)
	}
	if rep := echo(3, 4000, PMTUDiscDo); rep != (EchoReply{Status: EchoTooLong, MTU: 2044}) {
		t.Fatalf("-M do at the path MTU: %+v", rep)
	}
	p.clock.Advance(599 * time.Second)
	pmtu(2044, time.Second)
	p.clock.Advance(time.Second)
	pmtu(0, 0)
	// the interface MTU (65520) applies again: sent whole, too big
	if rep := echo(4, 4000, PMTUDiscDo); rep != (EchoReply{Status: EchoFragNeeded, From: pairAddr(true, 1), MTU: 2044}) {
		t.Fatalf("-M do after expiry: %+v", rep)
	}
	pmtu(2044, 600*time.Second)
	// an IPv6 path MTU is never below 1280
	p.a.setPMTU(dst, 1000, 2044)
	pmtu(1280, 600*time.Second)
}
