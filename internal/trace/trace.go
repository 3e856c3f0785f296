// Package trace shows where a command spends its time, across every
// process it starts (the supervisor, `skiff __start`, `skiff __cleanup`),
// when SKIFF_TRACE is set: SKIFF_TRACE=1 writes to stderr, SKIFF_TRACE=FILE
// appends to FILE (the supervisor's steps have no terminal to write to).
//
// Each line is one phase:
//
//   - 41.3ms   6.2ms  skiff __start[5120]      mount the root file system
//
// the time since the command began, the phase's length, the process and
// the phase. The first process sets SKIFF_TRACE_T0 and its children inherit
// it, so their lines share one clock. A child's first line, "go code
// starts", has no length: the gap from its parent's line that forked it
// is the fork, exec, binary load and package initialisation. Off, a phase
// costs one comparison.
package trace

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

const (
	envTrace = "SKIFF_TRACE"
	envT0    = "SKIFF_TRACE_T0"
)

var (
	mu   sync.Mutex
	out  *os.File // nil: off
	t0   time.Time
	proc string
)

func init() {
	dest := os.Getenv(envTrace)
	if dest == "" || dest == "0" {
		return
	}
	now := time.Now()
	out = os.Stderr
	if dest != "1" {
		f, err := os.OpenFile(dest, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			fmt.Fprintf(os.Stderr, "WARNING: %s=%s: %v: tracing to stderr\n", envTrace, dest, err)
		} else {
			out = f
		}
	}
	proc = filepath.Base(os.Args[0])
	if len(os.Args) > 1 {
		proc += " " + os.Args[1]
	}
	proc += "[" + strconv.Itoa(os.Getpid()) + "]"
	if ns, err := strconv.ParseInt(os.Getenv(envT0), 10, 64); err == nil {
		t0 = time.Unix(0, ns)
		write(now, now, "go code starts")
		return
	}
	t0 = now
	os.Setenv(envT0, strconv.FormatInt(now.UnixNano(), 10))
}

// Enabled reports whether phases are written.
func Enabled() bool { return out != nil }

// Begin starts a phase; the func it returns ends it and writes its line.
func Begin(phase string) func() {
	if out == nil {
		return nop
	}
	start := time.Now()
	return func() { write(start, time.Now(), phase) }
}

func nop() {}

// write prints one phase that ran from start to end, in one write so the
// lines of several processes appending to one file do not mix.
func write(start, end time.Time, phase string) {
	line := fmt.Sprintf("+%7.1fms %6.1fms  %-28s %s\n", ms(start.Sub(t0)), ms(end.Sub(start)), proc, phase)
	mu.Lock()
	defer mu.Unlock()
	_, _ = out.WriteString(line)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
