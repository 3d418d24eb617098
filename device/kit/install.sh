#!/bin/sh
# edgevision device kit: create or upgrade the virtualenv that runs edgevision on this device.
#
#   sh install.sh [--root DIR] [--spec REQUIREMENT] [--python PYTHON] [-- EXTRA PIP ARGS]
#
# The venv is DIR/venv (default ~/edgevision/venv), created with --system-site-packages so that
# picamera2 and libcamera, which Raspberry Pi OS ships as system packages (python3-picamera2), are
# importable from it. REQUIREMENT defaults to "edgevision[device]" (ai-edge-litert + OpenCV, no
# TensorFlow); it may be a wheel file: "/tmp/edgevision-0.1.0-py3-none-any.whl[device]".
# `edgevision deploy --install` copies this kit to DIR/kit/ and runs it; it is also fine by hand.
set -eu

ROOT="${HOME}/edgevision"
SPEC="edgevision[device]"
PY="python3"
while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT="$2"; shift 2 ;;
    --spec) SPEC="$2"; shift 2 ;;
    --python) PY="$2"; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

VENV="$ROOT/venv"
mkdir -p "$ROOT"
if ! "$PY" -c 'import ensurepip' 2>/dev/null; then
  echo "error: $PY cannot create virtualenvs: sudo apt install python3-venv" >&2
  exit 1
fi
# Re-running venv on an existing one keeps its packages and (re)sets include-system-site-packages.
"$PY" -m venv --system-site-packages "$VENV"
"$VENV/bin/python" -m pip install --disable-pip-version-check --quiet --upgrade "$SPEC" "$@"
# A wheel or sdist file: pip keeps an installed copy of the same version, so reinstall the file itself (a
# checkout's code changes without its version changing); its dependencies are in place from the line above.
FILE="${SPEC%%\[*}"
if [ -f "$FILE" ]; then
  "$VENV/bin/python" -m pip install --disable-pip-version-check --quiet --force-reinstall --no-deps "$FILE" "$@"
fi
if ! "$VENV/bin/python" -c 'import cv2' 2>/dev/null; then
  echo "error: OpenCV is not importable from $VENV (no opencv-python-headless wheel for $(uname -m)):" \
       "sudo apt install python3-opencv python3-numpy, then run this again" >&2
  exit 1
fi
"$VENV/bin/python" -c 'import edgevision, sys; print("edgevision", edgevision.__version__, "in", sys.prefix)'

if ! "$VENV/bin/python" -c 'import picamera2' 2>/dev/null; then
  echo "note: picamera2 is not importable; for a Raspberry Pi camera: sudo apt install python3-picamera2" >&2
fi
if ! ls /usr/lib/*/libedgetpu.so.1 /usr/lib/libedgetpu.so.1 >/dev/null 2>&1; then
  echo "note: libedgetpu not found; for a Coral: install libedgetpu1-std from Coral's apt repository" >&2
fi
