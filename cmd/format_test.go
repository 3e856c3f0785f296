package cmd

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/skiff-project/skiff/errdefs"
)

func testRows() []any {
	return []any{
		psRow{ID: "aaaaaaaaaaaa", Names: "web", Status: "Up 5 minutes", labels: map[string]string{"app": "shop"}},
		psRow{ID: "bbbbbbbbbbbb", Names: "database", Status: "Exited (0) 1 hour ago"},
	}
}

func testListFormat(format string) listFormat {
	return listFormat{
		format:   format,
		defTable: "{{.ID}}\t{{.Names}}",
		header:   headerFor(psRow{}, map[string]string{"ID": "CONTAINER ID"}),
	}
}

func TestListFormatWrite(t *testing.T) {
	tests := []struct {
		format  string
		rows    []any
		want    string
		wantErr bool
	}{
		{format: "", rows: testRows(), want: "CONTAINER ID   NAMES\naaaaaaaaaaaa   web\nbbbbbbbbbbbb   database\n"},
		{format: "table", rows: testRows(), want: "CONTAINER ID   NAMES\naaaaaaaaaaaa   web\nbbbbbbbbbbbb   database\n"},
		{format: "", rows: nil, want: "CONTAINER ID   NAMES\n"},
		{format: "table {{.Names}}\t{{.Status}}", rows: testRows(), want: "NAMES      STATUS\nweb        Up 5 minutes\ndatabase   Exited (0) 1 hour ago\n"},
		{format: "table {{.Names}}", rows: nil, want: "NAMES\n"},
		{format: "{{.Names}}", rows: testRows(), want: "web\ndatabase\n"},
		{format: "{{.Names}}:{{.Status}}", rows: testRows(), want: "web:Up 5 minutes\ndatabase:Exited (0) 1 hour ago\n"},
		{format: "{{.Names}}", rows: nil, want: ""},
		{format: `{{.Label "app"}}`, rows: testRows(), want: "shop\n\n"},
		{format: "{{upper .Names}} {{lower .Status}}", rows: testRows()[:1], want: "WEB up 5 minutes\n"},
		{format: "{{truncate .ID 4}}|{{join (split .Status \" \") \"_\"}}", rows: testRows()[:1], want: "aaaa|Up_5_minutes\n"},
		{format: "{{json .Names}}", rows: testRows()[:1], want: "\"web\"\n"},
		{format: "{{.Names", rows: testRows(), wantErr: true},
		{format: "{{.Bogus}}", rows: testRows(), wantErr: true},
		{format: "table {{.Bogus}}", rows: testRows(), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			var b bytes.Buffer
			err := testListFormat(tt.format).write(&b, tt.rows)
			if tt.wantErr {
				if !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("err = %v, want an invalid argument", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if b.String() != tt.want {
				t.Errorf("output:\n%q\nwant:\n%q", b.String(), tt.want)
			}
		})
	}
}

func TestListFormatJSON(t *testing.T) {
	var b bytes.Buffer
	if err := testListFormat("json").write(&b, testRows()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want one JSON object per row:\n%s", len(lines), b.String())
	}
	for i, want := range []string{"web", "database"} {
		var m map[string]any
		if err := json.Unmarshal([]byte(lines[i]), &m); err != nil {
			t.Fatalf("line %d %q: %v", i, lines[i], err)
		}
		if m["Names"] != want {
			t.Errorf("line %d Names = %v, want %s", i, m["Names"], want)
		}
		if _, ok := m["labels"]; ok {
			t.Errorf("line %d leaks the unexported labels field", i)
		}
		if _, ok := m["Status"]; !ok {
			t.Errorf("line %d has no Status: %s", i, lines[i])
		}
	}
	b.Reset()
	if err := testListFormat("json").write(&b, nil); err != nil || b.Len() != 0 {
		t.Errorf("json with no rows = %q, %v; want nothing", b.String(), err)
	}
}

// docker/cli turns a typed \t and \n in --format (as in
// --format 'table {{.ID}}\t{{.Names}}' in single quotes) into a tab and a
// newline.
func TestListFormatEscapes(t *testing.T) {
	var b bytes.Buffer
	if err := testListFormat(`table {{.Names}}\t{{.ID}}`).write(&b, testRows()[:1]); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), `\t`) {
		t.Fatalf(`a literal \t in --format is printed as is (%q); docker/cli makes it a tab, and 'table {{.A}}\t{{.B}}' in single quotes is the usual way to write it`, b.String())
	}
	// tabwriter as docker/cli sets it up: cells at least 10 wide, 3 apart.
	if want := "NAMES     CONTAINER ID\nweb       aaaaaaaaaaaa\n"; b.String() != want {
		t.Errorf("output %q, want %q", b.String(), want)
	}
}

// docker/cli ignores errors of the header template, so a table with
// {{.Label "key"}} prints its rows; the header cannot call Label.
func TestListFormatTableWithLabel(t *testing.T) {
	var b bytes.Buffer
	err := testListFormat("table {{.Names}}\t{{.Label \"app\"}}").write(&b, testRows()[:1])
	if err != nil {
		t.Fatalf(`--format 'table {{.Names}}\t{{.Label "app"}}' fails (%v): the header template cannot call Label on the header map; docker/cli prints the rows`, err)
	}
	if !strings.Contains(b.String(), "shop") {
		t.Errorf("output %q misses the label value", b.String())
	}
}

func TestHeaderFor(t *testing.T) {
	h := headerFor(psRow{}, map[string]string{"ID": "CONTAINER ID", "RunningFor": "CREATED"})
	tests := map[string]string{"ID": "CONTAINER ID", "RunningFor": "CREATED", "Names": "NAMES", "Status": "STATUS", "LocalVolumes": "LOCALVOLUMES"}
	for field, want := range tests {
		t.Run(field, func(t *testing.T) {
			if h[field] != want {
				t.Errorf("header[%s] = %q, want %q", field, h[field], want)
			}
		})
	}
}

type inspectValue struct {
	ID      string            `json:"Id"`
	Name    string            `json:"Name"`
	Labels  map[string]string `json:"Labels"`
	OnBuild []string          `json:"OnBuild,omitempty"`
	State   struct {
		Status   string `json:"Status"`
		ExitCode int    `json:"ExitCode"`
	} `json:"State"`
}

func TestWriteInspect(t *testing.T) {
	a := inspectValue{ID: "abc", Name: "web", Labels: map[string]string{"com.example.tier": "front"}}
	a.State.Status = "running"
	b := inspectValue{ID: "def", Name: "db"}
	b.State.Status, b.State.ExitCode = "exited", 3
	values := []any{a, b}
	tests := []struct {
		format  string
		values  []any // default: a and b
		want    string
		wantErr bool
	}{
		{format: "{{.Name}}", want: "web\ndb\n"},
		{format: "{{.State.Status}} {{.State.ExitCode}}", want: "running 0\nexited 3\n"},
		{format: "{{.Id}}", want: "abc\ndef\n"},
		{format: `{{index .Labels "com.example.tier"}}`, values: []any{a}, want: "front\n"},
		// As docker/cli: the typed value first, its fields in their order.
		{format: "{{json .State}}", want: "{\"Status\":\"running\",\"ExitCode\":0}\n{\"Status\":\"exited\",\"ExitCode\":3}\n"},
		// A field the JSON leaves out when empty prints its zero value.
		{format: "{{.OnBuild}}", want: "[]\n[]\n"},
		{format: "{{.Name", wantErr: true},
		{format: "{{.Name.Bogus.Deeper}}", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			vs := values
			if tt.values != nil {
				vs = tt.values
			}
			var out bytes.Buffer
			err := writeInspect(&out, vs, tt.format)
			if tt.wantErr {
				if !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("err = %v, want an invalid argument", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if out.String() != tt.want {
				t.Errorf("output %q, want %q", out.String(), tt.want)
			}
		})
	}

	for _, format := range []string{"", "json"} {
		t.Run("array "+format, func(t *testing.T) {
			var out bytes.Buffer
			if err := writeInspect(&out, values, format); err != nil {
				t.Fatal(err)
			}
			var got []inspectValue
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("output is not a JSON array: %v\n%s", err, out.String())
			}
			if len(got) != 2 || got[0].Name != "web" || got[1].State.ExitCode != 3 {
				t.Errorf("decoded %+v", got)
			}
			if !strings.HasPrefix(out.String(), "[\n    {") {
				t.Errorf("output is not indented with four spaces as Docker's:\n%s", out.String())
			}
		})
	}
}

// docker inspect --format '{{index .Config.Labels "key"}}' prints an empty
// line for an object without labels; it is the usual way to read a label.
func TestWriteInspectIndexNoLabels(t *testing.T) {
	var out bytes.Buffer
	err := writeInspect(&out, []any{inspectValue{ID: "def", Name: "db"}}, `{{index .Labels "com.example.tier"}}`)
	if err != nil {
		t.Fatalf("index on an object without labels fails (%v): writeInspect goes through JSON, where nil Labels is null; Docker prints an empty value", err)
	}
	if s := strings.TrimSpace(out.String()); s != "" && s != "<no value>" {
		t.Errorf("output %q, want an empty value", out.String())
	}
}

// testShout is a string type the template prints by its String method.
type testShout string

func (s testShout) String() string { return strings.ToUpper(string(s)) }

// Templates of only text and string fields are written by a plan, not by
// text/template: the same output, and others are left to the template.
func TestFieldPlan(t *testing.T) {
	type row struct {
		A, B   string
		N      int
		Named  testShout
		hidden string
	}
	r := row{A: "a\t<&>", B: "", N: 7, Named: "n", hidden: "h"}
	for format, planned := range map[string]bool{
		"{{.A}}\t{{.B}}|x":     true,
		"{{.A}}":               true,
		"text only":            true,
		"{{.N}}":               false, // an int: the template prints it
		"{{.Named}}":           false,
		"{{.hidden}}":          false,
		"{{.A | upper}}":       false,
		"{{if .A}}y{{end}}":    false,
		"{{$x := .A}}{{$x}}":   false,
		"{{json .A}}":          false,
		"{{.Missing}}":         false,
		"{{.A}}{{/* c */}}":    true, // comments are dropped by the parser
		"{{printf \"%s\" .A}}": false,
	} {
		tmpl, err := parseTemplate(format)
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		p := planFields(tmpl, reflect.TypeOf(r))
		var got bytes.Buffer
		if ok := p.write(&got, r); ok != planned {
			t.Errorf("%s: planned %v, want %v", format, ok, planned)
			continue
		}
		var want bytes.Buffer
		if err := tmpl.Execute(&want, r); planned && (err != nil || got.String() != want.String()) {
			t.Errorf("%s: plan wrote %q, the template %q (%v)", format, got.String(), want.String(), err)
		}
		if p.write(&got, &r) {
			t.Errorf("%s: planned for a row of another type", format)
		}
	}
}
