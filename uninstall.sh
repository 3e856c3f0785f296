#!/usr/bin/env bash
# uninstall.sh — undo what install.sh recorded in its manifest; --purge also deletes skiff's data.
set -euo pipefail

usage() {
	cat <<'EOF'
Usage: ./uninstall.sh [--user] [--packages] [--purge] [--dry-run] [--help]

Removes what install.sh recorded: the skiff binary, the systemd units and the user generator
(disabled first where systemd runs), the shell completions, the manual pages, the AppArmor profile (unloaded first),
the docker context `skiff` and the docker shim, the /dev/net/tun udev rule (and the mode install.sh
changed), and, with --packages, the Debian packages install.sh added. The pause processes that
run the removed binary (each user's keeper of their user namespace) are stopped, with their
supervisors and containers: once the binary is gone no skiff can reach them again.

  --user      undo an `install.sh --user` install (~/.local/bin/skiff). Run as that user, or
              with sudo to act for the user who called sudo (root can delete any file)
  --packages  also `apt-get remove` the packages install.sh installed (root only)
  --purge     also delete skiff's data, after printing the directories:
                root:  /var/lib/skiff /run/skiff /etc/skiff
                user:  ~/.local/share/skiff, ${XDG_RUNTIME_DIR}/skiff or /tmp/skiff-$UID,
                       ~/.config/skiff
              Rootless: the user's skiff processes (pause process, supervisors, containers) are
              stopped first and mounts under the data are unmounted
  --dry-run   print what would be done, change nothing
  --help      show this text
EOF
}

mode=system packages=0 purge=0 dry=0
for arg in "$@"; do
	case "$arg" in
	--user) mode=user ;;
	--packages) packages=1 ;;
	--purge) purge=1 ;;
	--dry-run) dry=1 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "uninstall.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
	esac
done

say() { printf '==> %s\n' "$*"; }
# run CMD...: show it, and run it unless --dry-run.
run() {
	if ((dry)); then
		printf 'would run: %s\n' "$*"
	else
		printf '+ %s\n' "$*"
		"$@"
	fi
}

if [[ $EUID -ne 0 && $mode == system ]]; then
	echo "uninstall.sh: the system install needs root: run 'sudo ./uninstall.sh $*', or use --user for an install.sh --user install" >&2
	((dry)) || exit 1
fi
if ((packages)) && [[ $EUID -ne 0 ]]; then
	echo "uninstall.sh: --packages needs root" >&2
	((dry)) || exit 1
fi

# Whose install and data: with --user under sudo, the user who called sudo.
if [[ $mode == user ]]; then
	user=$(id -un)
	if [[ $EUID -eq 0 && -n ${SUDO_USER:-} ]]; then user=$SUDO_USER; fi
	uid=$(id -u "$user")
	home=$(getent passwd "$user" | cut -d: -f6)
	if [[ $uid -eq $EUID ]]; then
		home=${HOME:-$home}
		data_home=${XDG_DATA_HOME:-$home/.local/share}
		config_home=${XDG_CONFIG_HOME:-$home/.config}
		runtime_base=${XDG_RUNTIME_DIR:-}
	else # acting for another user: their XDG variables are unknown, use the defaults
		data_home=$home/.local/share config_home=$home/.config runtime_base=
		[[ -d /run/user/$uid ]] && runtime_base=/run/user/$uid
	fi
	manifest=$data_home/skiff-install/manifest
	runtime_dirs=()
	[[ -n $runtime_base ]] && runtime_dirs+=("$runtime_base/skiff")
	runtime_dirs+=("/tmp/skiff-$uid")
	data_dir=$data_home/skiff
	purge_dirs=("$data_dir" "${runtime_dirs[@]}" "$config_home/skiff")
else
	manifest=/var/lib/skiff-install/manifest
	data_dir=/var/lib/skiff
	runtime_dirs=(/run/skiff)
	purge_dirs=(/var/lib/skiff /run/skiff /etc/skiff)
fi

# entries KIND: the values of the manifest's lines of that kind.
entries() {
	[[ -f $manifest ]] || return 0
	awk -v k="$1" '$1 == k { sub(/^[^ ]+ /, ""); print }' "$manifest"
}

# as_user CMD...: run CMD as the target user (we may be root acting for them).
as_user() {
	if [[ $EUID -eq $uid ]]; then
		run "$@"
	else
		run runuser -u "$user" -- env HOME="$home" ${runtime_base:+XDG_RUNTIME_DIR=$runtime_base} "$@"
	fi
}

# mounts_under DIR: mount points at or below DIR, deepest first (mountinfo escapes decoded).
mounts_under() {
	awk '{ print $5 }' /proc/self/mountinfo | while IFS= read -r m; do
		m=$(printf '%b' "$m")
		if [[ $m == "$1" || $m == "$1"/* ]]; then printf '%s\n' "$m"; fi
	done | awk '{ print length, $0 }' | sort -rn | cut -d' ' -f2-
}

unmount_under() {
	local m
	while IFS= read -r m; do
		[[ -n $m ]] || continue
		if [[ $EUID -eq 0 ]]; then
			run umount "$m" || run umount -l "$m"
		elif [[ $(awk -v m="$m" '$5 == m { split($0, a, " - "); split(a[2], b, " "); print b[1] }' /proc/self/mountinfo) == fuse* ]]; then
			run fusermount -u "$m" || echo "  could not unmount $m: run: sudo umount -l '$m'" >&2
		else
			echo "  $m is mounted and only root can unmount it: run: sudo umount -l '$m'" >&2
		fi
	done < <(mounts_under "$1")
}

# ns_pids PID: PID and every process in its user namespace (for a pause process: the user's
# supervisors and containers), or PID alone when it is not in a user namespace of its own.
ns_pids() {
	local ns p
	ns=$(readlink "/proc/$1/ns/user" 2>/dev/null) || return 0
	if [[ $ns == "$(readlink /proc/1/ns/user 2>/dev/null)" ]]; then
		echo "$1"
		return 0
	fi
	for p in /proc/[0-9]*; do
		if [[ $(readlink "$p/ns/user" 2>/dev/null) == "$ns" ]]; then echo "${p#/proc/}"; fi
	done
}

# stop_pids WHAT PID...: SIGTERM, then SIGKILL what is left 3 seconds later.
stop_pids() {
	say "stopping $1: ${*:2}"
	shift
	run kill -TERM "$@" 2>/dev/null || true
	((dry)) && return 0
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		kill -0 "$@" 2>/dev/null || return 0
		sleep 0.3
	done
	run kill -KILL "$@" 2>/dev/null || true
}

is_pause() { [[ $(tr '\0' '\n' <"$1/cmdline" 2>/dev/null | sed -n 2p) == __skiff_pause ]]; }

# stop_user_processes: kill every process in the user namespace kept by the user's pause process
# (the pause process itself, supervisors, containers), so nothing holds the data's mounts.
stop_user_processes() {
	local rd pidfile pid pids=()
	for rd in "${runtime_dirs[@]}"; do
		pidfile=$rd/pause.pid
		[[ -r $pidfile ]] || continue
		pid=$(tr -dc 0-9 <"$pidfile")
		[[ -n $pid && -d /proc/$pid ]] || continue
		if [[ $(stat -c %u "/proc/$pid") != "$uid" ]] || ! is_pause "/proc/$pid"; then
			say "pid $pid in $pidfile is not $user's skiff pause process any more: left alone"
			continue
		fi
		[[ $(readlink "/proc/$pid/ns/user" 2>/dev/null) != "$(readlink /proc/1/ns/user 2>/dev/null)" ]] ||
			say "pid $pid is not in a user namespace of its own: killing only it"
		mapfile -t -O "${#pids[@]}" pids < <(ns_pids "$pid")
	done
	((${#pids[@]})) || { say "no skiff pause process running for $user"; return 0; }
	stop_pids "$user's skiff processes (pause process, supervisors, containers)" "${pids[@]}"
}

# stop_pause_processes BINARY...: stop the pause processes that run one of these binaries (of
# every user we can see), with the processes of their user namespaces.
stop_pause_processes() {
	local p exe b pids=() owners=()
	for p in /proc/[0-9]*; do
		exe=$(readlink "$p/exe" 2>/dev/null) || continue
		exe=${exe% (deleted)}
		for b in "$@"; do
			if [[ $exe == "$b" ]] && is_pause "$p"; then
				owners+=("$(stat -c %U "$p")")
				mapfile -t -O "${#pids[@]}" pids < <(ns_pids "${p#/proc/}")
				break
			fi
		done
	done
	((${#pids[@]})) || return 0
	stop_pids "the skiff processes of $(printf '%s\n' "${owners[@]}" | sort -u | paste -sd' ') (pause processes, supervisors, containers) running the removed binary" "${pids[@]}"
}

SHIM_MARK='# docker shim of skiff (install.sh --docker-shim): runs skiff'

# remove_docker_context USER: docker context rm skiff, as USER, where a docker CLI is installed.
remove_docker_context() {
	local u=$1 c d= h
	id -u "$u" >/dev/null 2>&1 || return 0
	for c in $(type -aP docker); do grep -qxF "$SHIM_MARK" "$c" 2>/dev/null || { d=$c; break; }; done
	if [[ -z $d ]]; then
		say "no docker CLI any more: the docker context skiff stays in $u's ~/.docker"
		return 0
	fi
	if [[ $(id -u "$u") == "$EUID" ]]; then
		run "$d" context rm -f skiff || true
	else
		h=$(getent passwd "$u" | cut -d: -f6)
		(cd / && run runuser -u "$u" -- env -u DOCKER_CONFIG HOME="$h" "$d" context rm -f skiff) || true
	fi
}

# remove_dir DIR: delete DIR without crossing into anything still mounted below it. Rootless data
# holds files owned by the user's subordinate ids, which only root or the user namespace can delete.
remove_dir() {
	local d=$1
	if [[ $EUID -eq 0 ]]; then
		run rm -rf --one-file-system "$d"
	elif run rm -rf --one-file-system "$d" 2>/dev/null; then
		:
	elif unshare --user --map-auto --map-root-user true 2>/dev/null; then
		run unshare --user --map-auto --map-root-user rm -rf --one-file-system "$d"
	elif [[ -n $skiff ]] && "$skiff" unshare true 2>/dev/null; then
		run "$skiff" unshare rm -rf --one-file-system "$d"
	else
		echo "  could not delete $d (files owned by subordinate ids): run: sudo rm -rf --one-file-system '$d'" >&2
		return 1
	fi
}

purge_data() {
	local d existing=()
	for d in "${purge_dirs[@]}"; do [[ -e $d ]] && existing+=("$d"); done
	if ((${#existing[@]} == 0)); then
		say "--purge: no skiff data directories exist (${purge_dirs[*]})"
		return 0
	fi
	say "--purge will delete these directories:"
	printf '      %s\n' "${existing[@]}"
	if [[ $mode == user ]]; then
		if [[ -n $skiff ]]; then
			as_user timeout 60 "$skiff" system migrate || say "skiff system migrate failed; stopping processes by hand"
		fi
		stop_user_processes
	else
		say "note: rootless data of ordinary users is kept; each can run ./uninstall.sh --user --purge"
	fi
	for d in "${runtime_dirs[@]}" "$data_dir"; do [[ -e $d ]] && unmount_under "$d"; done
	local failed=0
	for d in "${existing[@]}"; do remove_dir "$d" || failed=1; done
	return "$failed"
}

# The binary, if still installed, is used by --purge (system migrate), so purge comes first.
skiff=
for b in $(entries binary); do [[ -x $b && $(basename "$b") == skiff ]] && skiff=$b; done
if [[ -z $skiff && $mode == user ]]; then
	skiff=$(command -v skiff 2>/dev/null || true)
	[[ -n $skiff || ! -x $home/.local/bin/skiff ]] || skiff=$home/.local/bin/skiff
fi

[[ -f $manifest ]] || say "no install record at $manifest: nothing that install.sh installed to remove"

status=0
((purge)) && { purge_data || status=1; }

# Pause processes of the binaries about to go: the path as the processes see it, even after a
# removal (" (deleted)"), so a second run still finds them.
bins=()
for b in $(entries binary); do bins+=("$b" "$(readlink -f "$b" 2>/dev/null || echo "$b")"); done
((${#bins[@]} == 0)) || stop_pause_processes "${bins[@]}"

# Units install.sh enabled: disable them before their files go (only where systemd runs).
if [[ -d /run/systemd/system ]]; then
	for u in $(entries enabled-global); do run systemctl --global disable "$u" || true; done
	for u in $(entries enabled-system); do run systemctl disable "$u" || true; done
	for u in $(entries enabled-user); do as_user systemctl --user disable "$u" || true; done
fi
for b in $(entries binary); do
	[[ -e $b ]] && run rm -f "$b"
done
# The AppArmor profile: unloaded while its file is still there (where AppArmor is enabled).
for f in $(entries apparmor); do
	if [[ -f $f && $(cat /sys/module/apparmor/parameters/enabled 2>/dev/null) == Y ]] && command -v apparmor_parser >/dev/null 2>&1; then
		run apparmor_parser -R "$f" || true
	fi
done
# The docker shim, unless something else has taken its place since.
for f in $(entries shim); do
	if [[ -f $f ]] && grep -qxF "$SHIM_MARK" "$f"; then
		run rm -f "$f"
	elif [[ -e $f ]]; then
		say "left $f: it is not skiff's docker shim any more"
	fi
done
for u in $(entries docker-context); do remove_docker_context "$u"; done
for f in $(entries file); do
	# -L too: the generator is a symlink to the binary, dangling once that is gone.
	[[ -e $f || -L $f ]] && run rm -f "$f"
	[[ $f == /etc/udev/* ]] && command -v udevadm >/dev/null 2>&1 && { run udevadm control --reload-rules || true; }
done
for m in $(entries tun-mode); do
	# Put back the mode install.sh changed, unless someone changed it again since.
	[[ -c /dev/net/tun && $(stat -c %a /dev/net/tun) == 666 ]] && run chmod "$m" /dev/net/tun
done
pkgs=$(entries package | tr '\n' ' ')
if [[ -n ${pkgs// /} ]]; then
	if ((packages)); then
		# shellcheck disable=SC2086 # word splitting of the package list is wanted
		DEBIAN_FRONTEND=noninteractive run apt-get -q remove -y $pkgs
	else
		say "kept the packages install.sh added (${pkgs% }); remove them with --packages"
	fi
fi
if [[ -f $manifest ]]; then
	if [[ -n ${pkgs// /} ]] && ((!packages)); then
		# Keep the record of the packages so a later --packages run can still remove them.
		((dry)) || { grep -E '^(#|package )' "$manifest" >"$manifest.tmp" && mv "$manifest.tmp" "$manifest"; }
		say "kept $manifest (lists the packages)"
	else
		run rm -f "$manifest"
		((dry)) || rmdir "$(dirname "$manifest")" 2>/dev/null || true
	fi
fi
((dry)) && say "dry run: nothing was changed"
exit "$status"
