#!/usr/bin/env bash
# `npm run package`: a .deb, an .rpm and a portable .tar.gz in dist/, each
# self-contained: the binaries (the web UI built in), ONNX Runtime, the
# detector and search models with the search's word table, the demo footage,
# and the licence of each with the model card. Installing and the first run
# need no network; the packages depend only on libraries Debian ships.
#
#   scripts/package.sh                     all three, labelled with the workspace version
#   PEREGRINE_PACKAGE_VERSION=0.1.1 ...    another label (the upgrade test builds N and N+1)
#   PEREGRINE_PACKAGE_FORMATS="deb" ...    only some of deb, rpm, tar
#
# Layout (the same under /usr and in the archive's folder; the binaries find
# their files from where they are):
#   bin/peregrine, bin/peregrine-app
#   lib/peregrine/libonnxruntime.so.*
#   share/peregrine/{models,footage}, share/doc/peregrine/{licences,...}
#   share/applications, share/icons, and (deb, rpm) the systemd unit
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
started=$SECONDS
say() { echo "package: $* ($((SECONDS - started)) s)" >&2; }

# Assets, the UI, the word table, rpmbuild; exports CARGO_TARGET_DIR and the
# asset paths.
export PEREGRINE_SETUP_PACKAGING=1
source "$root/scripts/setup.sh"
workspace_version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)"
version="${PEREGRINE_PACKAGE_VERSION:-$workspace_version}"
formats="${PEREGRINE_PACKAGE_FORMATS:-deb rpm tar}"
out="$root/dist"
mkdir -p "$out"

cargo build --release --quiet -p peregrine-server --bin peregrine
cargo build --release --quiet -p peregrine-app --features tauri/custom-protocol
say "release binaries built"

# --- The tree every format packs ---------------------------------------------
stage="$(mktemp -d "${TMPDIR:-/tmp}/peregrine-package.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
tree="$stage/tree"
bin="$tree/bin" lib="$tree/lib/peregrine" share="$tree/share/peregrine" doc="$tree/share/doc/peregrine"
install -d "$bin" "$lib" "$share/models/minilm" "$share/footage" "$doc"
for b in peregrine peregrine-app; do
  install -m 0755 "$CARGO_TARGET_DIR/release/$b" "$bin/$b"
  strip --strip-unneeded "$bin/$b"
done
install -m 0644 "$ORT_DYLIB_PATH" "$lib/"
strip --strip-unneeded "$lib/$(basename "$ORT_DYLIB_PATH")"
install -m 0644 "$PEREGRINE_MODEL" "$share/models/nanodet-m.onnx"
embedder="${PEREGRINE_EMBEDDER:-$(dirname "$PEREGRINE_MODEL")/minilm}"
for f in model.onnx tokenizer.json words.tsv words.vec; do
  [ -f "$embedder/$f" ] || { echo "package: $embedder/$f is missing: run npm run setup" >&2; exit 1; }
  install -m 0644 "$embedder/$f" "$share/models/minilm/$f"
done
install -m 0644 "$PEREGRINE_FOOTAGE" "$share/footage/vtest.mp4"
install -Dm 0644 packaging/linux/peregrine.desktop "$tree/share/applications/peregrine.desktop"
for size in 32x32 128x128 256x256; do
  install -Dm 0644 "icons/$size.png" "$tree/share/icons/hicolor/$size/apps/peregrine.png"
done
install -m 0644 README.md docs/INSTALL.md docs/MODEL-CARD.md "$doc/"
node packaging/licences.mjs "$doc/licences"
find "$tree" -type d -exec chmod 0755 {} +
say "tree staged"

# --- Portable archive ----------------------------------------------------------
if [[ " $formats " == *" tar "* ]]; then
  name="peregrine-$version-x86_64-linux"
  mkdir -p "$stage/$name"
  cp -a "$tree/." "$stage/$name/"
  install -m 0644 packaging/linux/peregrine.service "$stage/$name/share/peregrine/peregrine.service"
  tar -C "$stage" --owner=0 --group=0 --sort=name -czf "$out/$name.tar.gz" "$name"
  say "$(du -h "$out/$name.tar.gz" | cut -f1) $out/$name.tar.gz"
fi

# --- Debian ------------------------------------------------------------------------
if [[ " $formats " == *" deb "* ]]; then
  deb="$stage/deb"
  mkdir -p "$deb/usr" "$deb/DEBIAN"
  cp -a "$tree/." "$deb/usr/"
  install -Dm 0644 packaging/linux/peregrine.service "$deb/lib/systemd/system/peregrine.service"
  cp packaging/linux/copyright "$deb/usr/share/doc/peregrine/copyright"
  install -Dm 0644 packaging/linux/lintian-overrides "$deb/usr/share/lintian/overrides/peregrine"
  printf 'peregrine (%s) stable; urgency=medium\n\n  * Release %s.\n\n -- Peregrine <packages@peregrine.invalid>  %s\n' \
    "$version" "$version" "$(date -R -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}")" \
    | gzip -9n > "$deb/usr/share/doc/peregrine/changelog.gz"
  for script in postinst prerm postrm; do install -m 0755 "packaging/linux/$script" "$deb/DEBIAN/$script"; done
  # Libraries the binaries link (dpkg-shlibdeps reads them), plus what runs
  # beside them: WebKitGTK's media plugins for live video, the word list.
  mkdir -p "$stage/shlibs/debian" && touch "$stage/shlibs/debian/control"
  shlibs="$(cd "$stage/shlibs" && dpkg-shlibdeps -O --ignore-missing-info \
    -l"$deb/usr/lib/peregrine" "$deb/usr/bin/peregrine" "$deb/usr/bin/peregrine-app" \
    "$deb/usr/lib/peregrine/$(basename "$ORT_DYLIB_PATH")" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')"
  [ -n "$shlibs" ] || { echo "package: dpkg-shlibdeps found no libraries for the binaries" >&2; exit 1; }
  size_kb="$(du -sk --exclude=DEBIAN "$deb" | cut -f1)"
  cat > "$deb/DEBIAN/control" <<CONTROL
Package: peregrine
Version: $version
Architecture: $(dpkg --print-architecture)
Maintainer: Peregrine <packages@peregrine.invalid>
Installed-Size: $size_kb
Depends: $shlibs, adduser, wamerican, gstreamer1.0-libav, gstreamer1.0-plugins-good, gstreamer1.0-plugins-bad
Section: video
Priority: optional
Homepage: https://peregrine.invalid/
Description: edge-AI video surveillance console
 Peregrine pulls RTSP streams from IP cameras, detects people and vehicles
 on this machine's CPU, tracks them, raises alarms from rules, records, and
 finds what it saw from plain words ("person at the back door last night").
 .
 The package holds the desktop console (peregrine-app), the command and
 recording service (peregrine, with a systemd unit that is off until turned
 on), the detector and search models, ONNX Runtime, and demo footage.
 Everything runs on this machine, offline.
CONTROL
  (cd "$deb" && find usr lib -type f -print0 | sort -z | xargs -0 md5sum > DEBIAN/md5sums)
  dpkg-deb --root-owner-group -Zxz --build "$deb" "$out/peregrine_${version}_$(dpkg --print-architecture).deb" >/dev/null
  say "$(du -h "$out/peregrine_${version}_"*.deb | cut -f1) $out/peregrine_${version}_$(dpkg --print-architecture).deb"
fi

# --- RPM ---------------------------------------------------------------------------
if [[ " $formats " == *" rpm "* ]]; then
  command -v rpmbuild >/dev/null || { echo "package: rpmbuild is missing: apt-get install rpm" >&2; exit 1; }
  rpmtop="$stage/rpm"
  mkdir -p "$rpmtop/SPECS" "$rpmtop/BUILDROOT"
  sed -e "s/@VERSION@/$version/" -e "s|@TREE@|$tree|" -e "s|@ROOT@|$root|" \
    packaging/linux/peregrine.spec > "$rpmtop/SPECS/peregrine.spec"
  rpmbuild --quiet -bb --define "_topdir $rpmtop" --define "_rpmdir $out" \
    --define "_build_id_links none" "$rpmtop/SPECS/peregrine.spec" >/dev/null 2>"$stage/rpmbuild.log" \
    || { cat "$stage/rpmbuild.log" >&2; exit 1; }
  rpm_file="$(find "$out" -name "peregrine-$version-*.rpm" | head -1)"
  mv "$rpm_file" "$out/" 2>/dev/null || true
  rmdir "$out/x86_64" 2>/dev/null || true
  say "$(du -h "$out/$(basename "$rpm_file")" | cut -f1) $out/$(basename "$rpm_file")"
fi
