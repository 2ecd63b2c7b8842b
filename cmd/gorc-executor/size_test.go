package main

import "testing"

func TestParseSize(t *testing.T) {
	for in, want := range map[string]uint64{"4096": 4096, "512M": 512 << 20, "1t": 1 << 40, "64G": 64 << 30} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "G", "1.5G", "-1", "99999999999T", "12X"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) succeeded", in)
		}
	}
}
