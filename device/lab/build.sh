#!/bin/sh
# edgevision device lab: build (once) the root filesystem of one emulated Raspberry Pi userland and cache
# it as a tarball. Needs root, mmdebstrap (or debootstrap), qemu-user-static and binfmt_misc.
#
#   sh device/lab/build.sh TARGET [CACHE_DIR]
#
# TARGET is one of: bookworm-arm64 (Raspberry Pi OS 64-bit, Python 3.11), trixie-arm64 (Python 3.13,
# with python3-libcamera for picamera2) or bookworm-armhf (Raspberry Pi OS 32-bit, Python 3.11: numpy
# and OpenCV come from Debian, as no armv7l wheels of them or of ai-edge-litert exist on PyPI).
# CACHE_DIR defaults to ~/.cache/edgevision-lab; the result is CACHE_DIR/TARGET.tar, built only when it is
# missing (delete it, or set LAB_REBUILD=1, to build it again). The rootfs holds systemd, sshd, sudo and a `pi` user (no key: the
# lab adds one when it starts a device), so `deploy --service` meets a real systemctl.
set -eu

TARGET="${1:?usage: build.sh TARGET [CACHE_DIR]}"
CACHE="${2:-${HOME}/.cache/edgevision-lab}"
OUT="$CACHE/$TARGET.tar"
COMMON="python3,python3-venv,python3-pip,openssh-server,ca-certificates,systemd,systemd-sysv,dbus,libpam-systemd,sudo,iproute2,procps,less"

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

if [ -f "$OUT" ] && [ "${LAB_REBUILD:-0}" != 1 ]; then
  echo "$OUT is up to date"; exit 0
fi
[ "$(id -u)" = 0 ] || { echo "error: building a rootfs needs root" >&2; exit 1; }
[ -e /proc/sys/fs/binfmt_misc/status ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
command -v update-binfmts >/dev/null && update-binfmts --enable >/dev/null 2>&1 || true
case "$ARCH" in arm64) Q=aarch64 ;; armhf) Q=arm ;; esac
[ -e "/proc/sys/fs/binfmt_misc/qemu-$Q" ] || { echo "error: qemu-$Q is not registered in binfmt_misc (apt install qemu-user-static binfmt-support)" >&2; exit 1; }

mkdir -p "$CACHE"
TMP="$CACHE/$TARGET.partial.tar"
rm -f "$TMP"
# The hooks run on the host with the rootfs as $1. The pi user mirrors Raspberry Pi OS: uid 1000, in
# sudo (passwordless) and video. sshd host keys are made when the lab starts a device, never cached.
START=$(date +%s)
mmdebstrap --variant=minbase --dpkgopt=force-unsafe-io --arch="$ARCH" --include="$COMMON$EXTRA" \
  --customize-hook='chroot "$1" useradd -m -u 1000 -s /bin/bash -G sudo,video pi' \
  --customize-hook='echo "pi ALL=(ALL) NOPASSWD: ALL" > "$1/etc/sudoers.d/010_pi-nopasswd"; chmod 440 "$1/etc/sudoers.d/010_pi-nopasswd"' \
  --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*' \
  --customize-hook='echo raspberrypi > "$1/etc/hostname"' \
  --customize-hook='chroot "$1" apt-get clean' \
  "$SUITE" "$TMP"
mv "$TMP" "$OUT"
echo "built $OUT in $(( $(date +%s) - START )) s"
