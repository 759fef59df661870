package wire

import (
	"fmt"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// MarshalAddr encodes a as the kernel's RTM_NEWADDR reply: IFA_ADDRESS,
// and for IPv4 also IFA_LOCAL, IFA_BROADCAST and IFA_LABEL (the kernel
// sends neither a label nor a broadcast address for IPv6); IFA_FLAGS with
// IFA_F_PERMANENT set; an IFA_CACHEINFO of infinite lifetimes.
func MarshalAddr(a Addr) []byte {
	flags := a.Flags | unix.IFA_F_PERMANENT
	ae := netlink.NewAttributeEncoder()
	if len(a.Local) > 0 {
		ae.Bytes(unix.IFA_ADDRESS, a.Local)
	}
	if a.Family != unix.AF_INET6 {
		if len(a.Local) > 0 {
			ae.Bytes(unix.IFA_LOCAL, a.Local)
		}
		if len(a.Broadcast) > 0 {
			ae.Bytes(unix.IFA_BROADCAST, a.Broadcast)
		}
		if a.Label != "" {
			ae.String(unix.IFA_LABEL, a.Label)
		}
	}
	ae.Uint32(unix.IFA_FLAGS, flags)
	ae.Bytes(unix.IFA_CACHEINFO, CacheinfoForever())
	hdr := Ifaddrmsg{Family: a.Family, PrefixLen: a.PrefixLen, Flags: uint8(flags), Scope: a.Scope, Index: uint32(a.Index)}
	return append(hdr.Marshal(), Encode(ae)...)
}

// MarshalAddrRequest encodes an RTM_NEWADDR / RTM_DELADDR request as ip
// address add/del does: IFA_LOCAL and IFA_ADDRESS (the same address, there
// being no peer), then IFA_BROADCAST, IFA_LABEL and IFA_FLAGS when set.
func MarshalAddrRequest(a Addr) []byte {
	ae := netlink.NewAttributeEncoder()
	if len(a.Local) > 0 {
		ae.Bytes(unix.IFA_LOCAL, a.Local)
		ae.Bytes(unix.IFA_ADDRESS, a.Local)
	}
	if len(a.Broadcast) > 0 {
		ae.Bytes(unix.IFA_BROADCAST, a.Broadcast)
	}
	if a.Label != "" {
		ae.String(unix.IFA_LABEL, a.Label)
	}
	if a.Flags > 0xff {
		ae.Uint32(unix.IFA_FLAGS, a.Flags)
	}
	hdr := Ifaddrmsg{Family: a.Family, PrefixLen: a.PrefixLen, Flags: uint8(a.Flags), Scope: a.Scope, Index: uint32(a.Index)}
	return append(hdr.Marshal(), Encode(ae)...)
}

// UnmarshalAddr decodes an RTM_NEWADDR or RTM_DELADDR payload, a reply or
// a request: Local is IFA_LOCAL, or IFA_ADDRESS without it (IPv6); Flags
// is IFA_FLAGS, or the header's 8 bits without it. IFA_CACHEINFO is
// accepted and ignored.
func UnmarshalAddr(b []byte) (Addr, error) {
	hdr, rest, err := ParseIfaddrmsg(b)
	if err != nil {
		return Addr{}, err
	}
	a := Addr{Index: int32(hdr.Index), Family: hdr.Family, PrefixLen: hdr.PrefixLen, Scope: hdr.Scope, Flags: uint32(hdr.Flags)}
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		return Addr{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var address []byte
	for ad.Next() {
		switch ad.Type() {
		case unix.IFA_ADDRESS:
			address = ad.Bytes()
		case unix.IFA_LOCAL:
			a.Local = ad.Bytes()
		case unix.IFA_BROADCAST:
			a.Broadcast = ad.Bytes()
		case unix.IFA_LABEL:
			a.Label = ad.String()
		case unix.IFA_FLAGS:
			a.Flags = ad.Uint32()
		}
	}
	if err := ad.Err(); err != nil {
		return Addr{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if a.Local == nil {
		a.Local = address
	}
	return a, nil
}

// MarshalNeigh encodes n as the kernel's RTM_NEWNEIGH (neigh_fill_info):
// NDA_DST, NDA_LLADDR when the entry has a link-layer address, then
// NDA_CACHEINFO and NDA_PROBES, which every entry has.
func MarshalNeigh(n Neigh) []byte {
	ae := netlink.NewAttributeEncoder()
	if len(n.Dst) > 0 {
		ae.Bytes(unix.NDA_DST, n.Dst)
	}
	if len(n.LLAddr) > 0 {
		ae.Bytes(unix.NDA_LLADDR, n.LLAddr)
	}
	ci := NdaCacheinfo{Confirmed: n.Confirmed, Used: n.Used, Updated: n.Updated, Refcnt: n.Refcnt}
	ae.Bytes(unix.NDA_CACHEINFO, ci.Marshal())
	ae.Uint32(unix.NDA_PROBES, n.Probes)
	hdr := Ndmsg{Family: n.Family, Index: n.Index, State: n.State, Flags: n.Flags, Type: unix.RTN_UNICAST}
	return append(hdr.Marshal(), Encode(ae)...)
}

// UnmarshalNeigh decodes an RTM_NEWNEIGH payload.
func UnmarshalNeigh(b []byte) (Neigh, error) {
	hdr, rest, err := ParseNdmsg(b)
	if err != nil {
		return Neigh{}, err
	}
	n := Neigh{Index: hdr.Index, Family: hdr.Family, State: hdr.State, Flags: hdr.Flags}
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		return Neigh{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	for ad.Next() {
		switch ad.Type() {
		case unix.NDA_DST:
			n.Dst = ad.Bytes()
		case unix.NDA_LLADDR:
			n.LLAddr = ad.Bytes()
		case unix.NDA_CACHEINFO:
			ci, err := ParseNdaCacheinfo(ad.Bytes())
			if err != nil {
				return Neigh{}, err
			}
			n.Confirmed, n.Used, n.Updated, n.Refcnt = ci.Confirmed, ci.Used, ci.Updated, ci.Refcnt
		case unix.NDA_PROBES:
			n.Probes = ad.Uint32()
		}
	}
	if err := ad.Err(); err != nil {
		return Neigh{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return n, nil
}
