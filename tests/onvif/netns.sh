#!/usr/bin/env bash
# A test network of two hosts, so that discovery probes never leave on this
# machine's real interfaces: network namespaces pg-nvr-ID (where Peregrine
# runs) and pg-cam-ID (where the simulated cameras run), joined by a veth
# pair, 10.77.N.1 and 10.77.N.2, with multicast routed over it.
#   netns.sh up ID     create (N is derived from ID); prints NVR=, CAM=, NVR_IP=, CAM_IP=
#   netns.sh down ID   delete both (and with them the veth pair)
# Needs root (ip netns). ID: a few letters or digits, unique per test run.
set -euo pipefail
action="${1:-}" id="${2:-}"
[[ "$id" =~ ^[A-Za-z0-9]{1,8}$ ]] || { echo "netns.sh: usage: netns.sh up|down ID (1-8 letters or digits)" >&2; exit 2; }
nvr="pg-nvr-$id" cam="pg-cam-$id"
n=$(( $(cksum <<<"$id" | cut -d' ' -f1) % 200 + 20 ))
case "$action" in
  up)
    ip netns add "$nvr"
    ip netns add "$cam"
    ip link add "pgn-$id" type veth peer name "pgc-$id"
    ip link set "pgn-$id" netns "$nvr"
    ip link set "pgc-$id" netns "$cam"
    ip -n "$nvr" addr add "10.77.$n.1/24" dev "pgn-$id"
    ip -n "$cam" addr add "10.77.$n.2/24" dev "pgc-$id"
    for ns in "$nvr" "$cam"; do ip -n "$ns" link set lo up; done
    ip -n "$nvr" link set "pgn-$id" up
    ip -n "$cam" link set "pgc-$id" up
    ip -n "$nvr" route add 224.0.0.0/4 dev "pgn-$id"
    ip -n "$cam" route add 224.0.0.0/4 dev "pgc-$id"
    echo "NVR=$nvr"
    echo "CAM=$cam"
    echo "NVR_IP=10.77.$n.1"
    echo "CAM_IP=10.77.$n.2"
    ;;
  down)
    ip netns del "$nvr" 2>/dev/null || true
    ip netns del "$cam" 2>/dev/null || true
    ;;
  *) echo "netns.sh: usage: netns.sh up|down ID" >&2; exit 2 ;;
esac
