// Writes the licences of everything a package ships into one folder:
//   THIRD-PARTY.md     each shipped file and each Rust crate linked into the
//                      binaries, with its licence
//   <SPDX-id>.txt      the text of every licence named there
//   onnxruntime/, human-models/, opencv-doc/: the notices that came with
//                      those files, as their packages ship them
// Usage: node packaging/licences.mjs OUT_DIR   (run from the repository root;
// needs the set-up's downloads in the cache and `cargo` on PATH)

import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";

const require = createRequire(import.meta.url);
const out = process.argv[2];
if (!out) throw new Error("usage: node packaging/licences.mjs OUT_DIR");
mkdirSync(out, { recursive: true });
const cache = process.env.PEREGRINE_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "peregrine");
const manifest = JSON.parse(readFileSync("models/manifest.json", "utf8"));

/** Crates linked into the shipped binaries: normal dependencies only, for this platform. */
function crates() {
  const meta = JSON.parse(
    execFileSync("cargo", ["metadata", "--format-version", "1", "--locked", "--filter-platform", "x86_64-unknown-linux-gnu"], {
      maxBuffer: 256 << 20,
    }),
  );
  const byId = new Map(meta.packages.map((p) => [p.id, p]));
  const nodes = new Map(meta.resolve.nodes.map((n) => [n.id, n]));
  const roots = meta.packages.filter((p) => p.name === "peregrine-server" || p.name === "peregrine-app").map((p) => p.id);
  const seen = new Set();
  const stack = [...roots];
  while (stack.length) {
    const id = stack.pop();
    if (seen.has(id)) continue;
    seen.add(id);
    for (const dep of nodes.get(id)?.deps ?? []) {
      if (dep.dep_kinds.some((k) => k.kind === null)) stack.push(dep.pkg);
    }
  }
  return [...seen]
    .map((id) => byId.get(id))
    .filter((p) => !p.name.startsWith("peregrine-"))
    .map((p) => ({ name: p.name, version: p.version, licence: p.license ?? `see ${p.license_file ?? "its repository"}` }))
    .sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
}

/** SPDX ids in an expression such as "(MIT OR Apache-2.0) AND Unicode-3.0". */
function ids(expression) {
  return expression
    .replace(/[()]/g, " ")
    .split(/\s+(?:OR|AND)\s+|\//)
    .map((s) => s.trim().split(/\s+WITH\s+/)[0])
    .filter(Boolean);
}

function writeLicenceText(id) {
  try {
    const { licenseText } = require(`spdx-license-list/licenses/${id}.json`);
    writeFileSync(path.join(out, `${id}.txt`), licenseText.endsWith("\n") ? licenseText : `${licenseText}\n`);
    return true;
  } catch {
    return false;
  }
}

/** The notices shipped inside the downloaded packages. */
function copyNotices() {
  const downloads = path.join(cache, "downloads");
  const unzip = (archive, member, to) => {
    mkdirSync(path.dirname(to), { recursive: true });
    writeFileSync(to, execFileSync("unzip", ["-p", archive, member], { maxBuffer: 64 << 20 }));
  };
  const wheel = path.join(downloads, manifest.runtime.wheel);
  unzip(wheel, "onnxruntime/LICENSE", path.join(out, "onnxruntime/LICENSE"));
  unzip(wheel, "onnxruntime/ThirdPartyNotices.txt", path.join(out, "onnxruntime/ThirdPartyNotices.txt"));
  mkdirSync(path.join(out, "human-models"), { recursive: true });
  writeFileSync(
    path.join(out, "human-models/LICENSE"),
    execFileSync("tar", ["-xzOf", path.join(downloads, manifest.detector.tarball), "package/LICENSE"]),
  );
  mkdirSync(path.join(out, "opencv-doc"), { recursive: true });
  copyFileSync("/usr/share/doc/opencv-doc/copyright", path.join(out, "opencv-doc/copyright"));
}

const shipped = [
  ["Peregrine (the binaries `peregrine` and `peregrine-app`, the web UI in them)", "AGPL-3.0-or-later", "this project"],
  [`ONNX Runtime ${manifest.runtime.version} (lib/peregrine/libonnxruntime.so.*)`, manifest.runtime.licence, "PyPI `onnxruntime`; onnxruntime/LICENSE and ThirdPartyNotices.txt here"],
  [`NanoDet-m detector (share/peregrine/models/nanodet-m.onnx)`, manifest.detector.licence, `npm \`${manifest.detector.package}\` ${manifest.detector.version}, converted to ONNX; human-models/LICENSE here. ${manifest.detector.licence_note}`],
  [`${manifest.embedder.name} (share/peregrine/models/minilm/)`, manifest.embedder.licence, `PyPI \`${manifest.embedder.model.package}\` ${manifest.embedder.model.version} and \`${manifest.embedder.tokenizer.package}\` ${manifest.embedder.tokenizer.version}; the word table is made from it`],
  ["Demo footage vtest.mp4 (share/peregrine/footage/)", "see opencv-doc/copyright", `Debian \`${manifest.footage.source.debian_package}\`: ${path.basename(manifest.footage.source.path)}, transcoded to H.264`],
];

copyNotices();
const list = crates();
const wanted = new Set(["AGPL-3.0-or-later", "MIT", "Apache-2.0"]);
for (const c of list) for (const id of ids(c.licence)) wanted.add(id);
const missing = [...wanted].filter((id) => !writeLicenceText(id));
const lines = [
  "# Licences of what this package ships",
  "",
  "The text of each licence is beside this file as `<licence>.txt`.",
  "",
  "| What | Licence | From |",
  "|---|---|---|",
  ...shipped.map(([what, licence, from]) => `| ${what} | ${licence} | ${from} |`),
  "",
  `## Rust crates linked into the binaries (${list.length})`,
  "",
  "| Crate | Version | Licence |",
  "|---|---|---|",
  ...list.map((c) => `| ${c.name} | ${c.version} | ${c.licence} |`),
  "",
];
if (missing.length) lines.push(`Licences with no text in the SPDX list: ${missing.join(", ")} (see each crate's repository).`, "");
writeFileSync(path.join(out, "THIRD-PARTY.md"), lines.join("\n"));
console.error(`licences: ${list.length} crates, ${wanted.size - missing.length} licence texts${missing.length ? `, none for ${missing.join(", ")}` : ""}`);
