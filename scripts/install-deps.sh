#!/bin/sh
# Installs the Debian packages anketa needs to build, run and test, if any is missing.
# Non-interactive; needs root only when something has to be installed.
# zlib compresses the XLSX exports (plugins/xlsx); unzip opens them in the export tests.
# libclang-rt-14-dev carries libFuzzer for make fuzz. nodejs runs the browser's expression evaluator against the shared test vectors; npm fetches
# playwright-core and axe-core, which drive Debian's chromium in the browser tests.
# The last line is for tests/integration/test_install.c: dpkg-dev builds the .deb
# (dpkg-shlibdeps, dpkg-parsechangelog), lintian checks it, systemd-analyze verifies the
# unit, openssl makes the test certificate for the nginx site, groff checks the man page,
# debootstrap builds the fresh Debian the package is installed on.
set -eu

PACKAGES="build-essential pkg-config clang clang-format libclang-rt-14-dev
libfcgi-dev libsqlite3-dev liblua5.4-dev libyaml-dev libjansson-dev libsodium-dev
zlib1g-dev libcmocka-dev libcurl4-openssl-dev unzip
nginx-light sqlite3 curl wrk nodejs chromium
dpkg-dev lintian systemd openssl groff-base debootstrap"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

# Some Node.js builds carry their own npm; Debian's nodejs needs the npm package for it.
command -v npm >/dev/null 2>&1 || missing="$missing npm"

[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "anketa: these Debian packages are missing:$missing" >&2
    echo "anketa: run 'make deps' as root (or: sudo apt-get install$missing)" >&2
    exit 1
fi

echo "anketa: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# The nginx package must not start a system-wide nginx on port 80: anketa runs its own.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
