package driver

import "testing"

// feat is the set of the named features.
func feat(t *testing.T, names ...string) featureSet {
	var s featureSet
	for _, n := range names {
		i, ok := featureIndex()[n]
		if !ok {
			t.Fatalf("unknown feature %q", n)
		}
		s |= 1 << i
	}
	return s
}

// TestFeatureConstants: each feature constant is the bits of its names
// in featureNames.
func TestFeatureConstants(t *testing.T) {
	for _, tc := range []struct {
		name  string
		got   featureSet
		names []string
	}{
		{"fSG", fSG, []string{"tx-scatter-gather"}},
		{"fIPCsum", fIPCsum, []string{"tx-checksum-ipv4"}},
		{"fHWCsum", fHWCsum, []string{"tx-checksum-ip-generic"}},
		{"fIPv6Csum", fIPv6Csum, []string{"tx-checksum-ipv6"}},
		{"fRxCsum", fRxCsum, []string{"rx-checksum"}},
		{"fTSO", fTSO, []string{"tx-tcp-segmentation"}},
		{"fTSOMangleID", fTSOMangleID, []string{"tx-tcp-mangleid-segmentation"}},
		{"fTSO6", fTSO6, []string{"tx-tcp6-segmentation"}},
		{"fTSOECN", fTSOECN, []string{"tx-tcp-ecn-segmentation"}},
		{"fLRO", fLRO, []string{"rx-lro"}},
		{"fGROHW", fGROHW, []string{"rx-gro-hw"}},
		{"fRxHash", fRxHash, []string{"rx-hashing"}},
		{"enhancedHW", enhancedHW, []string{"tx-scatter-gather", "tx-checksum-ipv4", "tx-checksum-ipv6", "tx-tcp-segmentation",
			"tx-tcp6-segmentation", "rx-checksum", "rx-hashing"}},
		{"fixedOn", fixedOn, []string{"tx-scatter-gather", "highdma", "vlan-challenged"}},
		{"neverChange", neverChange, []string{"vlan-challenged"}},
		{"softwareDefaults", softwareDefaults, []string{"tx-generic-segmentation", "rx-gro"}},
		{"softwareOff", softwareOff, []string{"rx-gro-list", "rx-udp-gro-forwarding", "tx-nocache-copy"}},
	} {
		if want := feat(t, tc.names...); tc.got != want {
			t.Errorf("%s = %#x, want %#x (%v)", tc.name, uint64(tc.got), uint64(want), tc.names)
		}
	}
}
