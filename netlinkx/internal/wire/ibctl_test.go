package wire

import (
	"reflect"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
)

// attrCase is a value of an ibctl message's type, its codec, and the
// fields the codec does not carry.
type attrCase struct {
	name  string
	value any
	unset []string
	// roundTrip encodes value and decodes it back.
	roundTrip func(t *testing.T) any
}

// viaAttrs builds the case of an Encode/Decode pair.
func viaAttrs[T any](name string, v T, enc func(*netlink.AttributeEncoder, T), dec func(*netlink.AttributeDecoder) T, unset ...string) attrCase {
	return attrCase{name: name, value: v, unset: unset, roundTrip: func(t *testing.T) any {
		ae := netlink.NewAttributeEncoder()
		enc(ae, v)
		ad, err := netlink.NewAttributeDecoder(Encode(ae))
		if err != nil {
			t.Fatal(err)
		}
		got := dec(ad)
		if err := ad.Err(); err != nil {
			t.Fatal(err)
		}
		return got
	}}
}

var (
	testGroup = Group{MGID: [16]byte{0xff, 0x12, 0x40, 0x1b, 0x80, 0x01, 15: 1}, MLID: 0xc001, PKey: 0x8001, QKey: 0x0b1b, MTU: 4096,
		Rate: 100000, Broadcast: true, Members: []GroupMember{{Node: "node0", Port: 1, JoinState: 1}, {Node: "node1", Port: 2, JoinState: 4}}}
	testPartition = Partition{PKey: 0x8001, MTU: 4096, All: "limited",
		Members: []PartitionMember{{Node: "node0", Port: 1, Full: true}, {Node: "node1", Port: 2}}}
)

// TestAttrCodecs: each type the ibctl family carries decodes as encoded,
// and the case sets every field its codec carries, so that a field added
// to a type fails here until the codec carries it.
func TestAttrCodecs(t *testing.T) {
	dst, src := []byte{10, 0, 0, 2}, []byte{10, 0, 0, 1}
	tests := []attrCase{
		viaAttrs("status", Status{PID: 42, Socket: "/run/ibctl/ibctl.sock", StateDir: "/var/lib/ibctl", Nodes: []string{"node0", "node1"},
			Links: 4, Uptime: 3600, StartedNs: 1_700_000_000_123_456_789}, EncodeStatus, DecodeStatus),
		viaAttrs("driver info", DriverInfo{Driver: "ib_ipoib", Version: "6.1", Firmware: "2.42.5000", BusInfo: "0000:81:00.0", NStats: 12},
			EncodeDriverInfo, DecodeDriverInfo),
		viaAttrs("sys entry", SysEntry{Name: "class", Mode: 0x80000000 | 0o755}, EncodeSysEntry, DecodeSysEntry),
		viaAttrs("stat", Stat{Name: "rx_packets", Value: 1 << 40}, EncodeStat, DecodeStat),
		viaAttrs("log record", LogRecord{Seq: 7, TimeNs: 1_500_000_000, Text: "ib0: enabling connected mode"}, EncodeLogRecord, DecodeLogRecord),
		viaAttrs("maddr", Maddr{Index: 2, Name: "ib0", Link: [][]byte{make([]byte, 20), {0xff, 19: 1}}, Inet: [][]byte{{224, 0, 0, 1}}},
			EncodeMaddr, DecodeMaddr),
		viaAttrs("sm info", SMInfo{LID: 1, Node: "node0", Port: 1, Partitions: 2, Groups: 3}, EncodeSMInfo, DecodeSMInfo),
		viaAttrs("route get", Route{Dst: dst, Src: src, Dev: "ib0", Local: true, MTU: 1500, ExpiresSec: 600, Table: 254, Protocol: 2, Metric: 256},
			EncodeRouteGet, DecodeRouteGet, "Index", "Family", "DstLen", "Scope", "Flags"),
		viaAttrs("table route", Route{Dst: dst, Src: src, Dev: "ib0", Index: 2, Family: 2, DstLen: 24, Scope: 253, Flags: 16, Table: 254,
			Protocol: 2, Metric: 256}, EncodeRoute, DecodeRoute, "Local", "MTU", "ExpiresSec"),
		viaAttrs("ping request", PingRequest{Dev: "ib0", Dst: dst, Size: 1000, Ident: 0x1234, Seq: 3, TimeoutMs: 1000, PMTUDisc: 1,
			Connect: true, Cancel: true},
			EncodePingRequest, DecodePingRequest),
		viaAttrs("ping reply", PingReply{Status: 3, Src: src, From: dst, TTL: 64, Bytes: 1008, RTTNs: 120_000, MTU: 2044,
			Together: 3},
			EncodePingReply, DecodePingReply),
		viaAttrs("perf request", PerfRequest{Dev: "ib0", Dst: dst, Size: 1400, DurationMs: 2000}, EncodePerfRequest, DecodePerfRequest),
		viaAttrs("perf reply", PerfReply{Sent: 10, Received: 9, Bytes: 9 * 1400, ElapsedNs: 2e9, Events: 5, Completions: 9, Mode: 1, LinkMbps: 100000},
			EncodePerfReply, DecodePerfReply),
		viaAttrs("capture request", CaptureRequest{Dev: "node0/1", Also: []string{"node1/1", "node2/1"}, Snaplen: 96, Fabric: true},
			EncodeCaptureRequest, DecodeCaptureRequest),
		viaAttrs("hca", HCA{Name: "mlx4_0", Type: "MT4099", Firmware: "2.42.5000", HWVersion: "1", PartitionCap: 128, NodeGUID: 0x2c90300001000,
			SysImageGUID: 7, Ports: []HCAPort{{Num: 1, State: "Active", PhysState: "LinkUp", Rate: "100", LID: 1, SMLID: 1, CapMask: 0x2651e848,
				PortGUID: 0x2c90300001001, Width: "4X", Speed: "EDR", MTU: 4096, PKeys: []uint16{0xffff, 0x8001}}}}, EncodeHCA, DecodeHCA),
		viaAttrs("partition", testPartition, EncodePartition, DecodePartition),
		viaAttrs("group", testGroup, EncodeGroup, DecodeGroup),
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := reflect.ValueOf(tt.value)
			for i := 0; i < v.NumField(); i++ {
				name := v.Type().Field(i).Name
				switch zero, carried := v.Field(i).IsZero(), !slices.Contains(tt.unset, name); {
				case zero && carried:
					t.Errorf("field %s is zero: the case must set what the codec carries", name)
				case !zero && !carried:
					t.Errorf("field %s is set, but the codec does not carry it", name)
				}
			}
			if diff := cmp.Diff(tt.value, tt.roundTrip(t)); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

// TestStreamMessages: the messages of a capture stream decode to their
// kind and content, and the events of a monitor stream to themselves;
// the start messages decode as starts.
func TestStreamMessages(t *testing.T) {
	pkt := CapturedPacket{TimeNs: 1_700_000_000_000_000_001, PktType: 4, Src: make([]byte, 20), Dst: []byte{0, 0, 0, 0x48, 19: 1},
		RC: true, Iface: 2, Drop: "NEIGH_FAILED", OrigLen: 1504, Data: []byte{8, 0, 0, 0, 0x45}}
	st := CaptureStats{Captured: 10, Lost: 1, End: 2}
	captures := []struct {
		name string
		msg  []byte
		kind int
		pkt  CapturedPacket
		st   CaptureStats
	}{
		{"start", MarshalCaptureStart(96), CaptureMsgStart, CapturedPacket{}, CaptureStats{}},
		{"packet", MarshalCapturedPacket(pkt), CaptureMsgPacket, pkt, CaptureStats{}},
		{"stats", MarshalCaptureStats(st), CaptureMsgEnd, CapturedPacket{}, st},
	}
	for _, tt := range captures {
		p, s, kind, err := DecodeCaptured(tt.msg)
		if err != nil || kind != tt.kind {
			t.Errorf("capture %s: kind %d, %v; want %d", tt.name, kind, err, tt.kind)
		}
		if diff := cmp.Diff(tt.pkt, p); diff != "" {
			t.Errorf("capture %s: packet (-want +got):\n%s", tt.name, diff)
		}
		if s != tt.st {
			t.Errorf("capture %s: stats %+v, want %+v", tt.name, s, tt.st)
		}
	}

	req := netlink.Header{Type: FamilyIbctl, Flags: netlink.Request, Sequence: 9, PID: 1}
	bcast := []byte{0, 0xff, 0xff, 0xff, 0xff, 0x12, 0x40, 0x1b, 0x80, 0x01, 10: 0, 11: 0, 16: 0xff, 0xff, 0xff, 0xff}
	route := Route{Dst: []byte{10, 0, 0, 0}, Dev: "ib0", Index: 2, Family: 2, DstLen: 24, Scope: 253, Table: 254, Metric: 0}
	events := []MonitorEvent{
		{Kind: MonitorLink, Link: Link{Index: 3, Name: "ib0.8001", MTU: 2044, Address: make([]byte, 20), Broadcast: bcast,
			Kind: "ipoib", IPoIB: &IPoIB{PKey: 0x8001}}},
		{Kind: MonitorLink, Deleted: true, Link: Link{Index: 3, Name: "ib0.8001", Address: make([]byte, 20), Broadcast: bcast}},
		{Kind: MonitorAddr, Addr: Addr{Index: 2, Family: 2, PrefixLen: 24, Flags: 0x80, Local: []byte{10, 0, 0, 1}}},
		{Kind: MonitorNeigh, Deleted: true, Neigh: Neigh{Index: 2, Family: 2, State: 2, Dst: []byte{10, 0, 0, 2}}},
		{Kind: MonitorRoute, Deleted: true, Route: route},
		{Kind: MonitorPartition, Partition: Partition{PKey: 0x8002, MTU: 2048, All: "full"}},
		{Kind: MonitorGroup, Group: testGroup},
	}
	for _, ev := range events {
		msgs, err := ParseMessages(MarshalEvent(req, ev))
		if err != nil || len(msgs) != 1 {
			t.Fatalf("event %+v: %d messages, %v", ev, len(msgs), err)
		}
		got, start, err := DecodeEvent(msgs[0])
		if err != nil || start {
			t.Errorf("event %+v: start %t, %v", ev, start, err)
		}
		if diff := cmp.Diff(ev, got); diff != "" {
			t.Errorf("event (-want +got):\n%s", diff)
		}
	}
	msgs, err := ParseMessages(Reply(req, FamilyIbctl, netlink.Multi, MarshalMonitorStart(MonitorAll)))
	if err != nil || len(msgs) != 1 {
		t.Fatalf("monitor start: %d messages, %v", len(msgs), err)
	}
	if ev, start, err := DecodeEvent(msgs[0]); err != nil || !start || ev.Kind != MonitorAll {
		t.Errorf("monitor start: %+v, start %t, %v; want kind %#x, a start", ev, start, err, MonitorAll)
	}
}
