package ibcm

import (
	"strconv"
	"time"

	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/verbs"
	"golang.org/x/sys/unix"
)

// State is a communication ID's state (enum ib_cm_state, same values).
// The LAP states of the kernel (enum ib_cm_lap_state) are not modelled.
type State uint8

// ID states.
const (
	Idle State = iota
	Listen
	REQSent
	REQRcvd
	MRAREQSent
	MRAREQRcvd
	REPSent
	REPRcvd
	MRAREPSent
	MRAREPRcvd
	Established
	DREQSent
	DREQRcvd
	Timewait
)

var stateNames = [...]string{
	Idle: "IDLE", Listen: "LISTEN", REQSent: "REQ_SENT", REQRcvd: "REQ_RCVD", MRAREQSent: "MRA_REQ_SENT",
	MRAREQRcvd: "MRA_REQ_RCVD", REPSent: "REP_SENT", REPRcvd: "REP_RCVD", MRAREPSent: "MRA_REP_SENT",
	MRAREPRcvd: "MRA_REP_RCVD", Established: "ESTABLISHED", DREQSent: "DREQ_SENT", DREQRcvd: "DREQ_RCVD",
	Timewait: "TIMEWAIT",
}

// String returns the kernel's name without the IB_CM_ prefix.
func (s State) String() string { return enumName(stateNames[:], int(s), "State") }

// EventType is what an event reports (enum ib_cm_event_type, same values:
// IPoIB logs them as numbers).
type EventType uint8

// Event types.
const (
	REQError EventType = iota
	REQReceived
	REPError
	REPReceived
	RTUReceived
	UserEstablished
	DREQError
	DREQReceived
	DREPReceived
	TimewaitExit
	MRAReceived
	REJReceived
)

var eventNames = [...]string{
	REQError: "REQ_ERROR", REQReceived: "REQ_RECEIVED", REPError: "REP_ERROR", REPReceived: "REP_RECEIVED",
	RTUReceived: "RTU_RECEIVED", UserEstablished: "USER_ESTABLISHED", DREQError: "DREQ_ERROR",
	DREQReceived: "DREQ_RECEIVED", DREPReceived: "DREP_RECEIVED", TimewaitExit: "TIMEWAIT_EXIT",
	MRAReceived: "MRA_RECEIVED", REJReceived: "REJ_RECEIVED",
}

// String returns the kernel's name without the IB_CM_ prefix.
func (t EventType) String() string { return enumName(eventNames[:], int(t), "EventType") }

// Event is one event of an ID (struct ib_cm_event).
type Event struct {
	Type EventType
	REQ  *header.CMReq // REQReceived: the request
	REP  *header.CMRep // REPReceived: the reply
	REJ  *header.CMRej // REJReceived: the reject (Reason)
	// PrivateData is the received message's private data.
	PrivateData []byte
}

// Handler receives an ID's events, one at a time, on its CM's work
// queue (ib_cm_handler). For REQReceived the ID is a new one, created for
// the request, with the listener's handler and context. Returning an
// error makes the CM destroy the ID afterwards, as a non-zero return
// does in the kernel (a new ID is then rejected with CONSUMER_DEFINED).
// As in the kernel, a handler must not call Destroy on its own ID (that
// waits for the handler): it returns an error instead.
type Handler func(id *ID, ev *Event) error

// Path is what a REQ needs of a path record (struct sa_path_rec).
type Path struct {
	SGID, DGID     [16]byte
	SLID, DLID     uint16
	PKey           uint16
	MTU            verbs.MTU
	SL             uint8
	Rate           uint8 // enum ib_rate
	PacketLifeTime uint8 // IBA time: 4.096 µs × 2^PacketLifeTime
}

// REQParam is a connection request (struct ib_cm_req_param).
type REQParam struct {
	Path                    Path
	ServiceID               uint64
	QPN                     uint32 // the local RC QP
	StartingPSN             uint32
	PrivateData             []byte // at most 92 bytes
	ResponderResources      uint8
	InitiatorDepth          uint8
	RemoteCMResponseTimeout uint8
	LocalCMResponseTimeout  uint8
	RetryCount              uint8
	RNRRetryCount           uint8
	MaxCMRetries            uint8
	FlowControl             bool
	SRQ                     bool
}

// REPParam is a connection reply (struct ib_cm_rep_param).
type REPParam struct {
	QPN                uint32
	StartingPSN        uint32
	PrivateData        []byte // at most 196 bytes
	ResponderResources uint8
	InitiatorDepth     uint8
	RNRRetryCount      uint8
	FlowControl        bool
	SRQ                bool
}

// ID is a communication ID (struct ib_cm_id with cm_id_private). Its
// methods may be called from any goroutine, handlers included.
type ID struct {
	cm      *CM
	handler Handler

	// Guarded by cm.mu.
	context            any
	state              State
	destroyed          bool
	localID, remoteID  uint32
	serviceID          uint64
	tid                uint64
	remoteCAGUID       uint64
	inRemote           bool // registered in cm.remote
	localQPN           uint32
	remoteQPN          uint32
	sqPSN, rqPSN       uint32
	pkey               uint16
	pathMTU            verbs.MTU
	av                 av    // the peer port's LID and the P_Key index MADs go with
	avTimeout          uint8 // av.timeout: the path's local ACK timeout
	timeout            time.Duration
	maxRetries         uint8
	retryCount         uint8
	rnrRetryCount      uint8
	responderResources uint8
	initiatorDepth     uint8
	serviceTimeout     uint8       // of the MRA sent, for duplicates
	mraData            []byte      // the MRA's private data
	msg                *outMAD     // the message awaiting an answer
	twTimer            verbs.Timer // the time-wait timer
}

// State is the ID's state.
func (id *ID) State() State {
	id.cm.mu.Lock()
	defer id.cm.mu.Unlock()
	return id.state
}

// Context is the consumer's value for the ID.
func (id *ID) Context() any {
	id.cm.mu.Lock()
	defer id.cm.mu.Unlock()
	return id.context
}

// SetContext replaces the consumer's value (cm_id->context = ...).
func (id *ID) SetContext(ctx any) {
	id.cm.mu.Lock()
	defer id.cm.mu.Unlock()
	id.context = ctx
}

// LocalID is the ID's local communication ID.
func (id *ID) LocalID() uint32 {
	id.cm.mu.Lock()
	defer id.cm.mu.Unlock()
	return id.localID
}

func errState(op string, s State) error {
	return &Error{Op: op, Err: unix.EINVAL, Msg: "state " + s.String()}
}

// SendREQ sends a connection request (ib_send_cm_req): the ID must be
// idle, and the path's P_Key in the port's table. The REQ is resent
// every 2 × packet life time + remote CM response timeout until a REP,
// REJ or the last of MaxCMRetries retries, after which the handler gets
// REQError.
func (id *ID) SendREQ(p REQParam) error {
	cm := id.cm
	if len(p.PrivateData) > header.CMREQPrivateDataSize {
		return &Error{Op: "send REQ", Err: unix.EINVAL, Msg: "private data too long"}
	}
	idx, ok := fabric.FindPKey(cm.pkeys(), p.Path.PKey)
	if !ok {
		return &Error{Op: "send REQ", Err: unix.EINVAL, Msg: "P_Key not in the port's table"}
	}
	cm.mu.Lock()
	defer cm.mu.Unlock()
	if id.destroyed || id.state != Idle {
		return errState("send REQ", id.state)
	}
	plt := p.Path.PacketLifeTime
	id.serviceID, id.localQPN, id.rqPSN = p.ServiceID, p.QPN, p.StartingPSN
	id.pkey, id.pathMTU = p.Path.PKey, p.Path.MTU
	id.av = av{dlid: p.Path.DLID, pkeyIndex: uint16(idx)}
	id.avTimeout = plt + 1
	id.timeout = 2*convertToDuration(plt) + convertToDuration(p.RemoteCMResponseTimeout)
	id.maxRetries, id.retryCount = p.MaxCMRetries, p.RetryCount
	id.initiatorDepth, id.responderResources = p.InitiatorDepth, p.ResponderResources
	id.tid = id.formTID()
	req := header.CMReq{
		LocalCommID: id.localID, ServiceID: p.ServiceID, LocalCAGUID: cm.guid, LocalQPN: p.QPN,
		ResponderResources: p.ResponderResources, InitiatorDepth: p.InitiatorDepth,
		RemoteCMResponseTimeout: p.RemoteCMResponseTimeout, TransportServiceType: header.CMTransportRC,
		FlowControl: p.FlowControl, StartingPSN: p.StartingPSN, LocalCMResponseTimeout: p.LocalCMResponseTimeout,
		RetryCount: p.RetryCount, PKey: p.Path.PKey, PathMTU: uint8(p.Path.MTU), RNRRetryCount: p.RNRRetryCount,
		MaxCMRetries: p.MaxCMRetries, SRQ: p.SRQ,
		Primary: header.CMPath{LocalLID: p.Path.SLID, RemoteLID: p.Path.DLID, LocalGID: p.Path.SGID,
			RemoteGID: p.Path.DGID, PacketRate: p.Path.Rate, SL: p.Path.SL, SubnetLocal: true,
			LocalACKTimeout: ackTimeout(cm.ackDelay, plt)},
	}
	copy(req.PrivateData[:], p.PrivateData)
	mad := make([]byte, header.MADSize)
	req.Encode(mad, id.tid)
	id.state = REQSent
	cm.sendMsgLocked(id, mad)
	return nil
}

// SendREP answers a received REQ (ib_send_cm_rep): the REP is resent
// every local CM response timeout of the REQ until the RTU, up to the
// REQ's CM retries, after which the handler gets REPError.
func (id *ID) SendREP(p REPParam) error {
	cm := id.cm
	if len(p.PrivateData) > header.CMREPPrivateDataSize {
		return &Error{Op: "send REP", Err: unix.EINVAL, Msg: "private data too long"}
	}
	cm.mu.Lock()
	defer cm.mu.Unlock()
	if id.destroyed || id.state != REQRcvd && id.state != MRAREQSent {
		return errState("send REP", id.state)
	}
	rep := header.CMRep{
		LocalCommID: id.localID, RemoteCommID: id.remoteID, LocalQPN: p.QPN & 0xFFFFFF, StartingPSN: p.StartingPSN,
		ResponderResources: p.ResponderResources, InitiatorDepth: p.InitiatorDepth, TargetACKDelay: cm.ackDelay,
		FlowControl: p.FlowControl, RNRRetryCount: p.RNRRetryCount, SRQ: p.SRQ, LocalCAGUID: cm.guid,
	}
	copy(rep.PrivateData[:], p.PrivateData)
	mad := make([]byte, header.MADSize)
	rep.Encode(mad, id.tid)
	id.state = REPSent
	id.initiatorDepth, id.responderResources = p.InitiatorDepth, p.ResponderResources
	id.rqPSN, id.localQPN = p.StartingPSN, p.QPN&0xFFFFFF
	cm.sendMsgLocked(id, mad)
	return nil
}

// SendRTU completes the exchange after a REP (ib_send_cm_rtu): the ID is
// established.
func (id *ID) SendRTU(privateData []byte) error {
	cm := id.cm
	if len(privateData) > header.CMRTUPrivateDataSize {
		return &Error{Op: "send RTU", Err: unix.EINVAL, Msg: "private data too long"}
	}
	cm.mu.Lock()
	defer cm.mu.Unlock()
	if id.destroyed || id.state != REPRcvd && id.state != MRAREPSent {
		return errState("send RTU", id.state)
	}
	rtu := header.CMRtu{LocalCommID: id.localID, RemoteCommID: id.remoteID}
	copy(rtu.PrivateData[:], privateData)
	mad := make([]byte, header.MADSize)
	rtu.Encode(mad, id.tid)
	cm.post(mad, id.av)
	id.state = Established
	return nil
}

// MRAFlagDelay in SendMRA's service timeout changes the state without
// sending the MRA (IB_CM_MRA_FLAG_DELAY): it goes out only in answer to
// a duplicate.
const MRAFlagDelay = 0x80

// SendMRA tells the peer that more time is needed to answer its REQ or
// REP (ib_send_cm_mra): serviceTimeout (an IBA time) is how much. The ID
// moves to MRA_REQ_SENT or MRA_REP_SENT, where a duplicate of the message
// gets the MRA again; the answer (SendREP, SendRTU, SendREJ) follows as
// usual. EINVAL in another state.
func (id *ID) SendMRA(serviceTimeout uint8, privateData []byte) error {
	cm := id.cm
	if len(privateData) > header.CMMRAPrivateDataSize {
		return &Error{Op: "send MRA", Err: unix.EINVAL, Msg: "private data too long"}
	}
	cm.mu.Lock()
	defer cm.mu.Unlock()
	var next State
	var mraed uint8
	switch {
	case id.destroyed:
		return errState("send MRA", id.state)
	case id.state == REQRcvd:
		next, mraed = MRAREQSent, header.CMMsgREQ
	case id.state == REPRcvd:
		next, mraed = MRAREPSent, header.CMMsgREP
	default:
		return errState("send MRA", id.state)
	}
	id.serviceTimeout, id.mraData = serviceTimeout, append([]byte(nil), privateData...)
	if serviceTimeout&MRAFlagDelay == 0 {
		cm.postMRALocked(id, mraed, id.av)
	}
	id.state = next
	return nil
}

// postMRALocked sends the ID's MRA for the message mraed to (cm_format_mra).
// Caller holds cm.mu.
func (cm *CM) postMRALocked(id *ID, mraed uint8, to av) {
	mra := header.CMMra{LocalCommID: id.localID, RemoteCommID: id.remoteID, MessageMRAed: mraed,
		ServiceTimeout: id.serviceTimeout &^ MRAFlagDelay}
	copy(mra.PrivateData[:], id.mraData)
	mad := make([]byte, header.MADSize)
	mra.Encode(mad, id.tid)
	cm.post(mad, to)
}

// SendREJ rejects a REQ or REP, or abandons a REQ (ib_send_cm_rej) with
// reason and the optional ARI (at most 72 bytes) and private data.
func (id *ID) SendREJ(reason uint16, ari, privateData []byte) error {
	cm := id.cm
	if len(ari) > header.CMREJARILength || len(privateData) > header.CMREJPrivateDataSize {
		return &Error{Op: "send REJ", Err: unix.EINVAL, Msg: "ARI or private data too long"}
	}
	cm.mu.Lock()
	defer cm.mu.Unlock()
	if id.destroyed {
		return errState("send REJ", id.state)
	}
	return cm.sendREJLocked(id, reason, ari, privateData)
}

// Caller holds cm.mu.
func (cm *CM) sendREJLocked(id *ID, reason uint16, ari, privateData []byte) error {
	// cm_format_rej: what the REJ answers depends on the state.
	rej := header.CMRej{LocalCommID: id.localID, RemoteCommID: id.remoteID, Reason: reason,
		MessageRejected: header.CMMsgOther, RejectedInfoLength: uint8(len(ari))}
	switch id.state {
	case REQRcvd:
		rej.LocalCommID, rej.MessageRejected = 0, header.CMMsgREQ
	case MRAREQSent:
		rej.MessageRejected = header.CMMsgREQ
	case REPRcvd, MRAREPSent:
		rej.MessageRejected = header.CMMsgREP
	}
	copy(rej.ARI[:], ari)
	copy(rej.PrivateData[:], privateData)
	mad := make([]byte, header.MADSize)
	rej.Encode(mad, id.tid)
	switch id.state {
	case REQSent, MRAREQRcvd, REQRcvd, MRAREQSent, REPRcvd, MRAREPSent:
		cm.cancelLocked(id)
		cm.post(mad, id.av)
		cm.resetToIdleLocked(id)
	case REPSent, MRAREPRcvd:
		cm.cancelLocked(id)
		cm.post(mad, id.av)
		cm.enterTimewaitLocked(id)
	default:
		return errState("send REJ", id.state)
	}
	return nil
}

// SendDREQ starts disconnecting an established ID (ib_send_cm_dreq): the
// DREQ is resent like the ID's REQ or REP until the DREP, after which the
// ID is in time-wait.
func (id *ID) SendDREQ(privateData []byte) error {
	cm := id.cm
	if len(privateData) > header.CMDREQPrivateDataSize {
		return &Error{Op: "send DREQ", Err: unix.EINVAL, Msg: "private data too long"}
	}
	cm.mu.Lock()
	defer cm.mu.Unlock()
	if id.destroyed || id.state != Established {
		return errState("send DREQ", id.state)
	}
	cm.sendDREQLocked(id, privateData)
	return nil
}

// Caller holds cm.mu.
func (cm *CM) sendDREQLocked(id *ID, privateData []byte) {
	dreq := header.CMDreq{LocalCommID: id.localID, RemoteCommID: id.remoteID, RemoteQPN: id.remoteQPN}
	copy(dreq.PrivateData[:], privateData)
	mad := make([]byte, header.MADSize)
	dreq.Encode(mad, id.formTID())
	id.state = DREQSent
	cm.sendMsgLocked(id, mad)
}

// SendDREP answers a DREQ (ib_send_cm_drep): the ID enters time-wait.
func (id *ID) SendDREP(privateData []byte) error {
	cm := id.cm
	if len(privateData) > header.CMDREPPrivateDataSize {
		return &Error{Op: "send DREP", Err: unix.EINVAL, Msg: "private data too long"}
	}
	cm.mu.Lock()
	defer cm.mu.Unlock()
	if id.destroyed || id.state != DREQRcvd {
		return errState("send DREP", id.state)
	}
	cm.sendDREPLocked(id, privateData)
	return nil
}

// Caller holds cm.mu.
func (cm *CM) sendDREPLocked(id *ID, privateData []byte) {
	cm.enterTimewaitLocked(id)
	drep := header.CMDrep{LocalCommID: id.localID, RemoteCommID: id.remoteID}
	copy(drep.PrivateData[:], privateData)
	mad := make([]byte, header.MADSize)
	drep.Encode(mad, id.tid)
	cm.post(mad, id.av)
}

// Destroy ends the ID (ib_destroy_cm_id), telling the peer as the kernel
// does: a pending REQ is abandoned with REJ TIMEOUT (the ARI is the CA
// GUID), a received REQ or REP rejected with CONSUMER_DEFINED, an
// established connection disconnected with a DREQ (no DREP awaited), a
// received DREQ answered. The handler gets no more events; if it is
// running, Destroy waits for it to return (cm_destroy_id waits for the
// ID's references), so it must not be called from the ID's own handler.
func (id *ID) Destroy() { id.destroy(nil) }

func (id *ID) destroy(err error) {
	cm := id.cm
	cm.mu.Lock()
	defer cm.mu.Unlock()
	for cm.running == id {
		cm.handled.Wait()
	}
	if id.destroyed {
		return
	}
	switch id.state {
	case Listen:
		if cm.listens[id.serviceID] == id {
			delete(cm.listens, id.serviceID)
		}
	case REQSent, MRAREQRcvd:
		var guid [8]byte
		putBE64(guid[:], cm.guid)
		_ = cm.sendREJLocked(id, header.CMRejTimeout, guid[:], nil)
	case REQRcvd, REPSent, MRAREPRcvd, MRAREQSent, REPRcvd, MRAREPSent:
		_ = cm.sendREJLocked(id, header.CMRejConsumerDefined, nil, nil)
	case Established:
		cm.sendDREQLocked(id, nil)
		cm.cancelLocked(id)
		cm.enterTimewaitLocked(id)
	case DREQSent:
		cm.cancelLocked(id)
		cm.enterTimewaitLocked(id)
	case DREQRcvd:
		cm.sendDREPLocked(id, nil)
	}
	cm.cancelLocked(id)
	if id.twTimer != nil {
		id.twTimer.Stop()
	}
	cm.forgetRemoteLocked(id)
	if cm.ids[id.localID] == id {
		delete(cm.ids, id.localID)
	}
	id.destroyed = true
}

// InitQPAttr returns the attributes that bring the ID's QP to state
// (ib_cm_init_qp_attr): INIT (P_Key index, port), RTR (the peer's LID,
// path MTU, QPN and the receive PSN) or RTS (the send PSN, ACK timeout,
// retry and RNR retry counts). EINVAL in a state that has no such
// attributes yet.
func (id *ID) InitQPAttr(state verbs.QPState) (verbs.QPAttr, verbs.AttrMask, error) {
	id.cm.mu.Lock()
	defer id.cm.mu.Unlock()
	s := id.state
	switch state {
	case verbs.QPInit:
		switch s {
		case REQSent, MRAREQRcvd, REQRcvd, MRAREQSent, REPRcvd, MRAREPSent, REPSent, MRAREPRcvd, Established:
			return verbs.QPAttr{State: verbs.QPInit, PKeyIndex: id.av.pkeyIndex, Port: 1},
				verbs.AttrState | verbs.AttrPKeyIndex | verbs.AttrPort, nil
		}
	case verbs.QPRTR:
		switch s {
		case REQRcvd, MRAREQSent, REPRcvd, MRAREPSent, REPSent, MRAREPRcvd, Established:
			return verbs.QPAttr{State: verbs.QPRTR, DLID: id.av.dlid, PathMTU: id.pathMTU, DestQPN: id.remoteQPN,
					RQPSN: id.rqPSN, MinRNRTimer: 0},
				verbs.AttrState | verbs.AttrAV | verbs.AttrPathMTU | verbs.AttrDestQPN | verbs.AttrRQPSN | verbs.AttrMinRNRTimer, nil
		}
	case verbs.QPRTS:
		switch s {
		case REQRcvd, MRAREQSent, REPRcvd, MRAREPSent, REPSent, MRAREPRcvd, Established:
			return verbs.QPAttr{State: verbs.QPRTS, SQPSN: id.sqPSN, Timeout: id.avTimeout, RetryCnt: id.retryCount,
					RNRRetry: id.rnrRetryCount},
				verbs.AttrState | verbs.AttrSQPSN | verbs.AttrTimeout | verbs.AttrRetryCnt | verbs.AttrRNRRetry, nil
		}
	}
	return verbs.QPAttr{}, 0, errState("init QP attr "+state.String(), s)
}

// formTID is cm_form_tid: the agent's hi_tid and the local ID.
func (id *ID) formTID() uint64 { return hiTID<<32 | uint64(id.localID) }

// enumName indexes a name table, falling back to "Type(n)".
func enumName(names []string, i int, typ string) string {
	if i >= 0 && i < len(names) && names[i] != "" {
		return names[i]
	}
	return typ + "(" + strconv.Itoa(i) + ")"
}
