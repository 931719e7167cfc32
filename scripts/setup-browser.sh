#!/bin/sh
# Install Debian's Chromium and chromedriver for tests/ui_browser.rs (idempotent: does
# nothing when both are present). Needs root (or sudo) and apt.
set -eu
if [ -x /usr/bin/chromium ] && command -v chromedriver >/dev/null 2>&1; then
    echo "chromium and chromedriver already installed"
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends chromium chromium-driver
/usr/bin/chromium --version
chromedriver --version
