package engine

import (
	"context"
	"errors"
	"time"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/runtime"
)

// StatsSample is one reading of a container's counters.
type StatsSample = runtime.StatsSample

// ContainerStatsSample reads a container's counters once (the API's
// stats: the client computes rates from two readings).
func (e *Engine) ContainerStatsSample(ctx context.Context, ref string) (*StatsSample, error) {
	c, err := container.Lookup(ref)
	if err != nil {
		return nil, err
	}
	return runtime.Sample(c)
}

// StatsOptions are `stats`'s: the containers named (Refs, as given), or
// every running one (every one with All); Stream reports again every
// Interval until the context ends, else once.
type StatsOptions struct {
	Refs     []string
	All      bool
	Stream   bool
	Interval time.Duration // 0: a second
}

// StatsEntry is one container's line of `stats`, as Docker's CLI
// computes it from two readings: CPU % of one CPU's time (so up to
// 100 × CPUs), memory without the inactive file cache.
type StatsEntry struct {
	Container  string // as named, or the ID when listing all
	ID, Name   string
	CPUPercent float64
	MemUsage   float64
	MemLimit   float64
	MemPercent float64
	NetRx      float64
	NetTx      float64
	BlockRead  float64
	BlockWrite float64
	Pids       uint64
}

// firstSample is how long the first CPU reading lasts.
const firstSample = 500 * time.Millisecond

// ContainerStats reports the resource use of containers to report: once,
// or (Stream) every Interval, with the containers that run now (new ones
// join, stopped ones leave) unless Refs names them. A container named
// that cannot be read ends it with the error.
func (e *Engine) ContainerStats(ctx context.Context, o StatsOptions, report func([]StatsEntry) error) error {
	prev := map[string]*StatsSample{}
	if _, err := e.statsRound(o, prev); err != nil {
		return err
	}
	wait := firstSample
	interval := o.Interval
	if interval == 0 {
		interval = time.Second
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		rows, err := e.statsRound(o, prev)
		if err != nil {
			return err
		}
		if err := report(rows); err != nil || !o.Stream {
			return err
		}
		wait = interval
	}
}

// statsRound reads every container of o once, computing its line
// against its reading in prev, which it replaces.
func (e *Engine) statsRound(o StatsOptions, prev map[string]*StatsSample) ([]StatsEntry, error) {
	type target struct {
		c     *container.Container
		name  string
		named bool
	}
	var targets []target
	if len(o.Refs) == 0 {
		list, err := container.List()
		if err != nil {
			return nil, err
		}
		for _, c := range list {
			if c.State.Running || o.All {
				targets = append(targets, target{c, c.ID, false})
			}
		}
	}
	for _, ref := range o.Refs {
		c, err := container.Lookup(ref)
		if err != nil {
			return nil, err
		}
		targets = append(targets, target{c, ref, true})
	}
	rows := make([]StatsEntry, 0, len(targets))
	for _, t := range targets {
		cur, err := runtime.Sample(t.c)
		if err != nil && !t.named && !errors.Is(err, errdefs.ErrUnavailable) {
			continue // stopped or removed since the listing
		}
		if err != nil {
			return nil, err
		}
		row := statsEntry(prev[t.c.ID], cur)
		row.Container, row.ID, row.Name = t.name, t.c.ID, t.c.Name
		prev[t.c.ID] = cur
		rows = append(rows, row)
	}
	return rows, nil
}

// statsEntry computes a line as Docker's CLI does (calculateCPUPercentUnix,
// calculateMemUsageUnixNoCache, the sums of block and network bytes).
func statsEntry(prev, cur *StatsSample) StatsEntry {
	out := StatsEntry{Pids: cur.Pids, BlockRead: float64(cur.BlockRead), BlockWrite: float64(cur.BlockWrite)}
	if prev != nil && cur.CPUTotal >= prev.CPUTotal && cur.SystemCPU > prev.SystemCPU {
		cpu := float64(cur.CPUTotal - prev.CPUTotal)
		out.CPUPercent = cpu / float64(cur.SystemCPU-prev.SystemCPU) * float64(cur.OnlineCPUs) * 100
	}
	out.MemUsage, out.MemLimit = float64(cur.MemUsage), float64(cur.MemLimit)
	if v, ok := cur.MemStats["total_inactive_file"]; ok && v < cur.MemUsage {
		out.MemUsage = float64(cur.MemUsage - v)
	} else if v := cur.MemStats["inactive_file"]; v < cur.MemUsage {
		out.MemUsage = float64(cur.MemUsage - v)
	}
	if out.MemLimit != 0 {
		out.MemPercent = out.MemUsage / out.MemLimit * 100
	}
	for _, n := range cur.Networks {
		out.NetRx += float64(n.RxBytes)
		out.NetTx += float64(n.TxBytes)
	}
	return out
}
