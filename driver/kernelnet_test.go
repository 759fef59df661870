package driver

import "testing"

// A kernel netdev's backlog takes what it has room for and refuses the
// rest, so that the inet stack counts it as the interface's receive drop
// (netif_rx's NET_RX_DROP when the backlog is full).
func TestKernelDevBacklogFull(t *testing.T) {
	kd := &kernelDev{rx: make(chan []byte, 2)}
	ip := []byte{0x45, 0, 0, 20}
	for i, want := range []bool{true, true, false, false} {
		if got := kd.receive(ip); got != want {
			t.Errorf("packet %d: taken %v, want %v", i, got, want)
		}
	}
	if len(kd.rx) != 2 {
		t.Errorf("backlog holds %d, want 2", len(kd.rx))
	}
}
