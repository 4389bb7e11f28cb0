#!/usr/bin/env bash
# install-deps.sh - install what sluice's build and tests need on Debian 12.
#
# Idempotent and fast when nothing is missing: every package is checked with
# dpkg first, so a second run touches no network and takes well under a
# second. apt-get update runs only when something has to be installed.
#
#   sudo scripts/install-deps.sh     (or as root; `make deps` runs it)
#
# Run as another user with everything present, it just says so; with
# something missing it prints the apt-get command that would install it and
# exits 1.
#
# What is installed and why:
#   build:        build-essential cmake pkg-config, and the libraries chosen in
#                 ARCHITECTURE.md section 3 (libuv jansson librdkafka
#                 libmicrohttpd zstd lz4 snappy zlib avro-c libcurl openssl (the S3
#                 sink's SigV4 HMAC) libpq
#                 libmariadb) with CUnit for the unit tests
#   integration:  postgresql, mariadb-server (real source databases), kcat
#                 (a real Kafka client), nodejs + npm (kafkajs, s3rver), awscli
#                 (S3 client), curl (REST), openssl (test certificates), wrk (HTTP
#                 load), python3,
#                 procps + iproute2 (pgrep, ss: waiting for ports)
#
# PostgreSQL and MariaDB are installed for their binaries only: the tests start
# their own servers in temporary directories. So that installing them does not
# start system-wide daemons (which would hold ports 5432 and 3306), a
# policy-rc.d that denies service starts is in place during the install, if
# the machine has none of its own.
#
# Then, when the repository root has a package.json, its node modules are
# installed into node_modules/ (ignored by git); a stamp of package.json's
# hash makes a second run skip npm entirely.
set -euo pipefail

cd "$(dirname "$0")/.."

PACKAGES=(
    build-essential cmake pkg-config
    libuv1-dev libjansson-dev libcunit1-dev librdkafka-dev libmicrohttpd-dev
    libzstd-dev liblz4-dev libsnappy-dev zlib1g-dev libavro-dev
    libcurl4-openssl-dev libssl-dev libpq-dev libmariadb-dev
    kcat postgresql mariadb-server nodejs npm awscli
    procps iproute2 curl ca-certificates openssl wrk python3
)

say() { echo "install-deps: $*"; }

# Names of installed packages and of the virtual packages they provide (the
# NodeSource nodejs package, for one, provides npm).
installed_names() {
    dpkg-query -W -f='${db:Status-Status}\t${Package}\t${Provides}\n' 2>/dev/null |
        awk -F'\t' '$1 == "installed" {
            print $2
            n = split($3, p, /, */)
            for (i = 1; i <= n; i++) { sub(/ .*/, "", p[i]); if (p[i] != "") print p[i] }
        }' | sort -u
}

missing_packages() {
    local have
    have="$(installed_names)"
    for pkg in "${PACKAGES[@]}"; do
        if ! grep -qxF "$pkg" <<<"$have"; then
            echo "$pkg"
        fi
    done
}

# Deny service starts while packages install, unless the machine already has
# a policy; the trap removes only the one we made.
POLICY=/usr/sbin/policy-rc.d
made_policy=0
updated=0
remove_policy() {
    if [ "$made_policy" = 1 ]; then
        rm -f "$POLICY"
    fi
}

install_packages() {
    local missing=("$@")
    local cmd="apt-get install -y --no-install-recommends ${missing[*]}"

    if [ "$(id -u)" != 0 ]; then
        say "missing packages: ${missing[*]}" >&2
        say "run as root:  apt-get update && DEBIAN_FRONTEND=noninteractive $cmd" >&2
        exit 1
    fi
    say "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if [ ! -e "$POLICY" ]; then
        printf '#!/bin/sh\n# written by sluice install-deps.sh during an install\nexit 101\n' \
            >"$POLICY"
        chmod 755 "$POLICY"
        made_policy=1
        trap remove_policy EXIT
    fi
    if [ "$updated" = 0 ]; then
        apt-get update -q
        updated=1
    fi
    apt-get install -y -q --no-install-recommends "${missing[@]}"
    remove_policy
    made_policy=0
}

install_node_modules() {
    local stamp=node_modules/.sluice-package-json.sha256
    local want

    [ -f package.json ] || return 0
    local inputs=(package.json)
    [ -f package-lock.json ] && inputs+=(package-lock.json)
    want="$(cat "${inputs[@]}" | sha256sum | cut -d' ' -f1)"
    if [ -d node_modules ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    if ! command -v npm >/dev/null; then
        say "package.json needs npm, which is not installed" >&2
        exit 1
    fi
    say "installing node modules from package.json into node_modules/"
    if [ -f package-lock.json ]; then
        npm ci --no-audit --no-fund --loglevel=error
    else
        npm install --no-audit --no-fund --no-package-lock --loglevel=error
    fi
    echo "$want" >"$stamp"
}

main() {
    local missing first=()
    mapfile -t missing < <(missing_packages)
    if [ "${#missing[@]}" -gt 0 ]; then
        # npm goes in a second round: a nodejs that carries its own npm (as
        # NodeSource's does) conflicts with Debian's npm package.
        for pkg in "${missing[@]}"; do
            [ "$pkg" = npm ] || first+=("$pkg")
        done
        if [ "${#first[@]}" -gt 0 ] && [ "$(id -u)" = 0 ]; then
            install_packages "${first[@]}"
            mapfile -t missing < <(missing_packages)
        fi
        if [ "${#missing[@]}" -gt 0 ]; then
            install_packages "${missing[@]}"
            mapfile -t missing < <(missing_packages)
        fi
        if [ "${#missing[@]}" -gt 0 ]; then
            say "still missing after apt-get install: ${missing[*]}" >&2
            exit 1
        fi
    fi
    install_node_modules
}

main "$@"
