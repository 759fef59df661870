package wire

import "github.com/mdlayher/netlink"

// This file holds the codecs of the ibctl family's requests and replies
// that carry one of netlinkx's types: each EncodeX adds x's attributes
// to ae, and each DecodeX reads them back from the attributes ad holds
// (the caller checks ad.Err). Decoders skip attributes they do not
// know.

// EncodeStatus adds the attributes of a CmdStatus reply.
func EncodeStatus(ae *netlink.AttributeEncoder, st Status) {
	ae.Uint32(AttrPID, st.PID)
	ae.String(AttrSocket, st.Socket)
	ae.String(AttrStateDir, st.StateDir)
	ae.Uint64(AttrUptime, st.Uptime)
	ae.Uint64(AttrStarted, uint64(st.StartedNs))
	ae.Uint32(AttrLinks, st.Links)
	for _, n := range st.Nodes {
		ae.String(AttrNode, n)
	}
}

// DecodeStatus decodes what EncodeStatus encodes.
func DecodeStatus(ad *netlink.AttributeDecoder) Status {
	var st Status
	for ad.Next() {
		switch ad.Type() {
		case AttrPID:
			st.PID = ad.Uint32()
		case AttrSocket:
			st.Socket = ad.String()
		case AttrStateDir:
			st.StateDir = ad.String()
		case AttrUptime:
			st.Uptime = ad.Uint64()
		case AttrStarted:
			st.StartedNs = int64(ad.Uint64())
		case AttrLinks:
			st.Links = ad.Uint32()
		case AttrNode:
			st.Nodes = append(st.Nodes, ad.String())
		}
	}
	return st
}

// EncodeDriverInfo adds the attributes of a CmdDrvInfo reply.
func EncodeDriverInfo(ae *netlink.AttributeEncoder, di DriverInfo) {
	ae.String(AttrDriver, di.Driver)
	ae.String(AttrVersion, di.Version)
	ae.String(AttrFirmware, di.Firmware)
	ae.String(AttrBusInfo, di.BusInfo)
	ae.Uint32(AttrNStats, di.NStats)
}

// DecodeDriverInfo decodes what EncodeDriverInfo encodes.
func DecodeDriverInfo(ad *netlink.AttributeDecoder) DriverInfo {
	var di DriverInfo
	for ad.Next() {
		switch ad.Type() {
		case AttrDriver:
			di.Driver = ad.String()
		case AttrVersion:
			di.Version = ad.String()
		case AttrFirmware:
			di.Firmware = ad.String()
		case AttrBusInfo:
			di.BusInfo = ad.String()
		case AttrNStats:
			di.NStats = ad.Uint32()
		}
	}
	return di
}

// EncodeSysEntry adds the attributes of one entry of a CmdSysList dump.
func EncodeSysEntry(ae *netlink.AttributeEncoder, e SysEntry) {
	ae.String(AttrName, e.Name)
	ae.Uint32(AttrMode, e.Mode)
}

// DecodeSysEntry decodes what EncodeSysEntry encodes.
func DecodeSysEntry(ad *netlink.AttributeDecoder) SysEntry {
	var e SysEntry
	for ad.Next() {
		switch ad.Type() {
		case AttrName:
			e.Name = ad.String()
		case AttrMode:
			e.Mode = ad.Uint32()
		}
	}
	return e
}

// EncodeStat adds the attributes of one counter of a CmdStats dump.
func EncodeStat(ae *netlink.AttributeEncoder, s Stat) {
	ae.String(AttrName, s.Name)
	ae.Uint64(AttrValue, s.Value)
}

// DecodeStat decodes what EncodeStat encodes.
func DecodeStat(ad *netlink.AttributeDecoder) Stat {
	var s Stat
	for ad.Next() {
		switch ad.Type() {
		case AttrName:
			s.Name = ad.String()
		case AttrValue:
			s.Value = ad.Uint64()
		}
	}
	return s
}

// EncodeLogRecord adds the attributes of one kernel message of a
// CmdDmesg dump.
func EncodeLogRecord(ae *netlink.AttributeEncoder, r LogRecord) {
	ae.Uint64(AttrSeq, r.Seq)
	ae.Uint64(AttrTime, r.TimeNs)
	ae.String(AttrData, r.Text)
}

// DecodeLogRecord decodes what EncodeLogRecord encodes.
func DecodeLogRecord(ad *netlink.AttributeDecoder) LogRecord {
	var r LogRecord
	for ad.Next() {
		switch ad.Type() {
		case AttrSeq:
			r.Seq = ad.Uint64()
		case AttrTime:
			r.TimeNs = ad.Uint64()
		case AttrData:
			r.Text = ad.String()
		}
	}
	return r
}

// EncodeMaddr adds the attributes of one interface of a CmdMaddr dump.
func EncodeMaddr(ae *netlink.AttributeEncoder, m Maddr) {
	ae.Uint32(AttrPortNum, uint32(m.Index))
	ae.String(AttrName, m.Name)
	for _, l := range m.Link {
		ae.Bytes(AttrLink, l)
	}
	for _, a := range m.Inet {
		ae.Bytes(AttrInet, a)
	}
}

// DecodeMaddr decodes what EncodeMaddr encodes.
func DecodeMaddr(ad *netlink.AttributeDecoder) Maddr {
	var m Maddr
	for ad.Next() {
		switch ad.Type() {
		case AttrPortNum:
			m.Index = int32(ad.Uint32())
		case AttrName:
			m.Name = ad.String()
		case AttrLink:
			m.Link = append(m.Link, ad.Bytes())
		case AttrInet:
			m.Inet = append(m.Inet, ad.Bytes())
		}
	}
	return m
}

// EncodeSMInfo adds the attributes of a CmdSMShow reply.
func EncodeSMInfo(ae *netlink.AttributeEncoder, i SMInfo) {
	ae.Uint16(AttrLID, i.LID)
	ae.String(AttrNode, i.Node)
	ae.Uint32(AttrPortNum, i.Port)
	ae.Uint32(AttrEntry, i.Partitions)
	ae.Uint32(AttrMember, i.Groups)
}

// DecodeSMInfo decodes what EncodeSMInfo encodes.
func DecodeSMInfo(ad *netlink.AttributeDecoder) SMInfo {
	var i SMInfo
	for ad.Next() {
		switch ad.Type() {
		case AttrLID:
			i.LID = ad.Uint16()
		case AttrNode:
			i.Node = ad.String()
		case AttrPortNum:
			i.Port = ad.Uint32()
		case AttrEntry:
			i.Partitions = ad.Uint32()
		case AttrMember:
			i.Groups = ad.Uint32()
		}
	}
	return i
}

// EncodeRouteGet adds the attributes of a CmdRouteGet reply: the route
// to a destination, with its path MTU exception.
func EncodeRouteGet(ae *netlink.AttributeEncoder, r Route) {
	ae.Bytes(AttrDst, r.Dst)
	ae.Bytes(AttrSrc, r.Src)
	ae.String(AttrDev, r.Dev)
	ae.Flag(AttrFull, r.Local)
	ae.Uint32(AttrMTU, r.MTU)
	ae.Uint32(AttrExpires, r.ExpiresSec)
	ae.Uint8(AttrTable, r.Table)
	ae.Uint8(AttrProtocol, r.Protocol)
	ae.Uint32(AttrMetric, r.Metric)
}

// DecodeRouteGet decodes what EncodeRouteGet encodes.
func DecodeRouteGet(ad *netlink.AttributeDecoder) Route {
	var r Route
	for ad.Next() {
		switch ad.Type() {
		case AttrDst:
			r.Dst = ad.Bytes()
		case AttrSrc:
			r.Src = ad.Bytes()
		case AttrDev:
			r.Dev = ad.String()
		case AttrFull:
			r.Local = true
		case AttrMTU:
			r.MTU = ad.Uint32()
		case AttrExpires:
			r.ExpiresSec = ad.Uint32()
		case AttrTable:
			r.Table = ad.Uint8()
		case AttrProtocol:
			r.Protocol = ad.Uint8()
		case AttrMetric:
			r.Metric = ad.Uint32()
		}
	}
	return r
}

// EncodePingRequest adds the attributes of a CmdPing request; an empty
// Dev is left out.
func EncodePingRequest(ae *netlink.AttributeEncoder, r PingRequest) {
	if r.Dev != "" {
		ae.String(AttrDev, r.Dev)
	}
	ae.Bytes(AttrDst, r.Dst)
	ae.Uint32(AttrSize, r.Size)
	ae.Uint16(AttrIdent, r.Ident)
	ae.Uint16(AttrSeq, r.Seq)
	ae.Uint32(AttrTimeout, r.TimeoutMs)
	ae.Uint8(AttrDF, r.PMTUDisc)
	if r.Connect {
		ae.Flag(AttrConnect, true)
	}
	if r.Cancel {
		ae.Flag(AttrCancel, true)
	}
}

// DecodePingRequest decodes what EncodePingRequest encodes.
func DecodePingRequest(ad *netlink.AttributeDecoder) PingRequest {
	var r PingRequest
	for ad.Next() {
		switch ad.Type() {
		case AttrDev:
			r.Dev = ad.String()
		case AttrDst:
			r.Dst = ad.Bytes()
		case AttrSize:
			r.Size = ad.Uint32()
		case AttrIdent:
			r.Ident = ad.Uint16()
		case AttrSeq:
			r.Seq = ad.Uint16()
		case AttrTimeout:
			r.TimeoutMs = ad.Uint32()
		case AttrDF:
			r.PMTUDisc = ad.Uint8()
		case AttrConnect:
			r.Connect = true
		case AttrCancel:
			r.Cancel = true
		}
	}
	return r
}

// EncodePingReply adds the attributes of a CmdPing reply; a nil From is
// left out.
func EncodePingReply(ae *netlink.AttributeEncoder, rep PingReply) {
	ae.Uint8(AttrStatus, rep.Status)
	ae.Bytes(AttrSrc, rep.Src)
	if rep.From != nil {
		ae.Bytes(AttrFrom, rep.From)
	}
	ae.Uint8(AttrTTL, rep.TTL)
	ae.Uint32(AttrBytes, rep.Bytes)
	ae.Uint64(AttrRTT, rep.RTTNs)
	ae.Uint32(AttrMTU, rep.MTU)
	if rep.Together != 0 {
		ae.Uint32(AttrTogether, rep.Together)
	}
}

// DecodePingReply decodes what EncodePingReply encodes.
func DecodePingReply(ad *netlink.AttributeDecoder) PingReply {
	var rep PingReply
	for ad.Next() {
		switch ad.Type() {
		case AttrStatus:
			rep.Status = ad.Uint8()
		case AttrSrc:
			rep.Src = ad.Bytes()
		case AttrFrom:
			rep.From = ad.Bytes()
		case AttrTTL:
			rep.TTL = ad.Uint8()
		case AttrBytes:
			rep.Bytes = ad.Uint32()
		case AttrRTT:
			rep.RTTNs = ad.Uint64()
		case AttrMTU:
			rep.MTU = ad.Uint32()
		case AttrTogether:
			rep.Together = ad.Uint32()
		}
	}
	return rep
}

// EncodePerfRequest adds the attributes of a CmdPerf request; an empty
// Dev is left out.
func EncodePerfRequest(ae *netlink.AttributeEncoder, r PerfRequest) {
	if r.Dev != "" {
		ae.String(AttrDev, r.Dev)
	}
	ae.Bytes(AttrDst, r.Dst)
	ae.Uint32(AttrSize, r.Size)
	ae.Uint32(AttrDuration, r.DurationMs)
}

// DecodePerfRequest decodes what EncodePerfRequest encodes.
func DecodePerfRequest(ad *netlink.AttributeDecoder) PerfRequest {
	var r PerfRequest
	for ad.Next() {
		switch ad.Type() {
		case AttrDev:
			r.Dev = ad.String()
		case AttrDst:
			r.Dst = ad.Bytes()
		case AttrSize:
			r.Size = ad.Uint32()
		case AttrDuration:
			r.DurationMs = ad.Uint32()
		}
	}
	return r
}

// EncodePerfReply adds the attributes of a CmdPerf reply.
func EncodePerfReply(ae *netlink.AttributeEncoder, rep PerfReply) {
	ae.Uint64(AttrSent, rep.Sent)
	ae.Uint64(AttrReceived, rep.Received)
	ae.Uint64(AttrBytes, rep.Bytes)
	ae.Uint64(AttrElapsed, rep.ElapsedNs)
	ae.Uint64(AttrEvents, rep.Events)
	ae.Uint64(AttrCompletions, rep.Completions)
	ae.Uint16(AttrMode, rep.Mode)
	ae.Uint32(AttrSpeed, rep.LinkMbps)
}

// DecodePerfReply decodes what EncodePerfReply encodes.
func DecodePerfReply(ad *netlink.AttributeDecoder) PerfReply {
	var rep PerfReply
	for ad.Next() {
		switch ad.Type() {
		case AttrSent:
			rep.Sent = ad.Uint64()
		case AttrReceived:
			rep.Received = ad.Uint64()
		case AttrBytes:
			rep.Bytes = ad.Uint64()
		case AttrElapsed:
			rep.ElapsedNs = ad.Uint64()
		case AttrEvents:
			rep.Events = ad.Uint64()
		case AttrCompletions:
			rep.Completions = ad.Uint64()
		case AttrMode:
			rep.Mode = ad.Uint16()
		case AttrSpeed:
			rep.LinkMbps = ad.Uint32()
		}
	}
	return rep
}
