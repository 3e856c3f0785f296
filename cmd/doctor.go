package cmd

import (
	"encoding/json"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

func doctorCommand() *cli.Command {
	return &cli.Command{
		Name:  "doctor",
		Usage: "Check what this host gives skiff, as the calling user, and how to fix what is missing",
		UsageText: "skiff system doctor [--format json]\n\n" +
			"One line per check: ok, info, warn or fail, and for a problem the command that fixes it.\n" +
			"Exits 1 when a check fails. It never enters the user namespace, so it runs where other commands fail.",
		Flags: []cli.Flag{&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: "json"}},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 0, 0, "system doctor [--format json]"); err != nil {
				return err
			}
			rep := engine.SystemDoctor()
			switch f := c.String("format"); f {
			case "":
				writeDoctor(c, rep)
			case "json":
				if err := json.NewEncoder(c.App.Writer).Encode(struct {
					engine.DoctorReport
					OK bool
				}{rep, rep.OK()}); err != nil {
					return err
				}
			default:
				return errdefs.Invalid("--format %q: only json is supported", f)
			}
			if !rep.OK() {
				return failed()
			}
			return nil
		},
	}
}

func writeDoctor(c *cli.Context, rep engine.DoctorReport) {
	w := c.App.Writer
	for _, ch := range rep.Checks {
		line := fmt.Sprintf("%-4s %s: %s", ch.Status, ch.Name, ch.Message)
		if ch.Fix != "" {
			line += " — fix: " + ch.Fix
		}
		fmt.Fprintln(w, line)
	}
	mode := "rootless, as " + rep.User
	if !rep.Rootless {
		mode = "as root"
	}
	if rep.OK() {
		fmt.Fprintf(w, "skiff can run %s on this host\n", mode)
	} else {
		fmt.Fprintf(w, "skiff cannot run %s on this host until the failed checks are fixed\n", mode)
	}
}
