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
