package cmd

// The flags of `service create` and `service update`, and their
// translation into Docker's swarm.ServiceSpec, as docker/cli does it:
// create builds a spec from nothing, update changes only what its flags
// name in the spec the service has.

import (
	"encoding/csv"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"
	ctypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

// flagValues is what reading the flags needs of a *cli.Context.
type flagValues interface {
	IsSet(name string) bool
	String(name string) string
	StringSlice(name string) []string
	Bool(name string) bool
	Duration(name string) time.Duration
	Float64(name string) float64
}

// serviceFlags are the flags create and update share (docker/cli's
// addServiceFlags).
func serviceFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "exit at once instead of waiting for the service to converge"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "suppress progress output"},
		&cli.StringFlag{Name: "replicas", Usage: "number of tasks"},
		&cli.StringFlag{Name: "workdir", Aliases: []string{"w"}, Usage: "working directory inside the container"},
		&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "username or UID (format: <name|uid>[:<group|gid>])"},
		&cli.StringFlag{Name: "hostname", Usage: "container hostname"},
		&cli.StringFlag{Name: "entrypoint", Usage: "overwrite the image's ENTRYPOINT (split as a shell would)"},
		&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-TTY"},
		&cli.BoolFlag{Name: "init", Usage: "run an init inside each task that forwards signals and reaps processes"},
		&cli.BoolFlag{Name: "read-only", Usage: "mount the container's root filesystem read-only"},
		&cli.DurationFlag{Name: "stop-grace-period", Usage: "time to wait before force killing a container", DefaultText: "10s"},
		&cli.StringFlag{Name: "stop-signal", Usage: "signal to stop the container"},
		&cli.StringSliceFlag{Name: "cap-add", Usage: "add Linux capabilities"},
		&cli.StringSliceFlag{Name: "cap-drop", Usage: "drop Linux capabilities"},
		&cli.StringFlag{Name: "limit-cpu", Usage: "limit CPUs (e.g. 0.5)"},
		&cli.StringFlag{Name: "limit-memory", Usage: "limit memory (e.g. 64m)"},
		&cli.StringFlag{Name: "limit-pids", Usage: "limit the number of processes (0: unlimited)"},
		&cli.StringFlag{Name: "reserve-cpu", Usage: "reserve CPUs"},
		&cli.StringFlag{Name: "reserve-memory", Usage: "reserve memory"},
		&cli.StringFlag{Name: "health-cmd", Usage: "command to run to check health"},
		&cli.DurationFlag{Name: "health-interval", Usage: "time between running the check (ms|s|m|h)", DefaultText: "30s"},
		&cli.DurationFlag{Name: "health-timeout", Usage: "maximum time to allow one check to run (ms|s|m|h)", DefaultText: "30s"},
		&cli.StringFlag{Name: "health-retries", Usage: "consecutive failures needed to report unhealthy", DefaultText: "3"},
		&cli.DurationFlag{Name: "health-start-period", Usage: "start period for the container to initialize before counting retries (ms|s|m|h)"},
		&cli.BoolFlag{Name: "no-healthcheck", Usage: "disable any container-specified HEALTHCHECK"},
		&cli.StringFlag{Name: "restart-condition", Usage: `restart when condition is met ("none", "on-failure", "any")`, DefaultText: "any"},
		&cli.DurationFlag{Name: "restart-delay", Usage: "delay between restart attempts (ns|us|ms|s|m|h)", DefaultText: "5s"},
		&cli.StringFlag{Name: "restart-max-attempts", Usage: "maximum number of restarts before giving up"},
		&cli.DurationFlag{Name: "restart-window", Usage: "window used to evaluate the restart policy (ns|us|ms|s|m|h)"},
		&cli.StringFlag{Name: "update-parallelism", Usage: "maximum number of tasks updated simultaneously (0 to update all at once)", DefaultText: "1"},
		&cli.DurationFlag{Name: "update-delay", Usage: "delay between updates (ns|us|ms|s|m|h)", DefaultText: "0s"},
		&cli.DurationFlag{Name: "update-monitor", Usage: "duration after each task update to monitor for failure (ns|us|ms|s|m|h)", DefaultText: "5s"},
		&cli.StringFlag{Name: "update-failure-action", Usage: `action on update failure ("pause", "continue", "rollback")`, DefaultText: "pause"},
		&cli.Float64Flag{Name: "update-max-failure-ratio", Usage: "failure rate to tolerate during an update"},
		&cli.StringFlag{Name: "update-order", Usage: `update order ("start-first", "stop-first")`, DefaultText: "stop-first"},
		&cli.StringFlag{Name: "rollback-parallelism", Usage: "maximum number of tasks rolled back simultaneously (0 to roll back all at once)", DefaultText: "1"},
		&cli.DurationFlag{Name: "rollback-delay", Usage: "delay between task rollbacks (ns|us|ms|s|m|h)", DefaultText: "0s"},
		&cli.DurationFlag{Name: "rollback-monitor", Usage: "duration after each task rollback to monitor for failure (ns|us|ms|s|m|h)", DefaultText: "5s"},
		&cli.StringFlag{Name: "rollback-failure-action", Usage: `action on rollback failure ("pause", "continue")`, DefaultText: "pause"},
		&cli.Float64Flag{Name: "rollback-max-failure-ratio", Usage: "failure rate to tolerate during a rollback"},
		&cli.StringFlag{Name: "rollback-order", Usage: `rollback order ("start-first", "stop-first")`, DefaultText: "stop-first"},
		&cli.StringFlag{Name: "endpoint-mode", Usage: `endpoint mode ("vip" or "dnsrr")`},
		&cli.BoolFlag{Name: "with-registry-auth", Usage: "accepted for compatibility (credentials come from skiff login)"},
		&cli.BoolFlag{Name: "no-resolve-image", Usage: "accepted for compatibility"},
	}
}

// serviceCreateFlags are `service create`'s.
func serviceCreateFlags() []cli.Flag {
	return append(serviceFlags(),
		&cli.StringFlag{Name: "name", Usage: "service name"},
		&cli.StringFlag{Name: "mode", Value: "replicated", Usage: `service mode ("replicated" or "global")`},
		&cli.StringSliceFlag{Name: "label", Aliases: []string{"l"}, Usage: "service labels KEY=VALUE"},
		&cli.StringSliceFlag{Name: "container-label", Usage: "container labels KEY=VALUE"},
		&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set environment variables KEY=VALUE (KEY alone copies it from here)"},
		&cli.StringSliceFlag{Name: "env-file", Usage: "read in a file of environment variables"},
		&cli.StringSliceFlag{Name: "mount", Usage: "attach a filesystem mount: type=bind|volume|tmpfs,source=…,target=/ctr[,readonly]"},
		&cli.StringSliceFlag{Name: "volume", Aliases: []string{"v"}, Usage: "mount /host/path:/ctr, VOLUME:/ctr or an anonymous volume at /ctr [:ro]"},
		&cli.StringSliceFlag{Name: "network", Usage: "network attachments: NAME or name=NAME,alias=A"},
		&cli.StringSliceFlag{Name: "publish", Aliases: []string{"p"}, Usage: "publish a port: [PUBLISHED:]TARGET[/PROTO] or published=P,target=T[,protocol=tcp]"},
		&cli.StringSliceFlag{Name: "constraint", Usage: "placement constraints"},
	)
}

// serviceUpdateFlags are `service update`'s.
func serviceUpdateFlags() []cli.Flag {
	return append(serviceFlags(),
		&cli.StringFlag{Name: "image", Usage: "service image tag"},
		&cli.StringFlag{Name: "args", Usage: "service command args (split as a shell would)"},
		&cli.BoolFlag{Name: "force", Usage: "force update even if no changes require it"},
		&cli.BoolFlag{Name: "rollback", Usage: "rollback to previous specification"},
		&cli.StringSliceFlag{Name: "env-add", Usage: "add or update an environment variable"},
		&cli.StringSliceFlag{Name: "env-rm", Usage: "remove an environment variable"},
		&cli.StringSliceFlag{Name: "label-add", Usage: "add or update a service label"},
		&cli.StringSliceFlag{Name: "label-rm", Usage: "remove a label by its key"},
		&cli.StringSliceFlag{Name: "container-label-add", Usage: "add or update a container label"},
		&cli.StringSliceFlag{Name: "container-label-rm", Usage: "remove a container label by its key"},
		&cli.StringSliceFlag{Name: "publish-add", Usage: "add or update a published port"},
		&cli.StringSliceFlag{Name: "publish-rm", Usage: "remove a published port by its target port: TARGET[/PROTO]"},
		&cli.StringSliceFlag{Name: "mount-add", Usage: "add or update a mount on a service"},
		&cli.StringSliceFlag{Name: "mount-rm", Usage: "remove a mount by its target path"},
		&cli.StringSliceFlag{Name: "network-add", Usage: "add a network"},
		&cli.StringSliceFlag{Name: "network-rm", Usage: "remove a network"},
		&cli.StringSliceFlag{Name: "constraint-add", Usage: "add or update a placement constraint"},
		&cli.StringSliceFlag{Name: "constraint-rm", Usage: "remove a constraint"},
	)
}

// createSpec builds the spec of `service create IMAGE [COMMAND ARG...]`.
// mounts turns the --mount and -v values into mounts (engine.ServiceMount
// and engine.ServiceVolume in the command).
func createSpec(c flagValues, args []string, mounts func(mountSpecs, volumeSpecs []string) ([]mount.Mount, error)) (swarm.ServiceSpec, error) {
	var spec swarm.ServiceSpec
	if len(args) < 1 || args[0] == "" {
		return spec, errdefs.Invalid(`"service create" needs an image: usage: skiff service create [OPTIONS] IMAGE [COMMAND] [ARG...]`)
	}
	labels, err := parseLabels(c.StringSlice("label"))
	if err != nil {
		return spec, err
	}
	ctrLabels, err := parseKV(c.StringSlice("container-label"), "--container-label")
	if err != nil {
		return spec, err
	}
	env, err := collectEnv(c.StringSlice("env-file"), c.StringSlice("env"))
	if err != nil {
		return spec, err
	}
	runInit := c.Bool("init")
	cs := &swarm.ContainerSpec{
		Image:  args[0],
		Args:   args[1:],
		Env:    dedupEnv(env),
		Labels: ctrLabels,
		Init:   &runInit,
	}
	if len(cs.Args) == 0 {
		cs.Args = nil
	}
	spec = swarm.ServiceSpec{
		Annotations:  swarm.Annotations{Name: c.String("name"), Labels: labels},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: cs},
		EndpointSpec: &swarm.EndpointSpec{Mode: swarm.ResolutionModeVIP},
	}
	switch mode := c.String("mode"); mode {
	case "", "replicated":
		n := uint64(1)
		spec.Mode.Replicated = &swarm.ReplicatedService{Replicas: &n}
	case "global":
		if c.IsSet("replicas") {
			return spec, errdefs.Invalid("--replicas can only be used with replicated mode: drop it or use --mode replicated")
		}
		spec.Mode.Global = &swarm.GlobalService{}
	default:
		return spec, errdefs.Invalid("invalid --mode %q: want replicated or global", mode)
	}
	for _, p := range c.StringSlice("publish") {
		ports, err := parsePublish(p, "--publish")
		if err != nil {
			return spec, err
		}
		spec.EndpointSpec.Ports = append(spec.EndpointSpec.Ports, ports...)
	}
	for _, n := range c.StringSlice("network") {
		att, err := parseNetworkAttachment(n, "--network")
		if err != nil {
			return spec, err
		}
		spec.TaskTemplate.Networks = append(spec.TaskTemplate.Networks, att)
	}
	if cons := c.StringSlice("constraint"); len(cons) > 0 {
		spec.TaskTemplate.Placement = &swarm.Placement{Constraints: cons}
	}
	if mounts != nil {
		ms, err := mounts(c.StringSlice("mount"), c.StringSlice("volume"))
		if err != nil {
			return spec, err
		}
		cs.Mounts = ms
	}
	if err := applyServiceFlags(c, &spec); err != nil {
		return spec, err
	}
	return spec, nil
}

// updateSpec changes spec as `service update`'s flags say. mounts reads
// --mount-add values (as createSpec's).
func updateSpec(c flagValues, spec *swarm.ServiceSpec, mounts func(mountSpecs, volumeSpecs []string) ([]mount.Mount, error)) error {
	if spec.TaskTemplate.ContainerSpec == nil {
		spec.TaskTemplate.ContainerSpec = &swarm.ContainerSpec{}
	}
	cs := spec.TaskTemplate.ContainerSpec
	if c.IsSet("image") {
		if c.String("image") == "" {
			return errdefs.Invalid("invalid --image \"\": name an image")
		}
		cs.Image = c.String("image")
	}
	if c.IsSet("args") {
		args, err := splitWords(c.String("args"), "--args")
		if err != nil {
			return err
		}
		cs.Args = args
	}
	if err := updateKV(c, &spec.Labels, "label-add", "label-rm"); err != nil {
		return err
	}
	if err := updateKV(c, &cs.Labels, "container-label-add", "container-label-rm"); err != nil {
		return err
	}
	if c.IsSet("env-add") || c.IsSet("env-rm") {
		add, err := collectEnv(nil, c.StringSlice("env-add"))
		if err != nil {
			return err
		}
		cs.Env = updateEnv(cs.Env, add, c.StringSlice("env-rm"))
	}
	if c.IsSet("publish-add") || c.IsSet("publish-rm") {
		if spec.EndpointSpec == nil {
			spec.EndpointSpec = &swarm.EndpointSpec{}
		}
		var add, rm []swarm.PortConfig
		for _, p := range c.StringSlice("publish-add") {
			ports, err := parsePublish(p, "--publish-add")
			if err != nil {
				return err
			}
			add = append(add, ports...)
		}
		for _, p := range c.StringSlice("publish-rm") {
			ports, err := parsePublish(p, "--publish-rm")
			if err != nil {
				return err
			}
			rm = append(rm, ports...)
		}
		spec.EndpointSpec.Ports = updatePorts(spec.EndpointSpec.Ports, add, rm)
	}
	if c.IsSet("mount-add") || c.IsSet("mount-rm") {
		var add []mount.Mount
		if mounts != nil && c.IsSet("mount-add") {
			var err error
			if add, err = mounts(c.StringSlice("mount-add"), nil); err != nil {
				return err
			}
		}
		ms, err := updateMounts(cs.Mounts, add, c.StringSlice("mount-rm"))
		if err != nil {
			return err
		}
		cs.Mounts = ms
	}
	if c.IsSet("network-add") || c.IsSet("network-rm") {
		rm := c.StringSlice("network-rm")
		nets := slices.DeleteFunc(slices.Clone(spec.TaskTemplate.Networks), func(n swarm.NetworkAttachmentConfig) bool {
			return slices.Contains(rm, n.Target)
		})
		for _, n := range c.StringSlice("network-add") {
			att, err := parseNetworkAttachment(n, "--network-add")
			if err != nil {
				return err
			}
			if slices.ContainsFunc(nets, func(x swarm.NetworkAttachmentConfig) bool { return x.Target == att.Target }) {
				return errdefs.Invalid("--network-add %s: the service is already on that network", att.Target)
			}
			nets = append(nets, att)
		}
		spec.TaskTemplate.Networks = nets
	}
	if c.IsSet("constraint-add") || c.IsSet("constraint-rm") {
		if spec.TaskTemplate.Placement == nil {
			spec.TaskTemplate.Placement = &swarm.Placement{}
		}
		p := spec.TaskTemplate.Placement
		rm := c.StringSlice("constraint-rm")
		p.Constraints = slices.DeleteFunc(p.Constraints, func(s string) bool { return slices.Contains(rm, s) })
		for _, s := range c.StringSlice("constraint-add") {
			if !slices.Contains(p.Constraints, s) {
				p.Constraints = append(p.Constraints, s)
			}
		}
	}
	if c.IsSet("init") {
		b := c.Bool("init")
		cs.Init = &b
	}
	return applyServiceFlags(c, spec)
}

// applyServiceFlags sets what the shared flags given say, for create and
// update alike: a flag not given leaves its field as it is.
func applyServiceFlags(c flagValues, spec *swarm.ServiceSpec) error {
	cs := spec.TaskTemplate.ContainerSpec
	task := &spec.TaskTemplate
	if c.IsSet("replicas") {
		n, err := parseCount(c.String("replicas"), "--replicas")
		if err != nil {
			return err
		}
		if spec.Mode.Replicated == nil {
			return errdefs.Invalid("--replicas can only be used with replicated mode, and %s is global", firstNonEmpty(spec.Name, "this service"))
		}
		spec.Mode.Replicated.Replicas = &n
	}
	setString := func(flag string, field *string) {
		if c.IsSet(flag) {
			*field = c.String(flag)
		}
	}
	setString("workdir", &cs.Dir)
	setString("user", &cs.User)
	setString("hostname", &cs.Hostname)
	if c.IsSet("stop-signal") {
		if _, err := engine.ParseSignal(c.String("stop-signal")); err != nil {
			return err
		}
		cs.StopSignal = c.String("stop-signal")
	}
	if c.IsSet("entrypoint") {
		words, err := splitWords(c.String("entrypoint"), "--entrypoint")
		if err != nil {
			return err
		}
		cs.Command = words
	}
	if c.IsSet("tty") {
		cs.TTY = c.Bool("tty")
	}
	if c.IsSet("read-only") {
		cs.ReadOnly = c.Bool("read-only")
	}
	if c.IsSet("stop-grace-period") {
		d, err := duration(c, "stop-grace-period")
		if err != nil {
			return err
		}
		cs.StopGracePeriod = &d
	}
	if c.IsSet("cap-add") || c.IsSet("cap-drop") {
		cs.CapabilityAdd = mergeCaps(cs.CapabilityAdd, c.StringSlice("cap-add"), c.StringSlice("cap-drop"))
		cs.CapabilityDrop = mergeCaps(cs.CapabilityDrop, c.StringSlice("cap-drop"), c.StringSlice("cap-add"))
	}
	if err := applyResources(c, task); err != nil {
		return err
	}
	if err := applyHealth(c, cs); err != nil {
		return err
	}
	if err := applyRestart(c, task); err != nil {
		return err
	}
	var err error
	if spec.UpdateConfig, err = applyUpdateConfig(c, spec.UpdateConfig, "update"); err != nil {
		return err
	}
	if spec.RollbackConfig, err = applyUpdateConfig(c, spec.RollbackConfig, "rollback"); err != nil {
		return err
	}
	if c.IsSet("endpoint-mode") {
		m := swarm.ResolutionMode(strings.ToLower(c.String("endpoint-mode")))
		if m != swarm.ResolutionModeVIP && m != swarm.ResolutionModeDNSRR {
			return errdefs.Invalid("invalid --endpoint-mode %q: want vip or dnsrr", c.String("endpoint-mode"))
		}
		if spec.EndpointSpec == nil {
			spec.EndpointSpec = &swarm.EndpointSpec{}
		}
		spec.EndpointSpec.Mode = m
	}
	return nil
}

// mergeCaps is list with add added and remove removed (upper case, as
// Docker normalizes them).
func mergeCaps(list, add, remove []string) []string {
	norm := func(s string) string {
		s = strings.ToUpper(s)
		if s != "ALL" && !strings.HasPrefix(s, "CAP_") {
			s = "CAP_" + s
		}
		return s
	}
	var out []string
	for _, s := range append(slices.Clone(list), add...) {
		s = norm(s)
		if !slices.Contains(out, s) && !slices.ContainsFunc(remove, func(r string) bool { return norm(r) == s }) {
			out = append(out, s)
		}
	}
	return out
}

func applyResources(c flagValues, task *swarm.TaskSpec) error {
	if !anySet(c, "limit-cpu", "limit-memory", "limit-pids", "reserve-cpu", "reserve-memory") {
		return nil
	}
	if task.Resources == nil {
		task.Resources = &swarm.ResourceRequirements{}
	}
	r := task.Resources
	if anySet(c, "limit-cpu", "limit-memory", "limit-pids") && r.Limits == nil {
		r.Limits = &swarm.Limit{}
	}
	if anySet(c, "reserve-cpu", "reserve-memory") && r.Reservations == nil {
		r.Reservations = &swarm.Resources{}
	}
	cpus := func(flag string, field *int64) error {
		if !c.IsSet(flag) {
			return nil
		}
		f, err := strconv.ParseFloat(c.String(flag), 64)
		if err != nil || f < 0 {
			return errdefs.Invalid("invalid --%s %q: a number of CPUs such as 0.5", flag, c.String(flag))
		}
		*field = int64(f * 1e9)
		return nil
	}
	memory := func(flag string, field *int64) error {
		if !c.IsSet(flag) {
			return nil
		}
		n, err := units.RAMInBytes(c.String(flag))
		if err != nil || n < 0 {
			return errdefs.Invalid("invalid --%s %q: a size such as 64m or 1g", flag, c.String(flag))
		}
		*field = n
		return nil
	}
	if r.Limits != nil {
		if err := cpus("limit-cpu", &r.Limits.NanoCPUs); err != nil {
			return err
		}
		if err := memory("limit-memory", &r.Limits.MemoryBytes); err != nil {
			return err
		}
		if c.IsSet("limit-pids") {
			n, err := strconv.ParseInt(c.String("limit-pids"), 10, 64)
			if err != nil || n < 0 {
				return errdefs.Invalid("invalid --limit-pids %q: a number of processes, 0 for no limit", c.String("limit-pids"))
			}
			r.Limits.Pids = n
		}
	}
	if r.Reservations != nil {
		if err := cpus("reserve-cpu", &r.Reservations.NanoCPUs); err != nil {
			return err
		}
		if err := memory("reserve-memory", &r.Reservations.MemoryBytes); err != nil {
			return err
		}
	}
	return nil
}

// applyHealth is the --health-* flags and --no-healthcheck, as docker/cli
// reads them: CMD-SHELL for --health-cmd, NONE for --no-healthcheck.
func applyHealth(c flagValues, cs *swarm.ContainerSpec) error {
	settings := []string{"health-cmd", "health-interval", "health-timeout", "health-retries", "health-start-period"}
	if !anySet(c, append(settings, "no-healthcheck")...) {
		return nil
	}
	if c.Bool("no-healthcheck") {
		if anySet(c, settings...) {
			return errdefs.Invalid("--no-healthcheck conflicts with --health-* options: give one or the other")
		}
		cs.Healthcheck = &ctypes.HealthConfig{Test: []string{"NONE"}}
		return nil
	}
	if cs.Healthcheck == nil {
		cs.Healthcheck = &ctypes.HealthConfig{}
	}
	h := cs.Healthcheck
	if len(h.Test) > 0 && h.Test[0] == "NONE" {
		h.Test = nil
	}
	for flag, field := range map[string]*time.Duration{"health-interval": &h.Interval, "health-timeout": &h.Timeout, "health-start-period": &h.StartPeriod} {
		if c.IsSet(flag) {
			d, err := duration(c, flag)
			if err != nil {
				return err
			}
			*field = d
		}
	}
	if c.IsSet("health-retries") {
		n, err := parseCount(c.String("health-retries"), "--health-retries")
		if err != nil {
			return err
		}
		h.Retries = int(n)
	}
	if c.IsSet("health-cmd") {
		h.Test = nil
		if cmd := c.String("health-cmd"); cmd != "" {
			h.Test = []string{"CMD-SHELL", cmd}
		}
	}
	return nil
}

// applyRestart is the --restart-* flags: Docker's default policy (any,
// 5s delay) with what they set.
func applyRestart(c flagValues, task *swarm.TaskSpec) error {
	if !anySet(c, "restart-condition", "restart-delay", "restart-max-attempts", "restart-window") {
		return nil
	}
	if task.RestartPolicy == nil {
		delay, attempts := 5*time.Second, uint64(0)
		task.RestartPolicy = &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny, Delay: &delay, MaxAttempts: &attempts}
	}
	p := task.RestartPolicy
	if c.IsSet("restart-condition") {
		cond := swarm.RestartPolicyCondition(c.String("restart-condition"))
		switch cond {
		case swarm.RestartPolicyConditionNone, swarm.RestartPolicyConditionOnFailure, swarm.RestartPolicyConditionAny:
		default:
			return errdefs.Invalid("invalid --restart-condition %q: want none, on-failure or any", c.String("restart-condition"))
		}
		p.Condition = cond
	}
	for flag, field := range map[string]**time.Duration{"restart-delay": &p.Delay, "restart-window": &p.Window} {
		if c.IsSet(flag) {
			d, err := duration(c, flag)
			if err != nil {
				return err
			}
			*field = &d
		}
	}
	if c.IsSet("restart-max-attempts") {
		n, err := parseCount(c.String("restart-max-attempts"), "--restart-max-attempts")
		if err != nil {
			return err
		}
		p.MaxAttempts = &n
	}
	return nil
}

// applyUpdateConfig is the --update-* (or --rollback-*) flags on cfg:
// swarm's defaults (parallelism 1, monitor 5s, pause, stop-first) for the
// ones not given when there was no config yet.
func applyUpdateConfig(c flagValues, cfg *swarm.UpdateConfig, prefix string) (*swarm.UpdateConfig, error) {
	names := []string{"parallelism", "delay", "monitor", "failure-action", "max-failure-ratio", "order"}
	var flags []string
	for _, n := range names {
		flags = append(flags, prefix+"-"+n)
	}
	if !anySet(c, flags...) {
		return cfg, nil
	}
	if cfg == nil {
		cfg = &swarm.UpdateConfig{Parallelism: 1, Monitor: 5 * time.Second, FailureAction: swarm.UpdateFailureActionPause, Order: swarm.UpdateOrderStopFirst}
	}
	flag := func(n string) string { return prefix + "-" + n }
	if c.IsSet(flag("parallelism")) {
		n, err := parseCount(c.String(flag("parallelism")), "--"+flag("parallelism"))
		if err != nil {
			return nil, err
		}
		cfg.Parallelism = n
	}
	for n, field := range map[string]*time.Duration{"delay": &cfg.Delay, "monitor": &cfg.Monitor} {
		if c.IsSet(flag(n)) {
			d, err := duration(c, flag(n))
			if err != nil {
				return nil, err
			}
			*field = d
		}
	}
	if c.IsSet(flag("failure-action")) {
		a := swarm.FailureAction(c.String(flag("failure-action")))
		ok := a == swarm.UpdateFailureActionPause || a == swarm.UpdateFailureActionContinue
		want := "pause or continue"
		if prefix == "update" {
			ok = ok || a == swarm.UpdateFailureActionRollback
			want = "pause, continue or rollback"
		}
		if !ok {
			return nil, errdefs.Invalid("invalid --%s %q: want %s", flag("failure-action"), a, want)
		}
		cfg.FailureAction = a
	}
	if c.IsSet(flag("max-failure-ratio")) {
		r := c.Float64(flag("max-failure-ratio"))
		if r < 0 || r > 1 {
			return nil, errdefs.Invalid("invalid --%s %v: a fraction from 0 to 1", flag("max-failure-ratio"), r)
		}
		cfg.MaxFailureRatio = float32(r)
	}
	if c.IsSet(flag("order")) {
		o := swarm.UpdateOrder(c.String(flag("order")))
		if o != swarm.UpdateOrderStopFirst && o != swarm.UpdateOrderStartFirst {
			return nil, errdefs.Invalid("invalid --%s %q: want stop-first or start-first", flag("order"), o)
		}
		cfg.Order = o
	}
	return cfg, nil
}

func anySet(c flagValues, flags ...string) bool {
	return slices.ContainsFunc(flags, c.IsSet)
}

// duration reads a duration flag, refusing a negative one.
func duration(c flagValues, flag string) (time.Duration, error) {
	d := c.Duration(flag)
	if d < 0 {
		return 0, errdefs.Invalid("invalid --%s %s: a duration of 0 or more, such as 10s", flag, d)
	}
	return d, nil
}

// parseCount reads a whole number of 0 or more, in Docker's words when
// it is not one.
func parseCount(s, flag string) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, errdefs.Invalid("invalid argument %q for %q flag: want a whole number, 0 or more", s, flag)
	}
	return n, nil
}

// updateKV applies --X-add KEY=VALUE and --X-rm KEY to a label map.
func updateKV(c flagValues, field *map[string]string, addFlag, rmFlag string) error {
	if c.IsSet(rmFlag) && *field != nil {
		for _, k := range c.StringSlice(rmFlag) {
			k, _, _ = strings.Cut(k, "=")
			delete(*field, k)
		}
	}
	if c.IsSet(addFlag) {
		add, err := parseKV(c.StringSlice(addFlag), "--"+addFlag)
		if err != nil {
			return err
		}
		if *field == nil {
			*field = map[string]string{}
		}
		for k, v := range add {
			(*field)[k] = v
		}
	}
	return nil
}

func envKey(kv string) string {
	k, _, _ := strings.Cut(kv, "=")
	return k
}

// dedupEnv keeps the last value of each variable, where it was last set.
func dedupEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		k := envKey(kv)
		out = slices.DeleteFunc(out, func(o string) bool { return envKey(o) == k })
		out = append(out, kv)
	}
	return out
}

// updateEnv removes the variables named in rm (KEY or KEY=VALUE), then
// sets those in add: in place when they are there, else at the end.
func updateEnv(env, add, rm []string) []string {
	out := slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		return slices.ContainsFunc(rm, func(r string) bool { return envKey(r) == envKey(kv) })
	})
	for _, kv := range add {
		if i := slices.IndexFunc(out, func(o string) bool { return envKey(o) == envKey(kv) }); i >= 0 {
			out[i] = kv
		} else {
			out = append(out, kv)
		}
	}
	return out
}

// updatePorts removes the ports rm names (by target port and protocol, as
// Docker) and adds those in add that are not there yet.
func updatePorts(ports, add, rm []swarm.PortConfig) []swarm.PortConfig {
	proto := func(p swarm.PortConfig) network.IPProtocol { return cmpOr(p.Protocol, network.TCP) }
	mode := func(p swarm.PortConfig) swarm.PortConfigPublishMode {
		return cmpOr(p.PublishMode, swarm.PortConfigPublishModeIngress)
	}
	out := slices.DeleteFunc(slices.Clone(ports), func(p swarm.PortConfig) bool {
		return slices.ContainsFunc(rm, func(r swarm.PortConfig) bool {
			return r.TargetPort == p.TargetPort && proto(r) == proto(p) && mode(r) == mode(p)
		})
	})
	for _, a := range add {
		same := func(p swarm.PortConfig) bool {
			return p.PublishedPort == a.PublishedPort && p.TargetPort == a.TargetPort && proto(p) == proto(a) && mode(p) == mode(a)
		}
		if !slices.ContainsFunc(out, same) {
			out = append(out, a)
		}
	}
	slices.SortStableFunc(out, func(a, b swarm.PortConfig) int { return a.Compare(b) })
	return out
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// updateMounts replaces the mounts at the targets add names, adds the
// others and removes those at the targets in rm.
func updateMounts(mounts, add []mount.Mount, rm []string) ([]mount.Mount, error) {
	seen := map[string]bool{}
	for _, m := range add {
		if seen[m.Target] {
			return nil, errdefs.Invalid("--mount-add: two mounts at %s: give one per target", m.Target)
		}
		seen[m.Target] = true
	}
	var out []mount.Mount
	for _, m := range mounts {
		if !seen[m.Target] {
			out = append(out, m)
		}
	}
	out = append(out, add...)
	return slices.DeleteFunc(out, func(m mount.Mount) bool { return slices.Contains(rm, m.Target) }), nil
}

// parsePublish reads a --publish value: the short form
// [PUBLISHED:]TARGET[/PROTOCOL] (port ranges allowed) or the long form
// published=P,target=T,protocol=tcp,mode=ingress.
func parsePublish(v, flag string) ([]swarm.PortConfig, error) {
	bad := func(why string) error {
		return errdefs.Invalid("invalid %s %q: %s: want [PUBLISHED:]TARGET[/PROTOCOL] or published=P,target=T[,protocol=tcp|udp]", flag, v, why)
	}
	if strings.Contains(v, "=") {
		fields, err := csv.NewReader(strings.NewReader(v)).Read()
		if err != nil {
			return nil, bad(err.Error())
		}
		p := swarm.PortConfig{Protocol: network.TCP, PublishMode: swarm.PortConfigPublishModeIngress}
		for _, f := range fields {
			k, val, ok := strings.Cut(f, "=")
			k = strings.ToLower(strings.TrimSpace(k))
			if !ok || k == "" {
				return nil, bad(fmt.Sprintf("field %q is not KEY=VALUE", f))
			}
			switch k {
			case "published", "target":
				n, err := strconv.ParseUint(val, 10, 16)
				if err != nil || (k == "target" && n == 0) {
					return nil, bad(fmt.Sprintf("%s port %q is not a port number", k, val))
				}
				if k == "target" {
					p.TargetPort = uint32(n)
				} else {
					p.PublishedPort = uint32(n)
				}
			case "protocol":
				proto, err := parseProto(strings.ToLower(val))
				if err != nil {
					return nil, bad(err.Error())
				}
				p.Protocol = proto
			case "mode":
				m := swarm.PortConfigPublishMode(strings.ToLower(val))
				if m != swarm.PortConfigPublishModeIngress && m != swarm.PortConfigPublishModeHost {
					return nil, bad(fmt.Sprintf("mode %q is not ingress or host", val))
				}
				p.PublishMode = m
			default:
				return nil, bad(fmt.Sprintf("unknown field %q", k))
			}
		}
		if p.TargetPort == 0 {
			return nil, bad("the target port is missing")
		}
		return []swarm.PortConfig{p}, nil
	}
	spec, protoName, hasProto := strings.Cut(v, "/")
	proto := network.TCP
	if hasProto {
		var err error
		if proto, err = parseProto(strings.ToLower(protoName)); err != nil {
			return nil, bad(err.Error())
		}
	}
	parts := strings.Split(spec, ":")
	if len(parts) > 2 {
		return nil, bad("a host IP cannot be given: a service listens on every address")
	}
	target := parts[len(parts)-1]
	published := ""
	if len(parts) == 2 {
		published = parts[0]
	}
	tStart, tEnd, err := portRange(target)
	if err != nil || tStart == 0 {
		return nil, bad(fmt.Sprintf("target port %q is not a port or a range", target))
	}
	var pStart, pEnd uint32
	if published != "" {
		if pStart, pEnd, err = portRange(published); err != nil {
			return nil, bad(fmt.Sprintf("published port %q is not a port or a range", published))
		}
	}
	var out []swarm.PortConfig
	add := func(pub, tgt uint32) {
		out = append(out, swarm.PortConfig{Protocol: proto, TargetPort: tgt, PublishedPort: pub, PublishMode: swarm.PortConfigPublishModeIngress})
	}
	switch {
	case published == "":
		for t := tStart; t <= tEnd; t++ {
			add(0, t)
		}
	case tStart == tEnd:
		// A range of published ports onto one target port.
		for p := pStart; p <= pEnd; p++ {
			add(p, tStart)
		}
	case pEnd-pStart != tEnd-tStart:
		return nil, bad("the published and target ranges differ in length")
	default:
		for i := uint32(0); i <= tEnd-tStart; i++ {
			add(pStart+i, tStart+i)
		}
	}
	return out, nil
}

func parseProto(s string) (network.IPProtocol, error) {
	switch p := network.IPProtocol(s); p {
	case network.TCP, network.UDP, network.SCTP:
		return p, nil
	}
	return "", fmt.Errorf("protocol %q is not tcp, udp or sctp", s)
}

// portRange reads PORT or START-END.
func portRange(s string) (uint32, uint32, error) {
	a, b, isRange := strings.Cut(s, "-")
	start, err := strconv.ParseUint(a, 10, 16)
	if err != nil {
		return 0, 0, err
	}
	end := start
	if isRange {
		if end, err = strconv.ParseUint(b, 10, 16); err != nil {
			return 0, 0, err
		}
		if end < start {
			return 0, 0, fmt.Errorf("range %s ends before it starts", s)
		}
	}
	return uint32(start), uint32(end), nil
}

// parseNetworkAttachment reads --network NAME or name=NAME,alias=A,driver-opt=K=V.
func parseNetworkAttachment(v, flag string) (swarm.NetworkAttachmentConfig, error) {
	var att swarm.NetworkAttachmentConfig
	if !strings.Contains(v, "=") {
		if v == "" {
			return att, errdefs.Invalid("invalid %s \"\": name a network", flag)
		}
		att.Target = v
		return att, nil
	}
	fields, err := csv.NewReader(strings.NewReader(v)).Read()
	if err != nil {
		return att, errdefs.Invalid("invalid %s %q: %v", flag, v, err)
	}
	for _, f := range fields {
		k, val, _ := strings.Cut(f, "=")
		switch strings.ToLower(k) {
		case "name", "target":
			att.Target = val
		case "alias":
			att.Aliases = append(att.Aliases, val)
		case "driver-opt":
			ok, ov, _ := strings.Cut(val, "=")
			if att.DriverOpts == nil {
				att.DriverOpts = map[string]string{}
			}
			att.DriverOpts[ok] = ov
		default:
			return att, errdefs.Invalid("invalid %s %q: unknown field %q: want name=, alias= or driver-opt=", flag, v, k)
		}
	}
	if att.Target == "" {
		return att, errdefs.Invalid("invalid %s %q: name= is missing", flag, v)
	}
	return att, nil
}

// splitWords splits a command line as a POSIX shell would (quotes and
// backslashes), for --entrypoint and --args.
func splitWords(s, flag string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case quote == '"':
			switch r {
			case '"':
				quote = 0
			case '\\':
				escaped = true
			default:
				cur.WriteRune(r)
			}
		case r == '\\':
			escaped, inWord = true, true
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 || escaped {
		return nil, errdefs.Invalid("invalid %s %q: unterminated quote or trailing backslash", flag, s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// serviceMounts turns --mount and -v values into the API's mounts, host
// paths relative to the working directory.
func serviceMounts(mountSpecs, volumeSpecs []string) ([]mount.Mount, error) {
	if len(mountSpecs) == 0 && len(volumeSpecs) == 0 {
		return nil, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("finding the working directory for relative host paths: %w", err)
	}
	var out []mount.Mount
	for _, s := range mountSpecs {
		m, err := engine.ServiceMount(s, dir)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	for _, s := range volumeSpecs {
		m, err := engine.ServiceVolume(s, dir)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}
