package protocol_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/orc/shared/protocol"
	"github.com/gorc-jit/gorc/orc/shared/sps"
)

// TestSetupLayouts: a Setup encoded in LLVM 14's layout or in 19's and
// 22's decodes to the same values and names its protocol (22 rather than
// 19 by the initialize wrapper); neither layout reads as the other.
func TestSetupLayouts(t *testing.T) {
	syms := func(names ...string) []protocol.Symbol {
		var out []protocol.Symbol
		for i, n := range names {
			out = append(out, protocol.Symbol{Name: n, Addr: sps.Addr(0x55d0_0000_1000 + 16*i)})
		}
		return out
	}
	for _, tc := range []struct {
		enc, want protocol.Version
		syms      []protocol.Symbol
	}{
		{protocol.LLVM14, protocol.LLVM14, syms(protocol.MemoryManagerFinalize, protocol.RunAsMain)},
		{protocol.LLVM14, protocol.LLVM14, nil},
		{protocol.LLVM19, protocol.LLVM19, syms(protocol.MemoryManagerFinalize, protocol.RunAsMain)},
		{protocol.LLVM22, protocol.LLVM22, syms(protocol.MemoryManagerInitialize, protocol.RunAsMain)},
		{protocol.LLVM22, protocol.LLVM19, nil},
	} {
		in := protocol.Setup{Triple: "x86_64-pc-linux-gnu", PageSize: 4096, Symbols: tc.syms}
		b, err := protocol.EncodeSetup(in, tc.enc)
		if err != nil {
			t.Fatal(err)
		}
		out, v, err := protocol.DecodeSetup(b)
		if err != nil || v != tc.want || out.Triple != in.Triple || out.PageSize != 4096 || len(out.Symbols) != len(tc.syms) {
			t.Fatalf("%s with %d symbols: decoded %+v as %s, %v", tc.enc, len(tc.syms), out, v, err)
		}
		for i := range tc.syms {
			if out.Symbols[i] != tc.syms[i] {
				t.Fatalf("%s: symbol %d is %+v, want %+v", tc.enc, i, out.Symbols[i], tc.syms[i])
			}
		}
	}
	_, _, err := protocol.DecodeSetup([]byte("not a setup"))
	if err == nil || !strings.Contains(err.Error(), "neither known layout") {
		t.Fatalf("garbage: %v", err)
	}
}

func TestParseVersion(t *testing.T) {
	for s, want := range map[string]protocol.Version{"llvm14": protocol.LLVM14, "19": protocol.LLVM19, "LLVM-22": protocol.LLVM22} {
		if v, err := protocol.ParseVersion(s); err != nil || v != want {
			t.Errorf("ParseVersion(%q) = %v, %v", s, v, err)
		}
	}
	if _, err := protocol.ParseVersion("llvm17"); err == nil || !strings.Contains(err.Error(), "want llvm14, llvm19 or llvm22") {
		t.Errorf("ParseVersion(llvm17): %v", err)
	}
}

// The protection bits are fixed by the wire (LLVM's WireProtectionFlags),
// whatever jitlink.MemProt's values become; MemProt drops the other flags.
func TestProtWireValues(t *testing.T) {
	if protocol.ProtRead != 1 || protocol.ProtWrite != 2 || protocol.ProtExec != 4 {
		t.Fatalf("protection bits R=%d W=%d X=%d, the wire's are 1, 2, 4", protocol.ProtRead, protocol.ProtWrite, protocol.ProtExec)
	}
	if p := protocol.MemProt(protocol.ProtRead | protocol.ProtExec | protocol.ProtFinalizeOnly); p != jitlink.ProtRead|jitlink.ProtExec {
		t.Fatalf("MemProt(R-X, finalize-only) = %s", p)
	}
}

// TestFinalizeArgsEncoding: FinalizeArgs, which sizes its buffer before
// encoding, encodes as any struct of its fields does (LLVM's layout), and
// decodes back.
func TestFinalizeArgsEncoding(t *testing.T) {
	args := protocol.FinalizeArgs{Instance: 0x1234, Request: protocol.FinalizeRequest{
		Segments: []protocol.Segment{
			{Prot: protocol.ProtRead, Addr: 0x10000, Size: 300000, Content: bytes.Repeat([]byte{1, 2, 3}, 100000)},
			{Prot: protocol.ProtRead, Addr: 0x80000, Size: 4096},
		},
		Actions: []protocol.ActionPair{{
			Finalize: protocol.WrapperCall{Fn: 0x500, Args: []byte("register")},
			Dealloc:  protocol.WrapperCall{Fn: 0x600, Args: []byte("deregister")},
		}},
	}}
	got, err := sps.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	want, err := sps.Marshal(struct {
		Instance sps.Addr
		Request  protocol.FinalizeRequest
	}{args.Instance, args.Request})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("FinalizeArgs encodes as %d bytes, not as its fields (%d bytes)", len(got), len(want))
	}
	var back protocol.FinalizeArgs
	if err := sps.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	again, err := sps.Marshal(back)
	if err != nil || !bytes.Equal(again, got) || back.Instance != args.Instance || len(back.Request.Segments) != 2 ||
		!bytes.Equal(back.Request.Segments[0].Content, args.Request.Segments[0].Content) {
		t.Fatalf("decoded and encoded again: %d bytes, %v", len(again), err)
	}
}
