package cmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
)

// manifestCommand is `docker manifest`: local manifest lists made from
// images in a registry, annotated and pushed there. Like Docker's CLI it
// needs no engine: the lists are the user's files, the registry is
// reached directly.
func manifestCommand() *cli.Command {
	insecure := &cli.BoolFlag{Name: "insecure", Usage: "allow plain HTTP and unverified TLS to the registry (loopback registries are always allowed)"}
	return &cli.Command{
		Name:  "manifest",
		Usage: "Manage manifest lists: one name for an image built for several platforms",
		Subcommands: []*cli.Command{
			{
				Name:      "create",
				Usage:     "Create a local manifest list of images in a registry, for annotating and pushing there",
				ArgsUsage: "MANIFEST_LIST MANIFEST [MANIFEST...]",
				UsageText: "skiff manifest create [OPTIONS] MANIFEST_LIST MANIFEST [MANIFEST...]",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "amend", Aliases: []string{"a"}, Usage: "add to an existing manifest list"},
					insecure,
				},
				Action: manifestCreate,
			},
			{
				Name:      "annotate",
				Usage:     "Set the platform of an image in a local manifest list",
				ArgsUsage: "MANIFEST_LIST MANIFEST",
				UsageText: "skiff manifest annotate [OPTIONS] MANIFEST_LIST MANIFEST",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "arch", Usage: "set the architecture"},
					&cli.StringFlag{Name: "os", Usage: "set the operating system"},
					&cli.StringSliceFlag{Name: "os-features", Usage: "add operating system features (comma-separated or repeated)"},
					&cli.StringFlag{Name: "os-version", Usage: "set the operating system version"},
					&cli.StringFlag{Name: "variant", Usage: "set the architecture variant"},
				},
				Action: manifestAnnotate,
			},
			{
				Name:      "inspect",
				Usage:     "Display an image manifest, or manifest list (a local one first, else the registry's)",
				ArgsUsage: "[MANIFEST_LIST] MANIFEST",
				UsageText: "skiff manifest inspect [OPTIONS] [MANIFEST_LIST] MANIFEST",
				Flags: []cli.Flag{
					insecure,
					&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "output additional info including layers and platform"},
				},
				Action: manifestInspect,
			},
			{
				Name:      "push",
				Usage:     "Push a local manifest list to its registry",
				ArgsUsage: "MANIFEST_LIST",
				UsageText: "skiff manifest push [OPTIONS] MANIFEST_LIST",
				Flags: []cli.Flag{
					insecure,
					&cli.BoolFlag{Name: "purge", Aliases: []string{"p"}, Usage: "remove the local manifest list after the push"},
				},
				Action: manifestPush,
			},
			{
				Name:      "rm",
				Usage:     "Delete one or more local manifest lists",
				ArgsUsage: "MANIFEST_LIST [MANIFEST_LIST...]",
				UsageText: "skiff manifest rm MANIFEST_LIST [MANIFEST_LIST...]",
				Action:    manifestRemove,
			},
		},
	}
}

// insecureVerify is --insecure as registry options take it: TLS
// verification off when given, the configuration's default otherwise.
func insecureVerify(c *cli.Context) *bool {
	if !c.Bool("insecure") {
		return nil
	}
	v := false
	return &v
}

func manifestCreate(c *cli.Context) error {
	if err := exactArgs(c, 2, -1, "manifest create [OPTIONS] MANIFEST_LIST MANIFEST [MANIFEST...]"); err != nil {
		return err
	}
	args := c.Args().Slice()
	o := engine.ManifestCreateOptions{Amend: c.Bool("amend"), TLSVerify: insecureVerify(c)}
	name, err := engine.ManifestCreate(c.Context, args[0], args[1:], o)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.App.Writer, "Created manifest list", name)
	return nil
}

func manifestAnnotate(c *cli.Context) error {
	if err := exactArgs(c, 2, 2, "manifest annotate [OPTIONS] MANIFEST_LIST MANIFEST"); err != nil {
		return err
	}
	var features []string
	for _, f := range c.StringSlice("os-features") {
		features = append(features, strings.Split(f, ",")...)
	}
	o := engine.ManifestAnnotateOptions{OS: c.String("os"), Arch: c.String("arch"), OSVersion: c.String("os-version"),
		Variant: c.String("variant"), OSFeatures: features}
	return engine.ManifestAnnotate(c.Args().Get(0), c.Args().Get(1), o)
}

func manifestInspect(c *cli.Context) error {
	if err := exactArgs(c, 1, 2, "manifest inspect [OPTIONS] [MANIFEST_LIST] MANIFEST"); err != nil {
		return err
	}
	list, ref := "", c.Args().Get(0)
	if c.NArg() == 2 {
		list, ref = ref, c.Args().Get(1)
	}
	verbose := c.Bool("verbose")
	r, err := engine.ManifestInspect(c.Context, list, ref, engine.ManifestInspectOptions{TLSVerify: insecureVerify(c), Verbose: verbose})
	if err != nil {
		return err
	}
	return printManifest(c.App.Writer, r, verbose)
}

// printManifest prints what inspect found as Docker's CLI does: a list as
// its JSON (three-space indent), an image's manifest as the registry has
// it (tab indent); verbose, the entries with reference, descriptor and
// decoded manifest (tab indent).
func printManifest(w io.Writer, r engine.ManifestInspection, verbose bool) error {
	var out []byte
	var err error
	switch {
	case verbose && r.List:
		out, err = json.MarshalIndent(r.Parts, "", "\t")
	case verbose:
		out, err = json.MarshalIndent(r.Image, "", "\t")
	case r.List:
		out, _, err = engine.ManifestListJSON(r.Parts)
	default:
		var b bytes.Buffer
		err = json.Indent(&b, r.Image.Raw, "", "\t")
		out = b.Bytes()
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", out)
	return err
}

func manifestPush(c *cli.Context) error {
	if err := exactArgs(c, 1, 1, "manifest push [OPTIONS] MANIFEST_LIST"); err != nil {
		return err
	}
	say := func(s string) { fmt.Fprintln(c.App.Writer, s) }
	o := engine.ManifestPushOptions{TLSVerify: insecureVerify(c), Purge: c.Bool("purge"), Progress: say}
	d, err := engine.ManifestPush(c.Context, c.Args().First(), o)
	if err != nil {
		return err
	}
	say(d)
	return nil
}

// manifestRemove deletes each list named, printing nothing (as Docker),
// and one error line for each it cannot.
func manifestRemove(c *cli.Context) error {
	if err := exactArgs(c, 1, -1, "manifest rm MANIFEST_LIST [MANIFEST_LIST...]"); err != nil {
		return err
	}
	var last error
	for _, list := range c.Args().Slice() {
		if err := engine.ManifestRemove(list); err != nil {
			if last != nil {
				fmt.Fprintf(os.Stderr, "Error: %s\n", oneLine(last))
			}
			last = err
		}
	}
	return last
}
