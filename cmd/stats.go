package cmd

import (
	"bytes"
	"context"
	"io"
	"os"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/skiff-project/skiff/engine"
)

func statsCommand() *cli.Command {
	return &cli.Command{
		Name:      "stats",
		Usage:     "Display a live stream of container(s) resource usage statistics",
		ArgsUsage: "[CONTAINER...]",
		UsageText: "skiff stats [OPTIONS] [CONTAINER...]\n\n" +
			"Placeholders: .Container .Name .ID .CPUPerc .MemUsage .MemPerc .NetIO .BlockIO .PIDs\n" +
			"Needs readable cgroups: as root; rootless only on cgroup v2 with a delegated user slice.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "show all containers (default shows just running)"},
			&cli.BoolFlag{Name: "no-stream", Usage: "disable streaming stats and only pull the first result"},
			&cli.BoolFlag{Name: "no-trunc", Usage: "do not truncate output"},
			&cli.StringFlag{Name: "format", Usage: "table (default), json, or a Go template such as 'table {{.Name}}\\t{{.CPUPerc}}'"},
		},
		Action: statsAction,
	}
}

// statsRow is a line of stats as Docker's CLI shows it.
type statsRow struct {
	BlockIO, CPUPerc, Container, ID, MemPerc, MemUsage, Name, NetIO, PIDs string
}

const statsTable = "{{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"

// statsAction prints the lines once (--no-stream) or, streaming, again
// every second: redrawn in place on a terminal, as a new block on a pipe.
func statsAction(c *cli.Context) error {
	format := c.String("format")
	if format != "" && format != "json" && format != "table" {
		if _, err := parseTemplate(strings.TrimPrefix(format, "table")); err != nil {
			return err
		}
	}
	lf := listFormat{format: format, defTable: statsTable, header: map[string]string{
		"Container": "CONTAINER", "Name": "NAME", "ID": "CONTAINER ID", "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT",
		"MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
	}}
	o := engine.StatsOptions{Refs: c.Args().Slice(), All: c.Bool("all"), Stream: !c.Bool("no-stream")}
	tty := o.Stream && term.IsTerminal(int(os.Stdout.Fd()))
	return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
		return e.ContainerStats(ctx, o, func(entries []engine.StatsEntry) error {
			rows := make([]any, 0, len(entries))
			for _, s := range entries {
				rows = append(rows, statsLine(s, !c.Bool("no-trunc")))
			}
			var buf bytes.Buffer
			if err := lf.write(&buf, rows); err != nil {
				return err
			}
			if tty {
				return redraw(c.App.Writer, buf.Bytes())
			}
			_, err := c.App.Writer.Write(buf.Bytes())
			return err
		})
	})
}

// statsLine formats a line with Docker's units: binary sizes for memory
// (MiB), decimal ones for I/O (kB, MB).
func statsLine(s engine.StatsEntry, trunc bool) statsRow {
	id := s.ID
	if trunc && len(id) > 12 {
		id = id[:12]
	}
	pct := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) + "%" }
	io := func(a, b float64) string {
		return units.HumanSizeWithPrecision(a, 3) + " / " + units.HumanSizeWithPrecision(b, 3)
	}
	return statsRow{
		Container: s.Container, ID: id, Name: s.Name, CPUPerc: pct(s.CPUPercent),
		MemUsage: units.BytesSize(s.MemUsage) + " / " + units.BytesSize(s.MemLimit), MemPerc: pct(s.MemPercent),
		NetIO: io(s.NetRx, s.NetTx), BlockIO: io(s.BlockRead, s.BlockWrite), PIDs: strconv.FormatUint(s.Pids, 10),
	}
}

// redraw writes a frame over the previous one, as docker stats does on a
// terminal: home, each line cleared to its end, the rest of the screen
// cleared.
func redraw(w io.Writer, frame []byte) error {
	var b bytes.Buffer
	b.WriteString("\033[H")
	for _, line := range bytes.Split(bytes.TrimRight(frame, "\n"), []byte{'\n'}) {
		b.Write(line)
		b.WriteString("\033[K\n")
	}
	b.WriteString("\033[J")
	_, err := w.Write(b.Bytes())
	return err
}
