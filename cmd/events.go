package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os/signal"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

func eventsCommand() *cli.Command {
	return &cli.Command{
		Name:      "events",
		Usage:     "Get real time events from the server",
		UsageText: "skiff events [OPTIONS]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "since", Usage: "show all events created since timestamp (2013-01-02T13:23:37Z, Unix seconds) or relative (42m)"},
			&cli.StringFlag{Name: "until", Usage: "stream events until this timestamp or relative time, then exit"},
			&cli.StringSliceFlag{Name: "filter", Aliases: []string{"f"}, Usage: "filter: container=, event=, image=, label=KEY[=VALUE], network=, volume=, type=, scope="},
			&cli.StringFlag{Name: "format", Usage: "format output with a Go template ({{.Type}} {{.Action}}), or json"},
		},
		Action: eventsAction,
	}
}

func eventsAction(c *cli.Context) error {
	if c.NArg() > 0 {
		return errdefs.Invalid("\"skiff events\" accepts no arguments: usage: skiff events [OPTIONS]")
	}
	var o engine.EventsOptions
	var err error
	if o.Since, err = engine.ParseTime(c.String("since"), "--since"); err != nil {
		return err
	}
	if o.Until, err = engine.ParseTime(c.String("until"), "--until"); err != nil {
		return err
	}
	if o.Filters, err = engine.ParseFilters(c.StringSlice("filter")); err != nil {
		return err
	}
	print, err := eventPrinter(c.App.Writer, c.String("format"))
	if err != nil {
		return err
	}
	// Without --until it follows until interrupted; with one it ends then
	// (at once for a time that has passed).
	o.Follow = true
	return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
		ctx, stop := signal.NotifyContext(ctx, unix.SIGINT, unix.SIGTERM)
		defer stop()
		err := e.Events(ctx, o, print)
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			return nil // interrupted, as Docker's events ends on Ctrl-C
		}
		return err
	})
}

// eventPrinter writes one event per line: Docker's default line, json,
// or a Go template (checked on an empty event first, as docker/cli does).
func eventPrinter(w io.Writer, format string) (func(events.Message) error, error) {
	switch format {
	case "":
		return func(m events.Message) error {
			_, err := io.WriteString(w, eventLine(m))
			return err
		}, nil
	case "json":
		format = "{{json .}}"
	}
	t, err := parseTemplate(format)
	if err != nil {
		return nil, err
	}
	if err := t.Execute(io.Discard, &events.Message{}); err != nil {
		return nil, errdefs.Invalid("invalid --format template %q: %v", format, oneLineTemplateError(err))
	}
	return func(m events.Message) error {
		var b strings.Builder
		if err := t.Execute(&b, m); err != nil {
			return fmt.Errorf("--format: %w", err)
		}
		b.WriteByte('\n')
		_, err := io.WriteString(w, b.String())
		return err
	}, nil
}

// rfc3339NanoFixed is docker/cli's time layout for events: nanoseconds
// always nine digits.
const rfc3339NanoFixed = "2006-01-02T15:04:05.000000000Z07:00"

// eventLine is docker/cli's default line: time, type, action, actor ID
// and the attributes sorted by key in parentheses.
func eventLine(m events.Message) string {
	var b strings.Builder
	if m.TimeNano != 0 {
		b.WriteString(time.Unix(0, m.TimeNano).Format(rfc3339NanoFixed) + " ")
	} else if m.Time != 0 {
		b.WriteString(time.Unix(m.Time, 0).Format(rfc3339NanoFixed) + " ")
	}
	fmt.Fprintf(&b, "%s %s %s", m.Type, m.Action, m.Actor.ID)
	if len(m.Actor.Attributes) > 0 {
		var attrs []string
		for _, k := range slices.Sorted(maps.Keys(m.Actor.Attributes)) {
			attrs = append(attrs, k+"="+m.Actor.Attributes[k])
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(attrs, ", "))
	}
	b.WriteByte('\n')
	return b.String()
}

// oneLineTemplateError drops text/template's "template: format:1:2: "
// prefix.
func oneLineTemplateError(err error) string {
	var ee template.ExecError
	if errors.As(err, &ee) {
		err = ee.Err
	}
	s := err.Error()
	if i := strings.LastIndex(s, "executing \"format\" at "); i >= 0 {
		s = s[i:]
	}
	return s
}
