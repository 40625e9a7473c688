#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests (tests/browser) when no browser is there.
#
# `make test` runs it before the test suite. It is idempotent: with a Chromium (or Chrome) in
# place it only says so. It never fails the build by itself: when it cannot install (not root
# and no passwordless sudo, no apt-get, offline), it says why and exits 0; the browser tests then
# skip on a laptop, and fail with that reason when CI is set.
#
# Looks for the browser where the tests do: $CHROMIUM or $CHROME_PATH if set, else
# /usr/bin/chromium, chromium, chromium-browser, google-chrome on PATH.
# $APT_GET overrides the apt-get command (the tests use a fake one).
# Note: on Ubuntu the `chromium` package is a snap wrapper that does not work in containers;
# there, install Google Chrome or Playwright's browser yourself and set CHROMIUM=/its/path.
set -u

say() { echo "ensure_chromium: $*"; }

apt_get="${APT_GET:-apt-get}"
wanted="${CHROMIUM:-${CHROME_PATH:-}}"

have_browser() {
    if [ -n "$wanted" ]; then
        [ -x "$wanted" ] || command -v "$wanted" >/dev/null 2>&1
        return
    fi
    [ -x /usr/bin/chromium ] && return 0
    for name in chromium chromium-browser google-chrome google-chrome-stable; do
        command -v "$name" >/dev/null 2>&1 && return 0
    done
    return 1
}

if have_browser; then
    say "a browser is installed (${wanted:-chromium}); nothing to do"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo -n"
else
    say "no Chromium, and this user cannot install packages (not root, no passwordless sudo)."
    say "install it with: sudo apt-get install chromium   (or set CHROMIUM=/path/to/chrome)"
    exit 0
fi
if ! command -v "$apt_get" >/dev/null 2>&1; then
    say "no Chromium and no apt-get here: install Chromium or Chrome and set CHROMIUM=/its/path"
    exit 0
fi

say "installing Debian's chromium package for the browser tests ($apt_get, about 100 MB)"
if $sudo env DEBIAN_FRONTEND=noninteractive "$apt_get" update -qq &&
    $sudo env DEBIAN_FRONTEND=noninteractive "$apt_get" install -y -qq --no-install-recommends chromium; then
    if have_browser; then
        say "installed: ${wanted:-$(command -v chromium)}"
    else
        say "apt-get succeeded but no browser was found afterwards"
    fi
else
    say "apt-get failed (offline?); the browser tests will skip, or fail when CI is set"
fi
exit 0
