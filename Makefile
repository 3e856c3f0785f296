# skiff — build, test and install. `make help` lists the targets.

GO ?= $(shell command -v go || echo /usr/local/go/bin/go)
GOFMT ?= $(shell $(GO) env GOROOT)/bin/gofmt
BUILDTAGS = exclude_graphdriver_btrfs exclude_graphdriver_zfs seccomp urfave_cli_no_docs
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
BUILDTIME ?= $(shell date -u +%Y-%m-%dT%H:%M:%S.000000000+00:00)
ENGINE = github.com/skiff-project/skiff/engine
# VCS stamping fails in a checkout git refuses to read (owned by another user); skip it there.
BUILDVCS ?= $(shell git status --porcelain >/dev/null 2>&1 && echo auto || echo false)
# Extra flags for every `go test` run, e.g. TESTFLAGS='-v -run TestRun'.
TESTFLAGS ?=

# go needs a cache and a module directory; give it ones when the environment has no HOME.
ifeq ($(strip $(HOME)$(XDG_CACHE_HOME)$(GOCACHE)),)
export GOCACHE := $(CURDIR)/.cache/go-build
endif
ifeq ($(strip $(HOME)$(GOPATH)$(GOMODCACHE)),)
export GOPATH := $(CURDIR)/.cache/go
endif

.PHONY: build deps judges test bench crash fuzz lint docs install uninstall clean help dockerfile-golden
# deps installs what build needs: never run targets side by side.
.NOTPARALLEL:

# skiff is built against a copy of runc with its seccomp program cache (runtime/seccompcache:
# about 30 ms off every container start and exec), made by patch.sh from Go's module cache into
# .cache/runc-seccomp (gitignored) and used through the go.work there.
RUNC_WORK = $(CURDIR)/.cache/runc-seccomp
$(RUNC_WORK)/go.work: go.mod go.sum runtime/seccompcache/patch.sh $(wildcard runtime/seccompcache/overlay/*.go.in)
	sh runtime/seccompcache/patch.sh $(GO) $(RUNC_WORK)

# Four binaries: skiff; skiff-kube, the same program with the Kubernetes types, to which skiff
# hands its kube commands (their package initialisation cost every start of skiff ~1.5 ms); the
# small per-container supervisor skiff starts (static, no cgo, kept small: it stays resident
# once per container); and skiff-start, the runtime alone, which the supervisor runs to start
# the container and libcontainer re-executes as its init (twice per start: a small binary loads
# faster). All but the supervisor carry the seccomp cache (kube play starts containers).
# The three cgo ones are linked statically (glibc's libc.a, libseccomp-dev's libseccomp.a): no
# dynamic loader at each start (≈0.6 ms of ≈5). netgo and osusergo keep the Go resolver and the
# /etc/passwd and /etc/group reader, which need no NSS modules (a static glibc cannot load those
# reliably).
STATIC_LDFLAGS = -linkmode external -extldflags -static
SKIFF_LDFLAGS = -X main.version=$(VERSION) -X $(ENGINE).GitCommit=$(COMMIT) -X $(ENGINE).BuildTime=$(BUILDTIME) \
	$(STATIC_LDFLAGS)
SKIFF_TAGS = $(BUILDTAGS) skiff_seccomp_cache netgo osusergo
build: $(RUNC_WORK)/go.work
	GOWORK=$(RUNC_WORK)/go.work CGO_ENABLED=1 $(GO) build -trimpath -buildvcs=$(BUILDVCS) -tags '$(SKIFF_TAGS) skiff_nokube' \
		-ldflags '$(SKIFF_LDFLAGS)' -o bin/skiff .
	GOWORK=$(RUNC_WORK)/go.work CGO_ENABLED=1 $(GO) build -trimpath -buildvcs=$(BUILDVCS) -tags '$(SKIFF_TAGS)' \
		-ldflags '$(SKIFF_LDFLAGS)' -o bin/skiff-kube .
	GOWORK=$(RUNC_WORK)/go.work CGO_ENABLED=1 $(GO) build -trimpath -buildvcs=$(BUILDVCS) -tags '$(SKIFF_TAGS)' \
		-ldflags '$(STATIC_LDFLAGS)' -o bin/skiff-start ./runtime/skiff-start
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=$(BUILDVCS) -ldflags '-s -w' \
		-o bin/skiff-supervisor ./supervisor/skiff-supervisor

# Manual pages, generated from the command definitions by the binary itself, so they list
# exactly the commands and flags --help shows: docs/man/man1/skiff*.1 (gitignored).
# Read one with: man -M docs/man skiff-run (or man -l docs/man/man1/skiff-run.1).
MANDIR = docs/man
docs: build
	rm -rf $(MANDIR)
	bin/skiff __man $(MANDIR)/man1

# As root: install missing packages and apply the host fixes. Otherwise: report what is missing.
deps:
	@if [ "$$(id -u)" = 0 ]; then bash ./install.sh --deps-only; else bash ./install.sh --check; fi

# Clients of the Docker Engine API that tests/api and tests/judges run against `skiff system
# service` (the judges): the docker CLI is on the machine, docker-py comes from Debian
# (install.sh), and docker compose is built here from its Go module, once per version, into
# .cache/judges/ (gitignored). A second run finds the file and builds nothing.
COMPOSE_VERSION = v5.6.0
JUDGES_DIR = $(CURDIR)/.cache/judges
COMPOSE_BIN = $(JUDGES_DIR)/docker-compose-$(COMPOSE_VERSION)
# AppArmor 4's parser judges contrib/apparmor/skiff (tests/e2e/install_test.go): Debian 12's
# apparmor_parser 3.0 predates the userns rule, so Debian 13's is fetched once with apt-get.
APPARMOR_PARSER = $(JUDGES_DIR)/apparmor/apparmor_parser
judges: $(COMPOSE_BIN) $(APPARMOR_PARSER)
	@ln -sfn $(notdir $(COMPOSE_BIN)) $(JUDGES_DIR)/docker-compose

$(APPARMOR_PARSER):
	bash tests/e2e/testdata/fetch-apparmor.sh $(dir $@)

# `go install pkg@version` refuses compose: its go.mod has exclude directives. So it is built from
# a throwaway module in .cache/judges/compose-mod, generated here and never committed: compose's
# own go.mod (its requirements, excludes and any replaces, so the same versions) under another
# module path, plus a requirement on compose itself. Its main package is .../cmd.
$(COMPOSE_BIN):
	@echo "building docker compose $(COMPOSE_VERSION) from its Go module (once: about 75 s on 2 cores with an empty build cache)"
	rm -rf $(JUDGES_DIR)/compose-mod && mkdir -p $(JUDGES_DIR)/compose-mod
	cd $(JUDGES_DIR)/compose-mod && export GOFLAGS= && \
	src=$$($(GO) mod download -json github.com/docker/compose/v5@$(COMPOSE_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$$/\1/p') && \
	[ -f "$$src/go.mod" ] || { echo "cannot download github.com/docker/compose/v5@$(COMPOSE_VERSION)"; exit 1; } && \
	sed 's|^module .*|module skiff.invalid/judges/compose|' "$$src/go.mod" >go.mod && \
	cp "$$src/go.sum" go.sum && chmod 0644 go.mod go.sum && \
	$(GO) mod edit -require=github.com/docker/compose/v5@$(COMPOSE_VERSION) && \
	CGO_ENABLED=0 $(GO) build -mod=mod -trimpath \
		-ldflags '-s -w -X github.com/docker/compose/v5/internal.Version=$(COMPOSE_VERSION)' \
		-o $@.tmp github.com/docker/compose/v5/cmd
	mv $@.tmp $@

# lint, then unit tests (every package outside tests/), then the end-to-end suites over bin/skiff,
# then the testcontainers-go judge (its own module in tests/judges).
test: deps build judges lint
	pkgs=$$($(GO) list -tags '$(BUILDTAGS)' ./...) && pkgs=$$(echo "$$pkgs" | grep -Ev '/tests(/|$$)' || true) && \
	if [ -n "$$pkgs" ]; then $(GO) test -tags '$(BUILDTAGS)' $(TESTFLAGS) $$pkgs; else echo "no unit-test packages"; fi
	GOWORK=$(RUNC_WORK)/go.work $(GO) test -tags '$(BUILDTAGS) skiff_seccomp_cache' $(TESTFLAGS) ./runtime/seccompcache/
	SKIFF_BINARY=$(CURDIR)/bin/skiff $(GO) test -tags '$(BUILDTAGS)' -count=1 -timeout 30m $(TESTFLAGS) ./tests/...
	cd tests/judges && SKIFF_BINARY=$(CURDIR)/bin/skiff $(GO) test -tags '$(BUILDTAGS)' -count=1 -timeout 10m $(TESTFLAGS) ./...

bench: deps build
	SKIFF_BINARY=$(CURDIR)/bin/skiff $(GO) test -tags '$(BUILDTAGS)' -count=1 -run '^$$' -bench . -benchtime 1x -timeout 60m $(TESTFLAGS) ./tests/bench/

# Podman's builds of the Dockerfile corpus (tests/e2e/testdata/dockerfiles/*/podman.json), which
# make test holds skiff's against: as root, with podman and runc installed; about a minute.
dockerfile-golden: deps build
	SKIFF_BINARY=$(CURDIR)/bin/skiff SKIFF_DOCKERFILE_GOLDEN=1 $(GO) test -tags '$(BUILDTAGS)' -count=1 -timeout 15m -v -run '^TestDockerfileGolden$$' $(TESTFLAGS) ./tests/e2e/

# gofmt, go vet, and go.mod/go.sum as `go mod tidy` leaves them (direct
# dependencies listed as direct): a failure prints what to run.
# The crash-injection sweep with more kill points than make test's slice.
crash: deps build
	SKIFF_BINARY=$(CURDIR)/bin/skiff SKIFF_CRASH_POINTS=$${SKIFF_CRASH_POINTS:-40} $(GO) test -tags '$(BUILDTAGS)' -count=1 -timeout 60m -v -run TestCrash $(TESTFLAGS) ./tests/crash/

# Every fuzz target for FUZZTIME each (make test runs their seed corpora).
# Minimizing a new input is capped: uncapped, it runs the target for up
# to a minute per input without counting executions, which looked like a
# stalled fuzzer.
FUZZTIME ?= 30s
FUZZ_TARGETS = ./storage:FuzzExtractArchive ./storage:FuzzCheckedTar ./container:FuzzParseVolume \
	./container:FuzzParseMount ./netns:FuzzParsePublish ./registry/reference:FuzzParse ./build:FuzzDockerfile
fuzz:
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; echo "== $$fn ($$pkg, $(FUZZTIME))"; \
		$(GO) test -tags '$(BUILDTAGS)' -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 2s $$pkg || exit 1; done

lint: $(RUNC_WORK)/go.work
	@files=$$(find . -path './.*' -prune -o -name '*.go' -print); \
	bad=$$([ -z "$$files" ] || $(GOFMT) -l $$files); \
	if [ -n "$$bad" ]; then echo "gofmt would change these files (run gofmt -w):"; echo "$$bad"; exit 1; fi
	$(GO) vet -tags '$(BUILDTAGS)' ./...
	GOWORK=$(RUNC_WORK)/go.work $(GO) vet -tags '$(BUILDTAGS) skiff_seccomp_cache' ./runtime/...
	$(GO) vet -tags '$(BUILDTAGS) skiff_nokube' . ./cmd/... ./engine/...
	@$(GO) mod tidy -diff || { echo "go.mod or go.sum is not tidy: run go mod tidy and commit the result"; exit 1; }
	cd tests/judges && $(GO) vet -tags '$(BUILDTAGS)' ./...
	@cd tests/judges && $(GO) mod tidy -diff || { echo "tests/judges/go.mod or go.sum is not tidy: run go mod tidy there and commit the result"; exit 1; }

# Root: system-wide install (packages, /dev/net/tun, /usr/local/bin). Otherwise: ~/.local/bin.
install:
	@if [ "$$(id -u)" = 0 ]; then bash ./install.sh; else bash ./install.sh --user; fi

uninstall:
	@if [ "$$(id -u)" = 0 ]; then bash ./uninstall.sh; else bash ./uninstall.sh --user; fi

clean:
	rm -rf bin/ .cache/ $(MANDIR) coverage.out coverage.html *.coverprofile
	find . -path './.*' -prune -o -name '*.test' -type f -print -exec rm -f {} +

help:
	@echo 'make build      build bin/skiff (cgo; tags: $(BUILDTAGS))'
	@echo 'make deps       root: install missing packages and host fixes; else report what is missing'
	@echo 'make dockerfile-golden  root: record Podman'"'"'s builds of the Dockerfile corpus (golden files of make test)'
	@echo 'make judges     build docker compose $(COMPOSE_VERSION) and fetch AppArmor 4'"'"'s parser into .cache/judges/ (once) for the tests'
	@echo 'make test       deps, build, judges, lint, unit tests, then the end-to-end suites in tests/'
	@echo 'make bench      deps, build, then the benchmarks in tests/bench/'
	@echo 'make crash      deps, build, then kill every operation at up to 40 of its state changes (SKIFF_CRASH_POINTS)'
	@echo 'make fuzz       every fuzz target for FUZZTIME (default 30s) each'
	@echo 'make lint       gofmt -l (fails on any file), go vet and go mod tidy -diff'
	@echo 'make docs       build, then the manual pages into $(MANDIR)/man1 (man -M $(MANDIR) skiff-run)'
	@echo 'make install    ./install.sh (root) or ./install.sh --user'
	@echo 'make uninstall  ./uninstall.sh (root) or ./uninstall.sh --user'
	@echo 'make clean      remove bin/, $(MANDIR) and test artefacts'
	@echo 'variables: GO=$(GO) TESTFLAGS=$(TESTFLAGS)'
