package netlinkx

// Backend is what the server drives: the emulated driver today, a kernel
// (real rtnetlink, ethtool-netlink and /sys) later.
type Backend interface {
	// Node returns the node a connection bound to (ENODEV-like error when
	// there is no such node). The empty name means the default node.
	Node(name string) (Node, error)
	// Status describes the backend.
	Status() Status
	// Stop asks the backend to shut down after the current request.
	Stop()
	// Sync makes every change acknowledged so far durable (after a batch
	// whose changes were acknowledged before being synced).
	Sync() error

	// The subnet manager, shared by every node of the fabric.
	Partitions() []Partition
	AddPartition(p Partition) error
	DelPartition(pkey uint16) error
	Groups() []Group
}

// Deferrer is implemented by nodes that can acknowledge changes before
// syncing them; a session in batch mode uses the handle Deferred returns
// and calls Backend.Sync when the batch ends.
type Deferrer interface {
	Deferred() Node
}

// Node is one host's network stack: its links, their ethtool operations
// and its sysfs tree. Every method is safe for concurrent use; a mutating
// method returns only once its change is durable.
type Node interface {
	Links() ([]Link, error)
	// Link looks a device up by index, or by name when index is 0.
	Link(index int32, name string) (Link, error)
	NewLink(r LinkRequest) error
	SetLink(r LinkRequest) error
	DelLink(index int32, name string) error

	Features(dev string) ([]Feature, error)
	// SetFeatures changes the wanted features and returns the features
	// just before and just after the change, read together with it.
	SetFeatures(dev string, want map[string]bool) (before, after []Feature, err error)
	Coalesce(dev string) (Coalesce, error)
	SetCoalesce(dev string, set CoalesceSet) error
	Rings(dev string) (Rings, error)
	SetRings(dev string, set RingsSet) error
	Channels(dev string) (Channels, error)
	SetChannels(dev string, set ChannelsSet) error
	LinkSettings(dev string) (LinkSettings, error)
	DriverInfo(dev string) (DriverInfo, error)
	Stats(dev string) ([]Stat, error)

	// SysRead reads a sysfs file for the program comm (may be empty).
	SysRead(path, comm string) ([]byte, error)
	// SysWrite writes data as one write(2) and returns the byte count the
	// store accepted.
	SysWrite(path string, data []byte) (int, error)
	SysList(path string) ([]SysEntry, error)

	// HCA describes the node's HCA and its ports.
	HCA() (HCA, error)
}
