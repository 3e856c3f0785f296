#!/bin/sh
# patch.sh GO DIR: makes DIR/runc, a copy of the runc module go.mod names with
# skiff's seccomp program cache added (overlay/*.go.in: their comments say
# why), and DIR/go.work, a workspace of this module with that copy in place
# of runc. `make build` builds bin/skiff in it with the skiff_seccomp_cache
# tag. It fails, rather than build without the cache, when the runc version
# no longer has the two functions it renames.
set -eu
go=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
version=$(cd "$root" && "$go" list -m -f '{{.Version}}' github.com/opencontainers/runc)
src=$(cd "$root" && "$go" mod download -json "github.com/opencontainers/runc@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
[ -n "$src" ] && [ -d "$src/libcontainer/seccomp" ] || { echo "patch.sh: cannot find runc $version in Go's module cache" >&2; exit 1; }
rm -rf "$out" && mkdir -p "$out" && cp -r "$src" "$out/runc" && chmod -R u+w "$out/runc"
rename() { # FILE FUNC NEWNAME
	[ "$(grep -c "^func $2(" "$1")" = 1 ] || { echo "patch.sh: runc $version changed $2 in $1; update runtime/seccompcache" >&2; exit 1; }
	sed -i "s/^func $2(/func $3(/" "$1"
}
rename "$out/runc/libcontainer/seccomp/seccomp_linux.go" InitSeccomp initSeccompUncached
rename "$out/runc/libcontainer/seccomp/patchbpf/enosys_linux.go" PatchAndLoad patchAndLoadUncached
cp "$here/overlay/seccomp_skiff.go.in" "$out/runc/libcontainer/seccomp/seccomp_skiff.go"
cp "$here/overlay/patchbpf_skiff.go.in" "$out/runc/libcontainer/seccomp/patchbpf/patchbpf_skiff.go"
goline=$(sed -n 's/^go //p' "$root/go.mod")
printf 'go %s\n\nuse %s\n\nreplace github.com/opencontainers/runc %s => ./runc\n' "$goline" "$root" "$version" >"$out/go.work"
