package ipoib

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/verbs"
)

// Host is what the endpoints of one node share with the netdev layer that
// owns them: the fabric, the kernel log, the module's debug levels and the
// clocks. The netdev layer fills it in before the first Open and changes
// only the debug levels afterwards.
type Host struct {
	Fabric *fabric.Fabric
	// Log records a kernel message "<dev>: msg"; it must be safe for
	// concurrent use.
	Log func(dev, msg string)
	// DataDebug, Debug and McastDebug are the data_debug_level,
	// debug_level and mcast_debug_level module parameters.
	DataDebug, Debug, McastDebug atomic.Int32
	// Now is the driver's clock; Nanos is Now in Unix ns, read cheaply on
	// the transmit path.
	Now   func() time.Time
	Nanos func() int64
	// Jiffies is the emulated kernel's tick count, which debugfs shows.
	Jiffies func() int64
	// Clock drives the ports' timers: the HCAs' (ACK, RNR and CQ
	// moderation) and the communication managers'; nil is the system's.
	Clock verbs.Clock
	// LoseFrame, when set, sees every frame a port puts on the wire and
	// discards those it returns true for (a test hook).
	LoseFrame func(from fabric.PortRef, p *verbs.Packet) bool
	// Endpoints indexes the open endpoints by address; every node of a
	// fabric shares one.
	Endpoints *Registry
}

func (h *Host) logf(dev, format string, args ...any) { h.Log(dev, fmt.Sprintf(format, args...)) }
