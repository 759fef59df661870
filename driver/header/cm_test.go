package header

import (
	"testing"
)

// madBytes is a MAD given by the hex of its first bytes, the rest zero.
// The expected MADs below were computed by writing each field at the byte
// and bit offsets of IBA tables 106-119.
func madBytes(t *testing.T, prefix string) []byte {
	t.Helper()
	b := make([]byte, MADSize)
	copy(b, unhexString(t, prefix))
	return b
}

var (
	gidNode0 = [16]byte{0xfe, 0x80, 9: 0x02, 10: 0xc9, 11: 0x03, 14: 0x10, 15: 0x01}
	gidNode1 = [16]byte{0xfe, 0x80, 9: 0x02, 10: 0xc9, 11: 0x03, 14: 0x20, 15: 0x01}
)

// ipoibData is IPoIB's private data for UD QPN 0x48.
func ipoibData() []byte {
	b := make([]byte, IPoIBCMDataLen)
	IPoIBCMData{QPN: 0x48, MTU: 65524}.Encode(b)
	return b
}

func TestCMMessageLayout(t *testing.T) {
	// The REQ ipoib_cm_send_req sends from node0's ib0 (UD QPN 0x48,
	// RC QP 0x49) to node1's: service ID 0x1000000000000048,
	// responder resources 4, CM response timeouts 20, retries 0, 15 CM
	// retries, SRQ, P_Key 0xffff, 2048-byte path at 100 Gb/s (rate 16),
	// local ACK timeout 19.
	req := CMReq{
		LocalCommID: 1, ServiceID: 0x1000000000000048, LocalCAGUID: 0x0002c90300001000, LocalQPN: 0x49,
		ResponderResources: 4, RemoteCMResponseTimeout: 20, LocalCMResponseTimeout: 20, PKey: 0xffff,
		PathMTU: 4, MaxCMRetries: 15, SRQ: true,
		Primary: CMPath{LocalLID: 1, RemoteLID: 3, LocalGID: gidNode0, RemoteGID: gidNode1, PacketRate: 16,
			SubnetLocal: true, LocalACKTimeout: 19},
	}
	copy(req.PrivateData[:], ipoibData())
	rep := CMRep{LocalCommID: 0x0a, RemoteCommID: 1, LocalQPN: 0x49, StartingPSN: 0x123456, TargetACKDelay: 15,
		SRQ: true, LocalCAGUID: 0x0002c90300002000}
	copy(rep.PrivateData[:], ipoibData())
	rej := CMRej{RemoteCommID: 1, MessageRejected: CMMsgREQ, Reason: CMRejInvalidServiceID}
	rejTimeout := CMRej{LocalCommID: 2, RemoteCommID: 0x0b, MessageRejected: CMMsgOther, RejectedInfoLength: 8,
		Reason: CMRejTimeout, ARI: [CMREJARILength]byte{0x00, 0x02, 0xc9, 0x03, 0x00, 0x00, 0x10, 0x00}}
	dreq := CMDreq{LocalCommID: 1, RemoteCommID: 0x0a, RemoteQPN: 0x4a}
	rtu := CMRtu{LocalCommID: 1, RemoteCommID: 0x0a}
	drep := CMDrep{LocalCommID: 0x0a, RemoteCommID: 1}
	mra := CMMra{LocalCommID: 0x0a, RemoteCommID: 1, MessageMRAed: CMMsgREP, ServiceTimeout: 20}
	mra.PrivateData[0] = 0xab
	lap := CMLap{LocalCommID: 1, RemoteCommID: 0x0a}
	apr := CMApr{LocalCommID: 0x0a, RemoteCommID: 1, Status: CMAPRUnsupported}
	sidrReq := CMSIDRReq{RequestID: 7, PKey: 0xffff, ServiceID: 0x1000000000000048}
	sidrRep := CMSIDRRep{RequestID: 7, Status: CMSIDRUnsupported, QPN: 0x48, ServiceID: 0x1000000000000048, QKey: 0x0b1b}
	const tid1, tid2 = 0x0000000100000001, 0x0000000100000002
	tests := []struct {
		name   string
		encode func([]byte) int
		decode func(MAD) (any, bool)
		msg    any
		want   string
	}{
		{"REQ", func(b []byte) int { return req.Encode(b, tid1) }, func(b MAD) (any, bool) { return DecodeCMReq(b) }, req, `
			01 07 02 03 00 00 00 00 00 00 00 01 00 00 00 01
			00 10 00 00 00 00 00 00 00 00 00 01 00 00 00 00
			10 00 00 00 00 00 00 48 00 02 c9 03 00 00 10 00
			00 00 00 00 00 00 00 00 00 00 49 04 00 00 00 00
			00 00 00 a0 00 00 00 a0 ff ff 40 f8 00 01 00 03
			fe 80 00 00 00 00 00 00 00 02 c9 03 00 00 10 01
			fe 80 00 00 00 00 00 00 00 02 c9 03 00 00 20 01
			00 00 00 10 00 00 08 98 00 00 00 00 00 00 00 00
			00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
			00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
			00 00 00 00 00 00 00 48 00 00 ff f4`},
		{"REP", func(b []byte) int { return rep.Encode(b, tid1) }, func(b MAD) (any, bool) { return DecodeCMRep(b) }, rep, `
			01 07 02 03 00 00 00 00 00 00 00 01 00 00 00 01
			00 13 00 00 00 00 00 00 00 00 00 0a 00 00 00 01
			00 00 00 00 00 00 49 00 00 00 00 00 12 34 56 00
			00 00 78 10 00 02 c9 03 00 00 20 00 00 00 00 48
			00 00 ff f4`},
		{"REJ no listener", func(b []byte) int { return rej.Encode(b, tid1) }, func(b MAD) (any, bool) { return DecodeCMRej(b) }, rej, `
			01 07 02 03 00 00 00 00 00 00 00 01 00 00 00 01
			00 12 00 00 00 00 00 00 00 00 00 00 00 00 00 01
			00 00 00 08`},
		{"REJ timeout", func(b []byte) int { return rejTimeout.Encode(b, tid2) }, func(b MAD) (any, bool) { return DecodeCMRej(b) }, rejTimeout, `
			01 07 02 03 00 00 00 00 00 00 00 01 00 00 00 02
			00 12 00 00 00 00 00 00 00 00 00 02 00 00 00 0b
			80 10 00 04 00 02 c9 03 00 00 10 00`},
		{"RTU", func(b []byte) int { return rtu.Encode(b, tid1) }, func(b MAD) (any, bool) { return DecodeCMRtu(b) }, rtu, `
			01 07 02 03 00 00 00 00 00 00 00 01 00 00 00 01
			00 14 00 00 00 00 00 00 00 00 00 01 00 00 00 0a`},
		{"DREQ", func(b []byte) int { return dreq.Encode(b, tid1) }, func(b MAD) (any, bool) { return DecodeCMDreq(b) }, dreq, `
			01 07 02 03 00 00 00 00 00 00 00 01 00 00 00 01
			00 15 00 00 00 00 00 00 00 00 00 01 00 00 00 0a
			00 00 4a`},
		{"DREP", func(b []byte) int { return drep.Encode(b, tid1) }, func(b MAD) (any, bool) { return DecodeCMDrep(b) }, drep, `
			01 07 02 03 00 00 00 00 00 00 00 01 00 00 00 01
			00 16 00 00 00 00 00 00 00 00 00 0a 00 00 00 01`},
		{"MRA", func(b []byte) int { return mra.Encode(b, tid1) }, func(b MAD) (any, bool) { return DecodeCMMra(b) }, mra, `
			01 07 02 03 00 00 00 00 00 00 00 01 00 00 00 01
			00 11 00 00 00 00 00 00 00 00 00 0a 00 00 00 01
			40 a0 ab`},
		{"LAP", func(b []byte) int { return lap.Encode(b, tid2) }, func(b MAD) (any, bool) { return DecodeCMLap(b) }, lap, `
			01 07 02 03 00 00 00 00 00 00 00 01 00 00 00 02
			00 19 00 00 00 00 00 00 00 00 00 01 00 00 00 0a`},
		{"APR", func(b []byte) int { return apr.Encode(b, tid2) }, func(b MAD) (any, bool) { return DecodeCMApr(b) }, apr, `
			01 07 02 03 00 00 00 00 00 00 00 01 00 00 00 02
			00 1a 00 00 00 00 00 00 00 00 00 0a 00 00 00 01
			00 02`},
		{"SIDR_REQ", func(b []byte) int { return sidrReq.Encode(b, tid1) }, func(b MAD) (any, bool) { return DecodeCMSIDRReq(b) }, sidrReq, `
			01 07 02 03 00 00 00 00 00 00 00 01 00 00 00 01
			00 17 00 00 00 00 00 00 00 00 00 07 ff ff 00 00
			10 00 00 00 00 00 00 48`},
		{"SIDR_REP", func(b []byte) int { return sidrRep.Encode(b, tid1) }, func(b MAD) (any, bool) { return DecodeCMSIDRRep(b) }, sidrRep, `
			01 07 02 03 00 00 00 00 00 00 00 01 00 00 00 01
			00 18 00 00 00 00 00 00 00 00 00 07 01 00 00 00
			00 00 48 00 10 00 00 00 00 00 00 48 00 00 0b 1b`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := filled(MADSize + 4)
			if n := tt.encode(b); n != MADSize {
				t.Fatalf("Encode = %d, want %d", n, MADSize)
			}
			checkBytes(t, "MAD", b[:MADSize], madBytes(t, tt.want))
			checkBytes(t, "bytes after the MAD", b[MADSize:], filled(4))
			got, ok := tt.decode(MAD(b[:MADSize]))
			if !ok || got != tt.msg {
				t.Errorf("decoded %+v %v, want %+v", got, ok, tt.msg)
			}
			if h := MAD(b[:MADSize]).Header(); h.MgmtClass != MgmtClassCM || h.ClassVersion != CMClassVersion || h.Method != MADMethodSend {
				t.Errorf("header %+v", h)
			}
			if n := tt.encode(make([]byte, MADSize-1)); n != 0 {
				t.Errorf("Encode into %d bytes = %d", MADSize-1, n)
			}
			if _, ok := tt.decode(MAD(b[:MADSize-1])); ok {
				t.Error("decoded a truncated MAD")
			}
		})
	}
}

func TestIPoIBCMData(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want IPoIBCMData
		ok   bool
	}{
		{"kernel's", "00 00 00 48 00 00 ff f4", IPoIBCMData{QPN: 0x48, MTU: 65524}, true},
		{"QPN high byte ignored", "ff 12 34 56 00 00 10 00", IPoIBCMData{QPN: 0x123456, MTU: 4096}, true},
		{"short", "00 00 00 48 00 00 ff", IPoIBCMData{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := DecodeIPoIBCMData(unhexString(t, tt.in))
			if got != tt.want || ok != tt.ok {
				t.Errorf("DecodeIPoIBCMData = %+v %v, want %+v %v", got, ok, tt.want, tt.ok)
			}
		})
	}
	b := filled(9)
	if n := (IPoIBCMData{QPN: 0x48, MTU: 65524}).Encode(b); n != IPoIBCMDataLen {
		t.Fatalf("Encode = %d", n)
	}
	checkBytes(t, "encoded", b, unhexString(t, "00 00 00 48 00 00 ff f4 ee"))
}

func TestBitFields(t *testing.T) {
	tests := []struct {
		off, bit, width int
		val             uint32
		want            string // 6 bytes starting from 0xff
	}{
		{0, 0, 8, 0x12, "12 ff ff ff ff ff"},
		{1, 0, 24, 0x123456, "ff 12 34 56 ff ff"},
		{0, 0, 5, 20, "a7 ff ff ff ff ff"},
		{0, 5, 2, 0, "f9 ff ff ff ff ff"},
		{0, 7, 1, 0, "fe ff ff ff ff ff"},
		{0, 0, 20, 0xabcde, "ab cd ef ff ff ff"},
		{2, 2, 6, 16, "ff ff d0 ff ff ff"},
		{1, 4, 12, 0x123, "ff f1 23 ff ff ff"},
	}
	for _, tt := range tests {
		b := filled(6)
		for i := range b {
			b[i] = 0xff
		}
		setBits(b, tt.off, tt.bit, tt.width, tt.val)
		checkBytes(t, "setBits", b, unhexString(t, tt.want))
		if got := getBits(b, tt.off, tt.bit, tt.width); got != tt.val {
			t.Errorf("getBits(%d, %d, %d) = %#x, want %#x", tt.off, tt.bit, tt.width, got, tt.val)
		}
	}
}

// cmField is one field of a CM message: the message with that field at
// its largest value and every other zero, and where the field lies in
// the MAD data (IBA Byte[Bit] notation, bit 0 the most significant).
type cmField struct {
	name            string
	attr            uint16
	encode          func([]byte) int
	decode          func(MAD) (any, bool)
	msg             any
	off, bit, width int
}

// field builds a cmField for message type M from a setter of the field.
func field[M any](name string, attr uint16, off, bit, width int, set func(*M),
	encode func(*M, []byte, uint64) int, decode func(MAD) (M, bool)) cmField {
	var m M
	set(&m)
	return cmField{name: name, attr: attr, msg: m, off: off, bit: bit, width: width,
		encode: func(b []byte) int { return encode(&m, b, 0x0102030405060708) },
		decode: func(b MAD) (any, bool) { return decode(b) }}
}

func ones[T ~[]byte](b T) {
	for i := range b {
		b[i] = 0xff
	}
}

// TestCMFieldLayout places every field of every CM message alone, at
// its largest value, and checks that exactly its bits are set in the
// MAD, at the offsets of the kernel's include/rdma/ibta_vol1_c12.h
// (IBA tables 106-120), and that it decodes back alone.
func TestCMFieldLayout(t *testing.T) {
	req := func(name string, off, bit, width int, set func(*CMReq)) cmField {
		return field("REQ "+name, CMAttrREQ, off, bit, width, set, (*CMReq).Encode, DecodeCMReq)
	}
	path := func(name string, base int, get func(*CMReq) *CMPath) []cmField {
		return []cmField{
			req(name+" local LID", base, 0, 16, func(m *CMReq) { get(m).LocalLID = 0xffff }),
			req(name+" remote LID", base+2, 0, 16, func(m *CMReq) { get(m).RemoteLID = 0xffff }),
			req(name+" local GID", base+4, 0, 128, func(m *CMReq) { ones(get(m).LocalGID[:]) }),
			req(name+" remote GID", base+20, 0, 128, func(m *CMReq) { ones(get(m).RemoteGID[:]) }),
			req(name+" flow label", base+36, 0, 20, func(m *CMReq) { get(m).FlowLabel = 0xfffff }),
			req(name+" packet rate", base+39, 2, 6, func(m *CMReq) { get(m).PacketRate = 0x3f }),
			req(name+" traffic class", base+40, 0, 8, func(m *CMReq) { get(m).TrafficClass = 0xff }),
			req(name+" hop limit", base+41, 0, 8, func(m *CMReq) { get(m).HopLimit = 0xff }),
			req(name+" SL", base+42, 0, 4, func(m *CMReq) { get(m).SL = 0xf }),
			req(name+" subnet local", base+42, 4, 1, func(m *CMReq) { get(m).SubnetLocal = true }),
			req(name+" local ACK timeout", base+43, 0, 5, func(m *CMReq) { get(m).LocalACKTimeout = 0x1f }),
		}
	}
	rep := func(name string, off, bit, width int, set func(*CMRep)) cmField {
		return field("REP "+name, CMAttrREP, off, bit, width, set, (*CMRep).Encode, DecodeCMRep)
	}
	rej := func(name string, off, bit, width int, set func(*CMRej)) cmField {
		return field("REJ "+name, CMAttrREJ, off, bit, width, set, (*CMRej).Encode, DecodeCMRej)
	}
	mra := func(name string, off, bit, width int, set func(*CMMra)) cmField {
		return field("MRA "+name, CMAttrMRA, off, bit, width, set, (*CMMra).Encode, DecodeCMMra)
	}
	rtu := func(name string, off, bit, width int, set func(*CMRtu)) cmField {
		return field("RTU "+name, CMAttrRTU, off, bit, width, set, (*CMRtu).Encode, DecodeCMRtu)
	}
	dreq := func(name string, off, bit, width int, set func(*CMDreq)) cmField {
		return field("DREQ "+name, CMAttrDREQ, off, bit, width, set, (*CMDreq).Encode, DecodeCMDreq)
	}
	drep := func(name string, off, bit, width int, set func(*CMDrep)) cmField {
		return field("DREP "+name, CMAttrDREP, off, bit, width, set, (*CMDrep).Encode, DecodeCMDrep)
	}
	lap := func(name string, off, bit, width int, set func(*CMLap)) cmField {
		return field("LAP "+name, CMAttrLAP, off, bit, width, set, (*CMLap).Encode, DecodeCMLap)
	}
	apr := func(name string, off, bit, width int, set func(*CMApr)) cmField {
		return field("APR "+name, CMAttrAPR, off, bit, width, set, (*CMApr).Encode, DecodeCMApr)
	}
	sreq := func(name string, off, bit, width int, set func(*CMSIDRReq)) cmField {
		return field("SIDR_REQ "+name, CMAttrSIDRReq, off, bit, width, set, (*CMSIDRReq).Encode, DecodeCMSIDRReq)
	}
	srep := func(name string, off, bit, width int, set func(*CMSIDRRep)) cmField {
		return field("SIDR_REP "+name, CMAttrSIDRRep, off, bit, width, set, (*CMSIDRRep).Encode, DecodeCMSIDRRep)
	}
	fields := []cmField{
		req("local comm ID", 0, 0, 32, func(m *CMReq) { m.LocalCommID = 0xffffffff }),
		req("service ID", 8, 0, 64, func(m *CMReq) { m.ServiceID = 1<<64 - 1 }),
		req("local CA GUID", 16, 0, 64, func(m *CMReq) { m.LocalCAGUID = 1<<64 - 1 }),
		req("local Q_Key", 28, 0, 32, func(m *CMReq) { m.LocalQKey = 0xffffffff }),
		req("local QPN", 32, 0, 24, func(m *CMReq) { m.LocalQPN = 0xffffff }),
		req("responder resources", 35, 0, 8, func(m *CMReq) { m.ResponderResources = 0xff }),
		req("local EECN", 36, 0, 24, func(m *CMReq) { m.LocalEECN = 0xffffff }),
		req("initiator depth", 39, 0, 8, func(m *CMReq) { m.InitiatorDepth = 0xff }),
		req("remote EECN", 40, 0, 24, func(m *CMReq) { m.RemoteEECN = 0xffffff }),
		req("remote CM response timeout", 43, 0, 5, func(m *CMReq) { m.RemoteCMResponseTimeout = 0x1f }),
		req("transport service type", 43, 5, 2, func(m *CMReq) { m.TransportServiceType = 3 }),
		req("end-to-end flow control", 43, 7, 1, func(m *CMReq) { m.FlowControl = true }),
		req("starting PSN", 44, 0, 24, func(m *CMReq) { m.StartingPSN = 0xffffff }),
		req("local CM response timeout", 47, 0, 5, func(m *CMReq) { m.LocalCMResponseTimeout = 0x1f }),
		req("retry count", 47, 5, 3, func(m *CMReq) { m.RetryCount = 7 }),
		req("P_Key", 48, 0, 16, func(m *CMReq) { m.PKey = 0xffff }),
		req("path MTU", 50, 0, 4, func(m *CMReq) { m.PathMTU = 0xf }),
		req("RDC exists", 50, 4, 1, func(m *CMReq) { m.RDCExists = true }),
		req("RNR retry count", 50, 5, 3, func(m *CMReq) { m.RNRRetryCount = 7 }),
		req("max CM retries", 51, 0, 4, func(m *CMReq) { m.MaxCMRetries = 0xf }),
		req("SRQ", 51, 4, 1, func(m *CMReq) { m.SRQ = true }),
		req("extended transport type", 51, 5, 3, func(m *CMReq) { m.ExtendedTransportType = 7 }),
		req("SAP supported", 139, 5, 1, func(m *CMReq) { m.SAPSupported = true }),
		req("private data", 140, 0, 92*8, func(m *CMReq) { ones(m.PrivateData[:]) }),

		rep("local comm ID", 0, 0, 32, func(m *CMRep) { m.LocalCommID = 0xffffffff }),
		rep("remote comm ID", 4, 0, 32, func(m *CMRep) { m.RemoteCommID = 0xffffffff }),
		rep("local Q_Key", 8, 0, 32, func(m *CMRep) { m.LocalQKey = 0xffffffff }),
		rep("local QPN", 12, 0, 24, func(m *CMRep) { m.LocalQPN = 0xffffff }),
		rep("local EECN", 16, 0, 24, func(m *CMRep) { m.LocalEECN = 0xffffff }),
		rep("starting PSN", 20, 0, 24, func(m *CMRep) { m.StartingPSN = 0xffffff }),
		rep("responder resources", 24, 0, 8, func(m *CMRep) { m.ResponderResources = 0xff }),
		rep("initiator depth", 25, 0, 8, func(m *CMRep) { m.InitiatorDepth = 0xff }),
		rep("target ACK delay", 26, 0, 5, func(m *CMRep) { m.TargetACKDelay = 0x1f }),
		rep("failover accepted", 26, 5, 2, func(m *CMRep) { m.FailoverAccepted = 3 }),
		rep("end-to-end flow control", 26, 7, 1, func(m *CMRep) { m.FlowControl = true }),
		rep("RNR retry count", 27, 0, 3, func(m *CMRep) { m.RNRRetryCount = 7 }),
		rep("SRQ", 27, 3, 1, func(m *CMRep) { m.SRQ = true }),
		rep("local CA GUID", 28, 0, 64, func(m *CMRep) { m.LocalCAGUID = 1<<64 - 1 }),
		rep("private data", 36, 0, 196*8, func(m *CMRep) { ones(m.PrivateData[:]) }),

		rej("local comm ID", 0, 0, 32, func(m *CMRej) { m.LocalCommID = 0xffffffff }),
		rej("remote comm ID", 4, 0, 32, func(m *CMRej) { m.RemoteCommID = 0xffffffff }),
		rej("message rejected", 8, 0, 2, func(m *CMRej) { m.MessageRejected = 3 }),
		rej("rejected info length", 9, 0, 7, func(m *CMRej) { m.RejectedInfoLength = 0x7f }),
		rej("reason", 10, 0, 16, func(m *CMRej) { m.Reason = 0xffff }),
		rej("ARI", 12, 0, 72*8, func(m *CMRej) { ones(m.ARI[:]) }),
		rej("private data", 84, 0, 148*8, func(m *CMRej) { ones(m.PrivateData[:]) }),

		mra("local comm ID", 0, 0, 32, func(m *CMMra) { m.LocalCommID = 0xffffffff }),
		mra("remote comm ID", 4, 0, 32, func(m *CMMra) { m.RemoteCommID = 0xffffffff }),
		mra("message MRAed", 8, 0, 2, func(m *CMMra) { m.MessageMRAed = 3 }),
		mra("service timeout", 9, 0, 5, func(m *CMMra) { m.ServiceTimeout = 0x1f }),
		mra("private data", 10, 0, 222*8, func(m *CMMra) { ones(m.PrivateData[:]) }),

		rtu("local comm ID", 0, 0, 32, func(m *CMRtu) { m.LocalCommID = 0xffffffff }),
		rtu("remote comm ID", 4, 0, 32, func(m *CMRtu) { m.RemoteCommID = 0xffffffff }),
		rtu("private data", 8, 0, 224*8, func(m *CMRtu) { ones(m.PrivateData[:]) }),

		dreq("local comm ID", 0, 0, 32, func(m *CMDreq) { m.LocalCommID = 0xffffffff }),
		dreq("remote comm ID", 4, 0, 32, func(m *CMDreq) { m.RemoteCommID = 0xffffffff }),
		dreq("remote QPN", 8, 0, 24, func(m *CMDreq) { m.RemoteQPN = 0xffffff }),
		dreq("private data", 12, 0, 220*8, func(m *CMDreq) { ones(m.PrivateData[:]) }),

		drep("local comm ID", 0, 0, 32, func(m *CMDrep) { m.LocalCommID = 0xffffffff }),
		drep("remote comm ID", 4, 0, 32, func(m *CMDrep) { m.RemoteCommID = 0xffffffff }),
		drep("private data", 8, 0, 224*8, func(m *CMDrep) { ones(m.PrivateData[:]) }),

		lap("local comm ID", 0, 0, 32, func(m *CMLap) { m.LocalCommID = 0xffffffff }),
		lap("remote comm ID", 4, 0, 32, func(m *CMLap) { m.RemoteCommID = 0xffffffff }),

		apr("local comm ID", 0, 0, 32, func(m *CMApr) { m.LocalCommID = 0xffffffff }),
		apr("remote comm ID", 4, 0, 32, func(m *CMApr) { m.RemoteCommID = 0xffffffff }),
		apr("additional information length", 8, 0, 8, func(m *CMApr) { m.InfoLength = 0xff }),
		apr("AP status", 9, 0, 8, func(m *CMApr) { m.Status = 0xff }),
		apr("additional information", 12, 0, 72*8, func(m *CMApr) { ones(m.Info[:]) }),
		apr("private data", 84, 0, 148*8, func(m *CMApr) { ones(m.PrivateData[:]) }),

		sreq("request ID", 0, 0, 32, func(m *CMSIDRReq) { m.RequestID = 0xffffffff }),
		sreq("P_Key", 4, 0, 16, func(m *CMSIDRReq) { m.PKey = 0xffff }),
		sreq("service ID", 8, 0, 64, func(m *CMSIDRReq) { m.ServiceID = 1<<64 - 1 }),
		sreq("private data", 16, 0, 216*8, func(m *CMSIDRReq) { ones(m.PrivateData[:]) }),

		srep("request ID", 0, 0, 32, func(m *CMSIDRRep) { m.RequestID = 0xffffffff }),
		srep("status", 4, 0, 8, func(m *CMSIDRRep) { m.Status = 0xff }),
		srep("additional information length", 5, 0, 8, func(m *CMSIDRRep) { m.InfoLength = 0xff }),
		srep("QPN", 8, 0, 24, func(m *CMSIDRRep) { m.QPN = 0xffffff }),
		srep("service ID", 12, 0, 64, func(m *CMSIDRRep) { m.ServiceID = 1<<64 - 1 }),
		srep("Q_Key", 20, 0, 32, func(m *CMSIDRRep) { m.QKey = 0xffffffff }),
		srep("additional information", 24, 0, 72*8, func(m *CMSIDRRep) { ones(m.Info[:]) }),
	}
	fields = append(fields, path("primary", 52, func(m *CMReq) *CMPath { return &m.Primary })...)
	fields = append(fields, path("alternate", 96, func(m *CMReq) *CMPath { return &m.Alternate })...)
	for _, f := range fields {
		t.Run(f.name, func(t *testing.T) {
			want := madBytes(t, "01 07 02 03 00 00 00 00 01 02 03 04 05 06 07 08")
			want[16], want[17] = byte(f.attr>>8), byte(f.attr)
			for i := f.off*8 + f.bit; i < f.off*8+f.bit+f.width; i++ {
				want[MADHeaderLen+i/8] |= 0x80 >> (i % 8)
			}
			b := filled(MADSize)
			if n := f.encode(b); n != MADSize {
				t.Fatalf("Encode = %d, want %d", n, MADSize)
			}
			checkBytes(t, "MAD", b, want)
			if got, ok := f.decode(MAD(b)); !ok || got != f.msg {
				t.Errorf("decoded %+v %v, want %+v", got, ok, f.msg)
			}
		})
	}
}
