package ibctl

import (
	"sync"

	"github.com/spf13/cobra"
)

// ManDoc is the hand-written part of the man page of a command that has a
// page of its own (ibctl and each object: ibctl-link(8), ...), kept beside
// the command it documents. NAME, DESCRIPTION and OPTIONS come from the
// command tree itself.
type ManDoc struct {
	// Synopsis is the full grammar, one form per line, followed by the
	// definitions of its metavariables ("PKEY := ...").
	Synopsis []string
	// Examples are command lines and what each does.
	Examples []ManItem
	// ExitStatus replaces ManExitStatus when the command's statuses are
	// its own (ping's, a program's under exec).
	ExitStatus []ManItem
	// Environment and Files are added to ManEnvironment and ManFiles.
	Environment []ManItem
	Files       []ManItem
	// SeeAlso names other pages, "ip-link(8)".
	SeeAlso []string
}

// ManItem is one entry of a tagged list: an example's command line, an
// exit status, a variable or a file, and what it means.
type ManItem struct{ Tag, Text string }

// manDocs are the pages' texts by command path ("ibctl link"), each
// written beside its command. The texts are static data; the map is made
// on first use, so that no command pays for it at start-up.
var manDocs = sync.OnceValue(func() map[string]*ManDoc {
	return map[string]*ManDoc{
		"ibctl": &rootMan, "ibctl link": &linkMan, "ibctl addr": &addrMan, "ibctl neigh": &neighMan,
		"ibctl maddr": &maddrMan, "ibctl route": &routeMan, "ibctl ethtool": &ethtoolMan, "ibctl sys": &sysMan,
		"ibctl hca": &hcaMan, "ibctl sm": &smMan, "ibctl ping": &pingMan, "ibctl perf": &perfMan,
		"ibctl capture": &captureMan, "ibctl dmesg": &dmesgMan, "ibctl exec": &execMan, "ibctl driver": &driverMan,
		"ibctl monitor": &monitorMan, "ibctl completion": &completionMan, "ibctl version": &versionMan,
	}
})

// ManDocOf is the page text of cmd; false when it has none (its page is
// its parent's).
func ManDocOf(cmd *cobra.Command) (ManDoc, bool) {
	d, ok := manDocs()[cmd.CommandPath()]
	if !ok {
		return ManDoc{}, false
	}
	return *d, true
}

// ManExitStatus is the exit status of every command but those with their
// own (ping, exec).
var ManExitStatus = []ManItem{
	{"0", "The command succeeded."},
	{"1", "The operation failed: the driver refused it (the reason is the kernel's errno text, as ip and ethtool print it), a device does not exist, or no driver answered."},
	{"2", "Usage error: an unknown command, option or keyword, a missing or malformed argument. Nothing was changed."},
}

// ManEnvironment is what every command reads from its environment (see
// privdir.DefaultSocket and privdir.DefaultStateDir).
var ManEnvironment = []ManItem{
	{"IBCTL_SOCKET", "The driver's socket, when --socket is not given."},
	{"IBCTL_STATE_DIR", "The state directory of a driver that ibctl starts, when --state-dir is not given."},
	{"XDG_RUNTIME_DIR", "Without IBCTL_SOCKET, the socket is $XDG_RUNTIME_DIR/ibctl/ibctl.sock; when XDG_RUNTIME_DIR is not set either, /run/ibctl/ibctl.sock for root and $TMPDIR/ibctl-UID/ibctl.sock (/tmp/ibctl-UID/ibctl.sock) for other users."},
	{"XDG_STATE_HOME", "Without IBCTL_STATE_DIR, the state directory of a user other than root is $XDG_STATE_HOME/ibctl (~/.local/state/ibctl when it is not set); root's is /var/lib/ibctl."},
}

// ManFiles are the files of the driver every command talks to.
var ManFiles = []ManItem{
	{"/run/ibctl/ibctl.sock", "The driver's socket (root's default; see ENVIRONMENT). It is mode 0600 in a directory of mode 0700 owned by the driver's user."},
	{"/var/lib/ibctl", "The state directory (root's default; see ENVIRONMENT), owned by the driver's user and writable by no one else."},
	{"/var/lib/ibctl/driver.log", "The log of a driver that ibctl started in the background."},
	{"/var/lib/ibctl/store/state.json", "A snapshot of the configuration: a line with its length and CRC32-C, then JSON."},
	{"/var/lib/ibctl/store/journal.log", "Every change since the snapshot, one checksummed record each, synced before the change is acknowledged."},
}
