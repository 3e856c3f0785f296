package api

import (
	"strings"
	"testing"

	"github.com/skiff-project/skiff/tests/harness"
)

// Docker's CLI is the judge of exit statuses: the same command line through
// the docker CLI (against skiff's service) and through skiff's own CLI
// exits with the same status, and that status is the one Docker's CLI gives
// (1 for a failed command, 125 for a flag it cannot parse and for run's own
// failures, 126/127 when a container's command cannot be run or does not
// exist, else the container's or process's own status).
func TestExitCodesMatchDockerCLI(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	running, stopped, noCmd, exits3 := name("ec-run"), name("ec-stopped"), name("ec-nocmd"), name("ec-exit3")
	runDetached(t, running, nil, idleCmd...)
	rmOnCleanup(t, stopped, noCmd, exits3)
	docker(t, "run", "--name", stopped, bb, "true").OK(t)
	docker(t, "create", "--name", noCmd, bb, "nosuchcmd").OK(t)
	docker(t, "create", "--name", exits3, bb, "sh", "-c", "exit 3").OK(t)
	missing := name("ec-missing")
	absent := ref("ec-absent-" + harness.UniqueSuffix())

	for _, tc := range []struct {
		args string // split on spaces (%20 is one inside an argument); @RUN @STOPPED @NOCMD @EXIT3 @MISSING @IMG @ABSENT
		want int
	}{
		// Any failed command: 1.
		{"rm @MISSING", 1}, {"rmi @MISSING", 1}, {"inspect @MISSING", 1}, {"container inspect @MISSING", 1},
		{"image inspect @MISSING", 1}, {"volume rm @MISSING", 1}, {"volume inspect @MISSING", 1},
		{"network rm @MISSING", 1}, {"network inspect @MISSING", 1}, {"start @MISSING", 1},
		{"stop @MISSING", 1}, {"kill @MISSING", 1}, {"restart @MISSING", 1}, {"logs @MISSING", 1},
		{"wait @MISSING", 1}, {"top @MISSING", 1}, {"port @MISSING", 1}, {"rename @MISSING x", 1},
		{"tag @MISSING x", 1}, {"history @MISSING", 1}, {"export @MISSING", 1}, {"diff @MISSING", 1},
		{"commit @MISSING", 1}, {"cp @MISSING:/x /tmp", 1}, {"attach @STOPPED", 1},
		{"service rm @MISSING", 1}, {"service inspect @MISSING", 1}, {"pull 127.0.0.1:1/x", 1},
		{"ps --filter bogus=1", 1}, {"images --filter bogus=1", 1},
		{"volume create -o type=nfs -o device=:/export @MISSING", 1},
		{"manifest rm @MISSING", 1}, {"manifest annotate @MISSING @MISSING", 1}, {"manifest create @MISSING", 1},
		{"manifest push --bogus @MISSING", 125},
		// Wrong argument counts and unknown commands: 1, run's too.
		{"rm", 1}, {"run", 1}, {"exec @RUN", 1}, {"container rm", 1}, {"bogus", 1}, {"volume bogus", 1}, {"container bogus", 1},
		// A flag that does not parse: 125.
		{"rm --bogus @MISSING", 125}, {"stop -t abc @MISSING", 125}, {"ps --bogus", 125}, {"volume ls --bogus", 125},
		{"image ls --bogus", 125}, {"system df --bogus", 125}, {"--bogus ps", 125},
		{"service create --replicas x @IMG", 125},
		// run: 125 when it fails itself, 126/127 for the command, else its status.
		{"run --pull never @ABSENT", 125}, {"run --rm -p bad @IMG", 125}, {"run --name @STOPPED @IMG", 125},
		{"run --rm @IMG nosuchcmd", 127}, {"run --rm @IMG /etc", 126}, {"run --rm @IMG sh -c exit%207", 7},
		{"run --rm -it @IMG true", 1},
		// create: 125 for options that do not parse, else 1.
		{"create -p bad @IMG", 125}, {"create --pull never @ABSENT", 1}, {"create --name @STOPPED @IMG", 1},
		// start: 1, with -a the container's status.
		{"start @NOCMD", 1}, {"start -a @NOCMD", 1}, {"start -a @EXIT3", 3},
		// exec: 1 without a running container, 126/127 when the process
		// cannot start, else its status.
		{"exec @MISSING true", 1}, {"exec @STOPPED true", 1}, {"exec -it @RUN true", 1},
		{"exec @RUN nosuchcmd", 127}, {"exec @RUN /etc", 126}, {"exec -u nosuchuser @RUN true", 126},
		{"exec @RUN sh -c exit%204", 4},
	} {
		args := strings.Fields(strings.NewReplacer("@RUN", running, "@STOPPED", stopped, "@NOCMD", noCmd,
			"@EXIT3", exits3, "@MISSING", missing, "@IMG", bb, "@ABSENT", absent).Replace(tc.args))
		for i, a := range args {
			args[i] = strings.ReplaceAll(a, "%20", " ")
		}
		d := docker(t, args...)
		s := skiff(t, args...)
		if d.ExitCode != tc.want {
			t.Errorf("docker %s: exit %d, want %d (is the judge right?)\n%s", strings.Join(args, " "), d.ExitCode, tc.want, d.Output())
		}
		if s.ExitCode != d.ExitCode {
			t.Errorf("skiff %s: exit %d, docker's CLI exits %d\n%s", strings.Join(args, " "), s.ExitCode, d.ExitCode, s.Output())
		}
	}
}
