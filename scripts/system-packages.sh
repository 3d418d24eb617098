#!/bin/sh
# Install the Debian packages that are missing, and only those (used by `make demo` / `make test`).
#   scripts/system-packages.sh [--dry-run] [--list FILE]... [PACKAGE]...
# Packages come from each --list file (one per line, `#` comments) and the arguments.
# --dry-run prints what is missing and the command that would install it, and changes nothing.
# Root runs apt-get itself, anyone else through sudo; `apt-get update` runs only when something is
# missing. Off Debian (no dpkg-query / apt-get) it names the packages to install and exits 0.
set -eu

dry_run=0
packages=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry_run=1 ;;
    --list)
      [ $# -ge 2 ] || { echo "error: --list needs a file" >&2; exit 2; }
      [ -r "$2" ] || { echo "error: cannot read package list $2" >&2; exit 2; }
      packages="$packages $(sed -e 's/#.*//' "$2" | tr -s ' \t' '\n\n')"
      shift ;;
    -*) echo "error: unknown option $1" >&2; exit 2 ;;
    *) packages="$packages $1" ;;
  esac
  shift
done

wanted=""
for p in $packages; do
  case " $wanted " in *" $p "*) ;; *) wanted="$wanted $p" ;; esac
done
wanted="${wanted# }"
[ -n "$wanted" ] || exit 0

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "system packages: not a Debian system; install the equivalents of: $wanted"
  exit 0
fi

missing=""
for p in $wanted; do
  # `dpkg -s` succeeds for a removed package whose config files remain; the status must say installed.
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$status" in *" installed") ;; *) missing="$missing $p" ;; esac
done
missing="${missing# }"

if [ -z "$missing" ]; then
  echo "system packages: all present ($wanted)"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
  elif [ "$dry_run" -eq 0 ]; then
    echo "error: missing Debian packages: $missing; run as root: apt-get update && apt-get install $missing" >&2
    exit 1
  fi
fi

# Another apt client may hold the lock for a while (unattended upgrades, a parallel job): wait for it.
apt="${sudo:+$sudo }env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600"
if [ "$dry_run" -eq 1 ]; then
  echo "system packages: missing: $missing"
  echo "would run: $apt update -qq"
  echo "would run: $apt install -y -qq --no-install-recommends $missing"
  exit 0
fi
echo "system packages: installing $missing"
$apt update -qq
# shellcheck disable=SC2086  # word splitting of the package list is intended
$apt install -y -qq --no-install-recommends $missing
