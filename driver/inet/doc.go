// Package inet is the host IP stack of an emulated node: IPv4 and IPv6
// addresses, ARP and neighbour discovery, ICMP and ICMPv6 (echo, errors),
// fragmentation and reassembly, path MTUs and the routes of on-link
// subnets, as net/ipv4 and net/ipv6 do them for an ARPHRD_INFINIBAND
// device.
//
// It runs over any link that meets the contract in link.go: the IPoIB
// driver's endpoint (driver/ipoib) is one, and a kernel netdev bridge
// could be another. It imports only the wire formats (driver/header) and
// the clock (driver/verbs), never the IPoIB driver; the driver package
// composes the two.
package inet
