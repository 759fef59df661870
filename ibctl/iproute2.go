package ibctl

// iproute2 helpers the ip objects share (addr, neigh, route): address
// and prefix parsing as lib/utils.c does it, scope names, inet_ntop, and
// the NEXT_ARG walk over an argument list.

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// rtScopeNames is iproute2's rtnl_rtscope_tab, built on first use.
var rtScopeNames = sync.OnceValue(func() map[uint8]string {
	return map[uint8]string{
		unix.RT_SCOPE_UNIVERSE: "global", unix.RT_SCOPE_SITE: "site", unix.RT_SCOPE_LINK: "link",
		unix.RT_SCOPE_HOST: "host", unix.RT_SCOPE_NOWHERE: "nowhere",
	}
})

// scopeName is rtnl_rtscope_n2a.
func scopeName(s uint8) string {
	if n, ok := rtScopeNames()[s]; ok {
		return n
	}
	return strconv.Itoa(int(s))
}

// scopeByName is rtnl_rtscope_a2n: a name, or a number up to 255.
func scopeByName(arg string) (uint8, bool) {
	for s, n := range rtScopeNames() {
		if n == arg {
			return s, true
		}
	}
	v, ok := strtoul(arg)
	if !ok || v > 255 {
		return 0, false
	}
	return uint8(v), true
}

// formatHost prints an address as iproute2's format_host does without
// name resolution (inet_ntop); "???" for a length the family cannot have.
func formatHost(family uint8, b []byte) string {
	switch {
	case family == unix.AF_INET && len(b) == 4:
		return netip.AddrFrom4([4]byte(b)).String()
	case family == unix.AF_INET6 && len(b) == 16:
		return inetNtop6([16]byte(b))
	}
	return "???"
}

// inetNtop6 is glibc's inet_ntop6: the longest run of two or more zero
// words becomes "::" (the first of equal runs), and an address whose
// first six words are zero, or five zero words and ffff, ends in dotted
// IPv4.
func inetNtop6(b [16]byte) string {
	var w [8]int
	for i := range w {
		w[i] = int(b[2*i])<<8 | int(b[2*i+1])
	}
	bestBase, bestLen, curBase, curLen := -1, 0, -1, 0
	for i := 0; i <= 8; i++ {
		if i < 8 && w[i] == 0 {
			if curBase == -1 {
				curBase, curLen = i, 0
			}
			curLen++
			continue
		}
		if curBase != -1 && (bestBase == -1 || curLen > bestLen) {
			bestBase, bestLen = curBase, curLen
		}
		curBase = -1
	}
	if bestBase != -1 && bestLen < 2 {
		bestBase = -1
	}
	var s strings.Builder
	for i := 0; i < 8; i++ {
		if bestBase != -1 && i >= bestBase && i < bestBase+bestLen {
			if i == bestBase {
				s.WriteByte(':')
			}
			continue
		}
		if i != 0 {
			s.WriteByte(':')
		}
		if i == 6 && bestBase == 0 && (bestLen == 6 || (bestLen == 5 && w[5] == 0xffff)) {
			s.WriteString(netip.AddrFrom4([4]byte(b[12:16])).String())
			return s.String()
		}
		fmt.Fprintf(&s, "%x", w[i])
	}
	if bestBase != -1 && bestBase+bestLen == 8 {
		s.WriteByte(':')
	}
	return s.String()
}

// inetPrefix is iproute2's inet_prefix.
type inetPrefix struct {
	family  uint8
	data    []byte // the address, af_byte_len(family) bytes
	bitlen  int    // prefix length; -2 for default, any and all
	plenSet bool   // PREFIXLEN_SPECIFIED: written with /LEN
}

// afBitLen is af_bit_len for the families ibctl speaks.
func afBitLen(family uint8) int {
	switch family {
	case unix.AF_INET:
		return 32
	case unix.AF_INET6:
		return 128
	}
	return 0
}

// familyNameVerbose is family_name_verbose, as error messages use it.
func familyNameVerbose(family uint8) string {
	switch family {
	case unix.AF_INET:
		return "inet"
	case unix.AF_INET6:
		return "inet6"
	}
	return "any valid"
}

// strtoulPrefix is C's strtoul with base 0 when the rest of the string
// may follow: the value (2^64-1 on overflow, negated modulo 2^64 after a
// '-') and the index where conversion stopped, 0 when nothing converted.
func strtoulPrefix(s string) (uint64, int) {
	i := 0
	for i < len(s) && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	base := uint64(10)
	if i+2 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') && digitVal(s[i+2]) < 16 {
		base, i = 16, i+2
	} else if i < len(s) && s[i] == '0' {
		base = 8
	}
	start := i
	var v uint64
	overflow := false
	for ; i < len(s); i++ {
		d := uint64(digitVal(s[i]))
		if d >= base {
			break
		}
		if v > (^uint64(0)-d)/base {
			overflow = true
		}
		v = v*base + d
	}
	if i == start {
		return 0, 0
	}
	if overflow {
		return ^uint64(0), i
	}
	if neg {
		v = -v
	}
	return v, i
}

// getAddrIPv4 is iproute2's get_addr_ipv4: one to four numbers of 0-255
// in any strtoul base, separated by dots; missing bytes are zero.
func getAddrIPv4(s string) ([]byte, bool) {
	b := make([]byte, 4)
	for i := 0; i < 4; i++ {
		n, end := strtoulPrefix(s)
		if n > 255 || end == 0 {
			return nil, false
		}
		b[i] = byte(n)
		if end == len(s) {
			break
		}
		if i == 3 || s[end] != '.' {
			return nil, false
		}
		s = s[end+1:]
	}
	return b, true
}

// getAddr1 is iproute2's get_addr_1 for family AF_UNSPEC, AF_INET or
// AF_INET6: "default", "any" and "all", an IPv6 address (it has a ':'),
// else an IPv4 address.
func getAddr1(name string, family uint8) (inetPrefix, bool) {
	switch name {
	case "default", "any", "all":
		return inetPrefix{family: family, data: make([]byte, afBitLen(family)/8), bitlen: -2}, true
	}
	if strings.Contains(name, ":") {
		if family != unix.AF_UNSPEC && family != unix.AF_INET6 {
			return inetPrefix{}, false
		}
		ip, err := netip.ParseAddr(name)
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return inetPrefix{}, false
		}
		b := ip.As16()
		return inetPrefix{family: unix.AF_INET6, data: b[:], bitlen: -1}, true
	}
	if family != unix.AF_UNSPEC && family != unix.AF_INET {
		return inetPrefix{}, false
	}
	b, ok := getAddrIPv4(name)
	if !ok {
		return inetPrefix{}, false
	}
	return inetPrefix{family: unix.AF_INET, data: b, bitlen: -1}, true
}

// mask2bits is the prefix length of a contiguous IPv4 netmask, -1 for
// another.
func mask2bits(b []byte) int {
	mask := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	host := ^mask
	if host&(host+1) != 0 {
		return -1
	}
	bits := 0
	for ; mask != 0; mask <<= 1 {
		bits++
	}
	return bits
}

// getNetmask is iproute2's get_netmask: a number in any base, or a dotted
// IPv4 netmask.
func getNetmask(s string) (uint32, bool) {
	if v, ok := getUnsigned(s); ok {
		return v, true
	}
	if p, ok := getAddr1(s, unix.AF_INET); ok && p.family == unix.AF_INET {
		if b := mask2bits(p.data); b >= 0 {
			return uint32(b), true
		}
	}
	return 0, false
}

// getPrefix is iproute2's get_prefix_1: ADDR[/LEN], LEN a length or an
// IPv4 netmask, no larger than the family's address.
func getPrefix(arg string, family uint8) (inetPrefix, bool) {
	addr, mask, slash := strings.Cut(arg, "/")
	p, ok := getAddr1(addr, family)
	if !ok {
		return inetPrefix{}, false
	}
	bitlen := afBitLen(p.family)
	if slash {
		if p.bitlen == -2 {
			return inetPrefix{}, false
		}
		plen, ok := getNetmask(mask)
		if !ok || plen > uint32(bitlen) {
			return inetPrefix{}, false
		}
		p.plenSet = true
		bitlen = int(plen)
	} else if p.bitlen == -2 {
		bitlen = 0
	}
	p.bitlen = bitlen
	return p, true
}

// addrArgs walks an argument list as iproute2's NEXT_ARG loops do.
type addrArgs struct {
	args []string
	i    int
}

func (w *addrArgs) next() (string, error) {
	if w.i+1 >= len(w.args) {
		return "", usagef("Command line is not complete. Try option \"help\"")
	}
	w.i++
	return w.args[w.i], nil
}
