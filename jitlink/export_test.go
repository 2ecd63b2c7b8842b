package jitlink

// The link's internals, for jitlink's own tests: layout and dead-stripping
// are steps of Link, not API.
var (
	ComputeLayout = computeLayout
	Prune         = prune
)
