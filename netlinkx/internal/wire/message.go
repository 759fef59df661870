package wire

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// ErrMalformed is returned for messages that cannot be decoded.
var ErrMalformed = errors.New("malformed message")

// Align rounds n up to NLMSG_ALIGNTO, as NLMSG_ALIGN does.
func Align(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

// MarshalMessage encodes a message, padding the payload to 4 bytes as
// mdlayher/netlink requires.
func MarshalMessage(h netlink.Header, data []byte) ([]byte, error) {
	h.Length = uint32(Align(unix.NLMSG_HDRLEN + len(data)))
	return netlink.Message{Header: h, Data: data}.MarshalBinary()
}

// SplitMessage returns the first message of b and the bytes after it.
func SplitMessage(b []byte) (netlink.Message, []byte, error) {
	var m netlink.Message
	if len(b) < unix.NLMSG_HDRLEN {
		return m, nil, fmt.Errorf("%w: truncated netlink header", ErrMalformed)
	}
	l := int(binary.NativeEndian.Uint32(b[0:4]))
	adv := Align(l)
	if l < unix.NLMSG_HDRLEN || adv > len(b) {
		return m, nil, fmt.Errorf("%w: bad message length %d", ErrMalformed, l)
	}
	if err := m.UnmarshalBinary(b[:adv]); err != nil {
		return m, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return m, b[adv:], nil
}

// ParseMessages decodes every message of a datagram, copying their
// payloads out of b.
func ParseMessages(b []byte) ([]netlink.Message, error) {
	var out []netlink.Message
	for len(b) > 0 {
		m, rest, err := SplitMessage(b)
		if err != nil {
			return nil, err
		}
		m.Data = append([]byte(nil), m.Data...)
		out = append(out, m)
		b = rest
	}
	return out, nil
}

// Reply encodes a reply to req: its sequence number and port ID, with
// type typ, flags and payload data.
func Reply(req netlink.Header, typ netlink.HeaderType, flags netlink.HeaderFlags, data []byte) []byte {
	b, err := MarshalMessage(netlink.Header{Type: typ, Flags: flags, Sequence: req.Sequence, PID: req.PID}, data)
	if err != nil {
		panic(fmt.Sprintf("wire: marshal reply: %v", err))
	}
	return b
}

// ErrorReply builds NLMSG_ERROR: -errno, the request header and, when msg
// is set, NLMSGERR_ATTR_MSG (NLM_F_ACK_TLVS).
func ErrorReply(req netlink.Header, errno unix.Errno, msg string) []byte {
	data := make([]byte, 4+unix.NLMSG_HDRLEN)
	binary.NativeEndian.PutUint32(data[0:4], uint32(-int32(errno)))
	binary.NativeEndian.PutUint32(data[4:8], uint32(unix.NLMSG_HDRLEN))
	binary.NativeEndian.PutUint16(data[8:10], uint16(req.Type))
	binary.NativeEndian.PutUint16(data[10:12], uint16(req.Flags))
	binary.NativeEndian.PutUint32(data[12:16], req.Sequence)
	binary.NativeEndian.PutUint32(data[16:20], req.PID)
	flags := netlink.HeaderFlags(0x100) // NLM_F_CAPPED: payload not echoed
	if msg != "" {
		ae := netlink.NewAttributeEncoder()
		ae.String(unix.NLMSGERR_ATTR_MSG, msg)
		data = append(data, Encode(ae)...)
		flags |= 0x200 // NLM_F_ACK_TLVS
	}
	return Reply(req, netlink.Error, flags, data)
}

// DoneReply encodes the NLMSG_DONE that ends a dump answering req.
func DoneReply(req netlink.Header) []byte {
	return Reply(req, netlink.Done, netlink.Multi, make([]byte, 4))
}

// ParseAck decodes NLMSG_ERROR: errno and the NLMSGERR_ATTR_MSG text.
func ParseAck(b []byte) (unix.Errno, string, error) {
	if len(b) < 4+unix.NLMSG_HDRLEN {
		return 0, "", fmt.Errorf("%w: short ack", ErrMalformed)
	}
	errno := unix.Errno(-int32(binary.NativeEndian.Uint32(b[0:4])))
	var msg string
	if rest := b[4+unix.NLMSG_HDRLEN:]; len(rest) > 0 {
		ad, err := netlink.NewAttributeDecoder(rest)
		if err == nil {
			for ad.Next() {
				if ad.Type() == unix.NLMSGERR_ATTR_MSG {
					msg = ad.String()
				}
			}
		}
	}
	return errno, msg, nil
}

// GenlHeader encodes struct genlmsghdr for cmd, version 1.
func GenlHeader(cmd uint8) []byte { return []byte{cmd, 1, 0, 0} }

// ParseGenl decodes the genlmsghdr that starts b: the command and the
// attributes after it.
func ParseGenl(b []byte) (uint8, []byte, error) {
	if len(b) < genlHdrLen {
		return 0, nil, fmt.Errorf("%w: genl header truncated", ErrMalformed)
	}
	return b[0], b[genlHdrLen:], nil
}

// Encode returns the attributes ae holds. The encoders only fail on
// programming errors (oversized attributes), so a failure panics.
func Encode(ae *netlink.AttributeEncoder) []byte {
	b, err := ae.Encode()
	if err != nil {
		panic(fmt.Sprintf("wire: encode: %v", err))
	}
	return b
}

// EncodeNested adds to ae an attribute typ nesting the attributes fn
// encodes.
func EncodeNested(ae *netlink.AttributeEncoder, typ uint16, fn func(*netlink.AttributeEncoder)) {
	ae.Nested(typ, func(n *netlink.AttributeEncoder) error { fn(n); return nil })
}
