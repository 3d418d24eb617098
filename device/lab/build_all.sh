#!/bin/sh
# Build every target's rootfs (device/lab/build.sh), one after the other, whatever happens to the others;
# then one line per target (built / cached / failed and why) and a non-zero exit if any failed.
#
#   sh device/lab/build_all.sh CACHE_DIR TARGET...        (`make devicelab`)
set -u

CACHE="${1:?usage: build_all.sh CACHE_DIR TARGET...}"
shift
[ $# -gt 0 ] || { echo "error: no target given (bookworm-arm64, trixie-arm64, bookworm-armhf)" >&2; exit 2; }
HERE=$(dirname "$0")

failed=0
summary=""
for t in "$@"; do
  start=$(date +%s)
  rm -f "$CACHE/$t.status"
  nice sh "$HERE/build.sh" "$t" "$CACHE"
  rc=$?
  status=$(head -n1 "$CACHE/$t.status" 2>/dev/null || true)
  # build.sh writes its status itself; a usage error or a kill leaves none.
  [ -n "$status" ] || status="failed: build.sh exited with status $rc"
  [ "$rc" = 0 ] || case "$status" in failed*) ;; *) status="failed: build.sh exited with status $rc" ;; esac
  # ... and the lab's tests read it: a target whose build failed fails them with this reason
  [ -f "$CACHE/$t.status" ] || { mkdir -p "$CACHE" && echo "$status" > "$CACHE/$t.status"; }
  case "$status" in failed*) failed=$((failed + 1)) ;; esac
  case "$status" in built*) took="" ;; *) took=" ($(( $(date +%s) - start )) s)" ;; esac
  summary="$summary$(printf '%-16s %s%s' "$t" "$status" "$took")
"
done

echo "device lab rootfs ($CACHE):"
printf '%s' "$summary" | sed 's/^/  /'
if [ "$failed" -gt 0 ]; then
  echo "error: $failed of $# lab targets failed to build" >&2
  exit 1
fi
