#!/bin/sh
# Install Debian's PostgreSQL server binaries (initdb, pg_ctl) for the PostgreSQL store's
# tests, which start a throwaway cluster of their own (idempotent: does nothing when both
# are found). Needs root (or sudo) and apt. The package's default cluster is not used.
set -eu
found() {
    command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}
if found; then
    echo "PostgreSQL server binaries already installed"
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends postgresql
ls /usr/lib/postgresql/*/bin/initdb
