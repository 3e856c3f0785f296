#!/usr/bin/env bash
# fetch-apparmor.sh DIR — AppArmor 4's apparmor_parser, to check contrib/apparmor/skiff on a
# Debian 12 host, whose apparmor_parser (3.0) predates the userns rule the profile needs.
#
# apt-get downloads Debian 13's apparmor and libc6 packages from deb.debian.org, with a sources
# list and package lists of its own under DIR (the host's apt configuration and packages are
# not touched), and unpacks them into DIR/root. DIR/apparmor_parser runs that parser with
# Debian 13's loader and libc, and its base directory (abi/4.0, tunables) from the package.
# make judges runs it once; a second run fetches everything again.
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 DIR" >&2; exit 2; }
dir=$(realpath -m "$1")
suite=${APPARMOR_SUITE:-trixie}
mkdir -p "$dir/apt/lists/partial" "$dir/apt/archives/partial" "$dir/debs"
echo "deb http://deb.debian.org/debian $suite main" >"$dir/apt/sources.list"
apt=(apt-get -q -o Dir::Etc::sourcelist="$dir/apt/sources.list" -o Dir::Etc::sourceparts=-
	-o Dir::State::Lists="$dir/apt/lists" -o Dir::Cache="$dir/apt" -o Dir::State::status=/var/lib/dpkg/status
	-o APT::Sandbox::User="$(id -un)" -o Debug::NoLocking=1)
echo "fetching Debian $suite's apparmor and libc6 into $dir (AppArmor 4's parser, for tests/e2e)"
"${apt[@]}" update >/dev/null
rm -f "$dir"/debs/*.deb
(cd "$dir/debs" && "${apt[@]}" download "apparmor/$suite" "libc6/$suite")
rm -rf "$dir/root"
for d in "$dir"/debs/*.deb; do dpkg-deb -x "$d" "$dir/root"; done
loader=$(find "$dir/root" -name 'ld-linux*.so.*' -print -quit)
[[ -n $loader ]] || { echo "$0: no dynamic loader in Debian $suite's libc6" >&2; exit 1; }
cat >"$dir/apparmor_parser.tmp" <<WRAPPER
#!/bin/sh
# Debian $suite's apparmor_parser with its own libc (written by tests/e2e/testdata/fetch-apparmor.sh)
exec "$loader" --library-path "$(dirname "$loader")" "$dir/root/usr/sbin/apparmor_parser" --base "$dir/root/etc/apparmor.d" "\$@"
WRAPPER
chmod 0755 "$dir/apparmor_parser.tmp"
"$dir/apparmor_parser.tmp" --version | head -1
mv "$dir/apparmor_parser.tmp" "$dir/apparmor_parser"
