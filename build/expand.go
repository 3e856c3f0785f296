package build

import (
	"sort"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/skiff-project/skiff/errdefs"
)

// Variable substitution, as Docker's builder does it: buildkit's shell
// lexer ($VAR, ${VAR}, ${VAR:-word}, ${VAR:+word}, quotes and the escape
// character) over the variables in force before the instruction, so
// `ENV X=b Y=$X` gives Y the X from before the line.

// vars are the stage's ARGs with its Env over them: an ENV always wins
// over an ARG of the same name.
func (s *stage) vars() shell.EnvGetter {
	env := make([]string, 0, len(s.args)+len(s.cfg.Config.Env))
	keys := make([]string, 0, len(s.args))
	for k := range s.args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+s.args[k])
	}
	return shell.EnvsFromSlice(append(env, s.cfg.Config.Env...))
}

// expand substitutes variables in one word and takes its quotes off.
func (b *builder) expand(s *stage, word string) (string, error) {
	out, _, err := b.lex.ProcessWord(word, s.vars())
	if err != nil {
		return "", errdefs.Invalid("%s: %v", word, err)
	}
	return out, nil
}

// expandCommand substitutes variables in the words of the instructions
// Docker expands them in (ADD COPY ENV EXPOSE LABEL STOPSIGNAL USER
// VOLUME WORKDIR; FROM and ARG are done where they are read), and in the
// body of a heredoc whose marker is not quoted.
func (b *builder) expandCommand(s *stage, cmd instructions.Command) error {
	vars := s.vars()
	if ex, ok := cmd.(instructions.SupportsSingleWordExpansion); ok {
		if _, isArg := cmd.(*instructions.ArgCommand); !isArg {
			if _, isRun := cmd.(*instructions.RunCommand); !isRun {
				err := ex.Expand(func(word string) (string, error) {
					out, _, err := b.lex.ProcessWord(word, vars)
					return out, err
				})
				if err != nil {
					return errdefs.Invalid("%v", err)
				}
			}
		}
	}
	if ex, ok := cmd.(instructions.SupportsSingleWordExpansionRaw); ok {
		raw := shell.NewLex(b.escape)
		raw.SkipProcessQuotes = true
		err := ex.ExpandRaw(func(word string) (string, error) {
			out, _, err := raw.ProcessWord(word, vars)
			return out, err
		})
		if err != nil {
			return errdefs.Invalid("%v", err)
		}
	}
	return nil
}
