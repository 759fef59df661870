package ibctl

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// A capture filter: the subset of pcap-filter(7) that capture knows,
// the protocols arp, rarp, ip, ip6, icmp and icmp6, "host ADDR", and
// their combinations with and/&&, or/||, not/! and parentheses, with
// libpcap's precedence (not binds tightest, and and or are equal and
// left-associative).

// EtherTypes the filter and the printer know.
const (
	etherIPv4 = 0x0800
	etherARP  = 0x0806
	etherRARP = 0x8035
	etherIPv6 = 0x86dd
)

// packetFilter reports whether a packet of the given EtherType, whose
// network-layer bytes are l3, matches.
type packetFilter func(etherType uint16, l3 []byte) bool

// filterWords are the primitives, for the error about the others.
const filterWords = "arp, rarp, ip, ip6, icmp, icmp6, host ADDR, and, or, not"

// parseFilter compiles an expression; the empty one matches everything.
func parseFilter(expr string) (packetFilter, error) {
	p := &filterParser{toks: tokenizeFilter(expr)}
	if len(p.toks) == 0 {
		return func(uint16, []byte) bool { return true }, nil
	}
	f, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, errFilterSyntax
	}
	return f, nil
}

var errFilterSyntax = errors.New("can't parse filter expression: syntax error")

func tokenizeFilter(s string) []string {
	var toks []string
	for _, f := range strings.Fields(s) {
		for f != "" {
			switch {
			case strings.HasPrefix(f, "&&") || strings.HasPrefix(f, "||"):
				toks, f = append(toks, f[:2]), f[2:]
			case f[0] == '(' || f[0] == ')' || f[0] == '!':
				toks, f = append(toks, f[:1]), f[1:]
			default:
				i := strings.IndexAny(f, "()!&|")
				if i <= 0 {
					i = len(f)
				}
				toks, f = append(toks, f[:i]), f[i:]
			}
		}
	}
	return toks
}

type filterParser struct {
	toks []string
	pos  int
}

func (p *filterParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *filterParser) expr() (packetFilter, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		op := p.peek()
		if op != "and" && op != "&&" && op != "or" && op != "||" {
			return l, nil
		}
		p.pos++
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		a, b := l, r
		if op == "and" || op == "&&" {
			l = func(t uint16, d []byte) bool { return a(t, d) && b(t, d) }
		} else {
			l = func(t uint16, d []byte) bool { return a(t, d) || b(t, d) }
		}
	}
}

func (p *filterParser) unary() (packetFilter, error) {
	switch tok := p.peek(); tok {
	case "":
		return nil, errFilterSyntax
	case "not", "!":
		p.pos++
		f, err := p.unary()
		if err != nil {
			return nil, err
		}
		return func(t uint16, d []byte) bool { return !f(t, d) }, nil
	case "(":
		p.pos++
		f, err := p.expr()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, errFilterSyntax
		}
		p.pos++
		return f, nil
	case ")", "and", "&&", "or", "||":
		return nil, errFilterSyntax
	case "host":
		p.pos++
		s := p.peek()
		if s == "" || strings.ContainsAny(s, "()!&|") {
			return nil, errFilterSyntax
		}
		p.pos++
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("can't parse filter expression: unknown host '%s'", s)
		}
		return hostFilter(a), nil
	default:
		p.pos++
		if f := protoFilter(tok); f != nil {
			return f, nil
		}
		return nil, fmt.Errorf("filter: %q is not supported (only %s)", tok, filterWords)
	}
}

// protoFilter is the filter of a protocol word (ip, ip6, arp, rarp, icmp,
// icmp6); nil for any other word.
func protoFilter(word string) packetFilter {
	switch word {
	case "ip":
		return func(t uint16, _ []byte) bool { return t == etherIPv4 }
	case "ip6":
		return func(t uint16, _ []byte) bool { return t == etherIPv6 }
	case "arp":
		return func(t uint16, _ []byte) bool { return t == etherARP }
	case "rarp":
		return func(t uint16, _ []byte) bool { return t == etherRARP }
	case "icmp":
		return func(t uint16, d []byte) bool { return t == etherIPv4 && len(d) >= 20 && d[9] == 1 }
	case "icmp6":
		return func(t uint16, d []byte) bool { return t == etherIPv6 && len(d) >= 40 && d[6] == 58 }
	}
	return nil
}

// hostFilter matches the packets from or to a: IPv4 and ARP/RARP
// sender and target addresses for an IPv4 address, IPv6 source and
// destination for an IPv6 one.
func hostFilter(a netip.Addr) packetFilter {
	b := a.AsSlice()
	if a.Is4() {
		return func(t uint16, d []byte) bool {
			switch t {
			case etherIPv4:
				return len(d) >= 20 && (bytes.Equal(d[12:16], b) || bytes.Equal(d[16:20], b))
			case etherARP, etherRARP:
				spa, tpa, ok := arpProtoAddrs(d)
				return ok && len(spa) == 4 && (bytes.Equal(spa, b) || bytes.Equal(tpa, b))
			}
			return false
		}
	}
	return func(t uint16, d []byte) bool {
		return t == etherIPv6 && len(d) >= 40 && (bytes.Equal(d[8:24], b) || bytes.Equal(d[24:40], b))
	}
}

// arpProtoAddrs returns an ARP packet's sender and target protocol
// addresses.
func arpProtoAddrs(d []byte) (spa, tpa []byte, ok bool) {
	if len(d) < 8 {
		return nil, nil, false
	}
	hln, pln := int(d[4]), int(d[5])
	if len(d) < 8+2*hln+2*pln {
		return nil, nil, false
	}
	return d[8+hln : 8+hln+pln], d[8+2*hln+pln : 8+2*hln+2*pln], true
}
