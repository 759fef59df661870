package driver

import (
	"testing"
	"unsafe"
)

// TestNetdevSize: a Netdev fits the 192-byte malloc size class; a field
// added out of order (padding) or one more pointer takes the next, 208
// bytes, 0.5 MB more for 32767 children.
func TestNetdevSize(t *testing.T) {
	if got := unsafe.Sizeof(Netdev{}); got > 192 {
		t.Errorf("Netdev is %d bytes, want at most 192", got)
	}
}
