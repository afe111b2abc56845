#!/bin/sh
# install-deps.sh - install what mirrorguard's build, tests and demo need on
# Debian 12.  Idempotent: when every package is present it only asks dpkg
# (well under a second) and prints nothing.  Otherwise it runs
# `apt-get update` once and installs just the missing packages.
# Root runs apt-get directly; a non-root user goes through sudo if it exists.
set -eu

PKGS="build-essential pkg-config clang llvm libpcap-dev libyaml-dev libhiredis-dev
libcunit1-dev libdpdk-dev dpdk redis-server python3 tcpreplay iproute2
libpsl-dev publicsuffix wamerican python3-numpy strace"

# one dpkg-query for all: installed ones print "ii  name"; unknown ones print
# nothing (the error goes to /dev/null)
# shellcheck disable=SC2086
have=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' $PKGS 2>/dev/null |
       awk '$1 == "ii" { printf " %s", $2 }' || true)
missing=""
for p in $PKGS; do
    case "$have " in
        *" $p "*) ;;
        *) missing="$missing $p" ;;
    esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "install-deps: missing:$missing" >&2
    echo "install-deps: not root and no sudo: install them as root" >&2
    exit 1
fi

echo "install-deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# sudo drops the environment by default: pass the variable explicitly
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold $missing >/dev/null
echo "install-deps: done" >&2
