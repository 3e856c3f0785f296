package cmd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

// completeCommandName is the hidden command the completion scripts run,
// as cobra's __complete: `skiff __complete WORD... CURRENT` prints the
// candidates for CURRENT, one a line.
const completeCommandName = "__complete"

// The kinds of live names an argument or a flag's value completes to.
const (
	kindContainers = "containers"
	kindImages     = "images"
	kindNetworks   = "networks"
	kindVolumes    = "volumes"
	kindServices   = "services"
)

// argKinds maps the words of a command's ArgsUsage to the names they
// complete to, so that completion follows the command definitions.
var argKinds = map[string]string{
	"CONTAINER": kindContainers, "IMAGE": kindImages, "SOURCE_IMAGE": kindImages, "TARGET_IMAGE": kindImages,
	"NETWORK": kindNetworks, "VOLUME": kindVolumes, "SERVICE": kindServices,
}

// argOverrides are the commands whose ArgsUsage does not say what their
// arguments name (every position).
var argOverrides = map[string][]string{
	"inspect":       {kindContainers, kindImages},
	"push":          {kindImages},
	"image push":    {kindImages},
	"volume create": nil,
}

// flagKinds are the flags whose values are live names.
var flagKinds = map[string]string{"network": kindNetworks, "volumes-from": kindContainers}

// completionCommands are `skiff completion` and the hidden command its
// scripts call.
func completionCommands() []*cli.Command {
	return []*cli.Command{
		{
			Name:      "completion",
			Usage:     "Print a shell completion script (bash, zsh or fish)",
			ArgsUsage: "bash|zsh|fish",
			UsageText: "skiff completion bash|zsh|fish",
			Action: func(c *cli.Context) error {
				if err := exactArgs(c, 1, 1, "completion bash|zsh|fish"); err != nil {
					return err
				}
				script, ok := completionScripts[c.Args().First()]
				if !ok {
					return errdefs.Invalid("unsupported shell %q: want bash, zsh or fish", c.Args().First())
				}
				_, err := io.WriteString(c.App.Writer, script)
				return err
			},
		},
		{
			Name:            completeCommandName,
			Hidden:          true,
			SkipFlagParsing: true,
			Action: func(c *cli.Context) error {
				words := c.Args().Slice()
				if len(words) == 0 {
					words = []string{""}
				}
				for _, s := range complete(c.App.Commands, c.App.Flags, words, liveNames) {
					fmt.Fprintln(c.App.Writer, s)
				}
				return nil
			},
		},
	}
}

// complete returns the candidates for the last of words (the word being
// typed, maybe empty), the words before it being skiff's arguments:
// subcommands and flags from the definitions, live names for positional
// arguments and some flags' values, from names(kind).
func complete(cmds []*cli.Command, flags []cli.Flag, words []string, names func(kind string) []string) []string {
	words = joinEquals(words)
	cur, done := words[len(words)-1], words[:len(words)-1]
	var cmd *cli.Command
	var path []string
	pos, dashdash := 0, false // pos: positional arguments after the command
	for i := 0; i < len(done); i++ {
		w := done[i]
		switch {
		case dashdash || w == "-" || !strings.HasPrefix(w, "-"):
			if !dashdash && pos == 0 && (cmd == nil || len(cmd.Subcommands) > 0) {
				c := findCommand(visible(cmds), w)
				if c == nil {
					return nil
				}
				cmd, flags, cmds = c, c.Flags, c.Subcommands
				path = append(path, c.Name)
				continue
			}
			pos++
		case w == "--":
			dashdash = true
		default:
			if flagWidth(flags, done[i:]) == 2 {
				i++
			} else if i == len(done)-1 && flagWidth(flags, []string{w, cur}) == 2 {
				// cur is this flag's value.
				if f := findFlag(flags, strings.TrimLeft(w, "-")); f != nil {
					return filter(names(flagKinds[f.Names()[0]]), cur)
				}
				return nil
			}
		}
	}
	if strings.HasPrefix(cur, "-") && !dashdash {
		if name, value, ok := strings.Cut(cur, "="); ok {
			f := findFlag(flags, strings.TrimLeft(name, "-"))
			if f == nil {
				return nil
			}
			var out []string
			for _, n := range filter(names(flagKinds[f.Names()[0]]), value) {
				out = append(out, name+"="+n)
			}
			return out
		}
		return filter(flagNames(cmd, flags), cur)
	}
	if cmd == nil || len(cmd.Subcommands) > 0 {
		if pos > 0 {
			return nil
		}
		return commandNames(visible(cmds), cur)
	}
	key := strings.Join(path, " ")
	n := pos // the positional argument being typed
	if n > 0 && stopAtFirstArg[key] {
		return nil // the container's command line
	}
	kinds, ok := argOverrides[key]
	if !ok {
		kinds = argKindsAt(cmd.ArgsUsage, n)
	}
	var out []string
	for _, k := range kinds {
		out = append(out, filter(names(k), cur)...)
	}
	return out
}

// joinEquals puts back together what bash splits at the "=" of
// COMP_WORDBREAKS when bash-completion is not there to do it:
// "--network", "=", "x" is "--network=x".
func joinEquals(words []string) []string {
	var out []string
	for i := 0; i < len(words); i++ {
		if words[i] == "=" && len(out) > 0 && strings.HasPrefix(out[len(out)-1], "-") && !strings.Contains(out[len(out)-1], "=") {
			out[len(out)-1] += "="
			if i+1 < len(words) {
				out[len(out)-1] += words[i+1]
				i++
			}
			continue
		}
		out = append(out, words[i])
	}
	return out
}

// argKindsAt reads what the n-th argument names from a command's
// ArgsUsage, such as "CONTAINER|SERVICE [CONTAINER|SERVICE...]".
func argKindsAt(usage string, n int) []string {
	fields := strings.Fields(usage)
	var field string
	for i, f := range fields {
		if f == "or" {
			break
		}
		if i == n || (i < n && strings.HasSuffix(f, "...]") && i == len(fields)-1) {
			field = f
			break
		}
	}
	var out []string
	for _, alt := range strings.Split(strings.Trim(field, "[]."), "|") {
		// SOURCE_IMAGE[:TAG] is an image; CONTAINER:SRC_PATH (cp) and
		// SERVICE=REPLICAS (scale) are not bare names.
		word, _, _ := strings.Cut(alt, "[")
		if k, ok := argKinds[word]; ok {
			out = append(out, k)
		}
	}
	return out
}

func visible(cmds []*cli.Command) []*cli.Command {
	var out []*cli.Command
	for _, c := range cmds {
		if !c.Hidden && c.Name != "help" {
			out = append(out, c)
		}
	}
	return out
}

// commandNames are the commands starting with prefix; their aliases
// only when no name does.
func commandNames(cmds []*cli.Command, prefix string) []string {
	var out []string
	for _, c := range cmds {
		if strings.HasPrefix(c.Name, prefix) {
			out = append(out, c.Name)
		}
	}
	if len(out) == 0 {
		for _, c := range cmds {
			out = append(out, filter(c.Aliases, prefix)...)
		}
	}
	return out
}

// flagNames are a command's flags with their aliases, as typed: -x or
// --long, and --help (-h too when no flag takes it).
func flagNames(cmd *cli.Command, flags []cli.Flag) []string {
	var out []string
	help, h := false, false
	for _, f := range flags {
		if v, ok := f.(cli.VisibleFlag); ok && !v.IsVisible() {
			continue
		}
		for _, n := range f.Names() {
			help = help || n == "help"
			h = h || n == "h"
			out = append(out, dashed(n))
		}
	}
	if !help {
		out = append(out, "--help")
	}
	if !h && (cmd == nil || !cmd.HideHelp) {
		out = append(out, "-h")
	}
	return out
}

func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// filter keeps the candidates starting with prefix, without duplicates.
func filter(cands []string, prefix string) []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range cands {
		if c != "" && strings.HasPrefix(c, prefix) && !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

// liveNames lists the user's objects of a kind, sorted; nothing when
// anything goes wrong: completion never fails loudly.
func liveNames(kind string) (out []string) {
	if kind == "" {
		return nil
	}
	defer func() {
		if recover() != nil {
			out = nil
		}
	}()
	// Nothing on the terminal while the shell completes, not even from
	// the re-executed skiff that enters the user namespace.
	if devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
		_ = unix.Dup3(int(devnull.Fd()), 2, 0)
		devnull.Close()
	}
	e, err := engine.New(engine.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		return nil
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	switch kind {
	case kindContainers:
		list, _ := e.ContainerList(ctx, engine.ContainerListOptions{All: true, Last: -1})
		for _, c := range list {
			for _, n := range c.Names {
				out = append(out, strings.TrimPrefix(n, "/"))
			}
		}
	case kindImages:
		list, _ := e.ImageList(ctx, engine.ImageListOptions{})
		for _, im := range list {
			for _, t := range im.RepoTags {
				if t != "<none>:<none>" {
					out = append(out, t)
				}
			}
		}
	case kindNetworks:
		list, _ := e.NetworkList(ctx, nil)
		for _, n := range list {
			out = append(out, n.Name)
		}
	case kindVolumes:
		list, _ := e.VolumeList(ctx, nil)
		for _, v := range list {
			out = append(out, v.Name)
		}
	case kindServices:
		out, _ = e.ServiceNames(ctx)
	}
	sort.Strings(out)
	return out
}

// completionScripts are the scripts `skiff completion SHELL` prints. They
// hold no command names: each asks `skiff __complete`, which reads the
// command definitions, so the scripts never drift from the binary.
var completionScripts = map[string]string{
	"bash": `# bash completion for skiff
# Load with: source <(skiff completion bash)
_skiff() {
    local cur words cword
    if declare -F _get_comp_words_by_ref >/dev/null 2>&1; then
        _get_comp_words_by_ref -n =: cur words cword
    else
        cur="${COMP_WORDS[COMP_CWORD]}"
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    fi
    COMPREPLY=()
    local line
    while IFS= read -r line; do
        [ -n "$line" ] && COMPREPLY+=("$line")
    done < <("${words[0]}" ` + completeCommandName + ` "${words[@]:1:cword}" 2>/dev/null)
    # bash replaces only what follows the last "=" or ":" of COMP_WORDBREAKS.
    if [[ $COMP_WORDBREAKS == *=* ]]; then
        local i
        for i in "${!COMPREPLY[@]}"; do
            [[ ${COMPREPLY[i]} == -*=* ]] && COMPREPLY[i]=${COMPREPLY[i]#*=}
        done
    fi
    if declare -F __ltrim_colon_completions >/dev/null 2>&1; then
        __ltrim_colon_completions "$cur"
    fi
    return 0
}
complete -o default -F _skiff skiff
`,
	"zsh": `#compdef skiff
# zsh completion for skiff
# Load with: source <(skiff completion zsh)   (after compinit)
_skiff() {
    local -a cands
    cands=("${(@f)$(${words[1]} ` + completeCommandName + ` "${(@)words[2,CURRENT]}" 2>/dev/null)}")
    cands=(${cands:#})
    if (( ${#cands} )); then
        compadd -Q -- "${cands[@]}"
    else
        _files
    fi
}
if [ "$funcstack[1]" = "_skiff" ]; then
    _skiff "$@"
else
    compdef _skiff skiff
fi
`,
	"fish": `# fish completion for skiff
# Load with: skiff completion fish | source
function __skiff_complete
    set -l args (commandline -opc)
    set -e args[1]
    set -l out (command skiff ` + completeCommandName + ` $args (commandline -ct) 2>/dev/null)
    if test (count $out) -gt 0
        printf '%s\n' $out
    else
        __fish_complete_path (commandline -ct)
    end
end
complete -c skiff -f -a '(__skiff_complete)'
`,
}
