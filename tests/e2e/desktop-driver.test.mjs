// Desktop end to end through WebDriver: the real Tauri binary under Xvfb,
// driven by tauri-driver + WebKitWebDriver (the WebKitGTK window guards
// use). A camera is added through the dialog and plays; the window's own
// first-frame time and buffer are read and reported beside Chromium's.
//
// The WebDriver calls are plain HTTP (W3C WebDriver classic), so no client
// library is needed.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, existsSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { artifactsDir, assertBoxDrawn, freePort, freePorts, repoRoot, startXvfb } from "./harness.mjs";

const appBin = process.env.PEREGRINE_APP_BIN
  || path.resolve(repoRoot, process.env.CARGO_TARGET_DIR || "target", "debug", "peregrine-app");
const driverBin = process.env.TAURI_DRIVER || path.join(os.homedir(), ".cargo", "bin", "tauri-driver");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";

/** A minimal W3C WebDriver client over fetch. */
class Driver {
  constructor(base) {
    this.base = base;
    this.session = null;
  }

  async call(method, route, body) {
    const res = await fetch(`${this.base}${route}`, {
      method,
      headers: { "Content-Type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(`WebDriver ${method} ${route}: ${res.status} ${JSON.stringify(json.value ?? json)}`);
    return json.value;
  }

  async start(capabilities) {
    const value = await this.call("POST", "/session", { capabilities: { alwaysMatch: capabilities } });
    this.session = value.sessionId;
  }

  s(route) {
    return `/session/${this.session}${route}`;
  }

  execute(script, ...args) {
    return this.call("POST", this.s("/execute/sync"), { script, args });
  }

  /** Evaluates an expression (a promise is awaited) in the page. */
  async evaluate(expr) {
    const value = await this.call("POST", this.s("/execute/async"), {
      script: `const done = arguments[arguments.length - 1];
        Promise.resolve(${expr}).then((v) => done({ ok: v }), (e) => done({ error: String(e) }));`,
      args: [],
    });
    if (value && "error" in value) throw new Error(`in the window: ${value.error}`);
    return value?.ok ?? null;
  }

  async screenshotBase64() {
    return this.call("GET", this.s("/screenshot"));
  }

  async find(css) {
    const value = await this.call("POST", this.s("/element"), { using: "css selector", value: css });
    return value[ELEMENT];
  }

  click(element) {
    return this.call("POST", this.s(`/element/${element}/click`), {});
  }

  async type(css, text) {
    const element = await this.find(css);
    await this.call("POST", this.s(`/element/${element}/clear`), {});
    await this.call("POST", this.s(`/element/${element}/value`), { text });
  }

  /** Polls `script` in the page until it returns something truthy. */
  async waitFor(script, timeoutMs, what) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await this.execute(script).catch(() => null);
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
      await sleep(250);
    }
  }

  async screenshot(file) {
    writeFileSync(file, Buffer.from(await this.call("GET", this.s("/screenshot")), "base64"));
  }

  async stop() {
    if (this.session) await this.call("DELETE", this.s("")).catch(() => {});
  }
}

test("desktop window: add a camera through the dialog and watch it play (WebDriver)", { timeout: 240_000 }, async () => {
  assert.ok(existsSync(appBin), `desktop binary missing at ${appBin}: run npm run setup -- --test`);
  assert.ok(existsSync(driverBin), `tauri-driver missing at ${driverBin}: run npm run setup -- --test`);
  const xvfb = await startXvfb();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "peregrine-driver-"));
  const [driverPort, nativePort] = await freePorts(2);
  const rtspPort = await freePort();
  let log = "";
  const driver = spawn("dbus-run-session", ["--", driverBin, "--port", String(driverPort), "--native-port", String(nativePort)], {
    env: { ...process.env, DISPLAY: xvfb.display, PEREGRINE_NO_KEYRING: "1" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  driver.stdout.on("data", (c) => (log += c));
  driver.stderr.on("data", (c) => (log += c));
  const wd = new Driver(`http://127.0.0.1:${driverPort}`);
  try {
    const deadline = Date.now() + 20_000;
    while (!(await fetch(`http://127.0.0.1:${driverPort}/status`).then((r) => r.ok, () => false))) {
      assert.ok(Date.now() < deadline, `tauri-driver did not start:\n${log}`);
      await sleep(200);
    }
    await wd.start({
      "tauri:options": {
        application: appBin,
        args: ["demo", "--cameras", "2", "--data-dir", dataDir, "--rtsp-port", String(rtspPort)],
      },
    });
    await wd.waitFor("return document.querySelectorAll('[data-testid=camera-tile][data-state=live]').length === 2", 90_000, "2 live demo cameras");

    // Person boxes are drawn in the window, not just present in its DOM.
    await wd.waitFor(
      "return [...document.querySelectorAll('[data-testid=detection-label]')].some((l) => l.textContent.startsWith('person'))",
      60_000,
      "a person label on a live tile",
    );
    const drawn = await assertBoxDrawn((expr) => wd.evaluate(expr), () => wd.screenshotBase64());
    console.log(`person box on screen (Tauri window): ${drawn.label} at ${JSON.stringify(drawn.rect)}, ${(drawn.pixels.share * 100).toFixed(0)} % of its outline in ${drawn.colour}`);
    mkdirSync(artifactsDir, { recursive: true });
    await wd.screenshot(path.join(artifactsDir, "desktop-boxes.png"));

    // A guard adds a camera through the dialog.
    await wd.click(await wd.find("#add-camera"));
    await wd.type("#camera-name", "Gate");
    await wd.type("#camera-url", `rtsp://127.0.0.1:${rtspPort}/cam1`);
    await wd.click(await wd.find("[data-testid=camera-dialog] button[type=submit]"));
    const played = await wd.waitFor(
      `const tile = [...document.querySelectorAll('[data-testid=camera-tile]')].find((t) => t.querySelector('.tile__name')?.textContent === 'Gate');
       const video = tile?.querySelector('video');
       return tile?.dataset.video === 'live' && video && video.currentTime > 0.5 ? video.currentTime : null;`,
      30_000,
      "the new camera to play live video",
    );
    assert.ok(played > 0.5, `currentTime ${played}`);

    // The window's own figures (updated once a second by each tile).
    await sleep(2_000);
    const figures = await wd.execute(
      `return [...document.querySelectorAll('[data-testid=camera-tile]')].map((t) => ({
         camera: t.querySelector('.tile__name')?.textContent,
         video: t.dataset.video,
         first_frame_ms: Number(t.dataset.firstFrameMs),
         latency_ms: Number(t.dataset.latencyMs),
         buffer_ms: Number(t.dataset.bufferMs),
       }));`,
    );
    console.log(`live view (Tauri window, WebKitGTK): ${JSON.stringify(figures)}`);
    assert.equal(figures.length, 3);
    for (const f of figures) {
      assert.equal(f.video, "live", `${f.camera} plays live video, not snapshots: ${JSON.stringify(f)}`);
      assert.ok(Number.isFinite(f.first_frame_ms) && f.first_frame_ms > 0, JSON.stringify(f));
    }
    mkdirSync(artifactsDir, { recursive: true });
    await wd.screenshot(path.join(artifactsDir, "desktop-driver.png"));
  } catch (err) {
    throw new Error(`${err.message}\n--- tauri-driver and app log ---\n${log.slice(-20_000)}`);
  } finally {
    await wd.stop();
    try {
      process.kill(-driver.pid, "SIGTERM");
    } catch {}
    await sleep(1000);
    try {
      process.kill(-driver.pid, "SIGKILL");
    } catch {}
    xvfb.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
