package ibctl

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/ibctl/ibctl/netlinkx"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// clientFunc is the Client of a command's options.
type clientFunc = func() (*netlinkx.Client, error)

// viaOptions parses argv with the command newCmd builds, gives the
// options it got the Client client, and runs them with run.
func viaOptions[O any](newCmd func(*Factory, func(*O) error) *cobra.Command, argv string, run func(*O) error) func(*testing.T, *Factory, clientFunc) error {
	return func(t *testing.T, f *Factory, client clientFunc) error {
		t.Helper()
		var o *O
		cmd := newCmd(f, func(got *O) error { o = got; return nil })
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		args, err := splitLine(argv)
		if err != nil {
			t.Fatal(err)
		}
		cmd.SetArgs(args)
		if err := execute(cmd); err != nil || o == nil {
			t.Fatalf("%q: err %v, parsed %v", argv, err, o != nil)
		}
		reflect.ValueOf(o).Elem().FieldByName("Client").Set(reflect.ValueOf(client))
		return run(o)
	}
}

// TestRunUsesOptionsClient: a command's run function reaches the driver
// through its options' Client, never through the factory. The error of
// a Client that cannot connect is the command's, with exit status 1 and
// nothing printed; a Client connected to a driver served in-process
// makes the run print what the command line prints.
func TestRunUsesOptionsClient(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		line string // the command line: its first word names the command
		// out: compare the output with the command line's (a command
		// that shows); else the run is checked with the failing Client
		// only (it changes state, or waits for the network).
		out bool
		run func(*testing.T, *Factory, clientFunc) error
	}{
		{"link show", true, viaOptions(NewCmdLink, "show", linkRun)},
		{"link set ib0 mtu 2044", false, viaOptions(NewCmdLink, "set ib0 mtu 2044", linkRun)},
		{"addr show dev ib0", true, viaOptions(NewCmdAddr, "show dev ib0", addrRun)},
		{"addr add 10.0.0.1/24 dev ib0", false, viaOptions(NewCmdAddr, "add 10.0.0.1/24 dev ib0", addrRun)},
		{"neigh show", true, viaOptions(NewCmdNeigh, "show", neighRun)},
		{"neigh flush dev ib0", false, viaOptions(NewCmdNeigh, "flush dev ib0", neighRun)},
		{"maddr show", true, viaOptions(NewCmdMaddr, "show", maddrRun)},
		{"route show", true, viaOptions(NewCmdRoute, "show", routeShowRun)},
		{"route get 10.0.0.2", false, viaOptions(NewCmdRoute, "get 10.0.0.2", routeGetRun)},
		{"ethtool -i ib0", true, viaOptions(NewCmdEthtool, "-i ib0", ethtoolRun)},
		{"ethtool -k ib0", true, viaOptions(NewCmdEthtool, "-k ib0", ethtoolRun)},
		{"sys read class/net/ib0/mode", true, viaOptions(NewCmdSys, "read class/net/ib0/mode", sysRun)},
		{"sys ls class/net", true, viaOptions(NewCmdSys, "ls class/net", sysRun)},
		{"sys write class/net/ib0/umcast 1", false, viaOptions(NewCmdSys, "write class/net/ib0/umcast 1", sysRun)},
		{"hca show", true, viaOptions(NewCmdHCA, "show", hcaRun)},
		{"sm show", true, viaOptions(NewCmdSM, "show", smRun)},
		{"sm groups", true, viaOptions(NewCmdSM, "groups", smRun)},
		{"sm partition list", true, viaOptions(NewCmdSM, "partition list", smRun)},
		{"sm partition add 0x8002", false, viaOptions(NewCmdSM, "partition add 0x8002", smRun)},
		{"dmesg", false, viaOptions(NewCmdDmesg, "", dmesgRun)},
		{"ping -c 1 10.0.0.2", false, viaOptions(NewCmdPing, "-c 1 10.0.0.2", pingRun)},
		{"perf 10.0.0.2", false, viaOptions(NewCmdPerf, "10.0.0.2", perfRun)},
		{"capture -i ib0 -c 1", false, viaOptions(NewCmdCapture, "-i ib0 -c 1", captureRun)},
		{"monitor link", false, viaOptions(NewCmdMonitor, "link", monitorRun)},
	}
	refused := &netlinkx.PeerError{Path: "/run/ibctl/ibctl.sock", UID: 1000}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			var out, errb bytes.Buffer
			f := &Factory{IO: &IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errb}, Globals: &Globals{},
				Connect: func(*Globals) (*netlinkx.Client, error) {
					t.Error("the run connected through the factory")
					return nil, unix.ECONNREFUSED
				}}
			err := tt.run(t, f, func() (*netlinkx.Client, error) { return nil, refused })
			if err != refused || ExitStatus(err) != ExitFailure || out.Len() != 0 || errb.Len() != 0 {
				t.Errorf("with a failing Client: err %v (status %d), printed %q %q; want %v (status 1), nothing",
					err, ExitStatus(err), out.String(), errb.String(), refused)
			}
			if !tt.out {
				return
			}
			wantOut, wantErr, st := e.run(tt.line)
			if st != 0 || wantErr != "" {
				t.Fatalf("the command line: status %d, stderr %q", st, wantErr)
			}
			out.Reset()
			f.Globals = &Globals{}
			if err := tt.run(t, f, func() (*netlinkx.Client, error) { return e.client, nil }); err != nil {
				t.Fatalf("with a connected Client: %v", err)
			}
			if out.String() != wantOut || errb.Len() != 0 {
				t.Errorf("with a connected Client: printed %q, stderr %q; want the command line's %q", out.String(), errb.String(), wantOut)
			}
		})
	}
}
