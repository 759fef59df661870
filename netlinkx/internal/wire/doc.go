// Package wire holds the ibctl socket's protocol as the netlinkx client
// and server share it: the table of family IDs, commands and attributes
// (ids.go); the codecs of netlink messages, acks and the kernel's fixed
// headers (ifinfomsg, ifaddrmsg, ndmsg, genlmsghdr); and the ethtool
// request header and verbose bitsets.
package wire
