package cmd

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
)

// platformFlag is --platform of the image commands: os[/arch[/variant]].
// skiff keeps one platform per image, so it names the image's own.
func platformFlag(usage string) cli.Flag {
	return &cli.StringFlag{Name: "platform", Usage: usage + " (os[/arch[/variant]]; an image here has one platform, its own)"}
}

// checkPlatform refuses, before anything is done, images that are not of
// the --platform given ("" is no check).
func checkPlatform(ctx context.Context, c *cli.Context, e *engine.Engine, refs ...string) error {
	if p := c.String("platform"); p != "" {
		return checkPlatforms(ctx, e, []string{p}, refs...)
	}
	return nil
}

// checkPlatforms refuses images that are of none of platforms (rmi's
// list); none is no check.
func checkPlatforms(ctx context.Context, e *engine.Engine, platforms []string, refs ...string) error {
	for _, ref := range refs {
		var first error
		for _, p := range platforms {
			err := e.ImageCheckPlatform(ctx, ref, p)
			if err == nil {
				first = nil
				break
			}
			if first == nil {
				first = err
			}
		}
		if first != nil {
			return first
		}
	}
	return nil
}
