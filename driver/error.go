package driver

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Error is a failed driver operation. It unwraps to the errno the kernel
// would return; Msg, when set, travels as the netlink extended ack.
type Error struct {
	Op  string // "create_child", "set mtu", ...
	Dev string
	Err unix.Errno
	Msg string
}

func (e *Error) Error() string {
	s := e.Op
	if e.Dev != "" {
		s += " " + e.Dev
	}
	s += ": " + e.Err.Error()
	if e.Msg != "" {
		s += " (" + e.Msg + ")"
	}
	return s
}

// Unwrap returns the errno.
func (e *Error) Unwrap() error { return e.Err }

// ExtAck returns the extended-ack text.
func (e *Error) ExtAck() string { return e.Msg }

func errorf(op, dev string, errno unix.Errno, format string, args ...any) *Error {
	msg := ""
	if format != "" {
		msg = fmt.Sprintf(format, args...)
	}
	return &Error{Op: op, Dev: dev, Err: errno, Msg: msg}
}
