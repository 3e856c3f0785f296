package build

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/runtime"
)

// exec runs one instruction of a stage: buildkit reads it (flags,
// key=value pairs, heredocs), its words are expanded as Docker expands
// them, then RUN, COPY, ADD and WORKDIR change the files and the rest
// the image config.
func (b *builder) exec(s *stage, n *parser.Node) error {
	cmd, err := instructions.ParseCommand(n)
	if err != nil {
		return errdefs.Invalid("%v", err)
	}
	if err := b.expandCommand(s, cmd); err != nil {
		return err
	}
	switch cmd := cmd.(type) {
	case *instructions.RunCommand:
		return b.runStep(s, n)
	case *instructions.CopyCommand:
		return b.copy(s, n, copySpec{SourcesAndDest: cmd.SourcesAndDest, from: cmd.From, chown: cmd.Chown, chmod: cmd.Chmod,
			excludes: cmd.ExcludePatterns, parents: cmd.Parents})
	case *instructions.AddCommand:
		if cmd.KeepGitDir != nil {
			return errdefs.Invalid("ADD --keep-git-dir: skiff's ADD takes no git sources")
		}
		return b.copy(s, n, copySpec{SourcesAndDest: cmd.SourcesAndDest, add: true, chown: cmd.Chown, chmod: cmd.Chmod,
			checksum: cmd.Checksum, excludes: cmd.ExcludePatterns, unpack: cmd.Unpack})
	case *instructions.WorkdirCommand:
		return b.workdir(s, n, cmd.Path)
	case *instructions.ArgCommand:
		if err := b.stageArg(s, cmd); err != nil {
			return err
		}
	default:
		if err := b.configure(s, cmd); err != nil {
			return err
		}
	}
	s.cfg.History = append(s.cfg.History, v1.History{Created: v1.Time{Time: time.Now().UTC()}, CreatedBy: "/bin/sh -c #(nop) " + strings.TrimSpace(n.Original), EmptyLayer: true})
	s.chain += "\n" + strings.TrimSpace(n.Original) + "\x00" + argsKey(s.args)
	return nil
}

// configure applies an instruction that changes only the image config.
func (b *builder) configure(s *stage, cmd instructions.Command) error {
	c := &s.cfg.Config
	switch cmd := cmd.(type) {
	case *instructions.EnvCommand:
		for _, kv := range cmd.Env {
			c.Env = setEnv(c.Env, kv.Key+"="+kv.Value)
		}
	case *instructions.LabelCommand:
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		for _, kv := range cmd.Labels {
			c.Labels[kv.Key] = kv.Value
		}
	case *instructions.UserCommand:
		c.User = cmd.User
	case *instructions.CmdCommand:
		c.Cmd = withShell(c.Shell, cmd.ShellDependantCmdLine)
		s.cmdSet = true
	case *instructions.EntrypointCommand:
		c.Entrypoint = withShell(c.Shell, cmd.ShellDependantCmdLine)
		if !s.cmdSet {
			c.Cmd = nil // a new ENTRYPOINT drops the base image's CMD
		}
	case *instructions.ExposeCommand:
		return b.expose(s, cmd.Ports)
	case *instructions.VolumeCommand:
		if c.Volumes == nil {
			c.Volumes = map[string]struct{}{}
		}
		for _, v := range cmd.Volumes {
			if v == "" {
				return errdefs.Invalid("VOLUME specified can not be an empty string")
			}
			c.Volumes[v] = struct{}{}
		}
	case *instructions.StopSignalCommand:
		if _, err := runtime.ParseSignal(cmd.Signal); err != nil {
			return err
		}
		c.StopSignal = cmd.Signal
	case *instructions.ShellCommand:
		c.Shell = cmd.Shell
	case *instructions.MaintainerCommand:
		s.cfg.Author = cmd.Maintainer
	case *instructions.HealthCheckCommand:
		h := cmd.Health
		if h.StartInterval != 0 {
			return errdefs.Invalid("HEALTHCHECK --start-interval: skiff's image config cannot hold it yet; leave it out")
		}
		c.Healthcheck = &v1.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
	case *instructions.OnbuildCommand:
		c.OnBuild = append(c.OnBuild, cmd.Expression)
	default:
		return errdefs.Invalid("unknown instruction %s", strings.ToUpper(cmd.Name()))
	}
	return nil
}

// withShell is a CMD's or ENTRYPOINT's exec form, or its shell form run
// by the stage's SHELL (/bin/sh -c by default), as Docker stores them.
func withShell(shell []string, cl instructions.ShellDependantCmdLine) []string {
	if !cl.PrependShell {
		return cl.CmdLine
	}
	if len(shell) == 0 {
		shell = []string{"/bin/sh", "-c"}
	}
	return append(append([]string(nil), shell...), strings.Join(cl.CmdLine, " "))
}

// expose adds EXPOSE's ports: each word expanded and split as the shell
// would, a range giving every port in it, the protocol tcp by default.
func (b *builder) expose(s *stage, ports []string) error {
	c := &s.cfg.Config
	if c.ExposedPorts == nil {
		c.ExposedPorts = map[string]struct{}{}
	}
	for _, p := range ports {
		words, err := b.lex.ProcessWords(p, s.vars())
		if err != nil {
			return errdefs.Invalid("EXPOSE %s: %v", p, err)
		}
		for _, w := range words {
			list, err := portRange(w)
			if err != nil {
				return err
			}
			for _, q := range list {
				c.ExposedPorts[q] = struct{}{}
			}
		}
	}
	return nil
}

// portRange reads PORT[-END][/PROTO] into "PORT/proto" entries.
func portRange(spec string) ([]string, error) {
	ports, proto, _ := strings.Cut(spec, "/")
	proto = strings.ToLower(firstNonEmpty(proto, "tcp"))
	if proto != "tcp" && proto != "udp" && proto != "sctp" {
		return nil, errdefs.Invalid("EXPOSE %s: invalid protocol %q (want tcp, udp or sctp)", spec, proto)
	}
	lo, hi, isRange := strings.Cut(ports, "-")
	if !isRange {
		hi = lo
	}
	start, err1 := strconv.ParseUint(lo, 10, 16)
	end, err2 := strconv.ParseUint(hi, 10, 16)
	if err1 != nil || err2 != nil || end < start {
		return nil, errdefs.Invalid("EXPOSE %s: invalid port (want PORT, PORT/PROTO or START-END/PROTO)", spec)
	}
	var out []string
	for p := start; p <= end; p++ {
		out = append(out, fmt.Sprintf("%d/%s", p, proto))
	}
	return out, nil
}
