package orc

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

func joinNames(names []Name) string {
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = n.String()
	}
	slices.Sort(s)
	return strings.Join(s, ", ")
}

// DuplicateDefinitionError reports a second strong definition of a name in
// one JITDylib.
type DuplicateDefinitionError struct {
	JITDylib string
	Name     Name
}

func (e *DuplicateDefinitionError) Error() string {
	return fmt.Sprintf("duplicate definition of symbol %s in JITDylib %s", e.Name, e.JITDylib)
}

// SymbolsNotFoundError reports required symbols no JITDylib in the search
// order defines.
type SymbolsNotFoundError struct {
	Names []Name
}

// A long list is cut short; missing C++ runtime symbols get advice
// instead of a page of mangled names.
func (e *SymbolsNotFoundError) Error() string {
	what := "symbol"
	if len(e.Names) > 1 {
		what = "symbols"
	}
	names := e.Names
	if len(names) > 10 {
		names = slices.Clone(names)
		slices.SortFunc(names, func(a, b Name) int { return strings.Compare(a.s, b.s) })
		names = names[:8]
	}
	msg := fmt.Sprintf("%s not found: %s", what, joinNames(names))
	if len(names) < len(e.Names) {
		msg += fmt.Sprintf(" and %d more", len(e.Names)-len(names))
	}
	if slices.ContainsFunc(e.Names, func(n Name) bool { return IsCXXRuntimeSymbol(n.String()) }) {
		msg += ` (C++ runtime symbols: link libstdc++ — gorc-jitlink does for C++ objects unless -nostdlib++, or pass -lstdc++; in Go, LLJIT.LoadDylib("libstdc++.so.6"))`
	}
	return msg
}

// IsCXXRuntimeSymbol reports whether name is one libstdc++ or its ABI
// runtime defines: a mangled std:: name, operator new or delete, or an
// __cxa_ or __gxx_ ABI function (but not the __cxa_ functions of libc).
func IsCXXRuntimeSymbol(name string) bool {
	switch name {
	case "__cxa_atexit", "__cxa_finalize", "__cxa_thread_atexit_impl":
		return false
	}
	for _, p := range []string{"_ZSt", "_ZNSt", "_ZNKSt", "_ZTISt", "_ZTVSt", "_ZTSSt", "_ZTVN10__cxxabiv", "_ZTIN10__cxxabiv",
		"_Znwm", "_Znam", "_ZdlPv", "_ZdaPv", "_ZNSo", "_ZNSi", "_ZNKSo", "__cxa_", "__gxx_personality_v0"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// FailedToMaterializeError reports symbols whose materialization failed,
// with the reason when it is known.
type FailedToMaterializeError struct {
	JITDylib string
	Names    []Name
	Cause    error
}

func (e *FailedToMaterializeError) Error() string {
	msg := fmt.Sprintf("failed to materialize %s (JITDylib %s)", joinNames(e.Names), e.JITDylib)
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	return msg
}

func (e *FailedToMaterializeError) Unwrap() error { return e.Cause }

// ErrTrackerDefunct is returned for operations on behalf of a resource
// tracker that has been removed (its definitions are gone).
var ErrTrackerDefunct = errors.New("resource tracker has been removed")

// ErrSessionClosed is returned once the session has ended.
var ErrSessionClosed = errors.New("execution session has ended")

// ErrMaterializationDone is returned when a responsibility is used after
// it completed or failed.
var ErrMaterializationDone = errors.New("materialization responsibility already completed")
