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

func (e *SymbolsNotFoundError) Error() string {
	what := "symbol"
	if len(e.Names) > 1 {
		what = "symbols"
	}
	return fmt.Sprintf("%s not found: %s", what, joinNames(e.Names))
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
