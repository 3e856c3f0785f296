package manpage

import (
	"strings"
	"testing"
)

func TestEscape(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "list containers", "list containers"},
		{"hyphens", "--rm -it", `\-\-rm \-it`},
		{"backslash", `C:\dir \fB`, `C:\edir \efB`},
		{"leading dot", ".SH injected", `\&.SH injected`},
		{"leading quote", "'br", `\&'br`},
		{"dot after newline", "a\n.TH x", "a\n\\&.TH x"},
		{"dot inside a line", "see ./dir and a.b", "see ./dir and a.b"},
		{"non-ASCII", "source=…,é", `source=\[u2026],\[u00E9]`},
		{"tab and control", "a\tb\x01c", "a bc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Escape(tt.in); got != tt.want {
				t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestWrite(t *testing.T) {
	p := &Page{
		Name: "skiff-run", Section: 1, Source: `skiff "1"`, Manual: "skiff manual",
		Summary:     "Create and run a container",
		Synopsis:    []string{"skiff run [OPTIONS] IMAGE"},
		Description: []string{".starts with a dot"},
		Options:     []Option{{Names: []string{"--env", "-e"}, Placeholder: "value", Usage: `a \ b`}, {Names: []string{"--rm"}, Usage: "remove"}},
		Commands:    []Entry{{Ref{"skiff-network-create", 1}, "Create a network"}},
		Examples:    []string{"skiff run --rm busybox echo '{{.Names}}'"},
		SeeAlso:     []Ref{{"skiff", 1}, {"skiff-create", 1}},
	}
	var b strings.Builder
	if err := p.Write(&b); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for _, want := range []string{
		".TH \"SKIFF\\-RUN\" 1 \"\" \"skiff \\(dq1\\(dq\" \"skiff manual\"\n",
		".SH NAME\nskiff\\-run \\- Create and run a container\n",
		".SH SYNOPSIS\n.nf\nskiff run [OPTIONS] IMAGE\n.fi\n.SH DESCRIPTION",
		".SH DESCRIPTION\n.PP\n\\&.starts with a dot\n",
		".SH COMMANDS\n.TP\n\\fBskiff\\-network\\-create\\fR(1)\nCreate a network\n",
		".SH OPTIONS\n.TP\n\\fB\\-\\-env\\fR, \\fB\\-e\\fR \\fIvalue\\fR\na \\e b\n.TP\n\\fB\\-\\-rm\\fR\nremove\n",
		".SH EXAMPLES\n.PP\n.RS 4\n.nf\nskiff run \\-\\-rm busybox echo '{{.Names}}'\n.fi\n.RE\n",
		".SH SEE ALSO\n\\fBskiff\\fR(1),\n\\fBskiff\\-create\\fR(1)\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("page lacks %q:\n%s", want, got)
		}
	}
}
