// The benchmark harness itself: `npm run bench -- --quick` runs every
// scenario for seconds and writes a report whose every figure is a ratio to
// a reference measured in the same run, or says "not yet".

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { repoRoot } from "./harness.mjs";

test("npm run bench -- --quick writes a report of ratios", { timeout: 240_000 }, () => {
  const out = mkdtempSync(path.join(os.tmpdir(), "peregrine-bench-"));
  try {
    const run = spawnSync(process.execPath, ["--experimental-websocket", "bench/run.mjs", "--quick", "--out", out], {
      cwd: repoRoot,
      encoding: "utf8",
      timeout: 230_000,
    });
    assert.equal(run.status, 0, `bench failed:\n${run.stdout}\n${run.stderr}`);
    const report = JSON.parse(readFileSync(path.join(out, "report.json"), "utf8"));
    assert.equal(report.quick, true);
    assert.ok(report.machine.cpus > 0 && report.build, JSON.stringify(report.machine));
    const measured = report.figures.filter((f) => f.status !== "not yet");
    assert.ok(measured.length >= 5, `${measured.length} measured figures`);
    for (const f of measured) {
      assert.ok(typeof f.name === "string" && typeof f.unit === "string", JSON.stringify(f));
      assert.ok(Number.isFinite(f.reference) && f.reference > 0, `${f.name}: a reference measured in the run: ${JSON.stringify(f)}`);
      if (f.value !== null) assert.ok(Number.isFinite(f.ratio), `${f.name}: value without a ratio: ${JSON.stringify(f)}`);
    }
    const names = measured.map((f) => f.name).join("\n");
    assert.match(names, /passthrough CPU/);
    assert.match(names, /glass-to-alert latency p50/);
    assert.match(names, /motion gate/);
    assert.match(names, /recording CPU/);
    assert.match(names, /export throughput/);
    assert.match(names, /search p95/);
    for (const f of report.figures.filter((f) => f.status === "not yet")) assert.ok(f.note, `"not yet" says why: ${f.name}`);
    const md = readFileSync(path.join(out, "report.md"), "utf8");
    assert.match(md, /^# Performance/);
    assert.match(md, /\| figure \| ours \| reference \| ratio \| goal \| met \|/);
    console.log(md);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
