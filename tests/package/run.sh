#!/usr/bin/env bash
# The package as a user meets it. Builds the packages (scripts/package.sh),
# then, in a clean Debian 12 root (mmdebstrap; its tarball and apt's
# downloads are cached under ~/.cache/peregrine/package-test):
#   1. lintian on the .deb: no errors (warnings listed); systemd-analyze
#      verify on the unit;
#   2. `apt install ./peregrine_*.deb`, timed;
#   3. the service with the unit's own user, command line and environment:
#      four cameras of the package's own simulator added through the API,
#      then detections and recordings, the service's CPU and memory, and an
#      orderly stop on SIGTERM;
#   4. `peregrine demo` from the package as an ordinary user, with no
#      source checkout and no Python in the root: detections;
#   5. the same build labelled as the next version installed over it keeps
#      cameras and recordings, and the service starts on them;
#   6. remove keeps /var/lib/peregrine, purge deletes it.
# Runs as root (chroot). Loopback only: the root shares this machine's
# network, and every address used is 127.0.0.1.
#   tests/package/run.sh              build, then test
#   PEREGRINE_PACKAGE_SKIP_BUILD=1    test the packages already in dist/
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
t0=$SECONDS
say() { echo "package-test: $* ($((SECONDS - t0)) s)" >&2; }
fail() { echo "package-test: FAILED: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "run as root (it installs into a chroot)"

cache="${PEREGRINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/peregrine}/package-test"
mkdir -p "$cache/apt-archives/partial"
for tool in mmdebstrap lintian; do
  command -v "$tool" >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap lintian >/dev/null
done

# --- Build N and N+1 ---------------------------------------------------------------
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)"
next="$version.1"
if [ -z "${PEREGRINE_PACKAGE_SKIP_BUILD:-}" ]; then
  bash scripts/package.sh
  PEREGRINE_PACKAGE_VERSION="$next" PEREGRINE_PACKAGE_FORMATS=deb bash scripts/package.sh
fi
deb="dist/peregrine_${version}_amd64.deb"
deb_next="dist/peregrine_${next}_amd64.deb"
[ -f "$deb" ] && [ -f "$deb_next" ] || fail "no $deb or $deb_next: run scripts/package.sh"
for f in "$deb" dist/peregrine-"$version"-*.rpm dist/peregrine-"$version"-x86_64-linux.tar.gz; do
  [ -f "$f" ] && say "size $(du -h "$f" | cut -f1) $(basename "$f") ($(stat -c %s "$f") bytes)"
done
say "installed size $(dpkg-deb -f "$deb" Installed-Size) kB; depends: $(dpkg-deb -f "$deb" Depends)"

# --- 1. lintian, systemd-analyze -------------------------------------------------
lintian_out="$(lintian --no-tag-display-limit "$deb" 2>&1 || true)"
errors="$(grep -c '^E:' <<<"$lintian_out" || true)"
warnings="$(grep -c '^W:' <<<"$lintian_out" || true)"
say "lintian: $errors errors, $warnings warnings"
grep '^[EW]:' <<<"$lintian_out" | sed 's/^/  /' >&2 || true
[ "$errors" -eq 0 ] || fail "lintian reports errors"

# --- 2. A clean Debian 12 root, and the install ------------------------------------
base="$cache/bookworm.tar"
if [ ! -f "$base" ]; then
  say "making a Debian 12 root (once)"
  # The extension tells mmdebstrap to write a tarball.
  mmdebstrap --quiet --variant=apt bookworm "$cache/bookworm.part.tar" && mv "$cache/bookworm.part.tar" "$base"
fi
chroot_dir="$(mktemp -d /tmp/peregrine-root.XXXXXX)"
pids=()
# Every process whose root is the chroot: the ones started here, and theirs.
in_chroot_pids() {
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$chroot_dir" ] && echo "${p#/proc/}"
  done
  return 0
}
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  sleep 1
  for pid in $(in_chroot_pids); do kill -9 "$pid" 2>/dev/null || true; done
  umount -R "$chroot_dir/proc" "$chroot_dir/dev" "$chroot_dir/var/cache/apt/archives" 2>/dev/null || true
  rm -rf --one-file-system "$chroot_dir"
}
trap cleanup EXIT
tar -C "$chroot_dir" -xf "$base"
mount -t proc proc "$chroot_dir/proc"
mount --rbind /dev "$chroot_dir/dev"
mount --bind "$cache/apt-archives" "$chroot_dir/var/cache/apt/archives"
cp "$deb" "$deb_next" "$chroot_dir/tmp/"
in_root() { chroot "$chroot_dir" "$@"; }
in_root apt-get -qq update
t_install=$SECONDS
DEBIAN_FRONTEND=noninteractive in_root apt-get install -y -qq "/tmp/$(basename "$deb")" >/dev/null
say "apt install took $((SECONDS - t_install)) s (with its dependencies from the mirror's cache)"
in_root dpkg -s peregrine | grep -q "^Version: $version$" || fail "peregrine $version is not installed"
in_root test -x /usr/bin/peregrine && in_root test -f /usr/lib/peregrine/libonnxruntime.so.1.31.1 \
  && in_root test -f /usr/share/peregrine/models/nanodet-m.onnx || fail "files missing from the install"
if in_root sh -c 'command -v python3' >/dev/null; then python_note="python3 is in the root"; else python_note="no Python in the root"; fi
say "installed; $python_note"
unit="$chroot_dir/lib/systemd/system/peregrine.service"
verify="$(systemd-analyze verify --root="$chroot_dir" /lib/systemd/system/peregrine.service 2>&1 || true)"
if [ -n "$verify" ]; then echo "$verify" | sed 's/^/  systemd-analyze: /' >&2; fi
grep -qiE 'error|failed|invalid|unknown' <<<"$verify" && fail "systemd-analyze verify finds problems in the unit"
say "systemd-analyze verify: clean"

# --- 3. The service, as the unit runs it -------------------------------------------
unit_value() { sed -n "s/^$1=//p" "$unit" | head -1; }
user="$(unit_value User)"
exec_start="$(unit_value ExecStart)"
mapfile -t unit_env < <(sed -n 's/^Environment=//p' "$unit")
api="http://127.0.0.1:$(sed -n 's/.*--port \([0-9]*\).*/\1/p' <<<"$exec_start")"
state_dir="/var/lib/$(unit_value StateDirectory)"
curl -s -o /dev/null "$api" && fail "something already listens on $api"
# What systemd gives the service: its user, the state folder, a bare environment.
start_service() {
  in_root install -d -o "$user" -g "$user" -m "$(unit_value StateDirectoryMode)" "$state_dir"
  # shellcheck disable=SC2086
  env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin HOME="$state_dir" USER="$user" LOGNAME="$user" \
    "${unit_env[@]}" chroot --userspec="$user:$user" "$chroot_dir" sh -c "umask $(unit_value UMask); exec $exec_start" \
    >"$1" 2>&1 &
  service_pid=$!
  pids+=("$service_pid")
  for _ in $(seq 60); do
    curl -sf -o /dev/null -H "Authorization: Bearer $(cat "$chroot_dir$state_dir/api-token" 2>/dev/null)" "$api/api/v1/health" && return 0
    kill -0 "$service_pid" 2>/dev/null || { cat "$1" >&2; fail "the service exited"; }
    sleep 1
  done
  cat "$1" >&2
  fail "the service did not answer on $api"
}
call() { # METHOD PATH [JSON]
  curl -sf -X "$1" -H "Authorization: Bearer $(cat "$chroot_dir$state_dir/api-token")" \
    -H 'Content-Type: application/json' ${3:+--data "$3"} "$api$2"
}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
stop_service() {
  kill -TERM "$service_pid"
  wait "$service_pid" || fail "the service did not stop cleanly (exit $?)"
  grep -q "stopped in" "$1" || fail "no orderly stop in the service's log"
}

start_service /tmp/peregrine-service.log
# Numeric ids: this machine's names for them are not the root's.
token_mode="$(stat -c '%a %u:%g' "$chroot_dir$state_dir/api-token")"
wanted_mode="640 $(in_root id -u "$user"):$(in_root id -g "$user")"
[ "$token_mode" = "$wanted_mode" ] || fail "the API token is $token_mode, wanted $wanted_mode ($user)"
[ "$(call GET /api/v1/health | json 'd["mode"]')" = service ] || fail "health does not say mode service"
say "service answers as $user on $api (token $token_mode)"

rtsp_port=18554
in_root su -s /bin/sh nobody -c "exec /usr/bin/peregrine camsim --cameras 4 --port $rtsp_port" >/tmp/peregrine-camsim.log 2>&1 &
pids+=("$!")
for _ in $(seq 30); do grep -q "cam4" /tmp/peregrine-camsim.log && break; sleep 1; done
grep -q "cam4" /tmp/peregrine-camsim.log || { cat /tmp/peregrine-camsim.log >&2; fail "the package's camera simulator did not start"; }
for i in 1 2 3 4; do
  call POST /api/v1/cameras "{\"name\":\"Package cam $i\",\"url\":\"rtsp://127.0.0.1:$rtsp_port/cam$i\"}" >/dev/null \
    || fail "adding camera $i through the API failed"
done
detections=0 recordings=0
for _ in $(seq 90); do
  detections="$(call GET '/api/v1/detections?limit=1000' | json 'len(d)')"
  recordings="$(call GET /api/v1/cameras/1/recordings | json 'len(d["recordings"])')"
  [ "$detections" -gt 0 ] && [ "$recordings" -gt 0 ] && break
  sleep 1
done
[ "$detections" -gt 0 ] || fail "no detections from the service"
[ "$recordings" -gt 0 ] || fail "no recording from the service"
say "service: $detections detections, $recordings recording segment(s) on camera 1"
# CPU and memory with four cameras, over 30 s once they run.
ticks() { awk '{print $14 + $15}' "/proc/$service_pid/stat"; }
c0="$(ticks)"; sleep 30; c1="$(ticks)"
rss_kb="$(awk '/^VmRSS/ {print $2}' "/proc/$service_pid/status")"
cpu="$(awk -v a="$c0" -v b="$c1" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", (b - a) / hz / 30 * 100 }')"
say "service with 4 cameras: ${cpu}% of one core, $((rss_kb / 1024)) MiB resident ($(nproc) cores)"
stop_service /tmp/peregrine-service.log
say "service stopped in order: $(grep -o 'stopped in.*' /tmp/peregrine-service.log | tail -1)"

# --- 4. The demo from the package, as an ordinary user -----------------------------
in_root useradd --create-home guard
in_root su - guard -c "exec /usr/bin/peregrine demo --cameras 1 --rtsp-port 18654 --port 18640" >/tmp/peregrine-demo.log 2>&1 &
pids+=("$!")
demo_token="$chroot_dir/home/guard/.local/share/peregrine/demo/api-token"
demo_detections=0
for _ in $(seq 60); do
  if [ -f "$demo_token" ]; then
    demo_detections="$(curl -sf -H "Authorization: Bearer $(cat "$demo_token")" 'http://127.0.0.1:18640/api/v1/detections?limit=1000' | json 'len(d)' || echo 0)"
    [ "$demo_detections" -gt 0 ] && break
  fi
  sleep 1
done
[ "$demo_detections" -gt 0 ] || { cat /tmp/peregrine-demo.log >&2; fail "the demo from the package shows no detections"; }
ui="$(curl -sf "http://127.0.0.1:18640/?t=$(cat "$demo_token")" -c /dev/null -L || true)"
grep -q "<title>Peregrine" <<<"$ui" || fail "the demo does not serve the built-in UI"
say "demo from the package ($python_note): $demo_detections detections, UI served from the binary"
for pid in $(in_chroot_pids); do
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = peregrine ] && kill -TERM "$pid"
done
sleep 3

# --- 5. Upgrade over it ------------------------------------------------------------------
DEBIAN_FRONTEND=noninteractive in_root apt-get install -y -qq "/tmp/$(basename "$deb_next")" >/dev/null
in_root dpkg -s peregrine | grep -q "^Version: $next$" || fail "the upgrade to $next did not install"
start_service /tmp/peregrine-service-2.log
cameras="$(call GET /api/v1/cameras | json 'sorted(c["name"] for c in d)')"
kept="$(call GET /api/v1/cameras/1/recordings | json 'len(d["recordings"])')"
[ "$cameras" = "['Package cam 1', 'Package cam 2', 'Package cam 3', 'Package cam 4']" ] || fail "after the upgrade the cameras are $cameras"
[ "$kept" -ge "$recordings" ] || fail "after the upgrade camera 1 has $kept recordings, had $recordings"
stop_service /tmp/peregrine-service-2.log
say "upgrade $version → $next: 4 cameras and $kept recording segment(s) kept, the service starts on them"

# --- 6. Remove keeps the data, purge deletes it -------------------------------------
DEBIAN_FRONTEND=noninteractive in_root apt-get remove -y -qq peregrine >/dev/null
[ -f "$chroot_dir$state_dir/peregrine.db" ] || fail "remove deleted $state_dir"
DEBIAN_FRONTEND=noninteractive in_root apt-get purge -y -qq peregrine >/dev/null
[ ! -e "$chroot_dir$state_dir" ] || fail "purge left $state_dir"
say "remove kept $state_dir, purge deleted it"
say "all package checks passed"
