package netlinkx

// Addr is one interface address (RTM_NEWADDR, struct ifaddrmsg + IFA_*).
type Addr struct {
	Index     int32
	Family    uint8 // unix.AF_INET or unix.AF_INET6
	PrefixLen uint8
	Scope     uint8 // RT_SCOPE_*
	Flags     uint32
	Local     []byte // IFA_LOCAL (4 or 16 bytes)
	Broadcast []byte // IFA_BROADCAST (IPv4)
	Label     string // IFA_LABEL
}

// Neigh is one neighbour table entry (RTM_NEWNEIGH, struct ndmsg + NDA_*).
type Neigh struct {
	Index  int32
	Family uint8
	State  uint16 // NUD_*
	Flags  uint8
	Dst    []byte // NDA_DST
	LLAddr []byte // NDA_LLADDR: the 20-byte IPoIB address
}

// AddrNode is implemented by nodes with an IP stack: addresses and the
// neighbour table.
type AddrNode interface {
	Addrs() ([]Addr, error)
	AddAddr(a Addr) error
	DelAddr(a Addr) error
	Neighs() ([]Neigh, error)
}
