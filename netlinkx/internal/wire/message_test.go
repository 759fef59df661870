package wire

import (
	"errors"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// TestAckRoundTrip: an NLMSG_ERROR built for a request decodes to its
// errno and extended-ack text, and answers the request's sequence number
// and port ID.
func TestAckRoundTrip(t *testing.T) {
	req := netlink.Header{Type: FamilyIbctl, Flags: netlink.Request, Sequence: 7, PID: 42}
	tests := []struct {
		errno unix.Errno
		msg   string
		flags netlink.HeaderFlags
	}{
		{0, "", 0x100},
		{unix.EOPNOTSUPP, "this node has no IP stack", 0x300},
		{unix.EINVAL, "", 0x100},
	}
	for _, tt := range tests {
		msgs, err := ParseMessages(ErrorReply(req, tt.errno, tt.msg))
		if err != nil || len(msgs) != 1 {
			t.Fatalf("%v %q: %d messages, %v", tt.errno, tt.msg, len(msgs), err)
		}
		h := msgs[0].Header
		if h.Type != netlink.Error || h.Flags != tt.flags || h.Sequence != 7 || h.PID != 42 {
			t.Errorf("%v %q: header %+v", tt.errno, tt.msg, h)
		}
		errno, msg, err := ParseAck(msgs[0].Data)
		if err != nil || errno != tt.errno || msg != tt.msg {
			t.Errorf("%v %q: ParseAck = %v, %q, %v", tt.errno, tt.msg, errno, msg, err)
		}
	}
}

// TestSplitMessageRefusesBadFraming: a datagram shorter than a header, or
// whose header gives a length below the header's or beyond the datagram,
// is malformed; a valid one splits into its first message and the rest.
func TestSplitMessageRefusesBadFraming(t *testing.T) {
	one, err := MarshalMessage(netlink.Header{Type: FamilyIbctl, Flags: netlink.Request, Sequence: 1}, GenlHeader(CmdStatus))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"short":            {1, 2, 3},
		"length too big":   {0xff, 0, 0, 0, 16, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0},
		"length too small": {4, 0, 0, 0, 16, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0},
	} {
		if _, _, err := SplitMessage(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
	m, rest, err := SplitMessage(append(append([]byte(nil), one...), one...))
	if err != nil || len(rest) != len(one) || m.Header.Sequence != 1 {
		t.Fatalf("split = %+v, %d bytes left, %v", m.Header, len(rest), err)
	}
	cmd, attrs, err := ParseGenl(m.Data)
	if err != nil || cmd != CmdStatus || len(attrs) != 0 {
		t.Errorf("genl = %d, %x, %v", cmd, attrs, err)
	}
}
