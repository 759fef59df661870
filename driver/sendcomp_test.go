package driver

import (
	"errors"
	"slices"
	"testing"

	"github.com/ibctl/ibctl/driver/ipoib"
	"github.com/ibctl/ibctl/driver/verbs"
	"github.com/ibctl/ibctl/netlinkx"
)

func TestWCStatusIBValue(t *testing.T) {
	for s, want := range map[verbs.WCStatus]int{verbs.WCSuccess: 0, verbs.WCWRFlushErr: 5, verbs.WCRetryExcErr: 12, verbs.WCRNRRetryExcErr: 13, verbs.WCStatus(99): -1} {
		if got := s.IBValue(); got != want {
			t.Errorf("%v: %d, want %d", s, got, want)
		}
	}
}

// A packet over the UD MTU to a peer reached over UD is dropped with
// ipoib_send's warning, which counts the 4-byte header on both sides,
// and answered with the UD MTU.
func TestUDTooLongWarning(t *testing.T) {
	e := newCMEnv(t, netlinkx.ModeDatagram)
	wantErrno(t, e.n0.SetMode("ib0", netlinkx.ModeDatagram), 0) // UD to node1
	mustPing(t, e.n0, [4]byte{10, 0, 0, 2}, 1)
	_, seq := logSince(e.n0, 0)
	err := e.dp0.WritePacket(udpPacket(3000-28), e.hw1)
	var tb *ipoib.TooBigError
	if !errors.As(err, &tb) || tb.MTU != 2044 {
		t.Fatalf("transmit: %v, want too big with MTU 2044", err)
	}
	msgs, _ := logSince(e.n0, seq)
	if want := []string{"ib0: packet len 3004 (> 2048) too long to send, dropping"}; !slices.Equal(msgs, want) {
		t.Errorf("messages %q, want %q", msgs, want)
	}
}
