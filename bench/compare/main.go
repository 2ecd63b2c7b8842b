// Command compare runs two or more commands alternately, several times
// each, and prints the median wall time, CPU time and peak memory of each,
// and their ratios to the last one. Machines are shared and noisy: quote
// the ratios.
//
//	compare -n 15 -name gorc -cmd "gorc-jitlink -noexec x.o" -name llvm -cmd "llvm-jitlink-14 -noexec x.o"
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ", ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

type sample struct {
	wall, cpu time.Duration
	rssKB     int64
}

func main() {
	n := flag.Int("n", 11, "runs of each command")
	var names, cmds stringList
	flag.Var(&names, "name", "name of the next command (repeatable)")
	flag.Var(&cmds, "cmd", "command line, split on spaces (repeatable)")
	flag.Parse()
	if len(cmds) < 2 || len(names) != len(cmds) {
		fmt.Fprintln(os.Stderr, "usage: compare [-n N] (-name NAME -cmd CMD)...  (at least two commands)")
		os.Exit(2)
	}
	samples := make([][]sample, len(cmds))
	for run := 0; run < *n; run++ {
		for i, c := range cmds {
			s, err := measure(strings.Fields(c))
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", names[i], err)
				os.Exit(1)
			}
			samples[i] = append(samples[i], s)
		}
	}
	med := make([]sample, len(cmds))
	for i, ss := range samples {
		med[i] = sample{
			wall:  median(ss, func(s sample) int64 { return int64(s.wall) }, time.Duration(0)),
			cpu:   median(ss, func(s sample) int64 { return int64(s.cpu) }, time.Duration(0)),
			rssKB: median(ss, func(s sample) int64 { return s.rssKB }, int64(0)),
		}
	}
	base := med[len(med)-1]
	fmt.Printf("%-14s %12s %12s %12s   (medians of %d alternating runs; ratios to %s)\n", "", "wall", "cpu", "peak RSS", *n, names[len(names)-1])
	for i, m := range med {
		fmt.Printf("%-14s %10.2fms %10.2fms %10dKB   wall %.2fx  cpu %.2fx  rss %.2fx\n", names[i],
			float64(m.wall)/1e6, float64(m.cpu)/1e6, m.rssKB,
			float64(m.wall)/float64(base.wall), float64(m.cpu)/float64(base.cpu), float64(m.rssKB)/float64(base.rssKB))
	}
}

func median[T int64 | time.Duration](ss []sample, f func(sample) int64, _ T) T {
	v := make([]int64, len(ss))
	for i, s := range ss {
		v[i] = f(s)
	}
	slices.Sort(v)
	return T(v[len(v)/2])
}

// measure runs a command with its output discarded and returns its wall
// time, CPU time and peak resident memory.
func measure(argv []string) (sample, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return sample{}, err
	}
	err := cmd.Wait()
	wall := time.Since(start)
	if err != nil {
		return sample{}, fmt.Errorf("%s failed: %v", strings.Join(argv, " "), err)
	}
	ps := cmd.ProcessState
	return sample{wall: wall, cpu: ps.UserTime() + ps.SystemTime(), rssKB: peakRSSKB(ps)}, nil
}
