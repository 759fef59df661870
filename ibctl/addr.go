package ibctl

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"github.com/ibctl/ibctl/netlinkx"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// AddrOptions are the inputs of every addr verb.
type AddrOptions struct {
	F    *Factory
	Verb string // "add", "delete" or "show"
	Args AddrArgs
}

// AddrArgs is a parsed `addr add` / `addr del` / `addr show` argument
// list, in the grammar of iproute2's ip address.
type AddrArgs struct {
	Dev       string
	Family    uint8  // unix.AF_INET, unix.AF_INET6; 0 when no address was given
	Local     []byte // nil when no address was given
	PrefixLen uint8
	Scope     uint8 // RT_SCOPE_*: "scope", else host for 127/8 and global
	Broadcast []byte
	Label     string
	// Wildcard is a delete of an IPv4 address given without a length: any
	// prefix length matches (PrefixLen is 0), and Warning says so.
	Wildcard bool
	Warning  string
	Up       bool // show: only links that are up
}

// NewCmdAddr is `ibctl addr`, the iproute2 `ip address` object.
func NewCmdAddr(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "addr",
		Aliases: []string{"a", "ad", "add", "addre", "addres", "address"},
		Short:   "Show and change IP addresses of IPoIB links (ip address)",
		Long: `Show and change the IP addresses of the node's IPoIB interfaces with the grammar of
ip address (iproute2):

  ibctl addr add IFADDR dev IFNAME
  ibctl addr del IFADDR dev IFNAME
  ibctl addr show [ [ dev ] IFNAME ] [ up ]

  IFADDR := PREFIX [ broadcast ADDR | brd { ADDR | + | - } ] [ label LABEL ] [ scope SCOPE-ID ]
  SCOPE-ID := [ host | link | global | site | nowhere | NUMBER ]

show prints what "ip address show" prints; with -j the keys of "ip -j address show".
Addresses never expire: valid_lft and preferred_lft are forever. As the kernel does, an
interface whose link comes up gets its IPv6 link-local address (fe80::/64 and the port
GUID with 0x02 ORed into its first byte), and going down removes every IPv6 address.`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			return addrRun(&AddrOptions{F: f, Verb: "show"})
		}),
	}
	cmd.AddCommand(
		newAddrVerb(f, "add", []string{"a", "ad"}, "Add an address (ip address add)"),
		newAddrVerb(f, "delete", []string{"d", "de", "del", "dele", "delet"}, "Delete an address (ip address del)"),
		newAddrVerb(f, "show", []string{"s", "sh", "sho", "l", "li", "lis", "list", "ls", "lst"}, "Show links and their addresses (ip address show)"),
	)
	return cmd
}

func newAddrVerb(f *Factory, verb string, aliases []string, short string) *cobra.Command {
	cmd := &cobra.Command{
		Use:                   verb + " ARGS...",
		Aliases:               aliases,
		Short:                 short,
		DisableFlagsInUseLine: true,
		ValidArgsFunction:     completeAddrArgs(f, verb),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			a, err := ParseAddrArgs(verb, args)
			if err != nil {
				return prefixUsage(addrWhat(verb), err)
			}
			return addrRun(&AddrOptions{F: f, Verb: verb, Args: a})
		}),
	}
	cmd.Flags().SetInterspersed(false)
	return cmd
}

// addrWhat names a verb in messages, as ip's own words: "addr del".
func addrWhat(verb string) string {
	if verb == "delete" {
		return "addr del"
	}
	return "addr " + verb
}

func addrRun(o *AddrOptions) error {
	if o.Args.Warning != "" {
		fmt.Fprint(o.F.IO.ErrOut, o.Args.Warning)
	}
	c, err := o.F.client()
	if err != nil {
		return err
	}
	if o.Verb == "show" {
		return addrShow(o, c)
	}
	a := o.Args
	l, err := lookupLink(c, a.Dev)
	if err != nil {
		return err
	}
	r := netlinkx.Addr{Index: l.Index, Family: a.Family, PrefixLen: a.PrefixLen, Scope: a.Scope,
		Local: a.Local, Broadcast: a.Broadcast, Label: a.Label}
	if o.Verb == "add" {
		err = c.AddAddr(r)
	} else {
		err = c.DelAddr(r)
	}
	if err != nil {
		return opError(addrWhat(o.Verb), err)
	}
	return nil
}

func addrShow(o *AddrOptions, c *netlinkx.Client) error {
	links, byIndex, err := linksToShow(c, "addr show", o.Args.Dev)
	if err != nil {
		return err
	}
	addrs, err := c.Addrs()
	if err != nil {
		return opError("addr show", err)
	}
	objs := make([]*Obj, 0, len(links))
	var text strings.Builder
	for _, l := range links {
		if o.Args.Up && l.Flags&unix.IFF_UP == 0 {
			continue
		}
		p := NewPrinter()
		var parent *netlinkx.Link
		if l.ParentIndex != 0 {
			parent = byIndex[l.ParentIndex]
		}
		PrintAddrLink(p, l, parent, addrs)
		text.WriteString(p.TextOut())
		objs = append(objs, p.Object())
	}
	g := o.F.Globals
	if g.JSON {
		return writeJSON(o.F.IO.Out, objs, g.Pretty)
	}
	_, err = io.WriteString(o.F.IO.Out, text.String())
	return err
}

// PrintAddrLink prints one link as `ip address show` does (iproute2 6.1):
// the link line without the link mode, the link/infiniband line, then
// each address of addrs on the link, in their order; in JSON the
// addresses are the link's addr_info array.
func PrintAddrLink(p *Printer, l netlinkx.Link, parent *netlinkx.Link, addrs []netlinkx.Addr) {
	printLinkHead(p, l, parent, false)
	p.Text("\n")
	infos := []*Obj{}
	for _, a := range addrs {
		if a.Index != l.Index {
			continue
		}
		ap := NewPrinter()
		PrintAddr(ap, a)
		p.Text(ap.TextOut())
		infos = append(infos, ap.Object())
	}
	p.Any("addr_info", "", infos)
}

// ifaFlagNames is iproute2's ifa_flag_names order.
var ifaFlagNames = []struct {
	bit  uint32
	name string
}{
	{unix.IFA_F_SECONDARY, "secondary"}, {unix.IFA_F_NODAD, "nodad"}, {unix.IFA_F_OPTIMISTIC, "optimistic"},
	{unix.IFA_F_DADFAILED, "dadfailed"}, {unix.IFA_F_HOMEADDRESS, "home"}, {unix.IFA_F_DEPRECATED, "deprecated"},
	{unix.IFA_F_TENTATIVE, "tentative"}, {unix.IFA_F_PERMANENT, "permanent"}, {unix.IFA_F_MANAGETEMPADDR, "mngtmpaddr"},
	{unix.IFA_F_NOPREFIXROUTE, "noprefixroute"}, {unix.IFA_F_MCAUTOJOIN, "autojoin"}, {unix.IFA_F_STABLE_PRIVACY, "stable-privacy"},
}

// infinityLifeTime is the lifetime of an address that never expires.
const infinityLifeTime uint32 = 0xffffffff

// PrintAddr prints one address as ipaddress.c's print_addrinfo does, and
// builds its addr_info object from the same calls.
func PrintAddr(p *Printer, a netlinkx.Addr) {
	switch a.Family {
	case unix.AF_INET:
		p.Any("family", "    %s ", "inet")
	case unix.AF_INET6:
		p.Any("family", "    %s ", "inet6")
	default:
		p.Any("family_index", "    family %d ", int(a.Family))
	}
	if a.Local != nil {
		p.Any("local", "%s", formatHost(a.Family, a.Local))
		p.Any("prefixlen", "/%d ", int(a.PrefixLen))
	}
	if a.Broadcast != nil {
		p.Text("brd ")
		p.Any("broadcast", "%s ", formatHost(a.Family, a.Broadcast))
	}
	p.Any("scope", "scope %s ", scopeName(a.Scope))
	flags := a.Flags
	for _, f := range ifaFlagNames {
		switch {
		case f.bit == unix.IFA_F_PERMANENT:
			if flags&f.bit == 0 {
				p.Text("dynamic ")
				p.Any("dynamic", "", true)
			}
		case flags&f.bit == 0:
		case f.bit == unix.IFA_F_SECONDARY && a.Family == unix.AF_INET6:
			p.Text("temporary ")
			p.Any("temporary", "", true)
		default:
			p.Text(f.name + " ")
			p.Any(f.name, "", true)
		}
		flags &^= f.bit
	}
	if flags != 0 {
		p.Any("ifa_flags", "flags %s ", fmt.Sprintf("%02x", flags))
	}
	if a.Label != "" {
		p.Any("label", "%s", a.Label)
	}
	p.Text("\n       valid_lft ")
	p.Any("valid_life_time", "", infinityLifeTime)
	p.Text("forever preferred_lft ")
	p.Any("preferred_life_time", "", infinityLifeTime)
	p.Text("forever\n")
}

// rtScopeNames is iproute2's rtnl_rtscope_tab.
var rtScopeNames = map[uint8]string{
	unix.RT_SCOPE_UNIVERSE: "global", unix.RT_SCOPE_SITE: "site", unix.RT_SCOPE_LINK: "link",
	unix.RT_SCOPE_HOST: "host", unix.RT_SCOPE_NOWHERE: "nowhere",
}

// scopeName is rtnl_rtscope_n2a.
func scopeName(s uint8) string {
	if n, ok := rtScopeNames[s]; ok {
		return n
	}
	return strconv.Itoa(int(s))
}

// scopeByName is rtnl_rtscope_a2n: a name, or a number up to 255.
func scopeByName(arg string) (uint8, bool) {
	for s, n := range rtScopeNames {
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

// unsupportedAddrKeyword reports the ip address add/del keywords ibctl
// does not implement, matched as ip matches them.
func unsupportedAddrKeyword(arg string) bool {
	switch arg {
	case "peer", "remote", "anycast", "proto", "home", "nodad", "mngtmpaddr", "noprefixroute", "autojoin":
		return true
	}
	for _, kw := range []string{"metric", "priority", "preference", "valid_lft", "preferred_lft"} {
		if matches(arg, kw) {
			return true
		}
	}
	return false
}

// ParseAddrArgs parses the arguments of verb ("add", "delete", "show") as
// ip address does (ipaddr_modify, ipaddr_list_flush_or_save).
func ParseAddrArgs(verb string, args []string) (AddrArgs, error) {
	if verb == "show" {
		return parseAddrShowArgs(args)
	}
	var a AddrArgs
	var lcl inetPrefix
	var family uint8
	localLen, brdLen, lclArg, scoped := 0, 0, "", false
	w := &addrArgs{args: args}
	for ; w.i < len(args); w.i++ {
		arg := args[w.i]
		switch {
		case matches(arg, "broadcast") || arg == "brd":
			v, err := w.next()
			if err != nil {
				return a, err
			}
			if brdLen != 0 {
				return a, usagef("Error: duplicate \"broadcast\": %q is the second value.", v)
			}
			switch v {
			case "+":
				brdLen = -1
			case "-":
				brdLen = -2
			default:
				b, ok := getAddr1(v, family)
				if !ok {
					return a, usagef("Error: %s address is expected rather than %q.", familyNameVerbose(family), v)
				}
				if family == unix.AF_UNSPEC {
					family = b.family
				}
				if brdLen = len(b.data); brdLen > 0 {
					a.Broadcast = b.data
				}
			}
		case arg == "scope":
			v, err := w.next()
			if err != nil {
				return a, err
			}
			s, ok := scopeByName(v)
			if !ok {
				return a, usagef("Error: argument %q is wrong: invalid scope value.", v)
			}
			a.Scope, scoped = s, true
		case arg == "dev":
			v, err := w.next()
			if err != nil {
				return a, err
			}
			a.Dev = v
		case arg == "label":
			v, err := w.next()
			if err != nil {
				return a, err
			}
			a.Label = v
		case unsupportedAddrKeyword(arg):
			return a, usagef("%q is not supported", arg)
		default:
			if arg == "local" {
				v, err := w.next()
				if err != nil {
					return a, err
				}
				arg = v
			}
			if matches(arg, "help") {
				return a, usagef("%s", addrUsage)
			}
			if localLen != 0 {
				return a, usagef("Error: either \"local\" is duplicate, or %q is a garbage.", arg)
			}
			p, ok := getPrefix(arg, family)
			if !ok {
				return a, usagef("Error: %s prefix is expected rather than %q.", familyNameVerbose(family), arg)
			}
			if family == unix.AF_UNSPEC {
				family = p.family
			}
			lcl, lclArg, localLen = p, arg, len(p.data)
		}
	}
	if a.Dev == "" {
		return a, usagef("Not enough information: \"dev\" argument is required.")
	}
	a.Family = family
	if localLen != 0 {
		a.Local = lcl.data
	}
	if lcl.bitlen > 0 {
		a.PrefixLen = uint8(lcl.bitlen)
	}
	if verb == "delete" && localLen != 0 && lcl.family == unix.AF_INET && !lcl.plenSet {
		a.Wildcard, a.PrefixLen = true, 0
		a.Warning = fmt.Sprintf("Warning: Executing wildcard deletion to stay compatible with old scripts.\n"+
			"         Explicitly specify the prefix length (%s/%d) to avoid this warning.\n"+
			"         This special behaviour is likely to disappear in further releases,\n"+
			"         fix your scripts!\n", lclArg, localLen*8)
	}
	if brdLen < 0 && verb != "delete" {
		if family != unix.AF_INET {
			return a, usagef("Broadcast can be set only for IPv4 addresses")
		}
		if lcl.bitlen <= 30 && len(lcl.data) == 4 {
			b := append([]byte(nil), lcl.data...)
			for i := lcl.bitlen; i < 32; i++ {
				if brdLen == -1 {
					b[i/8] |= 0x80 >> (i % 8)
				} else {
					b[i/8] &^= 0x80 >> (i % 8)
				}
			}
			a.Broadcast = b
		}
	}
	if !scoped && verb != "delete" && lcl.family == unix.AF_INET && len(lcl.data) == 4 && lcl.data[0] == 127 {
		a.Scope = unix.RT_SCOPE_HOST // default_scope
	}
	return a, nil
}

// addrShowFilters are the ip address show selectors ibctl does not
// implement: the keywords, and the flag names of get_filter (with an
// optional '-').
var addrShowFilters = []string{"to", "scope", "label", "group", "master", "nomaster", "vrf", "type", "proto",
	"dynamic", "primary", "permanent", "secondary", "temporary", "nodad", "optimistic", "dadfailed", "home",
	"deprecated", "tentative", "mngtmpaddr", "noprefixroute", "autojoin", "stable-privacy"}

func parseAddrShowArgs(args []string) (AddrArgs, error) {
	var a AddrArgs
	w := &addrArgs{args: args}
	for ; w.i < len(args); w.i++ {
		arg := args[w.i]
		if arg == "up" {
			a.Up = true
			continue
		}
		for _, f := range addrShowFilters {
			if arg == f || (arg == "-"+f && f != "to") {
				return a, usagef("%q is not supported", arg)
			}
		}
		if arg == "dev" {
			v, err := w.next()
			if err != nil {
				return a, err
			}
			arg = v
		} else if matches(arg, "help") {
			return a, usagef("%s", addrUsage)
		}
		if a.Dev != "" {
			return a, usagef("Error: either \"dev\" is duplicate, or %q is a garbage.", arg)
		}
		a.Dev = arg
	}
	return a, nil
}

const addrUsage = `Usage: ibctl addr add IFADDR dev IFNAME
       ibctl addr del IFADDR dev IFNAME
       ibctl addr show [ [ dev ] IFNAME ] [ up ]
IFADDR := PREFIX [ broadcast ADDR | brd { ADDR | + | - } ] [ label LABEL ] [ scope SCOPE-ID ]
SCOPE-ID := [ host | link | global | site | nowhere | NUMBER ]`

// completeAddrArgs completes ip address keywords and device names.
func completeAddrArgs(f *Factory, verb string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		nd := cobra.ShellCompDirectiveNoFileComp
		prev := ""
		if len(args) > 0 {
			prev = args[len(args)-1]
		}
		switch prev {
		case "dev":
			return linkNames(f), nd
		case "scope":
			return []string{"global", "link", "host", "site", "nowhere"}, nd
		case "brd", "broadcast", "label", "local":
			return nil, nd
		}
		if verb == "show" {
			return append([]string{"dev", "up"}, linkNames(f)...), nd
		}
		return []string{"dev", "brd", "broadcast", "label", "scope", "local"}, nd
	}
}
