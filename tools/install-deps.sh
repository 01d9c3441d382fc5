#!/usr/bin/env bash
# Installs every Debian package numa-alloc needs (the list is tools/packages.txt).
# Idempotent and non-interactive: when everything is installed it only checks
# (dpkg-query) and returns; apt-get update runs only when something is missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
list="$here/packages.txt"

mapfile -t pkgs < <(sed -e 's/#.*//' "$list" | tr -s '[:space:]' '\n' | grep -v '^$')
if ((${#pkgs[@]} == 0)); then
    echo "install-deps: no packages listed in $list" >&2
    exit 1
fi

missing=()
for p in "${pkgs[@]}"; do
    # "ii" = wanted and installed; anything else (absent, "rc", half-installed) is missing.
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
    [[ $status == ii* ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
    echo "install-deps: all ${#pkgs[@]} packages already installed"
    exit 0
fi

echo "install-deps: installing ${#missing[@]} missing package(s): ${missing[*]}"
sudo=()
if ((EUID != 0)); then
    if command -v sudo >/dev/null 2>&1; then
        sudo=(sudo)
    else
        echo "install-deps: must run as root (or with sudo available) to install: ${missing[*]}" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
apt_opts=(-y -q -o Dpkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
"${sudo[@]}" apt-get update -q -o Dpkg::Lock::Timeout=300
"${sudo[@]}" apt-get install "${apt_opts[@]}" "${missing[@]}"

# Verify: apt-get can succeed and still leave a package unconfigured.
still=()
for p in "${missing[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
    [[ $status == ii* ]] || still+=("$p")
done
if ((${#still[@]} != 0)); then
    echo "install-deps: still not installed after apt-get: ${still[*]}" >&2
    exit 1
fi
echo "install-deps: done"
