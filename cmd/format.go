package cmd

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"text/tabwriter"
	"text/template"
	"text/template/parse"

	units "github.com/docker/go-units"

	"github.com/skiff-project/skiff/errdefs"
)

// templateFuncs are the helpers Docker's --format templates offer.
var templateFuncs = template.FuncMap{
	"json": func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	},
	"join":  strings.Join,
	"split": strings.Split,
	"upper": strings.ToUpper,
	"lower": strings.ToLower,
	"title": strings.Title, //nolint:staticcheck // Docker's templates use it
	"truncate": func(s string, n int) string {
		if len(s) > n {
			return s[:n]
		}
		return s
	},
	"pad":     func(s string, l, r int) string { return strings.Repeat(" ", l) + s + strings.Repeat(" ", r) },
	"println": fmt.Sprintln,
	// index like text/template's, but an absent map (null in JSON) gives
	// an empty value instead of an error, as Docker's templates do.
	"index": func(m any, keys ...any) any {
		for _, k := range keys {
			switch mm := m.(type) {
			case map[string]any:
				m = mm[fmt.Sprint(k)]
			case map[string]string:
				m = mm[fmt.Sprint(k)]
			case []any:
				i, ok := k.(int)
				if !ok || i < 0 || i >= len(mm) {
					return nil
				}
				m = mm[i]
			default:
				return nil
			}
		}
		return m
	},
}

// unescapeFormat turns a typed \t or \n into a tab or newline, as docker/cli
// does for --format 'table {{.A}}\t{{.B}}'.
var unescapeFormat = strings.NewReplacer(`\t`, "\t", `\n`, "\n")

// parseTemplate parses a Go template with Docker's helpers; a bad one is
// an invalid argument.
func parseTemplate(format string) (*template.Template, error) {
	t, err := template.New("format").Funcs(templateFuncs).Parse(unescapeFormat.Replace(format))
	if err != nil {
		return nil, errdefs.Invalid("invalid --format template %q: %v", format, err)
	}
	return t, nil
}

// listFormat prints rows for list commands (images, ps): the default
// table, "table TEMPLATE", "json" (one object per line) or a template.
type listFormat struct {
	format   string
	header   map[string]string // field -> column title
	defTable string            // default table template
}

func (lf listFormat) write(w io.Writer, rows []any) error {
	// Buffered: a table of many rows is one write, not a few per cell.
	bw := bufio.NewWriterSize(w, 64<<10)
	err := lf.writeRows(bw, rows)
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	return err
}

func (lf listFormat) writeRows(w io.Writer, rows []any) error {
	f := lf.format
	switch {
	case f == "json":
		for _, r := range rows {
			b, err := json.Marshal(r)
			if err != nil {
				return err
			}
			fmt.Fprintln(w, string(b))
		}
		return nil
	case f == "" || f == "table":
		f = "table " + lf.defTable
	}
	table := strings.HasPrefix(f, "table")
	if table {
		f = strings.TrimSpace(strings.TrimPrefix(f, "table"))
	}
	t, err := parseTemplate(f)
	if err != nil {
		return err
	}
	out := w
	var tw *tabwriter.Writer
	if table {
		tw = tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
		out = tw
		var hb bytes.Buffer
		ht, err := parseTemplate(f)
		if err != nil {
			return err
		}
		// A header the template cannot make (a method call such as
		// {{.Label "k"}}) is left out; the rows still print, as in docker/cli.
		if err := ht.Execute(&hb, lf.header); err == nil {
			fmt.Fprintln(out, hb.String())
		}
	}
	var plan fieldPlan
	if len(rows) > 0 {
		plan = planFields(t, reflect.TypeOf(rows[0]))
	}
	var b bytes.Buffer
	for _, r := range rows {
		b.Reset()
		if !plan.write(&b, r) {
			if err := t.Execute(&b, r); err != nil {
				return errdefs.Invalid("invalid --format template %q: %v", lf.format, err)
			}
		}
		b.WriteByte('\n')
		if _, err := out.Write(b.Bytes()); err != nil {
			return err
		}
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

// fieldPlan is a template made only of text and {{.Field}}s of string
// fields of one struct type, as the default tables are: written without
// text/template's walk and reflection by name on every row, which cost
// more than the rest of `ps -a` with hundreds of rows. Its output is
// Execute's.
type fieldPlan struct {
	typ   reflect.Type
	parts []planPart
}

// planPart is a piece of text, or the field of that index when index >= 0.
type planPart struct {
	text  string
	index int
}

// planFields is t's plan for rows of type typ; nil parts when t is more
// than that.
func planFields(t *template.Template, typ reflect.Type) fieldPlan {
	if t.Tree == nil || typ == nil || typ.Kind() != reflect.Struct {
		return fieldPlan{}
	}
	p := fieldPlan{typ: typ}
	for _, n := range t.Tree.Root.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
			p.parts = append(p.parts, planPart{text: string(n.Text), index: -1})
		case *parse.ActionNode:
			f, ok := stringField(n, typ)
			if !ok {
				return fieldPlan{}
			}
			p.parts = append(p.parts, planPart{index: f})
		default:
			return fieldPlan{}
		}
	}
	return p
}

// stringField is the index of the exported string field that the action
// {{.Name}} prints.
func stringField(n *parse.ActionNode, typ reflect.Type) (int, bool) {
	if len(n.Pipe.Decl) > 0 || len(n.Pipe.Cmds) != 1 || len(n.Pipe.Cmds[0].Args) != 1 {
		return 0, false
	}
	fn, ok := n.Pipe.Cmds[0].Args[0].(*parse.FieldNode)
	if !ok || len(fn.Ident) != 1 {
		return 0, false
	}
	f, ok := typ.FieldByName(fn.Ident[0])
	if !ok || !f.IsExported() || len(f.Index) != 1 || f.Type != reflect.TypeFor[string]() {
		return 0, false
	}
	return f.Index[0], true
}

// write writes row r by the plan; false when it has none for r.
func (p fieldPlan) write(b *bytes.Buffer, r any) bool {
	if p.parts == nil || reflect.TypeOf(r) != p.typ {
		return false
	}
	v := reflect.ValueOf(r)
	for _, part := range p.parts {
		if part.index < 0 {
			b.WriteString(part.text)
		} else {
			b.WriteString(v.Field(part.index).String())
		}
	}
	return true
}

// writeInspect prints values as Docker's inspect does: a JSON array, or
// one template result per value.
func writeInspect(w io.Writer, values []any, format string) error {
	if format == "" || format == "json" {
		b, err := json.MarshalIndent(values, "", "    ")
		if err != nil {
			return err
		}
		fmt.Fprintln(w, string(b))
		return nil
	}
	t, err := parseTemplate(format)
	if err != nil {
		return err
	}
	for _, v := range values {
		// As docker/cli does: the typed value first, so a field Docker's
		// JSON leaves out when empty prints its zero value ([] for a nil
		// list, "" for a string), not <no value>; where that fails (a name
		// that is Docker's JSON name, not the Go field's, such as .Id), the
		// JSON document as maps.
		var buf bytes.Buffer
		if err := t.Execute(&buf, v); err != nil {
			buf.Reset()
			if err := t.Execute(&buf, jsonGeneric(v)); err != nil {
				return errdefs.Invalid("invalid --format template %q: %v", format, err)
			}
		}
		fmt.Fprintln(w, buf.String())
	}
	return nil
}

// jsonGeneric is v as maps, lists and values, as it reads in JSON;
// whole numbers stay integers (134217728, not 1.34217728e+08).
func jsonGeneric(v any) any {
	var generic any
	b, _ := json.Marshal(v)
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	_ = d.Decode(&generic)
	return numbers(generic)
}

func numbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = numbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = numbers(e)
		}
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	}
	return v
}

// headerFor builds the column-title map from a row struct's field names.
func headerFor(row any, titles map[string]string) map[string]string {
	h := map[string]string{}
	rt := reflect.TypeOf(row)
	for i := 0; i < rt.NumField(); i++ {
		n := rt.Field(i).Name
		if t, ok := titles[n]; ok {
			h[n] = t
		} else {
			h[n] = strings.ToUpper(n)
		}
	}
	return h
}

// joinLabels is a label map as Docker's list columns show it: k=v,k=v.
func joinLabels(labels map[string]string) string {
	var ls []string
	for k, v := range labels {
		ls = append(ls, k+"="+v)
	}
	sort.Strings(ls)
	return strings.Join(ls, ",")
}

// printList prints a prune's heading and names, with a blank line after
// them when blank is set; nothing when there are none.
func printList(w io.Writer, heading string, names []string, blank bool) {
	if len(names) == 0 {
		return
	}
	fmt.Fprintln(w, heading)
	for _, n := range names {
		fmt.Fprintln(w, n)
	}
	if blank {
		fmt.Fprintln(w)
	}
}

func humanBytes(n int64) string { return units.HumanSizeWithPrecision(float64(n), 3) }

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// plural is word, with an s unless n is 1.
func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
