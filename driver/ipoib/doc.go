// Package ipoib is the IPoIB link endpoint of an emulated HCA port, as the
// kernel's ipoib_ib.c, ipoib_cm.c and ipoib_multicast.c build it: the UD
// data path with its QP, CQs and NAPI-style poller (endpoint.go), the
// neighbour table and path records (neigh.go, paths.go), connected mode
// over RC connections set up by the port's communication manager (cm.go,
// sendcomp.go), the transmit queue and its qdisc (txqueue.go), multicast
// and send-only groups (multicast.go), and the capture points of an
// endpoint and of a port's link (capture.go).
//
// An Endpoint carries IPoIB packets (the 4-byte encapsulation header and
// what follows) to 20-byte IPoIB addresses, and hands received ones to the
// Dispatcher it is attached to: the host IP stack (driver/inet) or any
// other network layer. It knows nothing of IP beyond the EtherType of the
// header (unicast ARP goes by path record, as the kernel sends it) and,
// for a TCP segment sent with large send offload (WritePacketGSO), the
// length of its IP and TCP headers.
//
// It may import driver/verbs, driver/ibcm, driver/fabric and
// driver/header; never driver/inet or the netdev layer (driver). Its
// tests also use driver/clocktest.
package ipoib
