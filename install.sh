#!/usr/bin/env bash
# install.sh — install skiff and what it needs on a Debian host. Safe to run again.
# Sourced (tests/e2e/install_test.go does), it only defines its settings and functions: main
# sets mode, bindir, manifest and target_user, which the functions use.
set -euo pipefail

usage() {
	cat <<'EOF'
Usage: ./install.sh [--user | --deps-only | --check] [--docker-shim] [--help]

Installs skiff on a Debian 12 host. Run it as root (or with sudo) for a system-wide install.

  (no option)   install missing Debian packages, make /dev/net/tun usable (mode 0666 and a udev
                rule), build with `make build`, install bin/skiff to /usr/local/bin, install the
                systemd units (the API socket, skiff-restart.service) and the user generator
                of quadlet-style units, the bash, zsh and fish completions, the manual pages, enable the units when systemd runs here, and check that
                rootless use is possible (subuid/subgid, user namespaces). Where AppArmor is
                enabled, install and load its profile /etc/apparmor.d/skiff (it lets skiff create
                user namespaces where the kernel allows them only to programs with a profile:
                Ubuntu 23.10 and later). Where the docker CLI is installed, create a docker context
                `skiff` for you (the one who ran sudo) on your API socket: docker context use skiff.
                Ends with skiff system doctor, run as you
  --user        no root needed: build and install to ~/.local/bin and the units to
                ~/.config/systemd/user; packages and host settings are only checked, and the
                commands to fix them are printed. It cannot load AppArmor profiles: where the
                kernel restricts user namespaces, skiff system doctor prints what root must run
  --docker-shim also install a `docker` command that runs skiff (/usr/local/bin/docker, or
                ~/.local/bin/docker with --user), only where no docker CLI is installed
  --deps-only   (root) install packages and apply the host fixes, but do not build or install
  --check       change nothing: report missing packages and host problems; exit 1 when a
                package needed to build or run is missing (used by `make deps` as non-root)
  --help        show this text

What was installed is recorded in /var/lib/skiff-install/manifest (root) or
~/.local/share/skiff-install/manifest (--user); ./uninstall.sh undoes exactly that.
Go 1.26 must already be installed at /usr/local/go (it is never downloaded).
EOF
}

# Needed to build and to run skiff.
REQUIRED_PKGS=(uidmap slirp4netns passt libseccomp-dev pkg-config gcc libc6-dev fuse-overlayfs iproute2 tini iptables)
# Needed only by the test suite (local registry, busybox image, process tools; systemd-analyze
# for the generated units; the shells whose completion scripts are checked; apparmor_parser
# for the AppArmor profile; debootstrap for the Debian test image; openssh-client for build --ssh).
FIXTURE_PKGS=(docker-registry busybox-static procps psmisc strace python3-docker systemd bash-completion zsh fish tmux apparmor debootstrap openssh-client)
UDEV_RULE=/etc/udev/rules.d/60-skiff-tun.rules
GO_MIN_MINOR=26
# man and groff read the manual pages in the test suite (tests/e2e/docs_test.go).
FIXTURE_PKGS+=(man-db groff-base)

say() { printf '==> %s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; problems=$((problems + 1)); }
problems=0

# record KIND VALUE: add a line to the manifest once.
record() {
	mkdir -p "$(dirname "$manifest")"
	[[ -f $manifest ]] || printf '# written by skiff install.sh; read by uninstall.sh\n' >"$manifest"
	grep -qxF "$1 $2" "$manifest" || printf '%s %s\n' "$1" "$2" >>"$manifest"
}
recorded() { [[ -f $manifest ]] && grep -q "^$1 " "$manifest"; }

installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]; }

missing_of() {
	local p
	for p in "$@"; do installed "$p" || printf '%s ' "$p"; done
}

# --- packages ---------------------------------------------------------------------------------
# packages installs what is missing (root) or reports it; sets missing_required when it only
# reports and a package needed to build or run is absent.
missing_required=0
packages() {
	local missing_req missing_fix
	missing_req=$(missing_of "${REQUIRED_PKGS[@]}")
	missing_fix=$(missing_of "${FIXTURE_PKGS[@]}")
	local missing="$missing_req$missing_fix"
	if [[ -z $missing ]]; then
		say "Debian packages: all present"
		return 0
	fi
	if [[ $mode == user || $mode == check ]]; then
		[[ -n $missing_req ]] && warn "missing packages needed to build and run skiff: ${missing_req% }"
		[[ -n $missing_fix ]] && warn "missing packages needed by the test suite: ${missing_fix% }"
		echo "    fix: sudo apt-get install --no-install-recommends ${missing% }" >&2
		[[ -z $missing_req ]] || missing_required=1
		return 0
	fi
	say "installing Debian packages: ${missing% }"
	apt-get -q update
	# shellcheck disable=SC2086 # word splitting of the package list is wanted
	apt-get -q install -y --no-install-recommends $missing
	local p
	for p in $missing; do record package "$p"; done
}

# --- Go ---------------------------------------------------------------------------------------
find_go() {
	GO=
	if [[ -x /usr/local/go/bin/go ]]; then
		GO=/usr/local/go/bin/go
	elif command -v go >/dev/null 2>&1; then
		GO=$(command -v go)
	fi
	if [[ -z $GO ]]; then
		warn "Go not found (looked in /usr/local/go/bin and PATH): skiff needs Go 1.$GO_MIN_MINOR or newer; install it at /usr/local/go"
		return 1
	fi
	local v
	v=$("$GO" env GOVERSION 2>/dev/null || true) # e.g. go1.26.8
	if [[ $v =~ ^go1\.([0-9]+) ]] && ((BASH_REMATCH[1] >= GO_MIN_MINOR)); then
		say "Go: $GO ($v)"
		return 0
	fi
	warn "$GO is ${v:-of unknown version}: skiff needs Go 1.$GO_MIN_MINOR or newer at /usr/local/go"
	return 1
}

# --- /dev/net/tun (slirp4netns and pasta open it as the user) ----------------------------------
tun() {
	if [[ ! -c /dev/net/tun ]]; then
		warn "/dev/net/tun does not exist: container networking needs it (load the module: modprobe tun)"
		return 0
	fi
	local m
	m=$(stat -c %a /dev/net/tun)
	if [[ $m != 666 ]]; then
		if [[ $mode == user || $mode == check ]]; then
			warn "/dev/net/tun has mode $m, so rootless networking cannot open it; fix: sudo chmod 0666 /dev/net/tun (or run sudo ./install.sh --deps-only)"
		else
			say "/dev/net/tun had mode $m: chmod 0666 /dev/net/tun"
			recorded tun-mode || record tun-mode "$m"
			chmod 0666 /dev/net/tun
		fi
	fi
	if [[ $mode == system || $mode == deps ]]; then
		local rule='KERNEL=="tun", MODE="0666"'
		if [[ ! -f $UDEV_RULE || $(cat "$UDEV_RULE") != "$rule" ]]; then
			say "writing $UDEV_RULE so /dev/net/tun stays 0666 after a reboot"
			mkdir -p "$(dirname "$UDEV_RULE")"
			printf '%s\n' "$rule" >"$UDEV_RULE"
			if command -v udevadm >/dev/null 2>&1; then udevadm control --reload-rules 2>/dev/null || true; fi
		fi
		record file "$UDEV_RULE"
		command -v udevadm >/dev/null 2>&1 ||
			say "note: udev is not running on this host, so after a reboot run this script again (or chmod 0666 /dev/net/tun)"
	fi
}

# --- rootless prerequisites ---------------------------------------------------------------------
# free_range: first start >= 100000 where 65536 ids overlap no range in /etc/subuid or /etc/subgid.
free_range() {
	cat /etc/subuid /etc/subgid 2>/dev/null | awk -F: '
		BEGIN { n = 0 }
		NF >= 3 && $2 ~ /^[0-9]+$/ && $3 ~ /^[0-9]+$/ { s[n] = $2; e[n] = $2 + $3; n++ }
		END {
			start = 100000; moved = 1
			while (moved) {
				moved = 0
				for (i = 0; i < n; i++) if (start < e[i] && start + 65536 > s[i]) { start = e[i]; moved = 1 }
			}
			printf "%d-%d\n", start, start + 65535
		}'
}

rootless() {
	if [[ $target_user == root ]]; then
		say "rootless checks skipped: running for root (run skiff as an ordinary user to use rootless mode)"
	elif ! id -u "$target_user" >/dev/null 2>&1; then
		say "rootless checks skipped: no such user $target_user"
	else
		local uid f where="" cmd=""
		uid=$(id -u "$target_user")
		for f in subuid subgid; do
			grep -qE "^($target_user|$uid):[0-9]+:[0-9]+" "/etc/$f" 2>/dev/null && continue
			where+="${where:+ and }/etc/$f"
			cmd+=" --add-${f}s RANGE"
		done
		if [[ -n $cmd ]]; then
			cmd=${cmd//RANGE/$(free_range)}
			warn "$target_user has no entry in $where: skiff falls back to a single-uid user namespace (image files owned by other users cannot be created)"
			echo "    fix: sudo usermod$cmd $target_user" >&2
		else
			say "subordinate ids: $target_user has /etc/subuid and /etc/subgid entries"
		fi
	fi
	local max
	max=$(cat /proc/sys/user/max_user_namespaces 2>/dev/null || echo 0)
	if ((max == 0)); then
		warn "user namespaces are disabled (user.max_user_namespaces = 0)"
		echo "    fix: echo user.max_user_namespaces=15000 | sudo tee /etc/sysctl.d/60-skiff-userns.conf && sudo sysctl --system" >&2
	fi
	if [[ -r /proc/sys/kernel/unprivileged_userns_clone && $(cat /proc/sys/kernel/unprivileged_userns_clone) == 0 ]]; then
		warn "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0)"
		echo "    fix: echo kernel.unprivileged_userns_clone=1 | sudo tee /etc/sysctl.d/60-skiff-userns.conf && sudo sysctl --system" >&2
	fi
	if aa_restricted; then
		if [[ $mode == system ]]; then
			say "AppArmor lets only programs with a profile create user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1): skiff's profile, installed below, allows them to skiff"
		elif [[ $mode != user ]]; then # --user: apparmor_profile says it, after the install
			warn "AppArmor lets only programs with a profile create user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1): skiff needs its profile"
			echo "    fix: sudo ./install.sh (installs and loads /etc/apparmor.d/skiff), or allow them to every program: echo kernel.apparmor_restrict_unprivileged_userns=0 | sudo tee /etc/sysctl.d/60-skiff-userns.conf && sudo sysctl --system" >&2
		fi
	fi
}

# --- build and install ------------------------------------------------------------------------
build_and_install() {
	find_go || { echo "install.sh: cannot build without Go 1.$GO_MIN_MINOR" >&2; exit 1; }
	say "building: make build"
	# Under sudo, build as the calling user when they own the checkout, so bin/ and the Go caches
	# stay theirs.
	if [[ $EUID -eq 0 && -n ${SUDO_USER:-} && $SUDO_USER != root && $(stat -c %U .) == "$SUDO_USER" ]]; then
		runuser -u "$SUDO_USER" -- env HOME="$(getent passwd "$SUDO_USER" | cut -d: -f6)" make build GO="$GO"
	else
		make build GO="$GO"
	fi
	mkdir -p "$bindir"
	install -m 0755 bin/skiff "$bindir/skiff"
	record binary "$bindir/skiff"
	# The per-container supervisor; skiff looks for it next to itself.
	install -m 0755 bin/skiff-supervisor "$bindir/skiff-supervisor"
	record binary "$bindir/skiff-supervisor"
	# What the supervisor runs to start a container (and libcontainer as the container's init).
	install -m 0755 bin/skiff-start "$bindir/skiff-start"
	record binary "$bindir/skiff-start"
	# skiff with the Kubernetes types; skiff hands its kube commands to it.
	install -m 0755 bin/skiff-kube "$bindir/skiff-kube"
	record binary "$bindir/skiff-kube"
	say "installed $bindir/skiff ($("$bindir/skiff" --version 2>/dev/null || echo "skiff --version failed"))"
	install_units
	install_completions
	install_manpages
	apparmor_profile
	docker_context "$target_user"
	((shim == 0)) || docker_shim
	if [[ $mode == user && :$PATH: != *:$bindir:* ]]; then
		say "note: $bindir is not in your PATH; add it: export PATH=\"$bindir:\$PATH\""
	fi
}

# --- shell completions: written by the installed binary (skiff completion SHELL), where each shell
# looks for them ---------------------------------------------------------------------------------
install_completions() {
	local sh dest
	for sh in bash zsh fish; do
		if [[ $mode == user ]]; then
			case $sh in
			bash) dest=${XDG_DATA_HOME:-$HOME/.local/share}/bash-completion/completions/skiff ;;
			zsh) dest=${XDG_DATA_HOME:-$HOME/.local/share}/zsh/site-functions/_skiff ;;
			fish) dest=${XDG_CONFIG_HOME:-$HOME/.config}/fish/completions/skiff.fish ;;
			esac
		else
			case $sh in
			bash) dest=/usr/share/bash-completion/completions/skiff ;;
			zsh) dest=/usr/share/zsh/vendor-completions/_skiff ;;
			fish) dest=/usr/share/fish/vendor_completions.d/skiff.fish ;;
			esac
		fi
		mkdir -p "$(dirname "$dest")"
		if ! "$bindir/skiff" completion "$sh" >"$dest.tmp"; then
			rm -f "$dest.tmp"
			warn "skiff completion $sh failed: no $sh completion installed"
			continue
		fi
		chmod 0644 "$dest.tmp"
		mv "$dest.tmp" "$dest"
		record file "$dest"
	done
	if [[ $mode == user ]]; then
		say "installed shell completions (bash, fish; zsh: add fpath+=(${XDG_DATA_HOME:-$HOME/.local/share}/zsh/site-functions) before compinit in ~/.zshrc)"
	else
		say "installed shell completions for bash, zsh and fish (new shells pick them up)"
	fi
}

# --- manual pages: written by the installed binary (skiff __man DIR) from its command definitions --
install_manpages() {
	local dest tmp f
	if [[ $mode == user ]]; then dest=$HOME/.local/share/man/man1; else dest=/usr/local/share/man/man1; fi
	tmp=$(mktemp -d)
	if ! "$bindir/skiff" __man "$tmp"; then
		rm -rf "$tmp"
		warn "skiff __man failed: no manual pages installed"
		return 0
	fi
	mkdir -p "$dest"
	for f in "$tmp"/*.1; do
		install -m 0644 "$f" "$dest/${f##*/}"
		record file "$dest/${f##*/}"
	done
	rm -rf "$tmp"
	say "installed the manual pages in $dest (man skiff, man skiff-run)"
}

# --- systemd units: the Docker API socket, restarts after a reboot, the quadlet generator ---------
# USER_UNITS and SYSTEM_UNITS are contrib/systemd's units; skiff-restart.service is installed when
# the checkout has it.
USER_UNITS=(skiff.socket skiff.service skiff-restart.service)
USER_GENERATOR=/usr/lib/systemd/user-generators/skiff-user-generator

# install_units writes contrib/systemd's units with this install's binary path: the user units
# for every user (or, with --user, for this one), and root's; then the user generator, and
# enables the units when systemd runs here.
install_units() {
	local dirs=() d f
	if [[ $mode == user ]]; then
		dirs=("user:${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user")
	else
		dirs=("user:/usr/local/lib/systemd/user" "system:/usr/local/lib/systemd/system")
	fi
	for d in "${dirs[@]}"; do
		mkdir -p "${d#*:}"
		for f in "${USER_UNITS[@]}"; do
			[[ -f contrib/systemd/${d%%:*}/$f ]] || continue
			sed "s#@BINDIR@#$bindir#g" "contrib/systemd/${d%%:*}/$f" >"${d#*:}/$f.tmp"
			chmod 0644 "${d#*:}/$f.tmp"
			mv "${d#*:}/$f.tmp" "${d#*:}/$f"
			record file "${d#*:}/$f"
		done
	done
	# systemd runs the generator at boot and on daemon-reload: ~/.config/skiff/systemd/*.container
	# (.volume, .network) become user units. Its name tells skiff to act as the generator.
	if [[ $mode == user ]]; then
		say "note: the quadlet generator needs a system install (systemd reads generators only from system directories); meanwhile: skiff generate quadlet --user ~/.config/systemd/user && systemctl --user daemon-reload"
	else
		mkdir -p "$(dirname "$USER_GENERATOR")"
		ln -sfn "$bindir/skiff" "$USER_GENERATOR"
		record file "$USER_GENERATOR"
		say "installed the systemd user generator $USER_GENERATOR: ~/.config/skiff/systemd/*.container become user units"
	fi
	enable_units
}

# enable_units enables the API socket and skiff-restart.service: for every user and root (system
# install) or for this user (--user), when systemd is the init system here.
enable_units() {
	local units=() f
	for f in skiff.socket skiff-restart.service; do
		[[ -f contrib/systemd/user/$f ]] && units+=("$f")
	done
	if [[ ! -d /run/systemd/system ]]; then
		say "note: systemd is not running on this host: the units are installed but not enabled (later: systemctl --user enable ${units[*]})"
		return 0
	fi
	if [[ $mode == user ]]; then
		if systemctl --user daemon-reload 2>/dev/null && systemctl --user enable "${units[@]}"; then
			for f in "${units[@]}"; do record enabled-user "$f"; done
			say "enabled ${units[*]} (systemctl --user); start the API socket now: systemctl --user start skiff.socket"
		else
			warn "could not reach your systemd user manager: enable the units yourself: systemctl --user enable ${units[*]}"
		fi
		return 0
	fi
	systemctl daemon-reload || true
	if systemctl --global enable "${units[@]}"; then
		for f in "${units[@]}"; do record enabled-global "$f"; done
	else
		warn "systemctl --global enable ${units[*]} failed"
	fi
	local sys=()
	for f in "${units[@]}"; do [[ -f contrib/systemd/system/$f ]] && sys+=("$f"); done
	if ((${#sys[@]})) && systemctl enable "${sys[@]}"; then
		for f in "${sys[@]}"; do record enabled-system "$f"; done
	fi
	say "enabled ${units[*]} for every user (systemctl --global) and for root; each user starts the API socket with systemctl --user start skiff.socket (or at the next login); loginctl enable-linger USER keeps a user's containers across reboots without a login"
}

# --- AppArmor: where the kernel lets only programs with a profile create user namespaces --------
# Ubuntu 23.10 and later set kernel.apparmor_restrict_unprivileged_userns = 1; a profile with the
# userns rule (AppArmor 4) lets its program create them anyway. The AA_* paths are settings so
# that tests can point them at a fake root.
AA_ENABLED=/sys/module/apparmor/parameters/enabled
AA_RESTRICT=/proc/sys/kernel/apparmor_restrict_unprivileged_userns
AA_DIR=/etc/apparmor.d
AA_PARSER=apparmor_parser
AA_SOURCE=contrib/apparmor/skiff

aa_enabled() { [[ $(cat "$AA_ENABLED" 2>/dev/null) == Y ]]; }
aa_restricted() { [[ $(cat "$AA_RESTRICT" 2>/dev/null) == 1 ]]; }

# apparmor_text: skiff's profile for the binaries in $bindir.
apparmor_text() { sed "s#@BINDIR@#$bindir#g" "$AA_SOURCE"; }

# apparmor_profile installs $AA_DIR/skiff and loads it, where AppArmor is enabled and its parser
# takes the profile (AppArmor 4; Debian 12's 3.0 predates the userns rule, and its kernel has no
# restriction to lift). A --user install cannot load profiles: it says what root must do.
apparmor_profile() {
	aa_enabled || return 0
	if [[ $mode == user ]]; then
		aa_restricted && warn "a --user install cannot load AppArmor profiles, so $bindir/skiff cannot create its user namespace here: skiff system doctor (below) prints the command root runs to allow it"
		return 0
	fi
	if ! command -v "$AA_PARSER" >/dev/null 2>&1; then
		aa_restricted && warn "AppArmor restricts user namespaces, and $AA_PARSER is missing, so skiff's profile cannot be loaded; fix: sudo apt-get install apparmor && sudo ./install.sh"
		return 0
	fi
	local dest=$AA_DIR/skiff err
	mkdir -p "$AA_DIR"
	apparmor_text >"$dest.tmp"
	if ! err=$("$AA_PARSER" -Q "$dest.tmp" 2>&1); then
		rm -f "$dest.tmp"
		if aa_restricted; then
			warn "$AA_PARSER rejects skiff's AppArmor profile, so skiff cannot create user namespaces here: $(grep -m1 -i error <<<"$err")"
		else
			say "AppArmor: no profile installed: this apparmor_parser ($("$AA_PARSER" --version 2>/dev/null | awk 'NR == 1 { print $NF }')) predates the userns rule, and user namespaces are not restricted here"
		fi
		return 0
	fi
	chmod 0644 "$dest.tmp"
	mv "$dest.tmp" "$dest"
	record file "$dest"
	if "$AA_PARSER" -r "$dest"; then
		record apparmor "$dest"
		say "installed and loaded the AppArmor profile $dest: skiff may create user namespaces where AppArmor restricts them"
	else
		warn "$AA_PARSER -r $dest failed: skiff's AppArmor profile is installed but not loaded"
	fi
}

# --- Docker's habits: a docker context on skiff's API socket, and a docker shim -----------------
# as_user USER CMD...: run CMD as USER, with their HOME (and their XDG_RUNTIME_DIR where it
# exists), from /, so what it writes is theirs; as ourselves, run it as it is.
as_user() {
	local u=$1 uid home
	shift
	uid=$(id -u "$u")
	if [[ $uid == "$EUID" ]]; then
		"$@"
		return
	fi
	home=$(getent passwd "$u" | cut -d: -f6)
	local env=(HOME="$home" USER="$u" LOGNAME="$u")
	[[ ! -d /run/user/$uid ]] || env+=(XDG_RUNTIME_DIR="/run/user/$uid")
	(cd / && runuser -u "$u" -- env -u DOCKER_CONFIG -u DOCKER_HOST -u DOCKER_CONTEXT -u XDG_RUNTIME_DIR \
		-u XDG_DATA_HOME -u XDG_CONFIG_HOME "${env[@]}" "$@")
}

# skiff_socket USER: where USER's Docker API service listens, as skiff system service and the
# socket units (contrib/systemd) put it: root /run/skiff/skiff.sock; a user
# $XDG_RUNTIME_DIR/skiff/skiff.sock, that is /run/user/UID/… under systemd, else skiff's own
# fallback /tmp/skiff-UID/….
skiff_socket() {
	local uid
	uid=$(id -u "$1")
	if ((uid == 0)); then
		echo /run/skiff/skiff.sock
	elif ((uid == EUID)) && [[ ${XDG_RUNTIME_DIR:-} == /* ]]; then
		echo "$XDG_RUNTIME_DIR/skiff/skiff.sock"
	elif [[ -d /run/systemd/system || -d /run/user/$uid ]]; then
		echo "/run/user/$uid/skiff/skiff.sock"
	else
		echo "/tmp/skiff-$uid/skiff.sock"
	fi
}

SHIM_MARK='# docker shim of skiff (install.sh --docker-shim): runs skiff'
is_shim() { [[ -f $1 ]] && grep -qxF "$SHIM_MARK" "$1"; }

# docker_cli: the first docker CLI on PATH that is not skiff's shim; fails when there is none.
docker_cli() {
	local d
	while IFS= read -r d; do
		is_shim "$d" || { printf '%s\n' "$d"; return 0; }
	done < <(type -aP docker)
	return 1
}

# docker_context USER: a docker context "skiff" in USER's ~/.docker on their API socket, created
# as USER, where a docker CLI is installed; again, it is brought up to date.
docker_context() {
	local u=$1 docker host verb=create out
	docker=$(docker_cli) || return 0
	host=unix://$(skiff_socket "$u")
	as_user "$u" "$docker" context inspect skiff >/dev/null 2>&1 && verb=update
	if ! out=$(as_user "$u" "$docker" context "$verb" skiff --description "skiff's Docker API (install.sh)" --docker "host=$host" 2>&1); then
		warn "docker context $verb skiff failed for $u: $out (DOCKER_HOST=$host works without it)"
		return 0
	fi
	record docker-context "$u"
	say "docker context skiff (for $u): $host; use it with: docker context use skiff (or docker --context skiff …)"
	if [[ -d /run/systemd/system ]]; then
		say "    the skiff.socket unit starts skiff's API service on the first request"
	else
		say "    systemd is not running here, so nothing starts skiff's API service on demand: run skiff system service --time 0 & (as $u) before using the context"
	fi
}

# docker_shim installs $bindir/docker, a script that runs skiff, unless a docker CLI is installed.
docker_shim() {
	local d dest=$bindir/docker
	if d=$(docker_cli); then
		say "not installing the docker shim: the docker CLI is installed ($d); point it at skiff with docker context use skiff"
		return 0
	fi
	if [[ -e $dest ]] && ! is_shim "$dest"; then
		say "not installing the docker shim: $dest exists and is not skiff's"
		return 0
	fi
	mkdir -p "$bindir"
	printf '#!/bin/sh\n%s\nexec %q "$@"\n' "$SHIM_MARK" "$bindir/skiff" >"$dest.tmp"
	chmod 0755 "$dest.tmp"
	mv "$dest.tmp" "$dest"
	record shim "$dest"
	say "installed $dest: docker COMMAND runs skiff COMMAND"
}

# --- the verdict: skiff system doctor as the user who will run skiff ------------------------------
# Its problems are warnings here: the install itself went through.
run_doctor() {
	if [[ $target_user == root ]]; then
		say "skiff system doctor, as root: this checks root mode; users who will run skiff rootless check with skiff system doctor"
	else
		say "skiff system doctor, as $target_user:"
	fi
	if as_user "$target_user" "$bindir/skiff" system doctor 2>&1 | sed 's/^/    /'; then
		return 0
	fi
	warn "skiff system doctor found problems: the fail lines above say how to fix each"
}

main() {
	mode=system shim=0
	local arg
	for arg in "$@"; do
		case "$arg" in
		--user) mode=user ;;
		--deps-only) mode=deps ;;
		--check) mode=check ;;
		--docker-shim) shim=1 ;;
		-h | --help) usage; exit 0 ;;
		*) echo "install.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
		esac
	done
	if ((shim)) && [[ $mode == deps || $mode == check ]]; then
		echo "install.sh: --docker-shim comes with an install of skiff: not with --deps-only or --check" >&2
		exit 2
	fi

	cd "$(dirname "$0")"
	export DEBIAN_FRONTEND=noninteractive

	if [[ $EUID -ne 0 && ($mode == system || $mode == deps) ]]; then
		echo "install.sh: this needs root: run 'sudo ./install.sh${1:+ $*}', or './install.sh --user' to install for yourself only" >&2
		exit 1
	fi
	if [[ $mode == user && $EUID -eq 0 && -n ${SUDO_USER:-} && $SUDO_USER != root ]]; then
		echo "install.sh: --user installs for the user running it: run it without sudo" >&2
		exit 1
	fi

	# The user who will run skiff rootless: the one who called sudo, else ourselves.
	target_user=${SUDO_USER:-${USER:-$(id -un)}}

	if [[ $mode == user ]]; then
		manifest=${XDG_DATA_HOME:-$HOME/.local/share}/skiff-install/manifest
		bindir=$HOME/.local/bin
	else
		manifest=/var/lib/skiff-install/manifest
		bindir=/usr/local/bin
	fi

	packages
	if [[ $mode == deps || $mode == check ]]; then
		find_go || true
	fi
	tun
	rootless
	if [[ $mode == system || $mode == user ]]; then
		((missing_required == 0)) || { echo "install.sh: install the missing packages first (see above)" >&2; exit 1; }
		build_and_install
	fi
	[[ $mode == check ]] || [[ ! -f $manifest ]] || say "install record: $manifest"
	if [[ $mode == system || $mode == user ]]; then
		run_doctor
	fi
	if ((problems)); then
		say "done, with $problems warning(s) above"
	else
		say "done"
	fi
	exit "$missing_required"
}

[[ ${BASH_SOURCE[0]} != "$0" ]] || main "$@"
