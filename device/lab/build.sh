#!/bin/sh
# edgevision device lab: build (once) the root filesystem of one emulated Raspberry Pi userland and cache
# it as a tarball. Needs root, mmdebstrap, arch-test, qemu-user-static and binfmt_misc
# (device/lab/system-packages.txt; `make devicelab` installs them).
#
#   sh device/lab/build.sh TARGET [CACHE_DIR]
#
# TARGET is one of: bookworm-arm64 (Raspberry Pi OS 64-bit, Python 3.11), trixie-arm64 (Python 3.13,
# with python3-libcamera for picamera2) or bookworm-armhf (Raspberry Pi OS 32-bit, Python 3.11: numpy
# and OpenCV come from Debian, as no armv7l wheels of them or of ai-edge-litert exist on PyPI).
# CACHE_DIR defaults to ~/.cache/edgevision-lab; the result is CACHE_DIR/TARGET.tar, built only when it is
# missing (delete it, or set LAB_REBUILD=1, to build it again). The rootfs holds systemd, sshd, sudo and a `pi` user (no key: the
# lab adds one when it starts a device), so `deploy --service` meets a real systemctl.
#
# What happened is written to CACHE_DIR/TARGET.status, one line: `cached`, `built in N s` or
# `failed: REASON` (device/lab/build_all.sh and the lab's tests read it); mmdebstrap's output goes to
# CACHE_DIR/TARGET.log as well as to the terminal.
# A Debian mirror answers now and then with a file in the middle of a sync ("Mirror sync in progress?",
# "Hash Sum mismatch") or not at all: such a build is tried again after LAB_RETRY_DELAYS seconds (default
# "30 60 120": four tries in all), saying so on stderr. Any other failure stops at once.
# LAB_MIRROR replaces Debian's mirrors (a URL, a whole `deb ...` sources line, or a sources.list file whose
# lines are used as they are, as mmdebstrap takes them): for a mirror or proxy that stays inconsistent.
# When every try failed on the security suite's index alone (its Release names a file the mirror does not
# serve, as an armhf index did for days), one last try builds from the distribution and its updates without
# the security suite, and the status line says so: the lab tests edgevision on the release's packages, and a
# stale index of one suite should not stop it (LAB_SECURITY_FALLBACK=0 turns this off).
set -eu

TARGET="${1:?usage: build.sh TARGET [CACHE_DIR]}"
CACHE="${2:-${HOME}/.cache/edgevision-lab}"
OUT="$CACHE/$TARGET.tar"
COMMON="python3,python3-venv,python3-pip,openssh-server,ca-certificates,systemd,systemd-sysv,dbus,libpam-systemd,sudo,iproute2,procps,less"
DELAYS="${LAB_RETRY_DELAYS-30 60 120}"
# apt's and mmdebstrap's words for a failure that another try may not meet (a mirror mid-sync, the network).
TRANSIENT='Mirror sync in progress|Hash Sum mismatch|File has unexpected size|Connection timed out|Connection failed|Could not connect to|Could not resolve|Temporary failure resolving|Unable to fetch some archives|50[234] +(Service Unavailable|Bad Gateway|Gateway Time)'

case "$TARGET" in
  bookworm-arm64) SUITE=bookworm; ARCH=arm64; EXTRA="" ;;
  trixie-arm64)   SUITE=trixie;   ARCH=arm64
                  # For picamera2 as on a Pi: libcamera's Python binding and picamera2's compiled dependencies
                  # from the distribution, picamera2 itself from PyPI into a --system-site-packages venv. Its
                  # PiDNG dependency is an sdist only (Raspberry Pi OS ships it prebuilt): gcc and python3-dev.
                  EXTRA=",python3-libcamera,python3-numpy,python3-pil,python3-prctl,python3-av,python3-piexif,python3-jsonschema,python3-tqdm,python3-libarchive-c,gcc,libc6-dev,python3-dev" ;;
  # msgspec has no armv7l wheel on PyPI (Raspberry Pi OS gets one from piwheels): pip builds it (gcc, python3-dev)
  bookworm-armhf) SUITE=bookworm; ARCH=armhf; EXTRA=",python3-numpy,python3-opencv,gcc,libc6-dev,python3-dev" ;;
  *) echo "error: unknown target '$TARGET' (bookworm-arm64, trixie-arm64, bookworm-armhf)" >&2; exit 2 ;;
esac
case "$ARCH" in arm64) Q=aarch64 ;; armhf) Q=arm ;; esac

mkdir -p "$CACHE"
STATUS="$CACHE/$TARGET.status"
LOG="$CACHE/$TARGET.log"

fail() {  # fail REASON: one error line, the status file, exit 1
  echo "error: $TARGET: $1" >&2
  echo "failed: $1" > "$STATUS"
  exit 1
}

if [ -f "$OUT" ] && [ "${LAB_REBUILD:-0}" != 1 ]; then
  echo "cached" > "$STATUS"
  echo "$OUT is up to date"; exit 0
fi
[ "$(id -u)" = 0 ] || fail "building a rootfs needs root"
command -v mmdebstrap >/dev/null || fail "mmdebstrap is not installed (apt install mmdebstrap arch-test)"
command -v arch-test >/dev/null || fail "arch-test is not installed: mmdebstrap needs it for a foreign architecture (apt install arch-test)"
[ -e /proc/sys/fs/binfmt_misc/status ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc \
  || fail "cannot mount binfmt_misc on /proc/sys/fs/binfmt_misc"
if command -v update-binfmts >/dev/null; then update-binfmts --enable >/dev/null 2>&1 || true; fi
[ -e "/proc/sys/fs/binfmt_misc/qemu-$Q" ] \
  || fail "qemu-$Q is not registered in binfmt_misc (apt install qemu-user-static binfmt-support)"

TMP="$CACHE/$TARGET.partial.tar"
RC="$CACHE/$TARGET.rc"
TRYLOG="$CACHE/$TARGET.try.log"
MIRROR="${LAB_MIRROR:-}"
WITHOUT=""  # set to the left-out suite when the last try builds without the security suite
# The hooks run on the host with the rootfs as $1. The pi user mirrors Raspberry Pi OS: uid 1000, in
# sudo (passwordless) and video. sshd host keys are made when the lab starts a device, never cached.
bootstrap() {
  rm -f "$TMP"
  # shellcheck disable=SC2086  # no mirror argument at all when LAB_MIRROR is unset
  mmdebstrap --variant=minbase --dpkgopt=force-unsafe-io --arch="$ARCH" --include="$COMMON$EXTRA" \
    --customize-hook='chroot "$1" useradd -m -u 1000 -s /bin/bash -G sudo,video pi' \
    --customize-hook='echo "pi ALL=(ALL) NOPASSWD: ALL" > "$1/etc/sudoers.d/010_pi-nopasswd"; chmod 440 "$1/etc/sudoers.d/010_pi-nopasswd"' \
    --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*' \
    --customize-hook='echo raspberrypi > "$1/etc/hostname"' \
    --customize-hook='chroot "$1" apt-get clean' \
    "$SUITE" "$TMP" ${MIRROR:+"$MIRROR"}
}

START=$(date +%s)
try=1
tries=$(( $(echo $DELAYS | wc -w) + 1 ))
: > "$LOG"
while :; do
  # mmdebstrap's output on the terminal and in the log; its exit status through a file (a pipe loses it).
  { rc=0; bootstrap 2>&1 || rc=$?; echo "$rc" > "$RC"; } | tee "$TRYLOG"
  rc=$(cat "$RC"); rm -f "$RC"
  cat "$TRYLOG" >> "$LOG"
  [ "$rc" = 0 ] && break
  # The reason: this try's first error naming a transient failure (else any line naming one), else its first
  # error line (mmdebstrap's own "failed to run" closes every failure and says nothing).
  transient=$(grep -E "^E: .*($TRANSIENT)" "$TRYLOG" | head -n1 || true)
  [ -n "$transient" ] || transient=$(grep -E -m1 "$TRANSIENT" "$TRYLOG" || true)
  reason=$(grep -E '^(E|error): ' "$TRYLOG" | grep -v 'mmdebstrap failed to run' | head -n1 || true)
  reason=$(printf '%s' "${transient:-${reason:-mmdebstrap exited with status $rc}}" | tr -s ' \t' '  ' | cut -c1-300)
  rm -f "$TMP" "$TRYLOG"
  if [ -z "$transient" ]; then
    fail "$reason (log: $LOG)"
  elif [ "$try" -ge "$tries" ]; then
    [ "$tries" -gt 1 ] || fail "$reason (log: $LOG)"
    if [ -z "$WITHOUT" ] && [ "${LAB_SECURITY_FALLBACK:-1}" != 0 ] \
       && printf '%s' "$reason" | grep -q -- "-security"; then
      WITHOUT="$SUITE-security"
      sources="$CACHE/$TARGET.sources.list"
      if [ -z "$MIRROR" ]; then   # mmdebstrap's own default sources, less the security suite
        printf 'deb http://deb.debian.org/debian %s main\ndeb http://deb.debian.org/debian %s-updates main\n' \
          "$SUITE" "$SUITE" > "$sources"
      elif [ -f "$MIRROR" ]; then
        grep -v -- "-security" "$MIRROR" > "$sources" || true
      else
        printf '%s\n' "$MIRROR" | grep -v -- "-security" > "$sources" || true
      fi
      MIRROR="$sources"
      try=$(( try + 1 ))
      echo "build.sh: $TARGET: $WITHOUT's index stayed inconsistent ($reason); one more try without it" >&2
      echo "=== build.sh: a last try without $WITHOUT" >> "$LOG"
      continue
    fi
    echo "build.sh: $TARGET: the mirror gave the same kind of failure $try times; LAB_MIRROR (a URL, a" \
      "\`deb ...\` line or a sources.list file) builds from other sources" >&2
    fail "$reason (after $try tries; log: $LOG)"
  fi
  delay=$(echo $DELAYS | cut -d' ' -f"$try")
  try=$(( try + 1 ))
  echo "build.sh: $TARGET: transient fetch failure ($reason); try $try of $tries in $delay s" >&2
  sleep "$delay"
  echo "=== build.sh: try $try of $tries" >> "$LOG"
done
rm -f "$TRYLOG"
mv "$TMP" "$OUT"
took=$(( $(date +%s) - START ))
note=""
[ "$try" = 1 ] || note="$try tries"
[ -z "$WITHOUT" ] || note="${note:+$note, }without $WITHOUT: its index did not match its Release"
echo "built in $took s${note:+ ($note)}" > "$STATUS"
echo "built $OUT in $took s"
