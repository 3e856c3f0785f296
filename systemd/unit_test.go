package systemd

import (
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	text := "# comment\n; another\n[Unit]\nDescription = a  unit \nAfter=a.service\n\n[Service]\nExecStart=/bin/echo a \\\n# a comment inside\n  b \\\n  c\nEnvironment=A=1\n"
	u, err := Parse(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Sections) != 2 || u.Sections[0].Name != "Unit" || u.Sections[1].Name != "Service" {
		t.Fatalf("sections %+v", u.Sections)
	}
	if got := last(u.Lookup("Unit"), "Description"); got != "a  unit" {
		t.Errorf("Description %q, want %q", got, "a  unit")
	}
	svc := u.Lookup("Service")
	if got := last(svc, "ExecStart"); got != "/bin/echo a  b  c" {
		t.Errorf("ExecStart %q (continuations joined, the comment skipped)", got)
	}
	if svc.Entries[0].Line != 8 || svc.Entries[1].Line != 12 {
		t.Errorf("lines %d %d, want 8 12", svc.Entries[0].Line, svc.Entries[1].Line)
	}
	for _, bad := range []string{"Key=outside\n", "[Unit]\nnot a key\n", "[Unit\n"} {
		if _, err := Parse(strings.NewReader(bad)); err == nil {
			t.Errorf("Parse(%q): no error", bad)
		}
	}
}

func TestSplitWordsAndQuote(t *testing.T) {
	for in, want := range map[string][]string{
		`a b  c`:                       {"a", "b", "c"},
		`"a b" 'c d' e\ f`:             {"a b", "c d", "e f"},
		`K="v w" x"y z"`:               {"K=v w", "xy z"},
		`"a \"q\" \\ b"`:               {`a "q" \ b`},
		`sh -c "echo 'it''s'; exit 0"`: {"sh", "-c", "echo 'it''s'; exit 0"},
		``:                             nil,
	} {
		got, err := SplitWords(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("SplitWords(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := SplitWords(`"open`); err == nil {
		t.Error(`SplitWords("open): no error`)
	}
	// Quote then split gives the words back.
	words := []string{"plain", "with space", `q"uote`, `back\slash`, "", ";", "tab\there", "new\nline", "it's"}
	var q []string
	for _, w := range words {
		q = append(q, Quote(w, false))
	}
	got, err := SplitWords(strings.Join(q, " "))
	if err != nil || !slices.Equal(got, words) {
		t.Errorf("round trip: %q → %q → %q, %v", words, q, got, err)
	}
	if got := Quote("100% $HOME", true); got != `"100%% $$HOME"` {
		t.Errorf("literal Quote: %s", got)
	}
	if got := Quote("%h/x", false); got != "%h/x" {
		t.Errorf("Quote keeps specifiers: %s", got)
	}
}

func TestCommand(t *testing.T) {
	c := NewCommand(true, "/usr/bin/skiff", "run", "-d").Group("--name", "a b").Group("img")
	c.Prefix = "-"
	want := "-/usr/bin/skiff run -d \\\n\t--name \"a b\" \\\n\timg"
	if c.String() != want {
		t.Errorf("got %q, want %q", c.String(), want)
	}
	// Parse reads the continuation lines back as one command.
	u, err := Parse(strings.NewReader("[Service]\nExecStart=" + c.String() + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	words, _ := SplitWords(strings.TrimPrefix(last(u.Lookup("Service"), "ExecStart"), "-"))
	if !slices.Equal(words, []string{"/usr/bin/skiff", "run", "-d", "--name", "a b", "img"}) {
		t.Errorf("read back %q", words)
	}
}
