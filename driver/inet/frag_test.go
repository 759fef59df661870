package inet

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver/header"
)

var (
	frag4Src = [4]byte{10, 0, 0, 1}
	frag4Dst = [4]byte{10, 0, 0, 2}
)

// rawFragment4 builds a fragment of datagram id's at off with MF more,
// over data: an ICMP datagram's piece from frag4Src to frag4Dst.
func rawFragment4(t *testing.T, id uint16, off int, more bool, data []byte) header.IPv4 {
	t.Helper()
	b := make([]byte, header.IPv4MinHeaderLen+len(data))
	f := header.IPv4Fields{TotalLength: uint16(len(b)), ID: id, FragmentOffset: uint16(off), TTL: 64,
		Protocol: header.ProtocolICMPv4, Src: frag4Src, Dst: frag4Dst}
	if more {
		f.Flags = header.IPv4FlagMoreFragments
	}
	if off&7 != 0 || off > 0xfff8 || len(b) > 0xffff || header.EncodeIPv4(b, f) == 0 {
		t.Fatalf("fragment at %d with %d bytes", off, len(data))
	}
	copy(b[header.IPv4MinHeaderLen:], data)
	return header.IPv4(b)
}

// datagram4 is the datagram rawFragment4's pieces of data reassemble to.
func datagram4(t *testing.T, id uint16, data []byte) header.IPv4 {
	t.Helper()
	ip := rawFragment4(t, id, 0, false, data)
	ip.SetChecksum(ip.CalculateChecksum())
	return ip
}

// counting is n bytes that differ from their neighbours.
func counting(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

// checkFragMem fails unless the stack's fragment memory is what its
// queues are charged.
func checkFragMem(t *testing.T, s *Stack) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	sum4, sum6 := 0, 0
	for _, r := range s.reasm {
		sum4 += r.mem
	}
	for _, q := range s.reasm6 {
		sum6 += q.mem
	}
	if s.frag4Mem != sum4 || s.frag6Mem != sum6 {
		t.Fatalf("fragment memory %d/%d, queues hold %d/%d", s.frag4Mem, s.frag6Mem, sum4, sum6)
	}
}

// fragment4 cuts a datagram as ip_fragment's slow path does
// (net/ipv4/ip_output.c ip_fragment, ip_frag_next): each fragment but
// the last carries (mtu − 20) &^ 7 bytes with MF set, the last the rest;
// each copies the datagram's TOS, ID, TTL, protocol and addresses. A
// payload that is a multiple of that chunk ends with a full fragment,
// no empty one after it.
func TestFragment4SizesAndOffsets(t *testing.T) {
	type frag struct {
		off, n int
		more   bool
	}
	for _, tc := range []struct {
		name         string
		payload, mtu int
		want         []frag
	}{
		{"ping -s 4000 at 2044", 4008, 2044, []frag{{0, 2024, true}, {2024, 1984, false}}},
		{"one byte over 2044", 2025, 2044, []frag{{0, 2024, true}, {2024, 1, false}}},
		{"exact multiple", 2024 * 2, 2044, []frag{{0, 2024, true}, {2024, 2024, false}}},
		{"chunk rounded down to 8", 1000, 531, []frag{{0, 504, true}, {504, 496, false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := counting(tc.payload)
			ip := rawFragment4(t, 0x4242, 0, false, data)
			ip[1] = 0x10 // TOS
			ip.SetChecksum(ip.CalculateChecksum())
			var got []frag
			total := 0
			for i, b := range fragment4(ip, tc.mtu) {
				if header.IPoIB(b).Type() != header.EtherTypeIPv4 {
					t.Fatalf("fragment %d: ethertype %#x", i, header.IPoIB(b).Type())
				}
				f := header.IPv4(b[header.IPoIBHeaderLen:])
				if !f.Valid() || !f.IsChecksumValid() || int(f.TotalLength()) != len(f) || len(f) > tc.mtu ||
					f.TOS() != 0x10 || f.ID() != 0x4242 || f.TTL() != 64 || f.Protocol() != header.ProtocolICMPv4 ||
					f.SourceAddress() != frag4Src || f.DestinationAddress() != frag4Dst || f.DontFragment() {
					t.Fatalf("fragment %d: bad header % x", i, f[:header.IPv4MinHeaderLen])
				}
				off := int(f.FragmentOffset())
				if off+len(f.Payload()) > len(data) || !bytes.Equal(f.Payload(), data[off:off+len(f.Payload())]) {
					t.Fatalf("fragment %d at %d: data differs", i, off)
				}
				got = append(got, frag{off, len(f.Payload()), f.MoreFragments()})
				total += len(f.Payload())
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) || total != tc.payload {
				t.Fatalf("fragments %v, want %v", got, tc.want)
			}
		})
	}
}

func TestReassemble4(t *testing.T) {
	data := counting(4000)
	frag := func(off, end int, more bool) header.IPv4 { return rawFragment4(t, 9, off, more, data[off:end]) }
	in := []header.IPv4{frag(0, 1992, true), frag(1992, 3984, true), frag(3984, 4000, false)}
	// data[:1000], then 100 bytes of another fragment
	cut := append(append([]byte(nil), data[:1000]...), bytes.Repeat([]byte{0xee}, 100)...)
	tests := []struct {
		name  string
		steps []header.IPv4 // fed in order; only the last may complete the datagram
		want  header.IPv4   // what the last step returns
		left  int           // queues pending afterwards
	}{
		{"in order", []header.IPv4{in[0], in[1], in[2]}, datagram4(t, 9, data), 0},
		{"reversed", []header.IPv4{in[2], in[1], in[0]}, datagram4(t, 9, data), 0},
		{"duplicate ignored", []header.IPv4{in[0], in[0], in[1], in[1], in[2]}, datagram4(t, 9, data), 0},
		{"inside a run ignored", []header.IPv4{in[0], in[1], frag(8, 16, true), in[2]}, datagram4(t, 9, data), 0},
		{"missing middle", []header.IPv4{in[0], in[2]}, nil, 1},
		{"another identification", []header.IPv4{in[0], in[1], rawFragment4(t, 10, 3984, false, data[3984:])}, nil, 2},
		// overlaps drop the datagram (inet_frag_queue_insert); what comes
		// after starts a new queue that cannot complete
		{"overlap at the tail", []header.IPv4{in[0], frag(1984, 3984, true), in[1], in[2]}, nil, 1},
		{"overlap in a gap", []header.IPv4{in[0], in[2], frag(1992, 4000, true), in[1]}, nil, 1},
		{"overlap at the head", []header.IPv4{in[1], frag(0, 2000, true), in[0], in[2]}, nil, 1},
		{"overlap by the last", []header.IPv4{in[0], in[1], frag(3976, 4000, false)}, nil, 0},
		{"overlap of 8 bytes", []header.IPv4{frag(0, 1000, true), rawFragment4(t, 9, 992, false, cut[1000:])}, nil, 0},
		// a last fragment disagreeing about the end drops the datagram
		{"second last with another end", []header.IPv4{in[2], frag(3984, 3992, false), in[0], in[1]}, nil, 1},
		{"last ends before data seen", []header.IPv4{in[1], frag(8, 16, false)}, nil, 0},
		{"data beyond the last", []header.IPv4{in[2], rawFragment4(t, 9, 4000, true, make([]byte, 8))}, nil, 0},
		{"empty fragment", []header.IPv4{in[0], rawFragment4(t, 9, 1992, true, nil)}, nil, 0},
		// ip_frag_queue (net/ipv4/ip_fragment.c) compares a fragment's end
		// with the known end strictly: one that ends there, inside data
		// already seen, is a duplicate, dropped alone
		{"non-last duplicate ending at the end", []header.IPv4{in[2], frag(3992, 4000, true), in[0], in[1]}, datagram4(t, 9, data), 0},
		{"last inside data seen", []header.IPv4{frag(0, 4000, true), frag(3984, 4000, false)}, nil, 1},
		// a second last fragment: with the same end a duplicate, with
		// another the datagram dropped
		{"last twice", []header.IPv4{in[2], in[2], in[0], in[1]}, datagram4(t, 9, data), 0},
		{"second last beyond the end", []header.IPv4{in[0], in[2], rawFragment4(t, 9, 4000, false, make([]byte, 8)), in[1]}, nil, 1},
		// MF set and not a multiple of 8: cut down to one (end &= ~7)
		{"non-last cut to a multiple of 8", []header.IPv4{frag(0, 1999, true), in[1], in[2]}, datagram4(t, 9, data), 0},
		{"cut away the overlap", []header.IPv4{frag(0, 1004, true), rawFragment4(t, 9, 1000, false, cut[1000:])}, datagram4(t, 9, cut), 0},
		{"cut to nothing is empty", []header.IPv4{in[0], frag(1992, 1999, true)}, nil, 0},
		{"cut end beyond the last", []header.IPv4{frag(3984, 4000, false), rawFragment4(t, 9, 3984, true, make([]byte, 31))}, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStack()
			var got header.IPv4
			for i, f := range tc.steps {
				got = s.reassemble(2, f)
				if got != nil && i < len(tc.steps)-1 {
					t.Fatalf("step %d completed the datagram", i)
				}
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("reassembled %d bytes, want %d", len(got), len(tc.want))
			}
			if got != nil && !got.IsChecksumValid() {
				t.Fatal("bad header checksum")
			}
			if n := len(s.reasm); n != tc.left {
				t.Fatalf("%d queues left, want %d", n, tc.left)
			}
			checkFragMem(t, s)
		})
	}
}

// A datagram whose header and data exceed 65535 bytes is dropped with its
// queue once complete (ip_frag_reasm); 65535 exactly is delivered.
func TestReassemble4Oversized(t *testing.T) {
	for _, size := range []int{0xffff - header.IPv4MinHeaderLen, 0xffff - header.IPv4MinHeaderLen + 1, 0xfff8 + 8} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := counting(size)
			s := newTestStack()
			var got header.IPv4
			const chunk = 8192
			for off := 0; off < size; off += chunk {
				end := min(off+chunk, size)
				if end < size && size-end < 8 { // the last fragment starts at most at 0xfff8
					end = size - 8
				}
				got = s.reassemble(2, rawFragment4(t, 1, off, end < size, data[off:end]))
				if end < size && got != nil {
					t.Fatalf("completed at %d", end)
				}
				off = end - chunk
			}
			if want := size+header.IPv4MinHeaderLen <= 0xffff; (got != nil) != want {
				t.Fatalf("delivered = %v, want %v", got != nil, want)
			}
			if got != nil && (int(got.TotalLength()) != len(got) || len(got) != 0xffff) {
				t.Fatalf("total length %d of %d bytes", got.TotalLength(), len(got))
			}
			if len(s.reasm) != 0 || s.frag4Mem != 0 {
				t.Fatalf("%d queues and %d bytes left", len(s.reasm), s.frag4Mem)
			}
		})
	}
}

// Above ipfrag_high_thresh (ip6frag_high_thresh) every fragment is dropped,
// a queue's last included, without evicting anything; the memory comes back
// when the queues expire, and the other family is not affected.
func TestReassemblyMemoryLimit(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		t.Run(map[bool]string{false: "IPv4", true: "IPv6"}[v6], func(t *testing.T) {
			s, clock := newClockedStack()
			data := counting(8000)
			// feed gives fragment [off, off+n) of datagram id to the stack
			// and reports whether it completed it
			feed := func(v6 bool, id, off, n int, more bool) bool {
				if v6 {
					return s.reassemble6(2, rawFragment(t, uint32(id), off, more, data[off:off+n])) != nil
				}
				return s.reassemble(2, rawFragment4(t, uint16(id), off, more, data[off:off+n])) != nil
			}
			mem := func() (int, int) {
				s.mu.Lock()
				defer s.mu.Unlock()
				if v6 {
					return s.frag6Mem, len(s.reasm6)
				}
				return s.frag4Mem, len(s.reasm)
			}
			id := 1
			for ; ; id++ {
				if m, _ := mem(); m > fragHighThresh {
					break
				}
				feed(v6, id, 0, 4000, true)
			}
			full, queues := mem()
			if queues != id-1 || full-fragHighThresh > fragQueueCost+4100 {
				t.Fatalf("%d queues for %d datagrams, %d bytes", queues, id-1, full)
			}
			checkFragMem(t, s)
			// the first datagram's last fragment, and a new datagram
			if feed(v6, 1, 4000, 4000, false) || feed(v6, id, 0, 4000, true) {
				t.Fatal("completed over the limit")
			}
			if m, n := mem(); m != full || n != queues {
				t.Fatalf("over the limit: %d bytes, %d queues, want %d, %d", m, n, full, queues)
			}
			// the other family still reassembles
			if feed(!v6, 1, 0, 4000, true) || !feed(!v6, 1, 4000, 4000, false) {
				t.Fatal("the other family refused")
			}
			clock.Advance(max(reasmTimeout, reasm6Timeout))
			if m, n := mem(); m != 0 || n != 0 {
				t.Fatalf("after expiry: %d bytes, %d queues", m, n)
			}
			if feed(v6, 1, 0, 4000, true) || !feed(v6, 1, 4000, 4000, false) {
				t.Fatal("not reassembled after expiry")
			}
			checkFragMem(t, s)
		})
	}
}

// An IPv4 path MTU learned from "fragmentation needed" is never below
// net.ipv4.route.min_pmtu (552) unless the path MTU in use is
// (__ip_rt_update_pmtu: mtu = min(old_mtu, ip_rt_min_pmtu)), and one
// above the path MTU in use changes nothing.
func TestIPv4PathMTUFloor(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ifMTU   uint32
		linkMax uint32        // the largest packet the link carries to the peer
		after   time.Duration // the clock advanced after the echo
		learned uint32        // then setPMTU's mtu, 0 for none
		want    uint32        // the cached path MTU, 0 for none
		expires time.Duration // its expiry, from the echo
	}{
		{"above the floor", 2044, 1500, 0, 0, 1500, 600 * time.Second},
		{"below the floor", 2044, 300, 0, 0, 552, 600 * time.Second},
		{"at the floor", 2044, 552, 0, 0, 552, 600 * time.Second},
		{"interface below the floor", 500, 300, 0, 0, 500, 600 * time.Second},
		{"a larger one ignored", 2044, 1500, 400 * time.Second, 1800, 1500, 600 * time.Second},
		// __ip_rt_update_pmtu (net/ipv4/route.c) returns only when the
		// old MTU is below the new one: the same one again, with less
		// than half of mtu_expires left, renews the exception
		{"the same one renews it", 2044, 1500, 400 * time.Second, 1500, 1500, 1000 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := resolvedPair(t, false, tc.ifMTU)
			p.la.maxTo = map[header.HWAddr]uint32{hwB: tc.linkMax}
			dst := pairAddr(false, 2)
			echoed := p.clock.Now()
			rep, err := p.a.Echo(EchoRequest{Index: ifA, Src: pairAddr(false, 1), Dst: dst, Ident: 1, Seq: 1,
				Size: int(tc.ifMTU) - 28, PMTUDisc: PMTUDiscDo, Deadline: far()})
			if err != nil || rep != (EchoReply{Status: EchoFragNeeded, From: pairAddr(false, 1), MTU: tc.linkMax}) {
				t.Fatalf("echo: %+v %v", rep, err)
			}
			p.clock.Advance(tc.after)
			if tc.learned != 0 {
				p.a.setPMTU(dst, tc.learned, p.a.mtuTo(dst, tc.ifMTU))
			}
			if mtu, exp, ok := p.a.PathMTU(dst); !ok || mtu != tc.want || !exp.Equal(echoed.Add(tc.expires)) {
				t.Fatalf("path MTU %d until %v %v, want %d until %v", mtu, exp, ok, tc.want, echoed.Add(tc.expires))
			}
		})
	}
}

// The limit is exceeded only above ipfrag_high_thresh: with the memory
// at the threshold exactly, a fragment is still queued
// (net/ipv4/inet_fragment.c inet_frag_find: frag_mem_limit > high_thresh);
// 8 bytes above it, it is dropped.
func TestReassemblyMemoryAtThreshold(t *testing.T) {
	for _, tc := range []struct {
		name string
		v6   bool
		full int // datagrams whose first 4000 bytes fill the memory
		last int // then one whose first fragment of last bytes brings it to the threshold
	}{
		// a queue and its first fragment cost 200 + 20 + n (IPv4), 200 + 48 + n (IPv6)
		{"IPv4", false, 993, fragHighThresh - 993*(220+4000) - 220},
		{"IPv6", true, 987, fragHighThresh - 987*(248+4000) - 248},
	} {
		for _, over := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s over %v", tc.name, over), func(t *testing.T) {
				s := newTestStack()
				data := counting(8000)
				feed := func(id, off, n int, more bool) bool {
					if tc.v6 {
						return s.reassemble6(2, rawFragment(t, uint32(id), off, more, data[off:off+n])) != nil
					}
					return s.reassemble(2, rawFragment4(t, uint16(id), off, more, data[off:off+n])) != nil
				}
				mem := func() int {
					s.mu.Lock()
					defer s.mu.Unlock()
					if tc.v6 {
						return s.frag6Mem
					}
					return s.frag4Mem
				}
				for id := 1; id <= tc.full; id++ {
					feed(id, 0, 4000, true)
				}
				last := tc.last
				if over {
					last += 8 // 8 bytes above the threshold
				}
				feed(tc.full+1, 0, last, true)
				want := fragHighThresh
				if over {
					want += 8
				}
				if m := mem(); m != want {
					t.Fatalf("memory %d, want %d", m, want)
				}
				if done := feed(tc.full+1, last, 8000-last, false); done == over {
					t.Fatalf("completed %v at %d bytes, want %v", done, mem(), !over)
				}
				checkFragMem(t, s)
			})
		}
	}
}
