package ibctl

import (
	"encoding/binary"
	"io"

	"github.com/ibctl/ibctl/netlinkx"
)

// The pcapng file format (draft-ietf-opsawg-pcapng): a Section Header
// Block, one Interface Description Block per captured interface or
// fabric port, and an Enhanced Packet Block per packet, naming its
// interface, with nanosecond timestamps. Blocks are in the writer's byte
// order, little-endian.

// pcapng block types and options.
const (
	pcapngSHB          = 0x0a0d0d0a
	pcapngIDB          = 0x00000001
	pcapngEPB          = 0x00000006
	pcapngByteOrder    = 0x1a2b3c4d
	pcapngOptEnd       = 0
	pcapngOptUserAppl  = 4 // shb_userappl
	pcapngOptIfName    = 2 // if_name
	pcapngOptIfTsresol = 9 // if_tsresol
)

// pcapngWriter writes a pcapng file.
type pcapngWriter struct {
	w        io.Writer
	linktype uint32
	snaplen  uint32
	buf      []byte // the frame
	body     []byte // the block's body
	blk      []byte // the block
}

// newPcapngWriter writes the section header and an interface description
// for each of names, in order: a packet's Iface is its interface ID.
func newPcapngWriter(w io.Writer, linktype, snaplen uint32, names []string) (*pcapngWriter, error) {
	le := binary.LittleEndian
	var body []byte
	body = le.AppendUint32(body, pcapngByteOrder)
	body = le.AppendUint16(body, 1) // major version
	body = le.AppendUint16(body, 0) // minor version
	body = le.AppendUint64(body, ^uint64(0))
	body = pcapngOption(body, pcapngOptUserAppl, []byte("ibctl"))
	body = pcapngOption(body, pcapngOptEnd, nil)
	b := pcapngBlock(nil, pcapngSHB, body)
	for _, name := range names {
		body = le.AppendUint16(body[:0], uint16(linktype))
		body = le.AppendUint16(body, 0)
		body = le.AppendUint32(body, snaplen)
		body = pcapngOption(body, pcapngOptIfName, []byte(name))
		body = pcapngOption(body, pcapngOptIfTsresol, []byte{9}) // 10^-9 s
		body = pcapngOption(body, pcapngOptEnd, nil)
		b = pcapngBlock(b, pcapngIDB, body)
	}
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	return &pcapngWriter{w: w, linktype: linktype, snaplen: snaplen}, nil
}

// pcapngOption appends an option: code, length, value padded to 32 bits.
func pcapngOption(b []byte, code uint16, v []byte) []byte {
	b = binary.LittleEndian.AppendUint16(b, code)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
	b = append(b, v...)
	return append(b, make([]byte, pad4(len(v)))...)
}

// pcapngBlock appends a block: type, total length, body, total length.
func pcapngBlock(b []byte, typ uint32, body []byte) []byte {
	n := uint32(12 + len(body))
	b = binary.LittleEndian.AppendUint32(b, typ)
	b = binary.LittleEndian.AppendUint32(b, n)
	b = append(b, body...)
	return binary.LittleEndian.AppendUint32(b, n)
}

// pad4 is the padding that brings n to a multiple of 4.
func pad4(n int) int { return (4 - n%4) % 4 }

// write adds an Enhanced Packet Block on the packet's interface.
func (pw *pcapngWriter) write(p netlinkx.CapturedPacket) error {
	frame, orig := linkFrame(pw.linktype, p, pw.buf)
	pw.buf = frame
	frame = cutFrame(pw.linktype, frame, pw.snaplen)
	le := binary.LittleEndian
	ts := uint64(p.TimeNs)
	body := le.AppendUint32(pw.body[:0], p.Iface)
	body = le.AppendUint32(body, uint32(ts>>32))
	body = le.AppendUint32(body, uint32(ts))
	body = le.AppendUint32(body, uint32(len(frame)))
	body = le.AppendUint32(body, uint32(orig))
	body = append(body, frame...)
	body = append(body, make([]byte, pad4(len(frame)))...)
	pw.body = body
	pw.blk = pcapngBlock(pw.blk[:0], pcapngEPB, body)
	_, err := pw.w.Write(pw.blk)
	return err
}
