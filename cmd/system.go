package cmd

import (
	"encoding/json"
	"fmt"
	"os"
	goruntime "runtime"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/userns"
)

func systemCommand() *cli.Command {
	return &cli.Command{
		Name:  "system",
		Usage: "Manage skiff",
		Subcommands: []*cli.Command{
			{
				Name:      "migrate",
				Usage:     "Reset the rootless user namespace (after changing /etc/subuid or /etc/subgid)",
				UsageText: "skiff system migrate\n\nThe next skiff command creates a fresh namespace with the current ranges.",
				Action: func(c *cli.Context) error {
					if err := exactArgs(c, 0, 0, "system migrate"); err != nil {
						return err
					}
					if !userns.Rootless() {
						return nil
					}
					return userns.Reset()
				},
			},
		},
	}
}

func versionCommand(version string) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "Show the skiff version",
		Flags: []cli.Flag{&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: "json or a Go template"}},
		Action: func(c *cli.Context) error {
			v := map[string]any{
				"Client": map[string]string{
					"Version": version, "GoVersion": goruntime.Version(),
					"Os": goruntime.GOOS, "Arch": goruntime.GOARCH,
				},
			}
			switch f := c.String("format"); f {
			case "":
				fmt.Fprintf(c.App.Writer, "Version:    %s\nGo version: %s\nOS/Arch:    %s/%s\n", version, goruntime.Version(), goruntime.GOOS, goruntime.GOARCH)
			case "json":
				return json.NewEncoder(os.Stdout).Encode(v)
			default:
				return writeInspect(c.App.Writer, []any{v}, f)
			}
			return nil
		},
	}
}
