package main

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func gcSettings() (percent int64, limit int64) {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64()), int64(s[1].Value.Uint64())
}

// No collection until the limit, then the usual proportional one.
func TestCollectLate(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	debug.SetGCPercent(100)
	collectLate()
	if p, l := gcSettings(); p != -1 || l != firstCollection {
		t.Fatalf("before the first collection: GOGC %d, limit %d; want off (-1) and %d", p, l, firstCollection)
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		runtime.GC()
		if p, l := gcSettings(); p == 400 && l == math.MaxInt64 {
			break
		}
		if time.Now().After(deadline) {
			p, l := gcSettings()
			t.Fatalf("after collecting: GOGC %d, limit %d; want 400 and none", p, l)
		}
		time.Sleep(time.Millisecond)
	}
}
