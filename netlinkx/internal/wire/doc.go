// Package wire holds the ibctl socket's protocol as the netlinkx client
// and server share it: the table of family IDs, commands and attributes
// (ids.go); the codecs of netlink messages, acks and the kernel's fixed
// headers (ifinfomsg, ifaddrmsg, ndmsg, genlmsghdr); the ethtool request
// header and verbose bitsets; and the types of netlinkx's API (types.go),
// which netlinkx exports as aliases, with their codecs: links and link
// requests (link.go), ethtool replies and requests (ethtool.go),
// addresses and neighbours (addr.go), the ibctl family's requests and
// replies (ibctl.go, route.go, sm.go), and the capture and monitor
// streams' messages (capture.go, monitor.go).
// It imports no package of this module.
package wire
