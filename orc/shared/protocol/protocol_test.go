package protocol

import "testing"

// The protection bits are fixed by the wire (LLVM's WireProtectionFlags),
// whatever jitlink.MemProt's values become.
func TestProtWireValues(t *testing.T) {
	if ProtRead != 1 || ProtWrite != 2 || ProtExec != 4 {
		t.Fatalf("protection bits R=%d W=%d X=%d, the wire's are 1, 2, 4", ProtRead, ProtWrite, ProtExec)
	}
}
