// Package netns gives an emulated node a host of its own on this machine:
// a network namespace registered as /run/netns/NAME (as `ip netns add`
// registers one), and in it, for each IPoIB interface, a kernel netdev —
// a TUN device whose link type is ARPHRD_INFINIBAND — whose state the
// driver keeps in step with its own and whose packets the driver carries
// over the emulated fabric. It also watches the namespace's rtnetlink
// groups, so that what `ip link set` and `ip addr add` change there
// reaches the driver, and asks its kernel how it routes a datagram.
//
// Everything here needs CAP_SYS_ADMIN and CAP_NET_ADMIN. The package knows
// nothing of IPoIB or of the driver: it may import the standard library,
// golang.org/x/sys/unix, the rtnetlink libraries and driver/header (the
// wire formats).
package netns
