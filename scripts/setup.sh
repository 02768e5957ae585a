#!/usr/bin/env bash
# Installs everything keyferry needs to build and test on a Debian 12 (bookworm) machine.
#
# Idempotent and quick when everything is present: it only calls apt when a package is
# missing. valkey-server comes from bookworm-backports; that suite is added by copying the
# machine's own Debian apt source entry with only the suite name changed, so no mirror host
# is ever written by this script.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config clang libclang-rt-14-dev clang-format
  libasio-dev libssl-dev openssl liblzf-dev libyaml-cpp-dev nlohmann-json3-dev libcli11-dev
  libspdlog-dev libfmt-dev libsqlite3-dev libcpp-httplib-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  redis-server redis-tools python3 python3-prometheus-client
  chromium nodejs npm
)
BACKPORTS_PACKAGES=(valkey-server valkey-tools)
BACKPORTS_LIST=/etc/apt/sources.list.d/keyferry-bookworm-backports.sources

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "setup: not root and no sudo; install these packages by hand: ${PACKAGES[*]} ${BACKPORTS_PACKAGES[*]}" >&2
    exit 2
  fi
fi

missing() {
  local out=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || out+=("$p")
  done
  echo "${out[@]:-}"
}

# Writes a deb822 stanza for bookworm-backports, copied from the first stanza of the
# machine's own sources that serves the plain "bookworm" suite. Falls back to the
# one-line format of /etc/apt/sources.list.
add_backports_suite() {
  if grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null; then
    return 0
  fi
  local src
  for src in /etc/apt/sources.list.d/*.sources; do
    [ -f "$src" ] || continue
    # Split into stanzas (blank-line separated); take one whose Suites has "bookworm".
    local stanza
    stanza=$(awk -v RS= '/(^|\n)Suites:[^\n]*(^|[ \t])bookworm([ \t]|\n|$)/ { print; exit }' "$src")
    if [ -n "$stanza" ]; then
      echo "setup: adding bookworm-backports, copied from $src"
      printf '%s\n' "$stanza" |
        sed -E 's/^Suites:.*/Suites: bookworm-backports/' |
        $SUDO tee "$BACKPORTS_LIST" >/dev/null
      return 0
    fi
  done
  if [ -f /etc/apt/sources.list ]; then
    local line
    line=$(grep -E '^deb[[:space:]].*[[:space:]]bookworm[[:space:]]' /etc/apt/sources.list | head -n1 || true)
    if [ -n "$line" ]; then
      echo "setup: adding bookworm-backports, copied from /etc/apt/sources.list"
      echo "$line" | sed -E 's/[[:space:]]bookworm[[:space:]]/ bookworm-backports /' |
        $SUDO tee /etc/apt/sources.list.d/keyferry-bookworm-backports.list >/dev/null
      return 0
    fi
  fi
  echo "setup: found no Debian bookworm apt source to copy for bookworm-backports;" \
       "add the bookworm-backports suite to your apt sources and run again" >&2
  exit 2
}

# The dashboard's browser test (tests/browser, docs/observe.md): playwright-core, pinned in
# tests/browser/package-lock.json, drives the system's Chromium. `npm ci` runs once (again
# only when the lock changes); offline afterwards.
browser_test_modules() {
  local dir want have
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/browser"
  want=$(cd "$dir" && node -p 'require("./package-lock.json").packages["node_modules/playwright-core"].version')
  have=$(cd "$dir" && node -p 'try { require("./node_modules/playwright-core/package.json").version } catch { "" }')
  [ "$want" = "$have" ] && return 0
  echo "setup: npm ci in $dir (playwright-core $want for the dashboard's browser test)"
  # npm trusts Node's own list of CAs; a machine whose HTTPS goes through a proxy with a CA
  # of its own has that CA in the system store only, so the system store is added.
  local ca=/etc/ssl/certs/ca-certificates.crt
  (cd "$dir" && if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$ca" ]; then
     export NODE_EXTRA_CA_CERTS="$ca"
   fi && npm ci --no-audit --no-fund --loglevel=error)
}

need=$(missing "${PACKAGES[@]}")
need_bp=$(missing "${BACKPORTS_PACKAGES[@]}")
# A node of its own (NodeSource's nodejs bundles npm) counts for nodejs and npm.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  need=$(echo "$need" | tr ' ' '\n' | { grep -vx -e nodejs -e npm || true; } | tr '\n' ' ' | sed 's/ *$//')
fi
if [ -z "$need" ] && [ -z "$need_bp" ]; then
  browser_test_modules
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
[ -n "$need_bp" ] && add_backports_suite
$SUDO apt-get update -qq
if [ -n "$need" ]; then
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq --no-install-recommends $need
fi
if [ -n "$need_bp" ]; then
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports $need_bp
fi
# The packaged services start at install time; keyferry's tests start their own servers
# on free ports, so stop the system ones to keep the machine quiet (ignore if absent).
for svc in redis-server valkey-server; do
  $SUDO systemctl stop "$svc" >/dev/null 2>&1 || true
  $SUDO service "$svc" stop >/dev/null 2>&1 || true
done
browser_test_modules
echo "setup: done"
