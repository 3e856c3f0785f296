// Package systemd writes systemd units that run skiff, and reads the
// quadlet-style `.container`, `.volume` and `.network` files that become
// such units: `skiff generate systemd` renders a container's or a
// service's unit from plain data (ContainerUnit, ServiceUnit), and the
// systemd generator (`skiff-user-generator`, `skiff generate quadlet`)
// turns the files of a directory into units (Generate).
//
// It knows nothing of the engine: callers hand it the data.
package systemd

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Unit is a unit file: comment lines at the top, then its sections in
// order, each with its entries in order (a key may repeat).
type Unit struct {
	Comments []string
	Sections []*Section
}

// Section is one [Name] of a unit.
type Section struct {
	Name    string
	Entries []Entry
}

// Entry is one Key=Value line; Line is where it was read (0 when made).
type Entry struct {
	Key, Value string
	Line       int
}

// Section returns the unit's section with that name, added at the end
// when it has none.
func (u *Unit) Section(name string) *Section {
	for _, s := range u.Sections {
		if s.Name == name {
			return s
		}
	}
	s := &Section{Name: name}
	u.Sections = append(u.Sections, s)
	return s
}

// Lookup returns the section with that name, or nil.
func (u *Unit) Lookup(name string) *Section {
	for _, s := range u.Sections {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Add appends Key=Value.
func (s *Section) Add(key, value string) {
	s.Entries = append(s.Entries, Entry{Key: key, Value: value})
}

// Has reports whether the section sets key.
func (s *Section) Has(key string) bool {
	for _, e := range s.Entries {
		if e.Key == key {
			return true
		}
	}
	return false
}

// Default adds Key=Value unless the section sets key already.
func (s *Section) Default(key, value string) {
	if !s.Has(key) {
		s.Add(key, value)
	}
}

// String is the unit file's text.
func (u *Unit) String() string {
	var b strings.Builder
	for _, c := range u.Comments {
		if c == "" {
			b.WriteString("#\n")
		} else {
			b.WriteString("# " + c + "\n")
		}
	}
	for i, s := range u.Sections {
		if i > 0 || len(u.Comments) > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "[%s]\n", s.Name)
		for _, e := range s.Entries {
			fmt.Fprintf(&b, "%s=%s\n", e.Key, e.Value)
		}
	}
	return b.String()
}

// Parse reads a unit file as systemd does: `#` and `;` start comments,
// a line ending in a backslash continues on the next (the backslash and
// newline become a space, comment lines in between are skipped), and
// whitespace around keys and values is dropped.
func Parse(r io.Reader) (*Unit, error) {
	u := &Unit{}
	var cur *Section
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			if !strings.HasSuffix(line, "]") || len(line) < 3 {
				return nil, fmt.Errorf("line %d: bad section header %q", n, line)
			}
			cur = u.Section(line[1 : len(line)-1])
			continue
		}
		start := n
		for strings.HasSuffix(line, `\`) {
			line = strings.TrimSuffix(line, `\`) + " "
			more := false
			for sc.Scan() {
				n++
				next := strings.TrimSpace(sc.Text())
				if next != "" && (next[0] == '#' || next[0] == ';') {
					continue
				}
				line += next
				more = true
				break
			}
			if !more {
				break
			}
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: %q is not KEY=VALUE", start, line)
		}
		if cur == nil {
			return nil, fmt.Errorf("line %d: %q is outside of any [section]", start, line)
		}
		cur.Entries = append(cur.Entries, Entry{Key: strings.TrimSpace(key), Value: strings.TrimSpace(value), Line: start})
	}
	return u, sc.Err()
}

// SplitWords splits a value into words as systemd does for ExecStart=,
// Environment= and lists: on whitespace, with "double" and 'single'
// quotes and C-style backslash escapes.
func SplitWords(s string) ([]string, error) {
	var words []string
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			return words, nil
		}
		var w strings.Builder
		for i < len(s) && !isSpace(s[i]) {
			switch c := s[i]; c {
			case '"', '\'':
				i++
				closed := false
				for i < len(s) {
					if s[i] == c {
						closed = true
						i++
						break
					}
					if s[i] == '\\' && i+1 < len(s) {
						i++
						w.WriteByte(unescape(s[i]))
						i++
						continue
					}
					w.WriteByte(s[i])
					i++
				}
				if !closed {
					return nil, fmt.Errorf("unbalanced quotes in %q", s)
				}
			case '\\':
				if i+1 < len(s) {
					i++
					w.WriteByte(unescape(s[i]))
				}
				i++
			default:
				w.WriteByte(c)
				i++
			}
		}
		words = append(words, w.String())
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 't':
		return '\t'
	case 'r':
		return '\r'
	}
	return c
}

// Quote writes one word of a command line so that systemd reads it back
// unchanged: double-quoted when it holds spaces, quotes, backslashes or
// is empty or ";". With literal, `%` and `$` are doubled so that systemd
// neither expands specifiers nor variables in it (data from a container's
// record); without, they are kept for systemd (text from a unit file).
func Quote(w string, literal bool) string {
	if literal {
		w = strings.ReplaceAll(strings.ReplaceAll(w, "%", "%%"), "$", "$$")
	}
	if w != "" && w != ";" && !strings.ContainsAny(w, " \t\n\r\"'\\") {
		return w
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`, "\r", `\r`)
	return `"` + r.Replace(w) + `"`
}

// Command is a command line for an Exec*= key: its words in groups, each
// group on a line of its own (continued with a backslash) when there is
// more than one, as podman writes them.
type Command struct {
	Groups [][]string
	// Literal quotes the words with Quote's literal (see Quote).
	Literal bool
	// Prefix is systemd's prefix of the executable, e.g. "-" to ignore
	// its failure.
	Prefix string
}

// NewCommand is a command whose words are one group.
func NewCommand(literal bool, words ...string) *Command {
	return &Command{Groups: [][]string{words}, Literal: literal}
}

// Group adds a group of words.
func (c *Command) Group(words ...string) *Command {
	if len(words) > 0 {
		c.Groups = append(c.Groups, words)
	}
	return c
}

// String is the command's value for Exec*=.
func (c *Command) String() string {
	lines := make([]string, 0, len(c.Groups))
	for _, g := range c.Groups {
		q := make([]string, len(g))
		for i, w := range g {
			q[i] = Quote(w, c.Literal)
		}
		lines = append(lines, strings.Join(q, " "))
	}
	return c.Prefix + strings.Join(lines, " \\\n\t")
}
