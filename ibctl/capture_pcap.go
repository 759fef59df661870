package ibctl

import (
	"encoding/binary"
	"io"

	"github.com/ibctl/ibctl/netlinkx"
)

// The pcap file format (libpcap's savefile, version 2.4, microsecond
// timestamps, the writer's byte order) with the two link types an IPoIB
// interface can be captured as, and those of a fabric port's link.

// Link types (LINKTYPE_*, the pcap file's network field).
const (
	linktypeLinuxSLL   = 113 // Linux cooked capture v1, as libpcap captures an IPoIB netdev
	linktypeIPoIB      = 242 // RFC 4391 IP-over-InfiniBand, with a 40-byte pseudo-header
	linktypeInfiniband = 247 // InfiniBand packets, LRH to VCRC
	linktypeERF        = 197 // Endace's Extensible Record Format, here of InfiniBand records
)

// ERF records (Endace's ERF types reference): a 16-byte header, then the
// packet. Type 21 holds an InfiniBand packet from the LRH; Wireshark
// dissects it as InfiniBand, where it maps link type 247 to nothing.
const (
	erfHeaderLen      = 16
	erfTypeInfiniband = 21
	erfFlagVarLen     = 0x04 // varying record length
)

// arphrdInfiniband is ARPHRD_INFINIBAND, the cooked header's hardware type.
const arphrdInfiniband = 32

// ipoibPseudoLen is the pseudo-header before LINKTYPE_IPOIB's 4-byte
// header: 20 zero bytes and the 20-byte destination address.
const ipoibPseudoLen = 40

// pcapWriter writes a pcap file.
type pcapWriter struct {
	w        io.Writer
	linktype uint32
	snaplen  uint32
	buf      []byte
}

// newPcapWriter writes the file header.
func newPcapWriter(w io.Writer, linktype, snaplen uint32) (*pcapWriter, error) {
	h := make([]byte, 24)
	le := binary.LittleEndian
	le.PutUint32(h[0:], 0xa1b2c3d4)
	le.PutUint16(h[4:], 2)
	le.PutUint16(h[6:], 4)
	le.PutUint32(h[16:], snaplen)
	le.PutUint32(h[20:], linktype)
	if _, err := w.Write(h); err != nil {
		return nil, err
	}
	return &pcapWriter{w: w, linktype: linktype, snaplen: snaplen}, nil
}

// frame builds the link-layer frame of a captured packet and its length
// before the snapshot length cut it.
func linkFrame(linktype uint32, p netlinkx.CapturedPacket, buf []byte) ([]byte, int) {
	orig := int(p.OrigLen)
	if len(p.Data) < 4 && linktype != linktypeInfiniband && linktype != linktypeEthernet && linktype != linktypeERF {
		return buf[:0], 0
	}
	switch linktype {
	case linktypeInfiniband:
		return append(buf[:0], p.Data...), orig
	case linktypeERF:
		// timestamp as 32.32 fixed-point seconds, little-endian; the
		// capture interface is the port's, modulo ERF's four
		ns := uint64(p.TimeNs)
		ts := ns/1e9<<32 | (ns%1e9<<32)/1e9
		buf = binary.LittleEndian.AppendUint64(buf[:0], ts)
		buf = append(buf, erfTypeInfiniband, erfFlagVarLen|byte(p.Iface&3))
		buf = binary.BigEndian.AppendUint16(buf, uint16(erfHeaderLen+len(p.Data)))
		buf = binary.BigEndian.AppendUint16(buf, 0) // loss counter
		buf = binary.BigEndian.AppendUint16(buf, uint16(orig))
		return append(buf, p.Data...), erfHeaderLen + orig
	case linktypeEthernet:
		frame, _ := roceFrame(buf, p)
		return frame, len(frame)
	case linktypeIPoIB:
		buf = append(buf[:0], make([]byte, 20)...)
		buf = append(buf, p.Dst...)
		buf = append(buf, p.Data...)
		return buf, ipoibPseudoLen + orig
	default:
		var h [sllHeaderLen]byte
		be := binary.BigEndian
		be.PutUint16(h[0:], uint16(p.PktType))
		be.PutUint16(h[2:], arphrdInfiniband)
		// halen 0: an IPoIB netdev has no header_ops->parse
		copy(h[14:16], p.Data[0:2])
		buf = append(append(buf[:0], h[:]...), p.Data[4:]...)
		return buf, sllHeaderLen + orig - 4
	}
}

// write adds one record.
func (pw *pcapWriter) write(p netlinkx.CapturedPacket) error {
	var frame []byte
	var orig int
	frame, orig = linkFrame(pw.linktype, p, pw.buf)
	pw.buf = frame
	frame = cutFrame(pw.linktype, frame, pw.snaplen)
	var h [16]byte
	le := binary.LittleEndian
	le.PutUint32(h[0:], uint32(p.TimeNs/1e9))
	le.PutUint32(h[4:], uint32(p.TimeNs%1e9/1e3))
	le.PutUint32(h[8:], uint32(len(frame)))
	le.PutUint32(h[12:], uint32(orig))
	if _, err := pw.w.Write(h[:]); err != nil {
		return err
	}
	_, err := pw.w.Write(frame)
	return err
}

// cutFrame cuts a frame to the snapshot length. An ERF record's length
// then says what the record holds, as a DAG card's with a snapshot
// length; its wire length stays.
func cutFrame(linktype uint32, frame []byte, snaplen uint32) []byte {
	if len(frame) <= int(snaplen) {
		return frame
	}
	frame = frame[:snaplen]
	if linktype == linktypeERF && len(frame) >= erfHeaderLen {
		binary.BigEndian.PutUint16(frame[10:12], uint16(len(frame)))
	}
	return frame
}
