//go:build !unix

package main

import "os"

// peakRSSKB is 0 where the system reports no peak resident memory.
func peakRSSKB(ps *os.ProcessState) int64 { return 0 }
