package sps_test

import (
	"bytes"
	"testing"

	"github.com/gorc-jit/gorc/orc/shared/sps"
)

// FuzzDecode decodes arbitrary bytes as the protocol's message types: it
// must fail cleanly or succeed, and what decodes as a type without bools or
// maps (whose encodings are not canonical) must re-encode to the same bytes.
func FuzzDecode(f *testing.F) {
	for _, v := range []any{
		setup{"x86_64-pc-linux-gnu", 4096, []symbol{{"a", 1}, {"bb", 2}}},
		finalizeRequest{Segments: []segment{{5, 0x1000, 16, []byte{0xc3}}}},
		sps.Ok([]sps.Addr{1, 2}),
		map[string][]byte{"k": {1}},
	} {
		b, err := sps.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s setup
		if sps.Unmarshal(data, &s) == nil {
			if b, err := sps.Marshal(s); err != nil || !bytes.Equal(b, data) {
				t.Fatalf("setup does not round-trip: % x -> %+v -> % x (%v)", data, s, b, err)
			}
		}
		var fr finalizeRequest
		if sps.Unmarshal(data, &fr) == nil {
			if b, err := sps.Marshal(fr); err != nil || !bytes.Equal(b, data) {
				t.Fatalf("finalize request does not round-trip: % x -> % x (%v)", data, b, err)
			}
		}
		var x sps.Expected[[]sps.Addr]
		_ = sps.Unmarshal(data, &x)
		var m map[string][]byte
		_ = sps.Unmarshal(data, &m)
		var e error
		_ = sps.Unmarshal(data, &e)
		var nested [][]sps.Empty
		_ = sps.Unmarshal(data, &nested)
	})
}
