package verbs

import (
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// QPState is a QP state (enum ib_qp_state values). The send-queue-drain
// and send-queue-error states are not modelled.
type QPState uint8

// QP states.
const (
	QPReset QPState = 0
	QPInit  QPState = 1
	QPRTR   QPState = 2 // ready to receive
	QPRTS   QPState = 3 // ready to send
	QPError QPState = 6
)

var qpStateNames = [...]string{QPReset: "RESET", QPInit: "INIT", QPRTR: "RTR", QPRTS: "RTS", QPError: "ERR"}

// String returns the short state name: RESET, INIT, RTR, RTS or ERR.
func (s QPState) String() string { return enumName(qpStateNames[:], int(s), "QPState") }

// AttrMask says which QPAttr fields a Modify sets (enum ib_qp_attr_mask).
type AttrMask uint32

// Attribute mask bits.
const (
	AttrState       AttrMask = 1 << iota // State
	AttrPKeyIndex                        // PKeyIndex
	AttrPort                             // Port
	AttrQKey                             // QKey
	AttrAV                               // DLID, GRH, DGID
	AttrPathMTU                          // PathMTU
	AttrTimeout                          // Timeout
	AttrRetryCnt                         // RetryCnt
	AttrRNRRetry                         // RNRRetry
	AttrRQPSN                            // RQPSN
	AttrMinRNRTimer                      // MinRNRTimer
	AttrSQPSN                            // SQPSN
	AttrDestQPN                          // DestQPN
)

var attrNames = [...]string{
	"STATE", "PKEY_INDEX", "PORT", "QKEY", "AV", "PATH_MTU", "TIMEOUT",
	"RETRY_CNT", "RNR_RETRY", "RQ_PSN", "MIN_RNR_TIMER", "SQ_PSN", "DEST_QPN",
}

// String lists the bits as "PKEY_INDEX|PORT|QKEY".
func (m AttrMask) String() string {
	if m == 0 {
		return "0"
	}
	var parts []string
	for i, name := range attrNames {
		if m&(1<<i) != 0 {
			parts = append(parts, name)
			m &^= 1 << i
		}
	}
	if m != 0 {
		parts = append(parts, "AttrMask("+hex32(uint32(m))+")")
	}
	return strings.Join(parts, "|")
}

// QPAttr are the modifiable QP attributes (ib_qp_attr); Modify reads the
// fields selected by its mask.
type QPAttr struct {
	State     QPState
	PKeyIndex uint16 // index into the port's P_Key table
	Port      uint8  // always 1
	QKey      uint32 // UD
	// Address vector of the remote end (RC).
	DLID        uint16
	GRH         bool
	DGID        [16]byte
	PathMTU     MTU    // RC; at most the port MTU
	DestQPN     uint32 // RC
	RQPSN       uint32 // RC: first PSN the responder expects
	SQPSN       uint32 // first PSN the requester sends
	MinRNRTimer uint8  // RC: RNR timer code (0-31) sent in this QP's RNR NAKs
	Timeout     uint8  // RC: local ACK timeout code (0-31; see AckTimeout); 0 waits forever
	RetryCnt    uint8  // RC: resends after an ACK timeout or sequence NAK (0-7) before RETRY_EXC_ERR
	RNRRetry    uint8  // RC: RNR retries (0-6, 7 = infinite)
}

// transition is one entry of the state table: the attributes required and
// allowed, per QP type (as ib_modify_qp_is_ok's qp_state_table).
type transition struct {
	valid bool
	req   [2]AttrMask // [ud, rc]
	opt   [2]AttrMask
}

const (
	ud = 0
	rc = 1
)

func typeIndex(t QPType) int {
	if t == RC {
		return rc
	}
	return ud
}

// qpTransitions are the allowed state changes with their required and
// optional attributes (see Modify), built on first use.
var qpTransitions = sync.OnceValue(func() map[[2]QPState]transition {
	return map[[2]QPState]transition{
		{QPReset, QPReset}: {valid: true},
		{QPReset, QPInit}: {valid: true, req: [2]AttrMask{
			ud: AttrPKeyIndex | AttrPort | AttrQKey,
			rc: AttrPKeyIndex | AttrPort,
		}},
		{QPInit, QPReset}: {valid: true},
		{QPInit, QPError}: {valid: true},
		{QPInit, QPInit}: {valid: true, opt: [2]AttrMask{
			ud: AttrPKeyIndex | AttrPort | AttrQKey,
			rc: AttrPKeyIndex | AttrPort,
		}},
		{QPInit, QPRTR}: {valid: true,
			req: [2]AttrMask{rc: AttrAV | AttrPathMTU | AttrDestQPN | AttrRQPSN | AttrMinRNRTimer},
			opt: [2]AttrMask{ud: AttrPKeyIndex | AttrQKey, rc: AttrPKeyIndex},
		},
		{QPRTR, QPReset}: {valid: true},
		{QPRTR, QPError}: {valid: true},
		{QPRTR, QPRTS}: {valid: true,
			req: [2]AttrMask{ud: AttrSQPSN, rc: AttrSQPSN | AttrTimeout | AttrRetryCnt | AttrRNRRetry},
			opt: [2]AttrMask{ud: AttrQKey, rc: AttrMinRNRTimer},
		},
		{QPRTS, QPReset}:   {valid: true},
		{QPRTS, QPError}:   {valid: true},
		{QPRTS, QPRTS}:     {valid: true, opt: [2]AttrMask{ud: AttrQKey, rc: AttrMinRNRTimer}},
		{QPError, QPReset}: {valid: true},
		{QPError, QPError}: {valid: true},
	}
})

// Modify changes the QP's attributes and state (ib_modify_qp). Without
// AttrState in mask the QP stays in its state and the transition is
// cur->cur. Each transition has required and allowed attributes:
//
//	RESET->INIT  UD: PKEY_INDEX|PORT|QKEY          RC: PKEY_INDEX|PORT
//	INIT->INIT   optional: the same
//	INIT->RTR    UD: optional PKEY_INDEX|QKEY
//	             RC: AV|PATH_MTU|DEST_QPN|RQ_PSN|MIN_RNR_TIMER, optional PKEY_INDEX
//	RTR->RTS     UD: SQ_PSN, optional QKEY
//	             RC: SQ_PSN|TIMEOUT|RETRY_CNT|RNR_RETRY, optional MIN_RNR_TIMER
//	RTS->RTS     optional UD: QKEY, RC: MIN_RNR_TIMER
//	any->RESET, INIT/RTR/RTS/ERR->ERR: nothing
//
// Anything else, a missing required attribute, an attribute not allowed
// for the transition or a value out of range returns EINVAL and changes
// nothing. Moving to Error flushes all outstanding work with WRFlushErr;
// moving to Reset drops it without completions.
func (qp *QP) Modify(attr QPAttr, mask AttrMask) error {
	const op = "modify_qp"
	qp.mu.Lock()
	cur := qp.state
	next := cur
	if mask&AttrState != 0 {
		next = attr.State
	}
	t, ok := qpTransitions()[[2]QPState{cur, next}]
	if !ok || !t.valid {
		qp.mu.Unlock()
		return newError(op, unix.EINVAL, cur.String()+"->"+next.String()+" not allowed")
	}
	ti := typeIndex(qp.typ)
	if missing := t.req[ti] &^ mask; missing != 0 {
		qp.mu.Unlock()
		return newError(op, unix.EINVAL, cur.String()+"->"+next.String()+" "+qp.typ.String()+" requires "+missing.String())
	}
	if extra := mask &^ (t.req[ti] | t.opt[ti] | AttrState); extra != 0 {
		qp.mu.Unlock()
		return newError(op, unix.EINVAL, extra.String()+" not allowed for "+qp.typ.String()+" "+cur.String()+"->"+next.String())
	}
	if msg := qp.checkValues(&attr, mask); msg != "" {
		qp.mu.Unlock()
		return newError(op, unix.EINVAL, msg)
	}

	a := &qp.attr
	if mask&AttrPKeyIndex != 0 {
		a.PKeyIndex = attr.PKeyIndex
	}
	if mask&AttrPort != 0 {
		a.Port = attr.Port
	}
	if mask&AttrQKey != 0 {
		a.QKey = attr.QKey
	}
	if mask&AttrAV != 0 {
		a.DLID, a.GRH, a.DGID = attr.DLID, attr.GRH, attr.DGID
	}
	if mask&AttrPathMTU != 0 {
		a.PathMTU = attr.PathMTU
	}
	if mask&AttrDestQPN != 0 {
		a.DestQPN = attr.DestQPN
	}
	if mask&AttrRQPSN != 0 {
		a.RQPSN = attr.RQPSN
	}
	if mask&AttrSQPSN != 0 {
		a.SQPSN = attr.SQPSN
	}
	if mask&AttrMinRNRTimer != 0 {
		a.MinRNRTimer = attr.MinRNRTimer
	}
	if mask&AttrTimeout != 0 {
		a.Timeout = attr.Timeout
	}
	if mask&AttrRetryCnt != 0 {
		a.RetryCnt = attr.RetryCnt
	}
	if mask&AttrRNRRetry != 0 {
		a.RNRRetry = attr.RNRRetry
	}

	var n notifier
	switch {
	case next == cur:
	case next == QPReset:
		qp.resetLocked()
	case next == QPError:
		qp.enterErrorLocked(&n)
	case next == QPRTR:
		qp.resp.epsn = a.RQPSN
	case next == QPRTS:
		qp.req.psn = a.SQPSN
		qp.comp.rnrLeft = a.RNRRetry
		qp.comp.retryLeft = a.RetryCnt
	}
	qp.state = next
	qp.mu.Unlock()
	n.run()
	return nil
}

// checkValues validates the attributes selected by mask; it returns a
// message for EINVAL or "".
// Caller holds qp.mu.
func (qp *QP) checkValues(a *QPAttr, mask AttrMask) string {
	if mask&AttrPort != 0 && a.Port != 1 {
		return "invalid port"
	}
	if mask&AttrPKeyIndex != 0 {
		if _, ok := qp.dev.pkey(a.PKeyIndex); !ok {
			return "P_Key index out of range"
		}
	}
	if mask&AttrAV != 0 && (a.DLID == 0 || isMulticastLID(a.DLID)) {
		return "invalid DLID"
	}
	if mask&AttrPathMTU != 0 && (a.PathMTU.Bytes() == 0 || a.PathMTU > qp.dev.opts.MTU) {
		return "invalid path MTU"
	}
	if mask&AttrDestQPN != 0 && a.DestQPN > psnMask {
		return "invalid destination QPN"
	}
	if mask&AttrRQPSN != 0 && a.RQPSN > psnMask || mask&AttrSQPSN != 0 && a.SQPSN > psnMask {
		return "invalid PSN"
	}
	if mask&AttrMinRNRTimer != 0 && a.MinRNRTimer > 31 || mask&AttrTimeout != 0 && a.Timeout > 31 {
		return "invalid timer value"
	}
	if mask&AttrRetryCnt != 0 && a.RetryCnt > 7 || mask&AttrRNRRetry != 0 && a.RNRRetry > 7 {
		return "invalid retry count"
	}
	return ""
}

func hex32(v uint32) string { return "0x" + strconv.FormatUint(uint64(v), 16) }
