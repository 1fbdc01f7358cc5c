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
 *
 * Resolves to { url, origin, rtspPort, dataDir, child, output(), stop() }.
 * Always call stop() (it kills the whole process group and removes the data dir).
 */
export async function startDemo({ cameras = 4, extraArgs = [], env = {}, timeoutMs = 60_000 } = {}) {
  const bin = peregrineBin();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "peregrine-e2e-"));
  const rtspPort = await freePort();
  const args = [
    "demo",
    "--data-dir", dataDir,
    "--port", "0",
    "--rtsp-port", String(rtspPort),
    "--cameras", String(cameras),
    ...extraArgs,
  ];

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
