package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// soakDefault is how long TestSoak's clients run unless $IBCTL_SOAK says
// otherwise; with the checks before and after, the test stays well under
// a minute.
const soakDefault = 15 * time.Second

const (
	soakClients  = 4
	soakLegacy   = 3 // create_child children per client, on ib0
	soakNetlink  = 3 // link add children per client, on ib0 and ib1
	soakParts    = 2 // subnet manager partitions per client
	soakChildMTU = 4092
	soakCMMTU    = 65520
)

// soakParams are the writable module parameters, one per client: each
// node has its own.
var soakParams = [soakClients]struct{ node, name string }{
	{"node0", "debug_level"}, {"node0", "mcast_debug_level"},
	{"node1", "debug_level"}, {"node1", "mcast_debug_level"},
}

// objState is what the soak test knows of one object: a child interface,
// a partition or a module parameter. Value is a partition's IB MTU or a
// parameter's value.
type objState struct {
	Exists    bool
	Up        bool
	Connected bool
	Umcast    bool
	GRO       bool
	MTU       int
	RxUsecs   int
	RxFrames  int
	Addrs     string // sorted "a/len" IPv4 addresses, comma-separated
	Value     int
}

// newChild is the state of a child just created.
func newChild() objState { return objState{Exists: true, GRO: true, MTU: soakChildMTU} }

// pending is a change whose command the driver's kill interrupted: the
// object is in state before or after, and nothing else.
type pending struct {
	cmd           []string
	before, after objState
}

// soakObj is one object a single client owns and changes.
type soakObj struct {
	kind    string // "legacy", "netlink", "partition", "param"
	name    string // device name, "0x%04x" P_Key or parameter name
	label   string // name in messages
	node    string // the parameter's node
	parent  string // a child's parent
	pkey    uint16
	addrNet int // a child's addresses are 10.addrNet.{0,1}.1/24
	model   objState
	pending *pending
	history []string // the client's commands on the object and their outcome
}

// note records a command on o and its outcome.
func (o *soakObj) note(cmd []string, outcome string) {
	o.history = append(o.history, fmt.Sprintf("ibctl %s: %s", strings.Join(cmd, " "), outcome))
}

// recent is o's last commands, for a failure message.
func (o *soakObj) recent() string {
	h := o.history[max(0, len(o.history)-10):]
	return "\n    " + strings.Join(h, "\n    ")
}

// soakCounts are one client's statistics.
type soakCounts struct {
	commands, acked, unknown, unknownApplied int
}

// soakRun is the shared state of one soak run.
type soakRun struct {
	t    *testing.T
	e    *env
	seed uint64
	// killStarted counts kills begun, killDone kills whose driver is
	// gone: a command overlapped a kill when a kill began before it ended
	// and was not done before it started.
	killStarted, killDone atomic.Int64
	abort                 atomic.Bool
}

// exec runs one command and reports whether a kill overlapped it.
func (s *soakRun) exec(args ...string) (result, bool) {
	done := s.killDone.Load()
	r := s.e.run("", args...)
	return r, s.killStarted.Load() > done
}

// okResult is a successful command: exit 0, nothing on standard error.
func okResult(r result) bool { return r.code == 0 && r.stderr == "" }

// read reads o's state as the driver has it. A read a kill interrupted is
// run again; any other failure is an error.
func (s *soakRun) read(o *soakObj) (objState, error) {
	for try := 0; ; try++ {
		var r result
		var killed bool
		st, err := o.state(func(what string) (string, error) {
			var k bool
			r, k = s.exec(o.query(what)...)
			killed = killed || k
			if what == "link" && r.code == 1 && r.stderr == fmt.Sprintf("ibctl: Device \"%s\" does not exist.\n", o.name) {
				return "[]", nil
			}
			if !okResult(r) {
				return "", fmt.Errorf("failed")
			}
			return r.stdout, nil
		})
		if err == nil {
			return st, nil
		}
		if !killed || try >= 20 || s.abort.Load() {
			return st, fmt.Errorf("read %s: %v\n%v", o.label, err, r)
		}
	}
}

// query is the command that reads what of o: "link", "addr", "features",
// "coalesce", "partitions" or "param".
func (o *soakObj) query(what string) []string {
	switch what {
	case "link":
		return []string{"-j", "link", "show", "dev", o.name}
	case "addr":
		return []string{"-j", "addr", "show", "dev", o.name}
	case "features":
		return []string{"-j", "ethtool", "-k", o.name}
	case "coalesce":
		return []string{"-j", "ethtool", "-c", o.name}
	case "partitions":
		return []string{"-j", "sm", "partition", "list"}
	}
	return []string{"-n", o.node, "sys", "read", "module/ib_ipoib/parameters/" + o.name}
}

// fromSnapshot reads o's state from a soakSnapshot.
func (o *soakObj) fromSnapshot(snap map[string]string) (objState, error) {
	return o.state(func(what string) (string, error) {
		key := map[string]string{"link": "-j link show", "addr": "-j addr show", "partitions": "-j sm partition list",
			"features": "-n node0 -j ethtool -k " + o.name, "coalesce": "-n node0 -j ethtool -c " + o.name,
			"param": fmt.Sprintf("-n %s sys read module/ib_ipoib/parameters/%s", o.node, o.name)}[what]
		out, ok := snap[key]
		if !ok {
			return "", fmt.Errorf("no %q in the snapshot", key)
		}
		return out, nil
	})
}

// soakLink is what the soak test reads of an `ibctl -j link show` entry.
type soakLink struct {
	Name     string   `json:"ifname"`
	Flags    []string `json:"flags"`
	MTU      int      `json:"mtu"`
	LinkInfo struct {
		Data struct {
			Mode   string `json:"mode"`
			Umcast string `json:"umcast"`
		} `json:"info_data"`
	} `json:"linkinfo"`
}

// state is o's state from what get returns for each query (the "link"
// and "addr" lists may hold other devices too).
func (o *soakObj) state(get func(what string) (string, error)) (st objState, err error) {
	var out string
	switch o.kind {
	case "param":
		if out, err = get("param"); err != nil {
			return
		}
		st.Exists = true
		st.Value, err = strconv.Atoi(strings.TrimSpace(out))
		return
	case "partition":
		if out, err = get("partitions"); err != nil {
			return
		}
		var ps []struct {
			PKey  string `json:"pkey"`
			IBMTU int    `json:"ib_mtu"`
		}
		if err = json.Unmarshal([]byte(out), &ps); err != nil {
			return
		}
		for _, p := range ps {
			if p.PKey == o.name {
				st.Exists, st.Value = true, p.IBMTU
			}
		}
		return
	}
	if out, err = get("link"); err != nil {
		return
	}
	var ls []soakLink
	if err = json.Unmarshal([]byte(out), &ls); err != nil {
		return
	}
	i := slices.IndexFunc(ls, func(l soakLink) bool {
		return l.Name == o.name
	})
	if i < 0 {
		return objState{}, nil
	}
	l := ls[i]
	st.Exists = true
	st.Up = slices.Contains(l.Flags, "UP")
	st.MTU = l.MTU
	st.Connected = l.LinkInfo.Data.Mode == "connected"
	st.Umcast = l.LinkInfo.Data.Umcast == "0001"
	if out, err = get("addr"); err != nil {
		return
	}
	var as []struct {
		Name     string `json:"ifname"`
		AddrInfo []struct {
			Family string `json:"family"`
			Local  string `json:"local"`
			Len    int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	if err = json.Unmarshal([]byte(out), &as); err != nil {
		return
	}
	var addrs []string
	for _, a := range as {
		for _, ai := range a.AddrInfo {
			if a.Name == o.name && ai.Family == "inet" {
				addrs = append(addrs, fmt.Sprintf("%s/%d", ai.Local, ai.Len))
			}
		}
	}
	slices.Sort(addrs)
	st.Addrs = strings.Join(addrs, ",")
	if out, err = get("features"); err != nil {
		return
	}
	var fs struct {
		Features map[string]struct {
			Requested bool `json:"requested"`
		} `json:"features"`
	}
	if err = json.Unmarshal([]byte(out), &fs); err != nil {
		return
	}
	st.GRO = fs.Features["rx-gro"].Requested
	if out, err = get("coalesce"); err != nil {
		return
	}
	var c struct {
		RxUsecs  int `json:"rx-usecs"`
		RxFrames int `json:"rx-frames"`
	}
	err = json.Unmarshal([]byte(out), &c)
	st.RxUsecs, st.RxFrames = c.RxUsecs, c.RxFrames
	return
}

// settle resolves o's pending change: the driver's state must be the one
// before it or the one after it.
func (s *soakRun) settle(o *soakObj, cnt *soakCounts) {
	p := o.pending
	if p == nil {
		return
	}
	got, err := s.read(o)
	cnt.commands++
	if err != nil {
		s.t.Errorf("E2E_SEED=%d: %v", s.seed, err)
		return
	}
	switch got {
	case p.after:
		o.model = p.after
		cnt.unknownApplied++
		o.note(p.cmd, "interrupted, applied")
	case p.before:
		o.model = p.before
		o.note(p.cmd, "interrupted, not applied")
	default:
		s.t.Errorf("E2E_SEED=%d: %s after the interrupted `ibctl %s`: state is neither the one before nor the one after it\nbefore: %+v\nafter:  %+v\ngot:    %+v\ncommands:%s",
			s.seed, o.label, strings.Join(p.cmd, " "), p.before, p.after, got, o.recent())
		o.model = got
	}
	o.pending = nil
}

// verify compares o's state in the driver with the model.
func (s *soakRun) verify(o *soakObj, when string, cnt *soakCounts) {
	got, err := s.read(o)
	cnt.commands++
	if err != nil {
		s.t.Errorf("E2E_SEED=%d: %v", s.seed, err)
		return
	}
	if got != o.model {
		s.t.Errorf("E2E_SEED=%d: %s %s: state differs from what the acknowledgements imply\nwant: %+v\ngot:  %+v\ncommands:%s",
			s.seed, o.label, when, o.model, got, o.recent())
		o.model = got
	}
}

// change picks a change of o that its model allows: the command and the
// state it leads to.
func change(rng *rand.Rand, o *soakObj) ([]string, objState) {
	m := o.model
	f := func(format string, args ...any) []string { return strings.Fields(fmt.Sprintf(format, args...)) }
	switch o.kind {
	case "param":
		v := (m.Value + 1 + rng.IntN(3)) % 4
		m.Value = v
		return f("-n %s sys write module/ib_ipoib/parameters/%s %d", o.node, o.name, v), m
	case "partition":
		if m.Exists {
			return f("sm partition del %s", o.name), objState{}
		}
		mtu := []int{2048, 4096}[rng.IntN(2)]
		return f("sm partition add %s mtu %d member node1/2", o.name, mtu), objState{Exists: true, Value: mtu}
	}
	legacy := o.kind == "legacy"
	if !m.Exists {
		if legacy {
			return f("sys write class/net/ib0/create_child 0x%04x", o.pkey), newChild()
		}
		return f("link add link %s name %s type ipoib pkey 0x%04x", o.parent, o.name, o.pkey), newChild()
	}
	addr := func(i int) string { return fmt.Sprintf("10.%d.%d.1/24", o.addrNet, i) }
	has := func(i int) bool { return slices.Contains(strings.Split(m.Addrs, ","), addr(i)) }
	setAddrs := func(add, del string) {
		var as []string
		for _, a := range strings.Split(m.Addrs, ",") {
			if a != "" && a != del {
				as = append(as, a)
			}
		}
		if add != "" {
			as = append(as, add)
		}
		slices.Sort(as)
		m.Addrs = strings.Join(as, ",")
	}
	onOff := map[bool]string{false: "off", true: "on"}
	switch rng.IntN(10) {
	case 0:
		if legacy {
			return f("sys write class/net/ib0/delete_child 0x%04x", o.pkey), objState{}
		}
		return f("link del %s", o.name), objState{}
	case 1:
		m.Up = !m.Up
		return f("link set %s %s", o.name, map[bool]string{false: "down", true: "up"}[m.Up]), m
	case 2:
		hi := soakChildMTU
		if m.Connected {
			hi = soakCMMTU
		}
		m.MTU = 1280 + rng.IntN(hi-1280+1)
		return f("link set %s mtu %d", o.name, m.MTU), m
	case 3:
		m.Connected = !m.Connected
		mode := "datagram"
		if m.Connected {
			mode, m.MTU = "connected", soakCMMTU
		} else {
			m.MTU = min(m.MTU, soakChildMTU)
		}
		if legacy && rng.IntN(2) == 0 {
			return f("sys write class/net/%s/mode %s", o.name, mode), m
		}
		return f("link set %s type ipoib mode %s", o.name, mode), m
	case 4:
		m.Umcast = !m.Umcast
		if legacy && rng.IntN(2) == 0 {
			return f("sys write class/net/%s/umcast %d", o.name, map[bool]int{false: 0, true: 1}[m.Umcast]), m
		}
		return f("link set %s type ipoib umcast %d", o.name, map[bool]int{false: 0, true: 1}[m.Umcast]), m
	case 5:
		m.GRO = !m.GRO
		return f("ethtool -K %s gro %s", o.name, onOff[m.GRO]), m
	case 6:
		m.RxUsecs = (m.RxUsecs + 1 + rng.IntN(1000)) % 65536
		m.RxFrames = (m.RxFrames + 1 + rng.IntN(1000)) % 65536
		return f("ethtool -C %s rx-usecs %d rx-frames %d", o.name, m.RxUsecs, m.RxFrames), m
	default:
		i := rng.IntN(2)
		if has(i) {
			setAddrs("", addr(i))
			return f("addr del %s dev %s", addr(i), o.name), m
		}
		setAddrs(addr(i), "")
		return f("addr add %s dev %s", addr(i), o.name), m
	}
}

// objects are the objects client c owns.
func soakObjects(c int) []*soakObj {
	var objs []*soakObj
	for k := range soakLegacy {
		pkey := uint16(0x9000 + c*16 + k)
		objs = append(objs, &soakObj{kind: "legacy", name: fmt.Sprintf("ib0.%04x", pkey), parent: "ib0", pkey: pkey, addrNet: 100 + c*16 + k})
	}
	for k := range soakNetlink {
		objs = append(objs, &soakObj{kind: "netlink", name: fmt.Sprintf("s%dn%d", c, k), parent: fmt.Sprintf("ib%d", k%2),
			pkey: uint16(0xa000 + c*16 + k), addrNet: 200 + c*16 + k})
	}
	for k := range soakParts {
		objs = append(objs, &soakObj{kind: "partition", name: fmt.Sprintf("0x%04x", 0xc000+c*16+k)})
	}
	p := soakParams[c]
	objs = append(objs, &soakObj{kind: "param", name: p.name, node: p.node, model: objState{Exists: true}})
	for _, o := range objs {
		o.label = o.name
		switch o.kind {
		case "param":
			o.label = o.node + " " + o.name
		case "partition":
			o.label = "partition " + o.name
		}
	}
	return objs
}

// soakDuration is $IBCTL_SOAK, else soakDefault.
func soakDuration(t *testing.T) time.Duration {
	t.Helper()
	s := os.Getenv("IBCTL_SOAK")
	if s == "" {
		return soakDefault
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		t.Fatalf("IBCTL_SOAK=%q: want a positive duration such as 5m", s)
	}
	return d
}

// TestSoak runs clients that each change objects of their own (children
// made through sysfs and netlink, their flags, MTU, mode, umcast,
// offloads, coalescing and addresses, partitions of the subnet manager,
// module parameters) and read them back, while the driver is SIGKILLed at
// random moments and the next command starts it again. A change whose
// command a kill interrupted may or may not have happened, but the object
// is then in one of the two states. At the end every object is as the
// acknowledgements imply, before and after a clean restart, and the
// driver shows the same state byte for byte before and after it.
//
// $IBCTL_SOAK sets how long the clients run (default 15s); $E2E_SEED
// replays the clients' choices and the kill delays (not the timing).
func TestSoak(t *testing.T) {
	dur := soakDuration(t)
	seed := testSeed(t)
	t.Logf("E2E_SEED=%d IBCTL_SOAK=%v", seed, dur)
	start := time.Now()
	e := newEnv(t)
	s := &soakRun{t: t, e: e, seed: seed}
	e.ok("link", "show")

	var wg sync.WaitGroup
	t.Cleanup(func() {
		// Stop the clients and the killer before the env's cleanup.
		s.abort.Store(true)
		wg.Wait()
	})
	objs := make([][]*soakObj, soakClients)
	counts := make([]soakCounts, soakClients)
	deadline := time.Now().Add(dur)
	for c := range soakClients {
		objs[c] = soakObjects(c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(c)+1))
			cnt := &counts[c]
			for time.Now().Before(deadline) && !s.abort.Load() {
				o := objs[c][rng.IntN(len(objs[c]))]
				s.settle(o, cnt)
				if rng.IntN(8) == 0 {
					s.verify(o, "read during the soak", cnt)
					continue
				}
				cmd, after := change(rng, o)
				r, killed := s.exec(cmd...)
				cnt.commands++
				switch {
				case okResult(r):
					o.model = after
					cnt.acked++
					o.note(cmd, "acknowledged")
				case killed:
					o.pending = &pending{cmd: cmd, before: o.model, after: after}
					cnt.unknown++
				default:
					t.Errorf("E2E_SEED=%d: unexpected failure with no kill: %v", seed, r)
				}
			}
		}()
	}
	var kills int
	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		rng := rand.New(rand.NewPCG(seed, 0))
		for !s.abort.Load() {
			// The only sleep: a random moment to kill at.
			time.Sleep(time.Duration(200+rng.IntN(1800)) * time.Millisecond)
			if !time.Now().Before(deadline) || s.abort.Load() {
				return
			}
			s.killStarted.Add(1)
			for _, p := range e.drivers() {
				if killAndWait(p.pid, cmdTimeout) {
					kills++
				} else {
					t.Errorf("driver %d still alive %v after SIGKILL", p.pid, cmdTimeout)
				}
			}
			s.killDone.Add(1)
		}
	}()
	wg.Wait()
	<-killerDone
	soakTime := time.Since(start)
	if t.Failed() {
		t.FailNow()
	}

	// Every interrupted change settles; every object is as acknowledged.
	eachClient := func(fn func(c int)) {
		var wg sync.WaitGroup
		for c := range soakClients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				fn(c)
			}()
		}
		wg.Wait()
	}
	eachClient(func(c int) {
		for _, o := range objs[c] {
			s.settle(o, &counts[c])
		}
	})
	var total soakCounts
	for _, cnt := range counts {
		total.commands += cnt.commands
		total.acked += cnt.acked
		total.unknown += cnt.unknown
		total.unknownApplied += cnt.unknownApplied
	}
	t.Logf("%v of soak: %d kills, %d commands, %d changes acknowledged, %d interrupted (%d of them applied)",
		soakTime.Round(time.Millisecond), kills, total.commands, total.acked, total.unknown, total.unknownApplied)
	if kills == 0 || total.acked == 0 {
		t.Errorf("%d kills, %d acknowledged changes: the soak tested nothing", kills, total.acked)
	}
	if t.Failed() {
		t.FailNow()
	}
	check := func(snap map[string]string, when string) {
		t.Helper()
		for c := range soakClients {
			for _, o := range objs[c] {
				got, err := o.fromSnapshot(snap)
				if err != nil {
					t.Fatalf("%s %s: %v", o.label, when, err)
				}
				if got != o.model {
					t.Errorf("E2E_SEED=%d: %s %s: state differs from what the acknowledgements imply\nwant: %+v\ngot:  %+v\ncommands:%s",
						seed, o.label, when, o.model, got, o.recent())
				}
			}
		}
	}

	// Every object is as acknowledged; a clean restart shows the same
	// state, byte for byte.
	before := e.soakSnapshot()
	check(before, "after the soak")
	pid := e.driverPID()
	e.ok("driver", "stop")
	if !waitGone(pid, cmdTimeout) {
		t.Fatalf("driver %d alive %v after driver stop", pid, cmdTimeout)
	}
	after := e.soakSnapshot()
	if npid := e.driverPID(); npid == pid {
		t.Fatalf("driver pid %d unchanged after driver stop", pid)
	}
	check(after, "after a clean restart")
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("E2E_SEED=%d: state after a clean restart (-before +after):\n%s", seed, diff)
	}
	t.Logf("%v in all", time.Since(start).Round(time.Millisecond))
}

// soakSnapshot captures the driver's whole visible state: links of both
// nodes (text and JSON), addresses, features and coalescing of every
// device, the legacy children's sysfs files, module parameters and the
// partition table. The first command runs alone (after a stop, it starts
// the driver); the others run four at a time.
func (e *env) soakSnapshot() map[string]string {
	e.t.Helper()
	cmds := [][]string{
		{"link", "show"}, {"-n", "node1", "-j", "link", "show"}, {"-n", "node1", "link", "show"},
		{"-j", "addr", "show"}, {"addr", "show"}, {"-n", "node1", "-j", "addr", "show"},
		{"-j", "sm", "partition", "list"},
	}
	for _, node := range []string{"node0", "node1"} {
		for _, p := range []string{"debug_level", "mcast_debug_level"} {
			cmds = append(cmds, []string{"-n", node, "sys", "read", "module/ib_ipoib/parameters/" + p})
		}
	}
	s := map[string]string{"-j link show": e.ok("-j", "link", "show")}
	var ls []link
	if err := json.Unmarshal([]byte(s["-j link show"]), &ls); err != nil {
		e.t.Fatalf("link show -j: %v\n%s", err, s["-j link show"])
	}
	for _, node := range []string{"node0", "node1"} {
		if node == "node1" {
			ls = e.links("-n", node)
		}
		for _, l := range ls {
			cmds = append(cmds, []string{"-n", node, "-j", "ethtool", "-k", l.Name}, []string{"-n", node, "-j", "ethtool", "-c", l.Name})
			if strings.Contains(l.Name, ".") {
				cmds = append(cmds, []string{"-n", node, "sys", "read", "class/net/" + l.Name + "/mode"},
					[]string{"-n", node, "sys", "read", "class/net/" + l.Name + "/umcast"})
			}
		}
	}
	results := make([]result, len(cmds))
	next := make(chan int)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = e.run("", cmds[i]...)
			}
		}()
	}
	for i := range cmds {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, r := range results {
		if !okResult(r) {
			e.t.Fatalf("%v", r)
		}
		s[strings.Join(r.args, " ")] = r.stdout
	}
	return s
}
