package build

import (
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/skiff-project/skiff/errdefs"
)

// ONBUILD: triggers stored in an image and run by the builds FROM it.

// runTriggers runs the ONBUILD instructions the base image of s carries,
// right after its FROM, in the order they were declared; the new image
// does not inherit them.
func (b *builder) runTriggers(s *stage) error {
	triggers := s.cfg.Config.OnBuild
	if len(triggers) == 0 {
		return nil
	}
	s.cfg.Config.OnBuild = nil
	for _, t := range triggers {
		res, err := parser.Parse(strings.NewReader(t))
		if err != nil {
			return errdefs.Invalid("the base image's ONBUILD trigger %q: %v", t, err)
		}
		for _, tn := range res.AST.Children {
			if !b.o.Quiet {
				fmt.Fprintf(b.o.Out, "ONBUILD trigger: %s\n", t)
			}
			if err := b.exec(s, tn); err != nil {
				return fmt.Errorf("the base image's ONBUILD trigger %q: %w", t, err)
			}
		}
	}
	return nil
}
