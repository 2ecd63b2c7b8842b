//go:build race

package remote_test

// raceEnabled: the race detector slows links several times; the long
// tests shrink under it.
const raceEnabled = true
