package header

// P_Keys (IBA 10.9): the low 15 bits name the partition, the top bit says
// whether the port is a full member (set) or a limited one. Base 0 is no
// partition: 0x0000 and 0x8000 are invalid everywhere.

// PKeyFullMember is a P_Key's membership bit.
const PKeyFullMember = 0x8000

// PKeyBase is the partition a P_Key names: its low 15 bits.
func PKeyBase(pkey uint16) uint16 { return pkey &^ PKeyFullMember }

// PKeyValid reports whether the P_Key names a partition.
func PKeyValid(pkey uint16) bool { return PKeyBase(pkey) != 0 }

// PKeyFull is the P_Key with the full-member bit set.
func PKeyFull(pkey uint16) uint16 { return pkey | PKeyFullMember }

// PKeyIsFull reports whether the P_Key is a full member's.
func PKeyIsFull(pkey uint16) bool { return pkey&PKeyFullMember != 0 }
