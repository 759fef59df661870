package header

import "encoding/binary"

// Communication manager messages (IBA 12.6, tables 106-113; the kernel's
// include/rdma/ibta_vol1_c12.h): MADs of class MgmtClassCM, method Send,
// whose attribute ID names the message. Field offsets below are bytes
// into the MAD data (after the 24-byte header) with IBA's Byte[Bit]
// notation, bit 0 the most significant.
const (
	CMAttrREQ     uint16 = 0x0010 // CM_REQ_ATTR_ID
	CMAttrMRA     uint16 = 0x0011 // CM_MRA_ATTR_ID
	CMAttrREJ     uint16 = 0x0012 // CM_REJ_ATTR_ID
	CMAttrREP     uint16 = 0x0013 // CM_REP_ATTR_ID
	CMAttrRTU     uint16 = 0x0014 // CM_RTU_ATTR_ID
	CMAttrDREQ    uint16 = 0x0015 // CM_DREQ_ATTR_ID
	CMAttrDREP    uint16 = 0x0016 // CM_DREP_ATTR_ID
	CMAttrSIDRReq uint16 = 0x0017 // CM_SIDR_REQ_ATTR_ID
	CMAttrSIDRRep uint16 = 0x0018 // CM_SIDR_REP_ATTR_ID
	CMAttrLAP     uint16 = 0x0019 // CM_LAP_ATTR_ID
	CMAttrAPR     uint16 = 0x001A // CM_APR_ATTR_ID
)

// CMAPRUnsupported is the APR status of a LAP the CM does not carry out
// (IB_CM_APR_UNSUPPORTED).
const CMAPRUnsupported uint8 = 2

// CMSIDRUnsupported is the SIDR_REP status of a request for a service
// nobody resolves (IB_SIDR_UNSUPPORTED).
const CMSIDRUnsupported uint8 = 1

// REJ reasons the emulation sends (enum ib_cm_rej_reason).
const (
	CMRejNoQP             uint16 = 1  // IB_CM_REJ_NO_QP
	CMRejTimeout          uint16 = 4  // IB_CM_REJ_TIMEOUT
	CMRejInvalidServiceID uint16 = 8  // IB_CM_REJ_INVALID_SERVICE_ID
	CMRejStaleConn        uint16 = 10 // IB_CM_REJ_STALE_CONN
	CMRejInvalidGID       uint16 = 12 // IB_CM_REJ_INVALID_GID
	CMRejConsumerDefined  uint16 = 28 // IB_CM_REJ_CONSUMER_DEFINED
)

// Which message a REJ (or MRA) answers (enum cm_msg_response).
const (
	CMMsgREQ   uint8 = 0 // CM_MSG_RESPONSE_REQ
	CMMsgREP   uint8 = 1 // CM_MSG_RESPONSE_REP
	CMMsgOther uint8 = 2 // CM_MSG_RESPONSE_OTHER
)

// CMTransportRC is the REQ's transport service type for an RC QP.
const CMTransportRC uint8 = 0

// Private data sizes (enum ib_cm_data_size).
const (
	CMREQPrivateDataSize  = 92
	CMREPPrivateDataSize  = 196
	CMREJPrivateDataSize  = 148
	CMREJARILength        = 72
	CMRTUPrivateDataSize  = 224
	CMDREQPrivateDataSize = 220
	CMDREPPrivateDataSize = 224
	CMMRAPrivateDataSize  = 222
)

// CMPath is a path of a REQ: the primary one at byte 52, the alternate at
// byte 96, 44 bytes each.
type CMPath struct {
	LocalLID, RemoteLID uint16   // +0, +2
	LocalGID, RemoteGID [16]byte // +4, +20
	FlowLabel           uint32   // +36[0], 20 bits
	PacketRate          uint8    // +39[2], 6 bits (enum ib_rate)
	TrafficClass        uint8    // +40
	HopLimit            uint8    // +41
	SL                  uint8    // +42[0], 4 bits
	SubnetLocal         bool     // +42[4]
	LocalACKTimeout     uint8    // +43[0], 5 bits
}

func (p *CMPath) encode(d []byte, off int) {
	binary.BigEndian.PutUint16(d[off:], p.LocalLID)
	binary.BigEndian.PutUint16(d[off+2:], p.RemoteLID)
	copy(d[off+4:], p.LocalGID[:])
	copy(d[off+20:], p.RemoteGID[:])
	setBits(d, off+36, 0, 20, p.FlowLabel)
	setBits(d, off+39, 2, 6, uint32(p.PacketRate))
	d[off+40], d[off+41] = p.TrafficClass, p.HopLimit
	setBits(d, off+42, 0, 4, uint32(p.SL))
	setBits(d, off+42, 4, 1, b2u(p.SubnetLocal))
	setBits(d, off+43, 0, 5, uint32(p.LocalACKTimeout))
}

func decodeCMPath(d []byte, off int) CMPath {
	return CMPath{
		LocalLID: binary.BigEndian.Uint16(d[off:]), RemoteLID: binary.BigEndian.Uint16(d[off+2:]),
		LocalGID: [16]byte(d[off+4 : off+20]), RemoteGID: [16]byte(d[off+20 : off+36]),
		FlowLabel: getBits(d, off+36, 0, 20), PacketRate: uint8(getBits(d, off+39, 2, 6)),
		TrafficClass: d[off+40], HopLimit: d[off+41],
		SL: uint8(getBits(d, off+42, 0, 4)), SubnetLocal: getBits(d, off+42, 4, 1) == 1,
		LocalACKTimeout: uint8(getBits(d, off+43, 0, 5)),
	}
}

// CMReq is a connection request (table 106).
type CMReq struct {
	LocalCommID             uint32 // 0
	ServiceID               uint64 // 8
	LocalCAGUID             uint64 // 16
	LocalQKey               uint32 // 28
	LocalQPN                uint32 // 32[0], 24 bits
	ResponderResources      uint8  // 35
	LocalEECN               uint32 // 36[0], 24 bits
	InitiatorDepth          uint8  // 39
	RemoteEECN              uint32 // 40[0], 24 bits
	RemoteCMResponseTimeout uint8  // 43[0], 5 bits
	TransportServiceType    uint8  // 43[5], 2 bits
	FlowControl             bool   // 43[7]
	StartingPSN             uint32 // 44[0], 24 bits
	LocalCMResponseTimeout  uint8  // 47[0], 5 bits
	RetryCount              uint8  // 47[5], 3 bits
	PKey                    uint16 // 48
	PathMTU                 uint8  // 50[0], 4 bits (enum ib_mtu)
	RDCExists               bool   // 50[4]
	RNRRetryCount           uint8  // 50[5], 3 bits
	MaxCMRetries            uint8  // 51[0], 4 bits
	SRQ                     bool   // 51[4]
	ExtendedTransportType   uint8  // 51[5], 3 bits
	Primary                 CMPath // 52
	Alternate               CMPath // 96
	SAPSupported            bool   // 139[5]
	PrivateData             [CMREQPrivateDataSize]byte
}

// Encode writes the REQ as a whole MAD with transaction ID tid into b and
// returns MADSize, or 0 when b is shorter.
func (m *CMReq) Encode(b []byte, tid uint64) int {
	d, ok := cmData(b, CMAttrREQ, tid)
	if !ok {
		return 0
	}
	binary.BigEndian.PutUint32(d[0:], m.LocalCommID)
	binary.BigEndian.PutUint64(d[8:], m.ServiceID)
	binary.BigEndian.PutUint64(d[16:], m.LocalCAGUID)
	binary.BigEndian.PutUint32(d[28:], m.LocalQKey)
	setBits(d, 32, 0, 24, m.LocalQPN)
	d[35] = m.ResponderResources
	setBits(d, 36, 0, 24, m.LocalEECN)
	d[39] = m.InitiatorDepth
	setBits(d, 40, 0, 24, m.RemoteEECN)
	setBits(d, 43, 0, 5, uint32(m.RemoteCMResponseTimeout))
	setBits(d, 43, 5, 2, uint32(m.TransportServiceType))
	setBits(d, 43, 7, 1, b2u(m.FlowControl))
	setBits(d, 44, 0, 24, m.StartingPSN)
	setBits(d, 47, 0, 5, uint32(m.LocalCMResponseTimeout))
	setBits(d, 47, 5, 3, uint32(m.RetryCount))
	binary.BigEndian.PutUint16(d[48:], m.PKey)
	setBits(d, 50, 0, 4, uint32(m.PathMTU))
	setBits(d, 50, 4, 1, b2u(m.RDCExists))
	setBits(d, 50, 5, 3, uint32(m.RNRRetryCount))
	setBits(d, 51, 0, 4, uint32(m.MaxCMRetries))
	setBits(d, 51, 4, 1, b2u(m.SRQ))
	setBits(d, 51, 5, 3, uint32(m.ExtendedTransportType))
	m.Primary.encode(d, 52)
	m.Alternate.encode(d, 96)
	setBits(d, 139, 5, 1, b2u(m.SAPSupported))
	copy(d[140:], m.PrivateData[:])
	return MADSize
}

// DecodeCMReq reads a REQ from a valid MAD.
func DecodeCMReq(b MAD) (CMReq, bool) {
	if !b.Valid() {
		return CMReq{}, false
	}
	d := b.Data()
	m := CMReq{
		LocalCommID: binary.BigEndian.Uint32(d[0:]), ServiceID: binary.BigEndian.Uint64(d[8:]),
		LocalCAGUID: binary.BigEndian.Uint64(d[16:]), LocalQKey: binary.BigEndian.Uint32(d[28:]),
		LocalQPN: getBits(d, 32, 0, 24), ResponderResources: d[35],
		LocalEECN: getBits(d, 36, 0, 24), InitiatorDepth: d[39], RemoteEECN: getBits(d, 40, 0, 24),
		RemoteCMResponseTimeout: uint8(getBits(d, 43, 0, 5)), TransportServiceType: uint8(getBits(d, 43, 5, 2)),
		FlowControl: getBits(d, 43, 7, 1) == 1, StartingPSN: getBits(d, 44, 0, 24),
		LocalCMResponseTimeout: uint8(getBits(d, 47, 0, 5)), RetryCount: uint8(getBits(d, 47, 5, 3)),
		PKey: binary.BigEndian.Uint16(d[48:]), PathMTU: uint8(getBits(d, 50, 0, 4)),
		RDCExists: getBits(d, 50, 4, 1) == 1, RNRRetryCount: uint8(getBits(d, 50, 5, 3)),
		MaxCMRetries: uint8(getBits(d, 51, 0, 4)), SRQ: getBits(d, 51, 4, 1) == 1,
		ExtendedTransportType: uint8(getBits(d, 51, 5, 3)),
		Primary:               decodeCMPath(d, 52), Alternate: decodeCMPath(d, 96),
		SAPSupported: getBits(d, 139, 5, 1) == 1,
	}
	copy(m.PrivateData[:], d[140:])
	return m, true
}

// CMRep is a connection reply (table 110).
type CMRep struct {
	LocalCommID        uint32 // 0
	RemoteCommID       uint32 // 4
	LocalQKey          uint32 // 8
	LocalQPN           uint32 // 12[0], 24 bits
	LocalEECN          uint32 // 16[0], 24 bits
	StartingPSN        uint32 // 20[0], 24 bits
	ResponderResources uint8  // 24
	InitiatorDepth     uint8  // 25
	TargetACKDelay     uint8  // 26[0], 5 bits
	FailoverAccepted   uint8  // 26[5], 2 bits
	FlowControl        bool   // 26[7]
	RNRRetryCount      uint8  // 27[0], 3 bits
	SRQ                bool   // 27[3]
	LocalCAGUID        uint64 // 28
	PrivateData        [CMREPPrivateDataSize]byte
}

// Encode writes the REP as a whole MAD; see CMReq.Encode.
func (m *CMRep) Encode(b []byte, tid uint64) int {
	d, ok := cmData(b, CMAttrREP, tid)
	if !ok {
		return 0
	}
	binary.BigEndian.PutUint32(d[0:], m.LocalCommID)
	binary.BigEndian.PutUint32(d[4:], m.RemoteCommID)
	binary.BigEndian.PutUint32(d[8:], m.LocalQKey)
	setBits(d, 12, 0, 24, m.LocalQPN)
	setBits(d, 16, 0, 24, m.LocalEECN)
	setBits(d, 20, 0, 24, m.StartingPSN)
	d[24], d[25] = m.ResponderResources, m.InitiatorDepth
	setBits(d, 26, 0, 5, uint32(m.TargetACKDelay))
	setBits(d, 26, 5, 2, uint32(m.FailoverAccepted))
	setBits(d, 26, 7, 1, b2u(m.FlowControl))
	setBits(d, 27, 0, 3, uint32(m.RNRRetryCount))
	setBits(d, 27, 3, 1, b2u(m.SRQ))
	binary.BigEndian.PutUint64(d[28:], m.LocalCAGUID)
	copy(d[36:], m.PrivateData[:])
	return MADSize
}

// DecodeCMRep reads a REP from a valid MAD.
func DecodeCMRep(b MAD) (CMRep, bool) {
	if !b.Valid() {
		return CMRep{}, false
	}
	d := b.Data()
	m := CMRep{
		LocalCommID: binary.BigEndian.Uint32(d[0:]), RemoteCommID: binary.BigEndian.Uint32(d[4:]),
		LocalQKey: binary.BigEndian.Uint32(d[8:]), LocalQPN: getBits(d, 12, 0, 24),
		LocalEECN: getBits(d, 16, 0, 24), StartingPSN: getBits(d, 20, 0, 24),
		ResponderResources: d[24], InitiatorDepth: d[25],
		TargetACKDelay: uint8(getBits(d, 26, 0, 5)), FailoverAccepted: uint8(getBits(d, 26, 5, 2)),
		FlowControl: getBits(d, 26, 7, 1) == 1, RNRRetryCount: uint8(getBits(d, 27, 0, 3)),
		SRQ: getBits(d, 27, 3, 1) == 1, LocalCAGUID: binary.BigEndian.Uint64(d[28:]),
	}
	copy(m.PrivateData[:], d[36:])
	return m, true
}

// CMRej is a reject (table 108).
type CMRej struct {
	LocalCommID        uint32 // 0
	RemoteCommID       uint32 // 4
	MessageRejected    uint8  // 8[0], 2 bits: CMMsgREQ, CMMsgREP or CMMsgOther
	RejectedInfoLength uint8  // 9[0], 7 bits: bytes of ARI
	Reason             uint16 // 10
	ARI                [CMREJARILength]byte
	PrivateData        [CMREJPrivateDataSize]byte
}

// Encode writes the REJ as a whole MAD; see CMReq.Encode.
func (m *CMRej) Encode(b []byte, tid uint64) int {
	d, ok := cmData(b, CMAttrREJ, tid)
	if !ok {
		return 0
	}
	binary.BigEndian.PutUint32(d[0:], m.LocalCommID)
	binary.BigEndian.PutUint32(d[4:], m.RemoteCommID)
	setBits(d, 8, 0, 2, uint32(m.MessageRejected))
	setBits(d, 9, 0, 7, uint32(m.RejectedInfoLength))
	binary.BigEndian.PutUint16(d[10:], m.Reason)
	copy(d[12:], m.ARI[:])
	copy(d[84:], m.PrivateData[:])
	return MADSize
}

// DecodeCMRej reads a REJ from a valid MAD.
func DecodeCMRej(b MAD) (CMRej, bool) {
	if !b.Valid() {
		return CMRej{}, false
	}
	d := b.Data()
	m := CMRej{
		LocalCommID: binary.BigEndian.Uint32(d[0:]), RemoteCommID: binary.BigEndian.Uint32(d[4:]),
		MessageRejected: uint8(getBits(d, 8, 0, 2)), RejectedInfoLength: uint8(getBits(d, 9, 0, 7)),
		Reason: binary.BigEndian.Uint16(d[10:]),
	}
	copy(m.ARI[:], d[12:])
	copy(m.PrivateData[:], d[84:])
	return m, true
}

// CMRtu is a ready-to-use (table 111).
type CMRtu struct {
	LocalCommID, RemoteCommID uint32 // 0, 4
	PrivateData               [CMRTUPrivateDataSize]byte
}

// Encode writes the RTU as a whole MAD; see CMReq.Encode.
func (m *CMRtu) Encode(b []byte, tid uint64) int {
	return encodeIDs(b, CMAttrRTU, tid, m.LocalCommID, m.RemoteCommID, 8, m.PrivateData[:])
}

// DecodeCMRtu reads an RTU from a valid MAD.
func DecodeCMRtu(b MAD) (CMRtu, bool) {
	if !b.Valid() {
		return CMRtu{}, false
	}
	d := b.Data()
	m := CMRtu{LocalCommID: binary.BigEndian.Uint32(d[0:]), RemoteCommID: binary.BigEndian.Uint32(d[4:])}
	copy(m.PrivateData[:], d[8:])
	return m, true
}

// CMDreq is a disconnection request (table 112).
type CMDreq struct {
	LocalCommID, RemoteCommID uint32 // 0, 4
	RemoteQPN                 uint32 // 8[0], 24 bits: the receiver's QPN
	PrivateData               [CMDREQPrivateDataSize]byte
}

// Encode writes the DREQ as a whole MAD; see CMReq.Encode.
func (m *CMDreq) Encode(b []byte, tid uint64) int {
	if encodeIDs(b, CMAttrDREQ, tid, m.LocalCommID, m.RemoteCommID, 12, m.PrivateData[:]) == 0 {
		return 0
	}
	setBits(b[MADHeaderLen:], 8, 0, 24, m.RemoteQPN)
	return MADSize
}

// DecodeCMDreq reads a DREQ from a valid MAD.
func DecodeCMDreq(b MAD) (CMDreq, bool) {
	if !b.Valid() {
		return CMDreq{}, false
	}
	d := b.Data()
	m := CMDreq{LocalCommID: binary.BigEndian.Uint32(d[0:]), RemoteCommID: binary.BigEndian.Uint32(d[4:]),
		RemoteQPN: getBits(d, 8, 0, 24)}
	copy(m.PrivateData[:], d[12:])
	return m, true
}

// CMDrep is a disconnection reply (table 113).
type CMDrep struct {
	LocalCommID, RemoteCommID uint32 // 0, 4
	PrivateData               [CMDREPPrivateDataSize]byte
}

// Encode writes the DREP as a whole MAD; see CMReq.Encode.
func (m *CMDrep) Encode(b []byte, tid uint64) int {
	return encodeIDs(b, CMAttrDREP, tid, m.LocalCommID, m.RemoteCommID, 8, m.PrivateData[:])
}

// DecodeCMDrep reads a DREP from a valid MAD.
func DecodeCMDrep(b MAD) (CMDrep, bool) {
	if !b.Valid() {
		return CMDrep{}, false
	}
	d := b.Data()
	m := CMDrep{LocalCommID: binary.BigEndian.Uint32(d[0:]), RemoteCommID: binary.BigEndian.Uint32(d[4:])}
	copy(m.PrivateData[:], d[8:])
	return m, true
}

// CMMra is a message receipt acknowledgement (table 107): the sender
// needs ServiceTimeout more to answer the message it names.
type CMMra struct {
	LocalCommID, RemoteCommID uint32 // 0, 4
	MessageMRAed              uint8  // 8[0], 2 bits: CMMsgREQ, CMMsgREP or CMMsgOther
	ServiceTimeout            uint8  // 9[0], 5 bits: IBA time
	PrivateData               [CMMRAPrivateDataSize]byte
}

// Encode writes the MRA as a whole MAD; see CMReq.Encode.
func (m *CMMra) Encode(b []byte, tid uint64) int {
	if encodeIDs(b, CMAttrMRA, tid, m.LocalCommID, m.RemoteCommID, 10, m.PrivateData[:]) == 0 {
		return 0
	}
	d := b[MADHeaderLen:]
	setBits(d, 8, 0, 2, uint32(m.MessageMRAed))
	setBits(d, 9, 0, 5, uint32(m.ServiceTimeout))
	return MADSize
}

// DecodeCMMra reads an MRA from a valid MAD.
func DecodeCMMra(b MAD) (CMMra, bool) {
	if !b.Valid() {
		return CMMra{}, false
	}
	d := b.Data()
	m := CMMra{LocalCommID: binary.BigEndian.Uint32(d[0:]), RemoteCommID: binary.BigEndian.Uint32(d[4:]),
		MessageMRAed: uint8(getBits(d, 8, 0, 2)), ServiceTimeout: uint8(getBits(d, 9, 0, 5))}
	copy(m.PrivateData[:], d[10:])
	return m, true
}

// CMLap is a load alternate path request (table 114); only the
// communication IDs are read: the emulation answers every LAP with an
// APR.
type CMLap struct {
	LocalCommID, RemoteCommID uint32 // 0, 4
}

// Encode writes the LAP's IDs as a whole MAD, the alternate path left
// zero; see CMReq.Encode.
func (m *CMLap) Encode(b []byte, tid uint64) int {
	return encodeIDs(b, CMAttrLAP, tid, m.LocalCommID, m.RemoteCommID, 64, nil)
}

// DecodeCMLap reads a LAP's IDs from a valid MAD.
func DecodeCMLap(b MAD) (CMLap, bool) {
	if !b.Valid() {
		return CMLap{}, false
	}
	d := b.Data()
	return CMLap{LocalCommID: binary.BigEndian.Uint32(d[0:]), RemoteCommID: binary.BigEndian.Uint32(d[4:])}, true
}

// CMApr is an alternate path response (table 116).
type CMApr struct {
	LocalCommID, RemoteCommID uint32 // 0, 4
	InfoLength                uint8  // 8: bytes of additional information
	Status                    uint8  // 9: AP status (enum ib_cm_apr_status)
	Info                      [72]byte
	PrivateData               [148]byte
}

// Encode writes the APR as a whole MAD; see CMReq.Encode.
func (m *CMApr) Encode(b []byte, tid uint64) int {
	if encodeIDs(b, CMAttrAPR, tid, m.LocalCommID, m.RemoteCommID, 84, m.PrivateData[:]) == 0 {
		return 0
	}
	d := b[MADHeaderLen:]
	d[8], d[9] = m.InfoLength, m.Status
	copy(d[12:84], m.Info[:])
	return MADSize
}

// DecodeCMApr reads an APR from a valid MAD.
func DecodeCMApr(b MAD) (CMApr, bool) {
	if !b.Valid() {
		return CMApr{}, false
	}
	d := b.Data()
	m := CMApr{LocalCommID: binary.BigEndian.Uint32(d[0:]), RemoteCommID: binary.BigEndian.Uint32(d[4:]),
		InfoLength: d[8], Status: d[9]}
	copy(m.Info[:], d[12:84])
	copy(m.PrivateData[:], d[84:])
	return m, true
}

// CMSIDRReq is a service ID resolution request (table 118).
type CMSIDRReq struct {
	RequestID   uint32 // 0
	PKey        uint16 // 4
	ServiceID   uint64 // 8
	PrivateData [216]byte
}

// Encode writes the SIDR_REQ as a whole MAD; see CMReq.Encode.
func (m *CMSIDRReq) Encode(b []byte, tid uint64) int {
	d, ok := cmData(b, CMAttrSIDRReq, tid)
	if !ok {
		return 0
	}
	binary.BigEndian.PutUint32(d[0:], m.RequestID)
	binary.BigEndian.PutUint16(d[4:], m.PKey)
	binary.BigEndian.PutUint64(d[8:], m.ServiceID)
	copy(d[16:], m.PrivateData[:])
	return MADSize
}

// DecodeCMSIDRReq reads a SIDR_REQ from a valid MAD.
func DecodeCMSIDRReq(b MAD) (CMSIDRReq, bool) {
	if !b.Valid() {
		return CMSIDRReq{}, false
	}
	d := b.Data()
	m := CMSIDRReq{RequestID: binary.BigEndian.Uint32(d[0:]), PKey: binary.BigEndian.Uint16(d[4:]),
		ServiceID: binary.BigEndian.Uint64(d[8:])}
	copy(m.PrivateData[:], d[16:])
	return m, true
}

// CMSIDRRep is a service ID resolution response (table 119).
type CMSIDRRep struct {
	RequestID  uint32 // 0
	Status     uint8  // 4 (enum ib_cm_sidr_status)
	InfoLength uint8  // 5
	QPN        uint32 // 8[0], 24 bits
	ServiceID  uint64 // 12
	QKey       uint32 // 20
	Info       [72]byte
}

// Encode writes the SIDR_REP as a whole MAD; see CMReq.Encode.
func (m *CMSIDRRep) Encode(b []byte, tid uint64) int {
	d, ok := cmData(b, CMAttrSIDRRep, tid)
	if !ok {
		return 0
	}
	binary.BigEndian.PutUint32(d[0:], m.RequestID)
	d[4], d[5] = m.Status, m.InfoLength
	setBits(d, 8, 0, 24, m.QPN)
	binary.BigEndian.PutUint64(d[12:], m.ServiceID)
	binary.BigEndian.PutUint32(d[20:], m.QKey)
	copy(d[24:96], m.Info[:])
	return MADSize
}

// DecodeCMSIDRRep reads a SIDR_REP from a valid MAD.
func DecodeCMSIDRRep(b MAD) (CMSIDRRep, bool) {
	if !b.Valid() {
		return CMSIDRRep{}, false
	}
	d := b.Data()
	m := CMSIDRRep{RequestID: binary.BigEndian.Uint32(d[0:]), Status: d[4], InfoLength: d[5], QPN: getBits(d, 8, 0, 24),
		ServiceID: binary.BigEndian.Uint64(d[12:]), QKey: binary.BigEndian.Uint32(d[20:])}
	copy(m.Info[:], d[24:96])
	return m, true
}

// cmData zeroes b's first MADSize bytes, writes the CM header and returns
// the data area.
func cmData(b []byte, attr uint16, tid uint64) ([]byte, bool) {
	if len(b) < MADSize {
		return nil, false
	}
	clear(b[:MADSize])
	CMHeader(attr, tid).Encode(b)
	return b[MADHeaderLen:MADSize], true
}

// encodeIDs writes a message made of the two communication IDs and
// private data at priv.
func encodeIDs(b []byte, attr uint16, tid uint64, local, remote uint32, priv int, data []byte) int {
	d, ok := cmData(b, attr, tid)
	if !ok {
		return 0
	}
	binary.BigEndian.PutUint32(d[0:], local)
	binary.BigEndian.PutUint32(d[4:], remote)
	copy(d[priv:], data)
	return MADSize
}

func b2u(v bool) uint32 {
	if v {
		return 1
	}
	return 0
}

// IPoIBCMDataLen is the size of IPoIB's REQ and REP private data.
const IPoIBCMDataLen = 8

// IPoIBCMData is IPoIB's connected-mode private data (struct
// ipoib_cm_data, RFC 4755 section 4): the sender's UD QPN and the
// largest message it receives, both big-endian.
type IPoIBCMData struct {
	QPN uint32 // the sender's UD QPN; the high byte is ignored on receive
	MTU uint32 // receive size: IPOIB_CM_BUF_SIZE, 65524
}

// Encode writes the private data into b and returns IPoIBCMDataLen, or 0
// when b is shorter.
func (p IPoIBCMData) Encode(b []byte) int {
	if len(b) < IPoIBCMDataLen {
		return 0
	}
	binary.BigEndian.PutUint32(b[0:], p.QPN)
	binary.BigEndian.PutUint32(b[4:], p.MTU)
	return IPoIBCMDataLen
}

// DecodeIPoIBCMData reads the private data, dropping the QPN's high byte.
func DecodeIPoIBCMData(b []byte) (IPoIBCMData, bool) {
	if len(b) < IPoIBCMDataLen {
		return IPoIBCMData{}, false
	}
	return IPoIBCMData{QPN: binary.BigEndian.Uint32(b[0:]) & 0xFFFFFF, MTU: binary.BigEndian.Uint32(b[4:])}, true
}
