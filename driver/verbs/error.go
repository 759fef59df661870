package verbs

import "golang.org/x/sys/unix"

// Error is a failed verb. It unwraps to the errno the kernel verbs layer
// would return (EINVAL for an illegal transition or a post in the wrong
// state, ENOMEM for a full work queue, EBUSY for a CQ overflow,
// EOPNOTSUPP for moderation on a device without it), so callers test it
// with errors.Is(err, unix.EINVAL).
type Error struct {
	Op  string // "modify_qp", "post_send", "post_recv", "create_qp", ...
	Err unix.Errno
	Msg string // detail, such as "RESET->RTR not allowed"; may be empty
}

// Error formats the error as "verbs: OP: ERRNO TEXT (MSG)".
func (e *Error) Error() string {
	s := "verbs: " + e.Op + ": " + e.Err.Error()
	if e.Msg != "" {
		s += " (" + e.Msg + ")"
	}
	return s
}

// Unwrap returns the errno.
func (e *Error) Unwrap() error { return e.Err }

func newError(op string, errno unix.Errno, msg string) *Error {
	return &Error{Op: op, Err: errno, Msg: msg}
}

// Errors returned on the data path are preallocated so that back-pressure
// (a full queue) costs no allocation.
var (
	errSendQueueFull  = newError("post_send", unix.ENOMEM, "send queue full")
	errRecvQueueFull  = newError("post_recv", unix.ENOMEM, "receive queue full")
	errSRQFull        = newError("post_srq_recv", unix.ENOMEM, "shared receive queue full")
	errSendTooManySGE = newError("post_send", unix.EINVAL, "too many SGEs")
	errRecvTooManySGE = newError("post_recv", unix.EINVAL, "too many SGEs")
	errSendBadLSO     = newError("post_send", unix.EINVAL, "LSO needs a UD QP, an MSS and a header")
	errSRQTooManySGE  = newError("post_srq_recv", unix.EINVAL, "too many SGEs")
	errSRQDestroyed   = newError("post_srq_recv", unix.EINVAL, "SRQ destroyed")
	errRecvHasSRQ     = newError("post_recv", unix.EINVAL, "QP uses an SRQ")
	errCQOverflow     = newError("cq_post", unix.EBUSY, "completion queue overflow")
)
