package build

import (
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// Heredocs in RUN and COPY (RUN <<EOF, COPY <<EOF /file), as buildkit runs them.

// heredocSource is the heredoc a COPY/ADD source word opens, if it is one.
func heredocSource(n *parser.Node, word string) *parser.Heredoc {
	h, err := parser.ParseHeredoc(word)
	if err != nil || h == nil {
		return nil
	}
	for i := range n.Heredocs {
		if n.Heredocs[i].Name == h.Name {
			return &n.Heredocs[i]
		}
	}
	return nil
}

// heredocKey is the heredoc bodies of an instruction, for its cache key.
func heredocKey(n *parser.Node) string {
	var b strings.Builder
	for _, h := range n.Heredocs {
		b.WriteString("\x00" + h.Name + "\x00" + h.Content)
	}
	return b.String()
}

// runScript is a shell-form RUN's script. A RUN that is just one heredoc
// runs its body (through its #! interpreter if it names one); a command
// that feeds heredocs (RUN cat <<EOF > f) gets them back in place for the
// shell to read, as buildkit does.
func runScript(n *parser.Node) string {
	line := strings.Join(words(n), " ")
	if len(n.Heredocs) == 0 {
		return line
	}
	if h := heredocSource(n, line); h != nil && len(n.Heredocs) == 1 {
		body := heredocBody(h)
		if !strings.HasPrefix(body, "#!") {
			return body
		}
		// Write the script out and run it, so its interpreter reads it.
		const eof = "SKIFF_HEREDOC_EOF"
		return "f=$(mktemp) && cat > \"$f\" <<'" + eof + "'\n" + body + eof +
			"\nchmod +x \"$f\" && \"$f\"; rc=$?; rm -f \"$f\"; exit $rc"
	}
	var b strings.Builder
	b.WriteString(line + "\n")
	for _, h := range n.Heredocs {
		b.WriteString(h.Content + h.Name + "\n")
	}
	return b.String()
}

// heredocBody is a heredoc's text, with the leading tabs of <<- taken off.
func heredocBody(h *parser.Heredoc) string {
	if h.Chomp {
		return parser.ChompHeredocContent(h.Content)
	}
	return h.Content
}
