package ibcm

import (
	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/verbs"
)

// The received-message handlers of cm.c, run on the work queue. Each
// finds the ID the message is for, checks its state, moves it on and
// delivers the event; a message for no ID or in the wrong state is
// dropped, or answered when the kernel answers it.

// acquireLocked finds the ID with local communication ID local whose peer
// is remote (cm_acquire_id; remote 0 before the peer's ID is known).
// Caller holds cm.mu.
func (cm *CM) acquireLocked(local, remote uint32) *ID {
	if id := cm.ids[local]; id != nil && !id.destroyed && id.remoteID == remote {
		return id
	}
	return nil
}

// handleREQ is cm_req_handler: a new ID for the listener of the service
// ID, or a REJ INVALID_SERVICE_ID when nobody listens.
func (cm *CM) handleREQ(m *header.CMReq, tid uint64, from av) {
	pkeys := cm.pkeys()
	cm.mu.Lock()
	cm.counters.Received[header.CMAttrREQ]++
	key := remoteKey{m.LocalCommID, m.LocalCAGUID}
	if dup := cm.remote[key]; dup != nil {
		// A duplicate (cm_dup_req_handler): the REP, or the REJ, the
		// first one got is on its way or will be resent; an MRA sent
		// for it is sent again.
		cm.counters.Duplicates[header.CMAttrREQ]++
		if dup.state == MRAREQSent {
			cm.postMRALocked(dup, header.CMMsgREQ, from)
		}
		cm.mu.Unlock()
		return
	}
	l := cm.listens[m.ServiceID]
	if l == nil {
		cm.issueREJLocked(from, tid, m.LocalCommID, 0, header.CMRejInvalidServiceID, header.CMMsgREQ)
		cm.mu.Unlock()
		return
	}
	id := cm.newIDLocked(l.handler, l.context)
	id.state = REQRcvd
	id.remoteID, id.remoteCAGUID, id.serviceID, id.tid = m.LocalCommID, m.LocalCAGUID, m.ServiceID, tid
	id.timeout = convertToDuration(m.LocalCMResponseTimeout)
	id.maxRetries, id.remoteQPN = m.MaxCMRetries, m.LocalQPN
	id.initiatorDepth, id.responderResources = m.ResponderResources, m.InitiatorDepth
	id.pathMTU, id.pkey, id.sqPSN = verbs.MTU(m.PathMTU), m.PKey, m.StartingPSN
	id.retryCount, id.rnrRetryCount = m.RetryCount, m.RNRRetryCount
	id.av = from // cm_init_av_for_response
	cm.remote[key], id.inRemote = id, true
	// cm_init_av_by_path with the REQ's primary path: its P_Key must be
	// in the port's table.
	idx, ok := fabric.FindPKey(pkeys, m.PKey)
	if !ok {
		gid := cm.dev.GID()
		_ = cm.sendREJLocked(id, header.CMRejInvalidGID, gid[:], nil)
		cm.forgetRemoteLocked(id)
		id.destroyed = true
		cm.mu.Unlock()
		return
	}
	id.av = av{dlid: m.Primary.LocalLID, pkeyIndex: uint16(idx)}
	plt := m.Primary.LocalACKTimeout
	if plt > 0 {
		plt--
	}
	id.avTimeout = plt + 1
	cm.ids[id.localID] = id
	cm.mu.Unlock()
	cm.deliver(id, &Event{Type: REQReceived, REQ: m, PrivateData: m.PrivateData[:]})
}

// issueREJLocked answers a message that has no ID (cm_issue_rej).
// Caller holds cm.mu.
func (cm *CM) issueREJLocked(to av, tid uint64, remote, local uint32, reason uint16, rejected uint8) {
	rej := header.CMRej{LocalCommID: local, RemoteCommID: remote, MessageRejected: rejected, Reason: reason}
	mad := make([]byte, header.MADSize)
	rej.Encode(mad, tid)
	cm.post(mad, to)
}

// handleREP is cm_rep_handler.
func (cm *CM) handleREP(m *header.CMRep, from av) {
	cm.mu.Lock()
	cm.counters.Received[header.CMAttrREP]++
	id := cm.acquireLocked(m.RemoteCommID, 0)
	if id == nil {
		// cm_dup_rep_handler: an established ID resends its RTU, one
		// that sent an MRA for the REP the MRA.
		cm.counters.Duplicates[header.CMAttrREP]++
		if id = cm.acquireLocked(m.RemoteCommID, m.LocalCommID); id != nil && id.state == Established {
			rtu := header.CMRtu{LocalCommID: id.localID, RemoteCommID: id.remoteID}
			mad := make([]byte, header.MADSize)
			rtu.Encode(mad, id.tid)
			cm.post(mad, from)
		} else if id != nil && id.state == MRAREPSent {
			cm.postMRALocked(id, header.CMMsgREP, from)
		}
		cm.mu.Unlock()
		return
	}
	key := remoteKey{m.LocalCommID, m.LocalCAGUID}
	if id.state != REQSent && id.state != MRAREQRcvd || cm.remote[key] != nil {
		cm.mu.Unlock()
		return
	}
	id.state = REPRcvd
	id.remoteID, id.remoteCAGUID, id.remoteQPN = m.LocalCommID, m.LocalCAGUID, m.LocalQPN
	cm.remote[key], id.inRemote = id, true
	id.initiatorDepth, id.responderResources = m.ResponderResources, m.InitiatorDepth
	id.sqPSN, id.rnrRetryCount = m.StartingPSN, m.RNRRetryCount
	id.avTimeout = ackTimeout(m.TargetACKDelay, id.avTimeout-1)
	cm.cancelLocked(id)
	cm.mu.Unlock()
	cm.deliver(id, &Event{Type: REPReceived, REP: m, PrivateData: m.PrivateData[:]})
}

// handleRTU is cm_rtu_handler: the passive side is established.
func (cm *CM) handleRTU(m *header.CMRtu) {
	cm.mu.Lock()
	cm.counters.Received[header.CMAttrRTU]++
	id := cm.acquireLocked(m.RemoteCommID, m.LocalCommID)
	if id == nil || id.state != REPSent && id.state != MRAREPRcvd {
		if id != nil {
			cm.counters.Duplicates[header.CMAttrRTU]++
		}
		cm.mu.Unlock()
		return
	}
	id.state = Established
	cm.cancelLocked(id)
	cm.mu.Unlock()
	cm.deliver(id, &Event{Type: RTUReceived, PrivateData: m.PrivateData[:]})
}

// handleREJ is cm_rej_handler.
func (cm *CM) handleREJ(m *header.CMRej) {
	cm.mu.Lock()
	cm.counters.Received[header.CMAttrREJ]++
	var id *ID
	switch {
	case m.Reason == header.CMRejTimeout:
		// cm_acquire_rejected_id: the peer gave up its REQ; find our
		// ID by the peer's communication ID and CA GUID (the ARI).
		if r := cm.remote[remoteKey{m.LocalCommID, be64(m.ARI[:])}]; r != nil {
			id = cm.acquireLocked(r.localID, m.LocalCommID)
		}
	case m.MessageRejected == header.CMMsgREQ:
		id = cm.acquireLocked(m.RemoteCommID, 0)
	default:
		id = cm.acquireLocked(m.RemoteCommID, m.LocalCommID)
	}
	if id == nil {
		cm.mu.Unlock()
		return
	}
	switch id.state {
	case REQSent, MRAREQRcvd, REPSent, MRAREPRcvd, REQRcvd, MRAREQSent:
		cm.cancelLocked(id)
		if m.Reason == header.CMRejStaleConn {
			cm.enterTimewaitLocked(id)
		} else {
			cm.resetToIdleLocked(id)
		}
	case DREQSent, REPRcvd, MRAREPSent, Established:
		cm.cancelLocked(id)
		cm.enterTimewaitLocked(id)
	default:
		cm.mu.Unlock()
		return
	}
	cm.mu.Unlock()
	cm.deliver(id, &Event{Type: REJReceived, REJ: m, PrivateData: m.PrivateData[:]})
}

// handleDREQ is cm_dreq_handler; a DREQ for no ID is answered anyway
// (cm_issue_drep), a repeated one in time-wait gets the DREP again.
func (cm *CM) handleDREQ(m *header.CMDreq, tid uint64, from av) {
	cm.mu.Lock()
	cm.counters.Received[header.CMAttrDREQ]++
	id := cm.acquireLocked(m.RemoteCommID, m.LocalCommID)
	if id == nil {
		cm.counters.Duplicates[header.CMAttrDREQ]++
		drep := header.CMDrep{LocalCommID: m.RemoteCommID, RemoteCommID: m.LocalCommID}
		mad := make([]byte, header.MADSize)
		drep.Encode(mad, tid)
		cm.post(mad, from)
		cm.mu.Unlock()
		return
	}
	if id.localQPN != m.RemoteQPN {
		cm.mu.Unlock()
		return
	}
	switch id.state {
	case REPSent, DREQSent:
		cm.cancelLocked(id)
	case Established, MRAREPRcvd:
	case Timewait:
		cm.counters.Duplicates[header.CMAttrDREQ]++
		drep := header.CMDrep{LocalCommID: id.localID, RemoteCommID: id.remoteID}
		mad := make([]byte, header.MADSize)
		drep.Encode(mad, id.tid)
		cm.post(mad, from)
		cm.mu.Unlock()
		return
	case DREQRcvd:
		cm.counters.Duplicates[header.CMAttrDREQ]++
		cm.mu.Unlock()
		return
	default:
		cm.mu.Unlock()
		return
	}
	id.state, id.tid = DREQRcvd, tid
	cm.mu.Unlock()
	cm.deliver(id, &Event{Type: DREQReceived, PrivateData: m.PrivateData[:]})
}

// handleDREP is cm_drep_handler: the disconnection is acknowledged and
// the ID enters time-wait.
func (cm *CM) handleDREP(m *header.CMDrep) {
	cm.mu.Lock()
	cm.counters.Received[header.CMAttrDREP]++
	id := cm.acquireLocked(m.RemoteCommID, m.LocalCommID)
	if id == nil || id.state != DREQSent && id.state != DREQRcvd {
		cm.mu.Unlock()
		return
	}
	cm.enterTimewaitLocked(id)
	cm.cancelLocked(id)
	cm.mu.Unlock()
	cm.deliver(id, &Event{Type: DREPReceived, PrivateData: m.PrivateData[:]})
}

// handleMRA is cm_mra_handler: the peer needs more time to answer our
// REQ or REP, so the wait for its answer is stretched to the MRA's
// service timeout plus the path's ACK timeout (ib_modify_mad), and the ID
// moves to MRA_REQ_RCVD or MRA_REP_RCVD. A repeated MRA is a duplicate.
func (cm *CM) handleMRA(m *header.CMMra) {
	cm.mu.Lock()
	cm.counters.Received[header.CMAttrMRA]++
	var id *ID
	switch m.MessageMRAed { // cm_acquire_mraed_id
	case header.CMMsgREQ:
		id = cm.acquireLocked(m.RemoteCommID, 0)
	case header.CMMsgREP, header.CMMsgOther:
		id = cm.acquireLocked(m.RemoteCommID, m.LocalCommID)
	}
	if id == nil {
		cm.mu.Unlock()
		return
	}
	timeout := convertToDuration(m.ServiceTimeout) + convertToDuration(id.avTimeout)
	switch {
	case id.state == REQSent && m.MessageMRAed == header.CMMsgREQ && cm.modifyLocked(id, timeout):
		id.state = MRAREQRcvd
	case id.state == REPSent && m.MessageMRAed == header.CMMsgREP && cm.modifyLocked(id, timeout):
		id.state = MRAREPRcvd
	case id.state == MRAREQRcvd, id.state == MRAREPRcvd:
		cm.counters.Duplicates[header.CMAttrMRA]++
		cm.mu.Unlock()
		return
	default:
		cm.mu.Unlock()
		return
	}
	id.msg.state = id.state // msg->context[1]: a later failure is this state's
	cm.mu.Unlock()
	cm.deliver(id, &Event{Type: MRAReceived, PrivateData: m.PrivateData[:]})
}

// handleLAP answers a request to load an alternate path on an
// established connection with an APR of status UNSUPPORTED: alternate
// paths are not modelled and IPoIB, the ULP, takes no LAP (its handlers
// ignore IB_CM_LAP_RECEIVED), so the peer hears at once what it would
// otherwise wait out. A LAP for no established ID is dropped, as
// cm_lap_handler drops it.
func (cm *CM) handleLAP(m *header.CMLap, tid uint64, from av) {
	cm.mu.Lock()
	defer cm.mu.Unlock()
	cm.counters.Received[header.CMAttrLAP]++
	id := cm.acquireLocked(m.RemoteCommID, m.LocalCommID)
	if id == nil || id.state != Established {
		return
	}
	apr := header.CMApr{LocalCommID: id.localID, RemoteCommID: id.remoteID, Status: header.CMAPRUnsupported}
	mad := make([]byte, header.MADSize)
	apr.Encode(mad, tid)
	cm.post(mad, from)
}

// handleSIDRReq rejects a service ID resolution request with
// SIDR_REP status UNSUPPORTED, as cm_sidr_req_handler rejects one that no
// listener takes (cm_reject_sidr_req): the listeners here are IPoIB's,
// which resolve no UD service. The answer goes back with the request's
// P_Key (cm_init_av_for_response).
func (cm *CM) handleSIDRReq(m *header.CMSIDRReq, tid uint64, from av) {
	cm.mu.Lock()
	defer cm.mu.Unlock()
	cm.counters.Received[header.CMAttrSIDRReq]++
	rep := header.CMSIDRRep{RequestID: m.RequestID, Status: header.CMSIDRUnsupported, ServiceID: m.ServiceID}
	mad := make([]byte, header.MADSize)
	rep.Encode(mad, tid)
	cm.post(mad, from)
}
