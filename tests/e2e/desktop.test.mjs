// Desktop smoke test: the real Tauri binary under a virtual X display runs
// the engine in-process on simulated cameras and shows its window.

import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { artifactsDir, freePort, repoRoot, startXvfb } from "./harness.mjs";

const appBin = process.env.PEREGRINE_APP_BIN
  || path.resolve(repoRoot, process.env.CARGO_TARGET_DIR || "target", "debug", "peregrine-app");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test("the desktop window opens on the demo cameras", { timeout: 240_000 }, async () => {
  assert.ok(existsSync(appBin), `desktop binary missing at ${appBin}: run npm run setup -- --test`);
  const xvfb = await startXvfb();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "peregrine-desktop-"));
  const rtspPort = await freePort();
  let output = "";
  const app = spawn("dbus-run-session", ["--", appBin, "demo", "--data-dir", dataDir, "--rtsp-port", String(rtspPort)], {
    cwd: repoRoot,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, DISPLAY: xvfb.display, PEREGRINE_NO_KEYRING: "1" },
  });
  app.stdout.on("data", (c) => (output += c));
  app.stderr.on("data", (c) => (output += c));
  const x = (cmd, args) => execFileSync(cmd, args, { env: { ...process.env, DISPLAY: xvfb.display } }).toString();
  try {
    // The window appears with its title.
    let tree = "";
    for (let i = 0; i < 120 && !/"Peregrine"/.test(tree); i++) {
      await sleep(500);
      tree = x("xwininfo", ["-root", "-tree"]);
      assert.equal(app.exitCode, null, `the app exited early:\n${output}`);
    }
    assert.match(tree, /"Peregrine"/, `no Peregrine window:\n${tree}\n${output}`);

    // The in-process engine serves the same API the window loads.
    const token = readFileSync(path.join(dataDir, "api-token"), "utf8").trim();
    const port = /API at http:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1];
    assert.ok(port, `no API address in the log:\n${output}`);
    let live = 0;
    for (let i = 0; i < 90 && live < 4; i++) {
      await sleep(1000);
      const cameras = await fetch(`http://127.0.0.1:${port}/api/v1/cameras`, {
        headers: { Authorization: `Bearer ${token}` },
      }).then((r) => r.json());
      live = cameras.filter((c) => c.state === "live").length;
    }
    assert.equal(live, 4, `expected 4 live demo cameras in the desktop app:\n${output}`);

    // The window's WebKitGTK plays the live fMP4 (MSE) rather than falling back to snapshots.
    for (let i = 0; i < 20 && (output.match(/live viewer connected/g) ?? []).length < 4; i++) await sleep(500);
    const viewers = (output.match(/live viewer connected/g) ?? []).length;
    assert.ok(viewers >= 4, `the window opened ${viewers} live video streams, expected 4 (no MSE H.264? install gstreamer1.0-libav):\n${output}`);

    // The demo raises an alarm on its own; the shell's tray follows the count
    // and tries a native notification (Xvfb has no notification service, so
    // "shown" or "cannot show" are both honest outcomes here).
    for (let i = 0; i < 120 && !/tray updated new_alarms=[1-9]/.test(output); i++) await sleep(500);
    assert.match(output, /tray updated new_alarms=[1-9]/, `the tray never counted a new alarm:\n${output}`);
    assert.match(output, /notification shown|cannot show a desktop notification/, `no notification was attempted:\n${output}`);
    // Whichever it was, the alarm queue is told (a failure is flagged there).
    const health = await fetch(`http://127.0.0.1:${port}/api/v1/health`, { headers: { Authorization: `Bearer ${token}` } }).then((r) => r.json());
    const failed = /cannot show a desktop notification/.test(output);
    assert.equal(health.notifications?.ok, !failed, `health.notifications: ${JSON.stringify(health.notifications)}`);

    // Give the page a moment to draw, then look at the screen.
    await sleep(3000);
    mkdirSync(artifactsDir, { recursive: true });
    const shot = path.join(artifactsDir, "desktop.png");
    x("import", ["-window", "root", shot]);
    const colours = Number(x("identify", ["-format", "%k", shot]));
    assert.ok(colours > 500, `the window looks blank (${colours} colours): see ${shot}`);
  } finally {
    try { process.kill(-app.pid, "SIGTERM"); } catch {}
    await sleep(1500);
    try { process.kill(-app.pid, "SIGKILL"); } catch {}
    xvfb.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
