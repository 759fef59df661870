package fabric

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Error is a refused subnet-manager or subnet-administrator request. It
// unwraps to the errno the operation maps to, so callers test it with
// errors.Is(err, unix.ENOENT) and can pass the errno on unchanged:
//
//   - EINVAL: malformed request, or a rule refuses it (P_Key not held by
//     the port, limited–limited path, MTU or rate the port cannot carry);
//   - ENOENT: unknown partition, multicast group, membership or GID;
//   - EEXIST: duplicate partition;
//   - ENODEV: no such port in the fabric;
//   - ENETDOWN: the requesting port's link is down;
//   - ENOSPC: no free multicast LID.
type Error struct {
	Op  string // "add partition", "join", "path record", ...
	Obj string // what it acted on: "0x8001", "node0/1", ...
	Err unix.Errno
	Msg string // the reason, for people
}

func (e *Error) Error() string {
	s := e.Op
	if e.Obj != "" {
		s += " " + e.Obj
	}
	s += ": " + e.Err.Error()
	if e.Msg != "" {
		s += " (" + e.Msg + ")"
	}
	return s
}

// Unwrap returns the errno.
func (e *Error) Unwrap() error { return e.Err }

func errorf(op, obj string, errno unix.Errno, format string, args ...any) *Error {
	return &Error{Op: op, Obj: obj, Err: errno, Msg: fmt.Sprintf(format, args...)}
}

// pkeyName formats a P_Key for messages: "0x8001".
func pkeyName(pkey uint16) string { return fmt.Sprintf("0x%04x", pkey) }
