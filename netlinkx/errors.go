package netlinkx

import (
	"errors"

	"golang.org/x/sys/unix"
)

// ErrnoOf extracts the errno an error carries (EIO when it carries none).
func ErrnoOf(err error) unix.Errno {
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	return unix.EIO
}

// ExtAck is implemented by errors that carry an extended-ack message.
type ExtAck interface{ ExtAck() string }

// extAckOf returns the extended-ack text an error carries, if any.
func extAckOf(err error) string {
	var x ExtAck
	if errors.As(err, &x) {
		return x.ExtAck()
	}
	return ""
}
