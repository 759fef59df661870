package driver

import (
	"testing"
	"time"
)

func TestExpiresSec(t *testing.T) {
	set := time.Unix(1000, 0)
	const pmtuExpires = 600 * time.Second // net.ipv4.route.mtu_expires
	exp := set.Add(pmtuExpires)
	tick := time.Second / hz
	tests := []struct {
		after time.Duration
		want  uint32
	}{
		{0, 600},
		{tick - 1, 600}, // the same jiffy
		{tick, 599},     // 599.996 s left: truncated
		{time.Second, 599},
		{pmtuExpires - tick, 0},
		{pmtuExpires, 0},
		{pmtuExpires + time.Hour, 0},
	}
	for _, tt := range tests {
		if got := expiresSec(exp, set.Add(tt.after)); got != tt.want {
			t.Errorf("%v after setting: expires %d, want %d", tt.after, got, tt.want)
		}
	}
}
