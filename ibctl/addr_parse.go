package ibctl

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

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
		if err := w.device(&a, arg); err != nil {
			return a, err
		}
	}
	return a, nil
}

// flagFilter is ipaddress.c's get_filter: an address flag's name
// (secondary, temporary, permanent, tentative, ...), "dynamic" for not
// permanent and "primary" for not secondary, each negated by a leading
// '-', selects the addresses with (or without) the flag. It reports
// whether arg is one.
func (a *AddrArgs) flagFilter(arg string) bool {
	name, inv := strings.CutPrefix(arg, "-")
	switch name {
	case "dynamic":
		name, inv = "permanent", !inv
	case "primary":
		name, inv = "secondary", !inv
	case "temporary":
		name = "secondary"
	}
	for _, f := range ifaFlagNames {
		if f.name != name {
			continue
		}
		if inv {
			a.Flags &^= f.bit
		} else {
			a.Flags |= f.bit
		}
		a.FlagMask |= f.bit
		return true
	}
	return false
}

// device takes what is left of a show or flush selector: an unsupported
// selector is refused, [dev] IFNAME names the device, once.
func (w *addrArgs) device(a *AddrArgs, arg string) error {
	for _, f := range addrShowFilters {
		if arg == f || (arg == "-"+f && f != "to") {
			return usagef("%q is not supported", arg)
		}
	}
	if arg == "dev" {
		v, err := w.next()
		if err != nil {
			return err
		}
		arg = v
	} else if matches(arg, "help") {
		return usagef("%s", addrUsage)
	}
	if a.Dev != "" {
		return usagef("Error: either \"dev\" is duplicate, or %q is a garbage.", arg)
	}
	a.Dev = arg
	return nil
}

const addrUsage = `Usage: ibctl addr add IFADDR dev IFNAME
       ibctl addr del IFADDR dev IFNAME
       ibctl addr show [ [ dev ] IFNAME ] [ up ]
       ibctl addr flush [ [ dev ] IFNAME ] [ scope SCOPE-ID ] [ to PREFIX ] [ label PATTERN ] [ up ] [ FLAG-LIST ]
IFADDR := PREFIX [ broadcast ADDR | brd { ADDR | + | - } ] [ label LABEL ] [ scope SCOPE-ID ]
SCOPE-ID := [ host | link | global | site | nowhere | NUMBER ]`

// parseAddrFlushArgs parses the arguments of addr flush as
// ipaddr_list_flush_or_save does for ip address flush, under the family
// the global options select. Of its selectors it implements dev, scope,
// to, label and up (which flush does not apply).
func parseAddrFlushArgs(args []string, family uint8) (AddrArgs, error) {
	a := AddrArgs{Family: family}
	if len(args) == 0 {
		return a, usagef("Flush requires arguments.")
	}
	if family == unix.AF_PACKET {
		return a, usagef("Cannot flush link addresses.")
	}
	w := &addrArgs{args: args}
	for ; w.i < len(args); w.i++ {
		arg := args[w.i]
		switch arg {
		case "up":
			continue
		case "to":
			v, err := w.next()
			if err != nil {
				return a, err
			}
			p, ok := getPrefix(v, a.Family)
			if !ok {
				return a, usagef("Error: %s prefix is expected rather than %q.", familyNameVerbose(a.Family), v)
			}
			a.To = p
			if a.Family == unix.AF_UNSPEC {
				a.Family = p.family
			}
			continue
		case "scope":
			v, err := w.next()
			if err != nil {
				return a, err
			}
			s, ok := scopeByName(v)
			if !ok {
				if v != "all" {
					return a, usagef("Error: argument %q is wrong: invalid \"scope\"", v)
				}
				a.ScopeSet = false
				continue
			}
			a.Scope, a.ScopeSet = s, true
			continue
		case "label":
			v, err := w.next()
			if err != nil {
				return a, err
			}
			a.Label = v
			continue
		}
		if a.flagFilter(arg) {
			continue
		}
		if err := w.device(&a, arg); err != nil {
			return a, err
		}
	}
	return a, nil
}
