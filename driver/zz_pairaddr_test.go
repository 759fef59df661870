package driver

import "net/netip"

// pairAddr is host's address on the test subnets: 10.0.0.host, or
// fd00::host.
func pairAddr(v6 bool, host byte) netip.Addr {
	if v6 {
		return netip.AddrFrom16([16]byte{0xfd, 15: host})
	}
	return netip.AddrFrom4([4]byte{10, 0, 0, host})
}
