#!/usr/bin/env bash
# Runs CI's command on a fresh Debian 12: debootstraps a minimal bookworm into a chroot,
# clones this repository's HEAD into it, binds ../shared read-only beside it, and runs
# `.ci/run` there, so `make test` has to install every package it needs by itself.
#
#   sudo scripts/fresh-machine-test.sh [ROOT_DIR]   (default /srv/keyferry-fresh)
#
# Needs root, debootstrap (apt-get install debootstrap) and the machine's Debian mirror;
# the mirror is read from this machine's own apt sources, never written here. The chroot
# shares the host's network namespace (tests use loopback only). ROOT_DIR is created anew
# and left behind for inspection; delete it when done. Exit status: that of `.ci/run`.
set -euo pipefail

root="${1:-/srv/keyferry-fresh}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
shared="$(cd "$repo/../shared" 2>/dev/null && pwd || true)"

[ "$(id -u)" -eq 0 ] || { echo "fresh-machine-test: run as root (chroot, mounts)" >&2; exit 2; }
command -v debootstrap >/dev/null || {
  echo "fresh-machine-test: install debootstrap first (apt-get install debootstrap)" >&2
  exit 2
}
[ -n "$shared" ] || { echo "fresh-machine-test: no ../shared beside the repository" >&2; exit 2; }

# The first Debian mirror URI this machine uses for the plain bookworm suite.
mirror=$(awk '/^URIs:/ { uri = $2 } /^Suites:.*(^|[ \t])bookworm([ \t]|$)/ { if (uri) { print uri; exit } }' \
  /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list)
fi
[ -n "$mirror" ] || { echo "fresh-machine-test: found no bookworm apt source to copy" >&2; exit 2; }

cleanup() {
  for m in "$root/tmp" "$root/sys" "$root/proc" "$root/work/shared"; do
    mountpoint -q "$m" && umount -l "$m"
  done
  mountpoint -q "$root/dev" && umount -R -l "$root/dev"
  return 0
}
trap cleanup EXIT

rm -rf "$root"
echo "fresh-machine-test: debootstrap bookworm from $mirror into $root"
debootstrap --variant=minbase --include=make,git,ca-certificates bookworm "$root" "$mirror" >/dev/null
mkdir -p "$root/work/shared"
git clone -q "$repo" "$root/work/main"
mount --bind "$shared" "$root/work/shared"
mount -o remount,bind,ro "$root/work/shared"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t sysfs sys "$root/sys"
mount -t tmpfs tmpfs "$root/tmp"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# debootstrap's minbase writes no /etc/hosts; an installed Debian has one (localhost).
cp /etc/hosts "$root/etc/hosts"
# The machine's network, not a package: CAs this machine added locally (an HTTPS proxy's)
# are trusted in the chroot too, as they are on a fresh machine of the same network.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  chroot "$root" update-ca-certificates >/dev/null
fi
echo "fresh-machine-test: running .ci/run in the chroot"
chroot "$root" /bin/bash -c 'cd /work/main && CI=true bash .ci/run'
