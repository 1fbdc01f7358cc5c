// Shared helpers for the end-to-end tests: free ports, starting the real
// `peregrine demo` server, and launching the system Chromium via playwright-core.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
export const artifactsDir = path.join(repoRoot, "tests", "artifacts");

/** The start link the server prints; the token is traded for a cookie. */
export const START_URL_RE = /https?:\/\/127\.0\.0\.1:\d+\/\?t=\S+/;

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Path of the system Chromium (`npx playwright install` is not used). */
export function chromiumPath() {
  return process.env.CHROMIUM_BIN || "/usr/bin/chromium";
}

/** Path of the peregrine binary: $PEREGRINE_BIN, else ${CARGO_TARGET_DIR:-target}/debug/peregrine. */
export function peregrineBin() {
  if (process.env.PEREGRINE_BIN) return path.resolve(repoRoot, process.env.PEREGRINE_BIN);
  const targetDir = process.env.CARGO_TARGET_DIR || "target";
  return path.resolve(repoRoot, targetDir, "debug", "peregrine");
}

/** Headless Chromium. Playwright gives every launch a fresh temporary user-data-dir. */
export async function launchBrowser(options = {}) {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: CHROMIUM_ARGS,
    ...options,
  });
}

/** `count` distinct free TCP ports on 127.0.0.1 (held open together while picking). */
export async function freePorts(count = 1) {
  const servers = [];
  try {
    for (let i = 0; i < count; i++) {
      const srv = net.createServer();
      servers.push(srv);
      await new Promise((resolve, reject) => {
        srv.once("error", reject);
        srv.listen(0, "127.0.0.1", resolve);
      });
    }
    return servers.map((s) => s.address().port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(() => resolve()))));
  }
}

export async function freePort() {
  const [port] = await freePorts(1);
  return port;
}

const MAX_OUTPUT = 256 * 1024;

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false; // ESRCH: the group is gone already.
  }
}

/**
 * Start `peregrine demo --data-dir <tmp> --port 0 --rtsp-port <free> --cameras N`
 * in its own process group and wait for the start link on stdout.
 * `serve: true` starts `peregrine serve` on a fresh data folder instead (no
 * cameras: a first run); `prefix` runs it through a command such as
 * `ip netns exec NAME`.
 *
 * Resolves to { url, origin, rtspPort, dataDir, child, output(), stop() }.
 * Always call stop() (it kills the whole process group and removes the data dir).
 */
export async function startDemo({ cameras = 4, extraArgs = [], env = {}, timeoutMs = 60_000, serve = false, prefix = [] } = {}) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "peregrine-e2e-"));
  const rtspPort = await freePort();
  const peregrineArgs = serve
    ? ["serve", "--data-dir", dataDir, "--port", "0", ...extraArgs]
    : [
        "demo",
        "--data-dir", dataDir,
        "--port", "0",
        "--rtsp-port", String(rtspPort),
        "--cameras", String(cameras),
        ...extraArgs,
      ];
  const [bin, ...args] = [...prefix, peregrineBin(), ...peregrineArgs];

  let stdout = "";
  let stderr = "";
  const append = (buf, chunk) => (buf.length < MAX_OUTPUT ? buf + chunk : buf);
  const output = () => `$ ${bin} ${args.join(" ")}\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`;

  const child = spawn(bin, args, {
    cwd: repoRoot,
    detached: true, // own process group: stop() kills the server and anything it spawned
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");

  let exited = child.exitCode !== null;
  const exitedPromise = new Promise((resolve) => child.once("exit", () => {
    exited = true;
    resolve();
  }));
  // Last-resort cleanup if the test runner itself exits abruptly.
  const onProcessExit = () => child.pid && killGroup(child.pid, "SIGKILL");
  process.once("exit", onProcessExit);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.removeListener("exit", onProcessExit);
    if (child.pid) {
      killGroup(child.pid, "SIGTERM");
      const timer = new Promise((resolve) => setTimeout(resolve, 5_000));
      await Promise.race([exitedPromise, timer]);
      // The leader may be gone while children of the group linger: make sure.
      killGroup(child.pid, "SIGKILL");
      if (!exited) await Promise.race([exitedPromise, new Promise((r) => setTimeout(r, 2_000))]);
    }
    rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    const url = await new Promise((resolve, reject) => {
      let pending = "";
      const timer = setTimeout(
        () => reject(new Error(`peregrine demo printed no start link within ${timeoutMs / 1000} s\n${output()}`)),
        timeoutMs,
      );
      const done = (fn, value) => {
        clearTimeout(timer);
        fn(value);
      };
      // Keep draining both pipes for the whole run, or the server could block on a full pipe.
      child.stdout.on("data", (chunk) => {
        stdout = append(stdout, chunk);
        pending += chunk;
        const lines = pending.split(/\r?\n/);
        pending = lines.pop() ?? "";
        for (const line of lines) {
          const m = START_URL_RE.exec(line);
          if (m) return done(resolve, m[0]);
        }
      });
      child.stderr.on("data", (chunk) => {
        stderr = append(stderr, chunk);
      });
      child.once("error", (err) => {
        const hint = err.code === "ENOENT" ? ` (build it first, or set PEREGRINE_BIN)` : "";
        done(reject, new Error(`cannot start ${bin}: ${err.message}${hint}\n${output()}`));
      });
      child.once("exit", (code, signal) =>
        done(reject, new Error(`peregrine demo exited (code ${code}, signal ${signal}) before printing a start link\n${output()}`)),
      );
    });
    return { url, origin: new URL(url).origin, rtspPort, dataDir, child, output, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Starts Xvfb on a free display number; resolves to { display, stop }. */
export function startXvfb() {
  return new Promise((resolve, reject) => {
    const xvfb = spawn("Xvfb", ["-displayfd", "3", "-screen", "0", "1280x800x24", "-nolisten", "tcp"], {
      stdio: ["ignore", "ignore", "pipe", "pipe"],
    });
    let stderr = "";
    xvfb.stderr.on("data", (c) => (stderr += c));
    xvfb.once("error", reject);
    xvfb.once("exit", (code) => reject(new Error(`Xvfb exited (${code}): ${stderr}`)));
    xvfb.stdio[3].once("data", (chunk) => {
      const display = `:${String(chunk).trim()}`;
      resolve({ display, stop: () => xvfb.kill("SIGTERM") });
    });
  });
}

// ---- What is seen, not what is in the DOM ----------------------------------
// An element in the DOM is not a box on the screen: these helpers check that
// an element is visible and that its colour is really in a screenshot where
// it should be. They run in Chromium (Playwright) and in the desktop
// window's WebKitGTK (WebDriver) alike.

/**
 * Source of an in-page test of visibility: `checkVisibility` where the
 * engine has it, else the computed styles up the tree; and a size.
 */
export const IS_VISIBLE_SRC = `(el) => {
  if (!el) return false;
  const r = el.getBoundingClientRect();
  if (r.width < 1 || r.height < 1) return false;
  if (typeof el.checkVisibility === "function") {
    return el.checkVisibility({ opacityProperty: true, visibilityProperty: true });
  }
  for (let e = el; e; e = e.parentElement) {
    const s = getComputedStyle(e);
    if (s.display === "none" || s.visibility === "hidden" || Number(s.opacity) === 0) return false;
  }
  return true;
}`;

/**
 * An in-page expression: of the pixels of a PNG screenshot (base64) inside
 * `rects` (CSS pixels of the page), how many are within `tolerance` of
 * `colour` (#rrggbb) on every channel. Resolves to { matched, total, share }.
 */
export function pixelShareExpr(png, rects, colour, tolerance) {
  return `(async (png, rects, colour, tolerance) => {
    const img = new Image();
    img.src = "data:image/png;base64," + png;
    await img.decode();
    const scale = img.naturalWidth / window.innerWidth;
    const canvas = document.createElement("canvas");
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(img, 0, 0);
    const want = [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16));
    let matched = 0;
    let total = 0;
    for (const r of rects) {
      const x = Math.max(0, Math.round(r.x * scale));
      const y = Math.max(0, Math.round(r.y * scale));
      const w = Math.min(canvas.width - x, Math.round(r.width * scale));
      const h = Math.min(canvas.height - y, Math.round(r.height * scale));
      if (w <= 0 || h <= 0) continue;
      const d = ctx.getImageData(x, y, w, h).data;
      for (let i = 0; i < d.length; i += 4) {
        total += 1;
        if (Math.abs(d[i] - want[0]) <= tolerance && Math.abs(d[i + 1] - want[1]) <= tolerance && Math.abs(d[i + 2] - want[2]) <= tolerance) matched += 1;
      }
    }
    return { matched, total, share: total ? matched / total : 0 };
  })(${JSON.stringify(png)}, ${JSON.stringify(rects)}, ${JSON.stringify(colour)}, ${tolerance})`;
}

/** The bands of a rect's outline `width` CSS pixels thick, where a box's border is drawn. */
export function borderBands(r, width = 2) {
  return [
    { x: r.x, y: r.y, width: r.width, height: width },
    { x: r.x, y: r.y + r.height - width, width: r.width, height: width },
    { x: r.x, y: r.y + width, width, height: r.height - 2 * width },
    { x: r.x + r.width - width, y: r.y + width, width, height: r.height - 2 * width },
  ];
}

/** A rect shrunk by `by` CSS pixels on each side (away from anti-aliased edges). */
export function inset(r, by) {
  return { x: r.x + by, y: r.y + by, width: Math.max(0, r.width - 2 * by), height: Math.max(0, r.height - 2 * by) };
}

/**
 * In-page: the detection boxes whose label starts with `cls`, as
 * [{ rect, colour, label, visible }].
 */
export function findBoxesExpr(cls) {
  return `(() => {
    const visible = ${IS_VISIBLE_SRC};
    return [...document.querySelectorAll("[data-testid=camera-tile] .box")]
      .filter((b) => (b.querySelector("[data-testid=detection-label]")?.textContent ?? "").startsWith(${JSON.stringify(cls)}))
      .map((b) => {
        const r = b.getBoundingClientRect();
        return { rect: { x: r.x, y: r.y, width: r.width, height: r.height }, visible: visible(b),
          colour: b.style.getPropertyValue("--box-colour").trim(), label: b.textContent };
      });
  })()`;
}

/**
 * Checks that a person box is drawn on a live tile: a box element is
 * visible, and its colour covers most of its outline in a screenshot.
 * `evaluate(expr)` runs an expression in the page; `screenshot()` gives a
 * PNG as base64. Boxes follow the video and may move while a screenshot is
 * taken, so every visible box is measured and the best counts, over a few
 * tries. Resolves to that box with its measure.
 */
export async function assertBoxDrawn(evaluate, screenshot, { cls = "person", tries = 20 } = {}) {
  let best = null;
  for (let i = 0; i < tries; i++) {
    const boxes = await evaluate(findBoxesExpr(cls));
    const shown = boxes.filter((b) => b.visible && b.rect.width >= 12 && b.rect.height >= 12);
    if (shown.length > 0) {
      const png = await screenshot();
      for (const box of shown) {
        const pixels = await evaluate(pixelShareExpr(png, borderBands(box.rect), box.colour || "#ffd166", 48));
        if (!best || pixels.share > best.pixels.share) best = { ...box, pixels };
      }
      if (best.pixels.share >= 0.4) return best;
    } else if (!best && boxes.length > 0) {
      best = { ...boxes[0], pixels: null };
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no ${cls} box is drawn on screen (a visible element with its colour on its outline); the best seen: ${JSON.stringify(best)}`);
}

/**
 * In-page: for every element matching `selector`, whether it is visible and
 * lies inside the viewport, with its text.
 */
export function visibilityExpr(selector) {
  return `(() => {
    const visible = ${IS_VISIBLE_SRC};
    return [...document.querySelectorAll(${JSON.stringify(selector)})].map((e) => {
      const r = e.getBoundingClientRect();
      const inView = r.right > 0 && r.bottom > 0 && r.left < window.innerWidth && r.top < window.innerHeight;
      return { text: (e.textContent ?? "").trim(), visible: visible(e) && inView, rect: { x: r.x, y: r.y, width: r.width, height: r.height } };
    });
  })()`;
}

/**
 * Draws an area named `name` on the open rules dialog's picture by clicking
 * its corners (fractions of the picture), saves it and waits for it in the list.
 */
export async function drawArea(page, name, corners) {
  await page.click("[data-draw=zone]");
  const stage = await page.locator(".rules__img").boundingBox();
  for (const [fx, fy] of corners) {
    await page.mouse.click(stage.x + fx * stage.width, stage.y + fy * stage.height);
    await page.waitForTimeout(350); // separate clicks, not a double-click
  }
  await page.fill(".rules__name", name);
  await page.click("text=Save shape");
  await page.waitForFunction((n) => [...document.querySelectorAll("[data-testid=zone-list] li")].some((li) => li.textContent?.includes(n)), name, { timeout: 5_000 });
}

