package ibctl

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Exit statuses, as iproute2 and ethtool use them.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// UsageError is bad command-line input: exit status 2.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// SilentError carries an exit status whose message was already printed.
type SilentError struct{ Status int }

func (e *SilentError) Error() string { return fmt.Sprintf("exit status %d", e.Status) }

// ExitStatus maps an error to the process exit status.
func ExitStatus(err error) int {
	var ue *UsageError
	var se *SilentError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &se):
		return se.Status
	case errors.As(err, &ue):
		return ExitUsage
	}
	return ExitFailure
}

// Strerror is the C library's text for an errno ("Invalid argument").
func Strerror(e unix.Errno) string {
	s := e.Error()
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// Errno extracts the errno from a driver reply error.
func Errno(err error) (unix.Errno, bool) {
	var e unix.Errno
	if errors.As(err, &e) {
		return e, true
	}
	return 0, false
}

// opError formats a failed request as "<what>: <reason>", the reason being
// the errno's text and, when the driver sent one, its extended ack.
func opError(what string, err error) error {
	return fmt.Errorf("%s: %s", what, reason(err))
}

func reason(err error) string {
	var oe *netlink.OpError
	if errors.As(err, &oe) {
		if e, ok := oe.Err.(unix.Errno); ok {
			if oe.Message != "" {
				return Strerror(e) + " (" + oe.Message + ")"
			}
			return Strerror(e)
		}
		return oe.Err.Error()
	}
	if e, ok := Errno(err); ok {
		return Strerror(e)
	}
	return err.Error()
}
