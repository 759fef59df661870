package ibcm

import (
	"time"

	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/verbs"
)

// outMAD is a sent message awaiting its answer (an ib_mad_send_buf with
// timeout_ms and retries): resent every timeout while retries last.
type outMAD struct {
	mad     []byte
	to      av
	retries uint8
	timeout time.Duration
	state   State // the ID's state when it was sent (msg->context[1])
	timer   verbs.Timer
	due     time.Time // when the timer was last set to fire
	done    bool      // answered, cancelled or failed
}

// sendMsgLocked sends mad to the ID's peer and arms its retransmission.
// Caller holds cm.mu.
func (cm *CM) sendMsgLocked(id *ID, mad []byte) {
	cm.cancelLocked(id)
	m := &outMAD{mad: mad, to: id.av, retries: id.maxRetries, timeout: id.timeout, state: id.state}
	id.msg = m
	cm.post(mad, m.to)
	m.due = cm.clock.Now().Add(m.timeout)
	m.timer = cm.clock.AfterFunc(m.timeout, func() { cm.wq.add(func() { cm.msgTimeout(id, m) }) })
}

// cancelLocked stops waiting for an answer (ib_cancel_mad).
// Caller holds cm.mu.
func (cm *CM) cancelLocked(id *ID) {
	if m := id.msg; m != nil {
		m.done = true
		m.timer.Stop()
		id.msg = nil
	}
}

// modifyLocked is ib_modify_mad: the message awaiting an answer waits
// timeout from now, and so do its resends. False when none awaits one.
// Caller holds cm.mu.
func (cm *CM) modifyLocked(id *ID, timeout time.Duration) bool {
	m := id.msg
	if m == nil || m.done {
		return false
	}
	m.timeout = timeout
	m.due = cm.clock.Now().Add(timeout)
	m.timer.Reset(timeout)
	return true
}

// msgTimeout runs on the work queue when a message's timeout passed:
// resend it, or fail the ID as cm_process_send_error does.
func (cm *CM) msgTimeout(id *ID, m *outMAD) {
	cm.mu.Lock()
	// A run queued before an MRA moved the timer on is stale.
	if m.done || id.msg != m || id.destroyed || cm.clock.Now().Before(m.due) {
		cm.mu.Unlock()
		return
	}
	if m.retries > 0 {
		m.retries--
		cm.counters.Retries[header.MAD(m.mad).Header().AttrID]++
		cm.post(m.mad, m.to)
		m.due = cm.clock.Now().Add(m.timeout)
		m.timer.Reset(m.timeout)
		cm.mu.Unlock()
		return
	}
	m.done = true
	id.msg = nil
	ev := Event{}
	switch {
	case m.state != id.state:
		cm.mu.Unlock()
		return
	case id.state == REQSent || id.state == MRAREQRcvd:
		cm.resetToIdleLocked(id)
		ev.Type = REQError
	case id.state == REPSent || id.state == MRAREPRcvd:
		cm.resetToIdleLocked(id)
		ev.Type = REPError
	case id.state == DREQSent:
		cm.enterTimewaitLocked(id)
		ev.Type = DREQError
	default:
		cm.mu.Unlock()
		return
	}
	cm.mu.Unlock()
	cm.deliver(id, &ev)
}

// resetToIdleLocked is cm_reset_to_idle.
// Caller holds cm.mu.
func (cm *CM) resetToIdleLocked(id *ID) {
	id.state = Idle
	cm.forgetRemoteLocked(id)
}

// enterTimewaitLocked is cm_enter_timewait: the ID waits out the path's
// ACK timeout, then the handler gets TimewaitExit.
// Caller holds cm.mu.
func (cm *CM) enterTimewaitLocked(id *ID) {
	cm.forgetRemoteLocked(id)
	id.state = Timewait
	d := convertToDuration(id.avTimeout)
	if id.twTimer != nil {
		id.twTimer.Stop()
	}
	id.twTimer = cm.clock.AfterFunc(d, func() { cm.wq.add(func() { cm.timewaitExit(id) }) })
}

// timewaitExit is cm_timewait_handler.
func (cm *CM) timewaitExit(id *ID) {
	cm.mu.Lock()
	if id.destroyed || id.state != Timewait {
		cm.mu.Unlock()
		return
	}
	id.state = Idle
	cm.mu.Unlock()
	cm.deliver(id, &Event{Type: TimewaitExit})
}

// forgetRemoteLocked drops the ID from the duplicate table
// (cm_cleanup_timewait).
// Caller holds cm.mu.
func (cm *CM) forgetRemoteLocked(id *ID) {
	if id.inRemote {
		k := remoteKey{id.remoteID, id.remoteCAGUID}
		if cm.remote[k] == id {
			delete(cm.remote, k)
		}
		id.inRemote = false
	}
}

// deliver gives an event to the ID's handler, unless the ID was destroyed
// meanwhile, and destroys the ID if the handler fails (cm_process_work).
// While the handler runs, Destroy of the ID from other goroutines waits.
func (cm *CM) deliver(id *ID, ev *Event) {
	cm.mu.Lock()
	if id.destroyed || id.handler == nil {
		cm.mu.Unlock()
		return
	}
	cm.running = id
	cm.mu.Unlock()
	err := id.handler(id, ev)
	cm.mu.Lock()
	cm.running = nil
	cm.handled.Broadcast()
	cm.mu.Unlock()
	if err != nil {
		id.destroy(err)
	}
}
