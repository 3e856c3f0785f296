package cmd

import (
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
)

// examples are the commands' examples, one command line each, keyed by the
// command as its usage line names it ("logs", "network create"): they end
// `skiff CMD --help` and fill the EXAMPLES of its manual page. A command
// that shares another's definition (container logs, image build) shows
// the examples of the command its usage line names. Images are ones a
// skiff user can run: busybox, or a local registry's 127.0.0.1:5000/...
var examples = map[string][]string{
	"run": {
		"skiff run --rm -it 127.0.0.1:5000/busybox sh",
		"skiff run -d --name web -p 8080:80 127.0.0.1:5000/busybox httpd -f",
		`skiff run --rm -v "$PWD":/data -w /data 127.0.0.1:5000/busybox ls -l`,
	},
	"create": {
		"skiff create --name job 127.0.0.1:5000/busybox echo hi",
		"skiff start -a job",
	},
	"start":   {"skiff start -a job", "skiff start --all --filter restart-policy=always"},
	"stop":    {"skiff stop -t 2 web", "skiff stop $(skiff ps -q)"},
	"restart": {"skiff restart web"},
	"kill":    {"skiff kill -s HUP web"},
	"rm":      {"skiff rm -f web", "skiff rm -v job"},
	"ps": {
		"skiff ps -a --filter status=exited --format '{{.Names}}'",
		"skiff ps -q --filter label=app=web",
	},
	"logs":   {"skiff logs -f --tail 10 web", "skiff logs --since 10m -t web"},
	"wait":   {"skiff wait job"},
	"exec":   {"skiff exec -it web sh", "skiff exec -e DEBUG=1 -w /app web ls"},
	"attach": {"skiff attach --detach-keys ctrl-x web"},
	"top":    {"skiff top web", "skiff top web -o pid,comm"},
	"rename": {"skiff rename brave_heron_1a2b web"},
	"port":   {"skiff port web 80"},
	"stats":  {"skiff stats --no-stream", "skiff stats --no-stream -a"},
	"cp": {
		"skiff cp web:/etc/hostname .",
		"skiff cp ./index.html web:/tmp/",
		"skiff cp web:/etc - | tar -tv",
	},
	"export":            {"skiff export -o rootfs.tar web"},
	"diff":              {"skiff diff web"},
	"commit":            {`skiff commit -m 'add config' -c 'CMD ["/app"]' web myapp:2`},
	"container prune":   {"skiff container prune -f --filter label=job"},
	"container ls":      {"skiff container ls -a --format '{{.Names}} {{.Status}}'"},
	"container rm":      {"skiff container rm -f web"},
	"container run":     {"skiff container run --rm -it 127.0.0.1:5000/busybox sh"},
	"container inspect": {"skiff container inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' web"},

	"network create":     {"skiff network create --subnet 10.90.0.0/24 backend", "skiff network create --internal private-net"},
	"network connect":    {"skiff network connect --alias db backend pg1"},
	"network prune":      {"skiff network prune -f"},
	"network rm":         {"skiff network rm -f backend"},
	"network ls":         {"skiff network ls --format '{{.Name}} {{.Driver}}'"},
	"network inspect":    {"skiff network inspect -f '{{json .IPAM.Config}}' backend"},
	"network disconnect": {"skiff network disconnect backend pg1"},
	"volume ls":          {"skiff volume ls --filter dangling=true"},
	"volume inspect":     {"skiff volume inspect -f '{{.Mountpoint}}' pgdata"},
	"volume create": {
		"skiff volume create --label app=db pgdata",
		"skiff run --rm -v pgdata:/data 127.0.0.1:5000/busybox ls /data",
		"skiff volume create -o type=tmpfs -o device=tmpfs -o o=size=64m,uid=1000 scratch",
		"skiff volume create -o type=none -o o=bind -o device=/srv/data data",
	},
	"volume prune": {"skiff volume prune -a -f"},

	"build": {
		"skiff build -t app:1 .",
		"skiff build -f Dockerfile.dev --build-arg VERSION=2 -t app:dev .",
		"tar -c . | skiff build -t app -",
	},
	"builder prune": {"skiff builder prune -f", "skiff builder prune -f --filter until=24h --keep-storage 500MB"},
	"pull":          {"skiff pull 127.0.0.1:5000/busybox:latest", "skiff pull --platform linux/arm64 127.0.0.1:5000/multi", "skiff pull -a 127.0.0.1:5000/busybox"},
	"push":          {"skiff push 127.0.0.1:5000/app:1", "skiff push app:1 127.0.0.1:5000/app:1", "skiff push -a 127.0.0.1:5000/app"},
	"update":        {"skiff update -m 256m --memory-swap 512m --cpus 1.5 web", "skiff update --restart unless-stopped web"},
	"search":        {"skiff search 127.0.0.1:5000/busy", "skiff search --limit 5 --format '{{.Name}}' 127.0.0.1:5000/app"},
	"login":         {`echo "$TOKEN" | skiff login -u ci --password-stdin 127.0.0.1:5000`},
	"logout":        {"skiff logout 127.0.0.1:5000"},
	"images":        {"skiff images --format '{{.Repository}}:{{.Tag}}'", "skiff images -q --filter dangling=true"},
	"tag":           {"skiff tag 127.0.0.1:5000/busybox mybox:1"},
	"rmi":           {"skiff rmi 127.0.0.1:5000/busybox", "skiff rmi -f mybox:1"},
	"inspect": {
		"skiff inspect --format '{{.State.Status}}' web",
		"skiff inspect --type image -f '{{json .Config.Env}}' 127.0.0.1:5000/busybox",
	},
	"import": {`skiff import --change 'CMD ["/bin/sh"]' rootfs.tar mybox:1`},
	"save": {
		"skiff save -o busybox.tar 127.0.0.1:5000/busybox:latest",
		"skiff save --format oci-dir -o ./layout 127.0.0.1:5000/busybox",
	},
	"load": {
		"skiff load -i busybox.tar",
		"skiff load -i ./layout",
		"gunzip -c busybox.tar.gz | skiff load",
	},
	"image ls":    {"skiff image ls --filter reference='127.0.0.1:5000/*'"},
	"image rm":    {"skiff image rm 127.0.0.1:5000/busybox"},
	"image prune": {"skiff image prune -a -f", "skiff image prune -a -f --filter until=24h --filter label!=keep"},
	"history":     {"skiff history --no-trunc --format '{{.CreatedBy}}' 127.0.0.1:5000/busybox"},

	"manifest create": {
		"skiff manifest create 127.0.0.1:5000/app:1 127.0.0.1:5000/app:1-amd64 127.0.0.1:5000/app:1-arm64",
		"skiff manifest create --amend 127.0.0.1:5000/app:1 127.0.0.1:5000/app:1-riscv64",
	},
	"manifest annotate": {"skiff manifest annotate --variant v8 127.0.0.1:5000/app:1 127.0.0.1:5000/app:1-arm64"},
	"manifest inspect":  {"skiff manifest inspect 127.0.0.1:5000/app:1", "skiff manifest inspect -v 127.0.0.1:5000/multi"},
	"manifest push":     {"skiff manifest push --purge 127.0.0.1:5000/app:1"},
	"manifest rm":       {"skiff manifest rm 127.0.0.1:5000/app:1"},

	"system df":     {"skiff system df -v", "skiff system df --format '{{.Type}}: {{.Size}}'"},
	"system prune":  {"skiff system prune -a -f --volumes"},
	"system check":  {"skiff system check", "skiff system check --repair"},
	"system doctor": {"skiff system doctor", "skiff system doctor --format json"},
	"system service": {
		"skiff system service --time 0 &",
		"DOCKER_HOST=unix://$XDG_RUNTIME_DIR/skiff/skiff.sock docker ps",
	},
	"info":    {"skiff info --format '{{.Driver}}'"},
	"version": {"skiff version --format '{{.Client.Version}}'"},
	"events":  {"skiff events --since 10m --filter type=container --filter event=die"},

	"service create":   {"skiff service create --name web --replicas 3 -p 8080:80 127.0.0.1:5000/busybox httpd -f"},
	"service ls":       {"skiff service ls --filter name=web --format '{{.Name}} {{.Replicas}}'"},
	"service ps":       {"skiff service ps --filter desired-state=running web"},
	"service inspect":  {"skiff service inspect --pretty web"},
	"service logs":     {"skiff service logs -f --tail 10 web"},
	"service scale":    {"skiff service scale web=5 api=2"},
	"service update":   {"skiff service update --image 127.0.0.1:5000/busybox:2 --update-parallelism 1 --update-delay 5s web"},
	"service rollback": {"skiff service rollback web"},
	"service rm":       {"skiff service rm web"},

	"kube generate": {"skiff kube generate -f web.yaml web"},
	"kube play":     {"skiff kube play web.yaml", "skiff kube play --replace web.yaml"},
	"kube down":     {"skiff kube down web.yaml"},
	"generate systemd": {
		"skiff generate systemd --new --name --files web",
		"mv container-web.service ~/.config/systemd/user/ && systemctl --user daemon-reload",
	},
	"generate quadlet": {"skiff generate quadlet --user /tmp/units"},
	"completion": {
		"source <(skiff completion bash)",
		"skiff completion fish > ~/.config/fish/completions/skiff.fish",
	},
}

// examplesOf is the examples of a command at path ("network create").
func examplesOf(c *cli.Command, path string) []string {
	return examples[exampleKey(c.UsageText, path)]
}

// exampleKey is the command its usage line names ("skiff logs [OPTIONS]
// CONTAINER": logs), else its path.
func exampleKey(usageText, path string) string {
	words := strings.Fields(strings.SplitN(usageText, "\n", 2)[0])
	if len(words) < 2 || words[0] != "skiff" {
		return path
	}
	var names []string
	for _, w := range words[1:] {
		if strings.Trim(w, "abcdefghijklmnopqrstuvwxyz-") != "" || strings.HasPrefix(w, "-") {
			break
		}
		names = append(names, w)
	}
	return strings.Join(names, " ")
}

// helpPrinter is urfave/cli's help printer with an EXAMPLES section after
// the help of a command that has examples. They are looked up only when
// help is printed: the commands that do work (and the supervisor's steps)
// never pay for them.
func helpPrinter(w io.Writer, templ string, data any) {
	if c, ok := data.(*cli.Command); ok {
		if lines := examplesOf(c, strings.TrimSpace(strings.TrimPrefix(c.HelpName, "skiff"))); len(lines) > 0 {
			templ = withExamples(c, lines)
		}
	}
	cli.HelpPrinterCustom(w, templ, data, nil)
}

// eachCommand calls fn for each command under cmds, subcommands and
// hidden ones too, with its path ("network create").
func eachCommand(cmds []*cli.Command, fn func(c *cli.Command, path string)) {
	var walk func(cmds []*cli.Command, parent string)
	walk = func(cmds []*cli.Command, parent string) {
		for _, c := range cmds {
			path := strings.TrimSpace(parent + " " + c.Name)
			fn(c, path)
			walk(c.Subcommands, path)
		}
	}
	walk(cmds, "")
}

// withExamples is urfave/cli's help template for c followed by the
// examples, each a quoted string so that {{ in them stays text.
func withExamples(c *cli.Command, lines []string) string {
	base := cli.CommandHelpTemplate
	// By the time help is printed urfave/cli has given every command a
	// "help" subcommand: only real ones make it a group.
	if slices.ContainsFunc(c.Subcommands, func(s *cli.Command) bool { return s.Name != "help" }) {
		base = cli.SubcommandHelpTemplate
	}
	var b strings.Builder
	b.WriteString(strings.TrimRight(base, "\n") + "\n\nEXAMPLES:")
	for _, l := range lines {
		b.WriteString("\n   {{" + strconv.Quote(l) + "}}")
	}
	return b.String() + "\n"
}
