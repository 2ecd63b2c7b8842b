package native

import (
	"runtime"
	"strings"
	"testing"
)

// TestReserveStaticTLS: modules get distinct, aligned blocks in static
// TLS holding their images; a module larger than the surplus is refused.
func TestReserveStaticTLS(t *testing.T) {
	a, b := ReserveTLSModule(), ReserveTLSModule()
	offA, err := ReserveStaticTLS(a, 16, 16, []byte{1, 2, 3, 4})
	if err != nil {
		t.Fatal(err)
	}
	offB, err := ReserveStaticTLS(b, 8, 8, []byte{9})
	if err != nil {
		t.Fatal(err)
	}
	// Static TLS lies below the thread pointer on x86-64 (TLS variant II),
	// above it on AArch64 (variant I).
	below := runtime.GOARCH == "amd64"
	if (offA < 0) != below || (offB < 0) != below || offA == offB || offA%16 != 0 {
		t.Fatalf("offsets %d and %d", offA, offB)
	}
	if _, err := ReserveStaticTLS(ReserveTLSModule(), 1<<20, 8, nil); err == nil || !strings.Contains(err.Error(), "static TLS") {
		t.Fatalf("a 1 MiB module: %v", err)
	}
	if _, err := ReserveStaticTLS(a, 8, 8, nil); err == nil {
		t.Fatal("a module placed twice")
	}
}
