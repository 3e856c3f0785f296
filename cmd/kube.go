package cmd

// `skiff kube`: Kubernetes YAML out of services and containers (generate),
// and into them (play, down), as podman's `kube` commands.

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

func kubeCommand() *cli.Command {
	return &cli.Command{
		Name:  "kube",
		Usage: "Generate Kubernetes YAML from services and containers, or run it",
		Subcommands: []*cli.Command{
			{
				Name:      "generate",
				Usage:     "Generate Kubernetes YAML (Deployments, Pods, Services, PersistentVolumeClaims)",
				ArgsUsage: "CONTAINER|SERVICE [CONTAINER|SERVICE...]",
				UsageText: "skiff kube generate [--type pod|deployment] [-f FILE] CONTAINER|SERVICE...",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "type", Aliases: []string{"t"}, Value: "pod", Usage: "what plain containers become: pod or deployment"},
					&cli.StringFlag{Name: "filename", Aliases: []string{"f"}, Usage: "write the YAML to FILE instead of stdout"},
				},
				Action: kubeGenerate,
			},
			{
				Name:      "play",
				Usage:     "Run Kubernetes YAML: Deployments as services, Pods as containers",
				ArgsUsage: "FILE|- [FILE...]",
				UsageText: "skiff kube play [--replace] FILE|- [FILE...]",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "replace", Usage: "remove what an earlier play of the file made first"},
				},
				Action: kubePlay,
			},
			{
				Name:      "down",
				Usage:     "Remove what kube play made from Kubernetes YAML",
				ArgsUsage: "FILE|- [FILE...]",
				UsageText: "skiff kube down FILE|- [FILE...]",
				Action:    kubeDown,
			},
		},
	}
}

func kubeGenerate(c *cli.Context) error {
	if err := exactArgs(c, 1, -1, "kube generate [--type pod|deployment] [-f FILE] CONTAINER|SERVICE..."); err != nil {
		return err
	}
	return withKubeEngine(c, func(ctx context.Context, e *engine.Engine) error {
		out, err := e.KubeGenerate(ctx, c.Args().Slice(), engine.KubeGenerateOptions{Type: c.String("type")})
		if err != nil {
			return err
		}
		if f := c.String("filename"); f != "" {
			return os.WriteFile(f, out, 0o644)
		}
		_, err = c.App.Writer.Write(out)
		return err
	})
}

// kubeFiles are the files named, read, with their absolute paths ("-" is
// stdin, read once).
func kubeFiles(c *cli.Context) ([]engine.KubeFile, error) {
	var out []engine.KubeFile
	for _, name := range c.Args().Slice() {
		f := engine.KubeFile{Path: "-"}
		var err error
		if name == "-" {
			f.Data, err = io.ReadAll(os.Stdin)
		} else {
			if f.Path, err = filepath.Abs(name); err != nil {
				return nil, err
			}
			f.Data, err = os.ReadFile(name)
		}
		if err != nil {
			return nil, errdefs.Invalid("kube: %v", err)
		}
		out = append(out, f)
	}
	return out, nil
}

func kubePlay(c *cli.Context) error {
	if err := exactArgs(c, 1, -1, "kube play [--replace] FILE|- [FILE...]"); err != nil {
		return err
	}
	return withKubeEngine(c, func(ctx context.Context, e *engine.Engine) error {
		files, err := kubeFiles(c)
		if err != nil {
			return err
		}
		made, err := e.KubePlay(ctx, files, engine.KubePlayOptions{Replace: c.Bool("replace")})
		for _, m := range made {
			fmt.Fprintf(c.App.Writer, "%s %s\n", m.Kind, m.Name)
		}
		return err
	})
}

func kubeDown(c *cli.Context) error {
	if err := exactArgs(c, 1, -1, "kube down FILE|- [FILE...]"); err != nil {
		return err
	}
	return withKubeEngine(c, func(ctx context.Context, e *engine.Engine) error {
		for _, name := range c.Args().Slice() {
			file := name
			if name != "-" {
				abs, err := filepath.Abs(name)
				if err != nil {
					return err
				}
				file = abs
			}
			gone, err := e.KubeDown(ctx, file)
			for _, m := range gone {
				fmt.Fprintf(c.App.Writer, "%s %s\n", m.Kind, m.Name)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}
