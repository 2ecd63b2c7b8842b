package orc

// Platform gives JIT'd code the run-time behaviour of a program on a
// platform: per-dylib symbols (__dso_handle), initializers and finalizers,
// exception frames, thread-local storage. See orc/elfplatform.
type Platform interface {
	// SetupJITDylib prepares a new JITDylib for code (defines what every
	// dylib has, such as __dso_handle).
	SetupJITDylib(jd *JITDylib) error
	// NotifyAdding is told of every unit with an init symbol (one that has
	// initializers) once it is defined in a JITDylib.
	NotifyAdding(rt *ResourceTracker, mu MaterializationUnit) error
	// TeardownJITDylib runs before a JITDylib's definitions are removed
	// (run its finalizers while its code is still there).
	TeardownJITDylib(jd *JITDylib) error
}

// SetPlatform installs the session's platform. Do it before adding code.
func (es *ExecutionSession) SetPlatform(p Platform) {
	es.mu.Lock()
	es.platform = p
	es.mu.Unlock()
}

// Platform returns the session's platform, or nil.
func (es *ExecutionSession) Platform() Platform {
	es.mu.RLock()
	defer es.mu.RUnlock()
	return es.platform
}
