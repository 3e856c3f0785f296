package build

import (
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

func testStage() *stage {
	s := &stage{args: map[string]string{"ARGONLY": "arg", "BOTH": "from-arg"}}
	s.cfg.Config.Env = []string{"SET=value", "EMPTY=", "BOTH=from-env"}
	return s
}

func TestExpand(t *testing.T) {
	b := &builder{lex: shell.NewLex('\\')}
	for _, tt := range []struct{ word, want string }{
		{"$SET", "value"},
		{"${SET}-x", "value-x"},
		{"${SET:-d} ${UNSET:-d} ${EMPTY:-d}", "value d d"},
		{"${SET:+alt} [${UNSET:+alt}] [${EMPTY:+alt}]", "alt [] []"},
		{"'single $SET'", "single $SET"},
		{`"double $SET"`, "double value"},
		{`\$SET`, "$SET"},
		{"$ARGONLY $BOTH", "arg from-env"},
	} {
		t.Run(tt.word, func(t *testing.T) {
			if got, err := b.expand(testStage(), tt.word); err != nil || got != tt.want {
				t.Fatalf("expand(%q) = %q, %v; want %q", tt.word, got, err, tt.want)
			}
		})
	}
}

// TestEnvExpandsWithValuesBefore: ENV X=c Y=$X sets Y to the X of before
// the instruction, as Docker does.
func TestEnvExpandsWithValuesBefore(t *testing.T) {
	b := &builder{lex: shell.NewLex('\\')}
	s := &stage{args: map[string]string{}}
	for _, line := range []string{"ENV X=b", "ENV X=c Y=$X Z=\"$X y\""} {
		res, err := parser.Parse(strings.NewReader("FROM x\n" + line + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		cmd, err := instructions.ParseCommand(res.AST.Children[1])
		if err != nil {
			t.Fatal(err)
		}
		if err := b.expandCommand(s, cmd); err != nil {
			t.Fatal(err)
		}
		if err := b.configure(s, cmd); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"X=c", "Y=b", "Z=b y"}; !reflect.DeepEqual(s.cfg.Config.Env, want) {
		t.Fatalf("Env = %q, want %q", s.cfg.Config.Env, want)
	}
}

func TestDestPath(t *testing.T) {
	for _, tt := range []struct{ workdir, dest, want string }{
		{"/app", ".", "/app/"},
		{"/app", "./", "/app/"},
		{"/app", "sub/", "/app/sub/"},
		{"/app", "file", "/app/file"},
		{"", "file", "/file"},
		{"/app", "/abs", "/abs"},
		{"/app", "/abs/.", "/abs/"},
		{"/", ".", "/"},
	} {
		if got := destPath(tt.workdir, tt.dest); got != tt.want {
			t.Errorf("destPath(%q, %q) = %q, want %q", tt.workdir, tt.dest, got, tt.want)
		}
	}
}

func TestPortRange(t *testing.T) {
	for _, tt := range []struct {
		spec string
		want []string
	}{
		{"80", []string{"80/tcp"}},
		{"53/UDP", []string{"53/udp"}},
		{"8000-8002", []string{"8000/tcp", "8001/tcp", "8002/tcp"}},
	} {
		if got, err := portRange(tt.spec); err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("portRange(%q) = %q, %v; want %q", tt.spec, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "x", "90-80", "80/icmp", "70000"} {
		if _, err := portRange(bad); err == nil {
			t.Errorf("portRange(%q) accepted", bad)
		}
	}
}

func TestWithShell(t *testing.T) {
	shellForm := instructions.ShellDependantCmdLine{CmdLine: []string{"echo hi"}, PrependShell: true}
	if got := withShell(nil, shellForm); !reflect.DeepEqual(got, []string{"/bin/sh", "-c", "echo hi"}) {
		t.Errorf("default shell: %q", got)
	}
	if got := withShell([]string{"/bin/bash", "-ec"}, shellForm); !reflect.DeepEqual(got, []string{"/bin/bash", "-ec", "echo hi"}) {
		t.Errorf("SHELL: %q", got)
	}
	exec := instructions.ShellDependantCmdLine{CmdLine: []string{"a", "b"}}
	if got := withShell([]string{"/bin/bash", "-c"}, exec); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("exec form: %q", got)
	}
}

// FuzzDockerfile: the front end (buildkit's parser and instruction
// reader, then skiff's expansion and config instructions, stage names and
// heredocs) never panics on any Dockerfile.
func FuzzDockerfile(f *testing.F) {
	for _, s := range []string{
		"FROM busybox AS base\nRUN echo hi\nCOPY --from=base /a /b\n",
		"FROM x\nENV A=1 B=\"two words\" C=${A:-d}\nLABEL a=b\n",
		"FROM x\nRUN <<EOF\necho hi\nEOF\nCOPY <<-EOT /f\n\thello\nEOT\n",
		"ARG V=1\nFROM x:$V\nRUN --mount=type=cache,target=/c true\n",
		"# syntax=docker/dockerfile:1\nFROM scratch\nEXPOSE 80 90-91/udp\nHEALTHCHECK CMD true\n",
		"# escape=`\nFROM x\nENV A=C:\\x B=`$y\n",
		"FROM\n\\\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		res, err := parser.Parse(strings.NewReader(s))
		if err != nil {
			return
		}
		b := &builder{lex: shell.NewLex(res.EscapeToken), escape: res.EscapeToken}
		st := &stage{args: map[string]string{"A": "1"}, cfg: v1.ConfigFile{}}
		for _, n := range res.AST.Children {
			_ = stageName(n)
			for _, w := range words(n) {
				if h := heredocSource(n, w); h != nil {
					_ = heredocBody(h)
				}
			}
			cmd, err := instructions.ParseCommand(n)
			if err != nil {
				continue
			}
			if b.expandCommand(st, cmd) != nil {
				continue
			}
			switch cmd.(type) {
			case *instructions.RunCommand, *instructions.CopyCommand, *instructions.AddCommand, *instructions.WorkdirCommand:
			case *instructions.ArgCommand:
				_ = b.stageArg(st, cmd.(*instructions.ArgCommand))
			default:
				_ = b.configure(st, cmd)
			}
		}
	})
}
