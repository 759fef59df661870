package verbs

// The general services QP (QP1, IB_QPT_GSI): the QP that management
// datagrams (MADs) of the general service classes, such as the
// communication manager's, are sent to and from. It is a UD QP created
// with QPInitAttr.QPN = GSIQPN and the well-known Q_Key GSIQKey.
//
// Unlike other UD QPs it accepts a packet carrying any P_Key the port's
// table holds (IBA 10.9.1.1: QP1 may be used with every partition), since
// a CM message travels with the P_Key of the connection it sets up, and
// its receive completions give the index of the packet's P_Key
// (ib_wc.pkey_index, which the CM answers with). Each send goes with the
// P_Key at the WR's index (SendWR.PKeyIndex, ib_ud_wr.pkey_index), not
// the QP's.
const (
	GSIQPN  uint32 = 1          // QP1
	GSIQKey uint32 = 0x80010000 // IB_QP1_QKEY
)

// fixedQPNAllowed says whether CreateQP may give a QP of type t the
// number n below firstQPN: only QP1, to a UD QP.
func fixedQPNAllowed(n uint32, t QPType) bool { return n == GSIQPN && t == UD }

// recvPKeyIndex is a receive completion's P_Key index: the QP's, or on
// QP1 the index of the table entry the packet's P_Key matched.
// Caller holds qp.mu.
func (qp *QP) recvPKeyIndex(pkey uint16) uint16 {
	if qp.num == GSIQPN {
		for i, e := range qp.dev.pkeys() {
			if pkeyMatch(pkey, e) {
				return uint16(i)
			}
		}
	}
	return qp.attr.PKeyIndex
}

// pkeyAccepted is the receive P_Key check: the P_Key at the QP's index
// must match, or for QP1 any entry of the port's table.
// Caller holds qp.mu.
func (qp *QP) pkeyAccepted(pkey uint16) bool {
	if qp.num != GSIQPN {
		own, found := qp.dev.pkey(qp.attr.PKeyIndex)
		return found && pkeyMatch(pkey, own)
	}
	for _, e := range qp.dev.pkeys() {
		if pkeyMatch(pkey, e) {
			return true
		}
	}
	return false
}
