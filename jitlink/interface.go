package jitlink

// InterfaceSymbol is a symbol an object defines for other objects to use.
type InterfaceSymbol struct {
	Name     string
	Linkage  Linkage
	Scope    Scope // ScopeDefault or ScopeHidden
	Callable bool
	Common   bool
	Absolute bool
}

// Interface is what an object provides to other objects, as a format
// reader learns it from the object's symbol table without building its
// graph: JIT layers need it to define an object's symbols before linking
// it (jitlink/object reads it for any format).
type Interface struct {
	Symbols []InterfaceSymbol
	// HasInitializers reports initializers or finalizers that a platform
	// must run (which sections hold them is the format's business).
	HasInitializers bool
	// Locals names the object's named local definitions (static functions
	// and data), which some tools promote.
	Locals []string
	// HasTLS reports thread-local data: it forms one TLS module per
	// linked graph, so such an object is not merged with others.
	HasTLS bool
	// Undefined names the symbols the object refers to but does not define.
	Undefined []string
	// WeakUndefined are the names of Undefined that are weak references:
	// the object links without a definition of them.
	WeakUndefined []string
	// ExecutableStack reports that the object's code runs only on an
	// executable stack (ELF: an executable .note.GNU-stack, as gcc emits
	// for trampolines of nested functions).
	ExecutableStack bool
	// Parsed is what the format's reader kept from reading the object (its
	// decoded section headers and groups, and its string tables, which the
	// names above hold anyway), so that building the graph from the same
	// bytes does not decode them again (object.NewLinkGraphWith); nil if
	// nothing was kept. Drop the Interface, or this, once the graph is
	// built.
	Parsed any
}
