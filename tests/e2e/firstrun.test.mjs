// End-to-end: a site owner's first run, timed from opening the console to
// the first alarm. The test makes its own network of two hosts
// (tests/onvif/netns.sh: two network namespaces and a veth pair), so that
// discovery probes never leave on this machine's real interfaces: in one,
// a simulated ONVIF camera (tests/onvif/camera.py) in front of the camera
// simulator; in the other, `peregrine serve` on a fresh data folder and
// Chromium. The owner measures the machine, finds the camera on the
// network (make, model, address), gives its password, picks the main
// stream for live and the sub stream for detection, saves, draws an area
// on the rules that then open, picks "person in an area", and waits for
// the alarm. No file is edited. Needs root (ip netns).

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { artifactsDir, chromiumPath, drawArea, launchBrowser, repoRoot, startDemo } from "./harness.mjs";

const ONVIF_PASSWORD = "Cam-Passw0rd-77";
const MEASURE_S = 3;
const FIRST_RUN_LIMIT_S = 5 * 60;

function netns(action, id) {
  const out = execFileSync("bash", [path.join(repoRoot, "tests/onvif/netns.sh"), action, id], { encoding: "utf8" });
  return Object.fromEntries(out.trim().split("\n").filter(Boolean).map((l) => l.split("=")));
}

/** Starts `command` in namespace `ns` and waits for `ready` on its output. */
function startIn(ns, command, ready, timeoutMs = 30_000) {
  const child = spawn("ip", ["netns", "exec", ns, ...command], { stdio: ["ignore", "pipe", "pipe"], detached: true });
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command.join(" ")}: not ready in ${timeoutMs} ms\n${output}`)), timeoutMs);
    const seen = (chunk) => {
      output += chunk;
      if (output.includes(ready)) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout.on("data", seen);
    child.stderr.on("data", (chunk) => (output += chunk));
    child.once("exit", (code) => reject(new Error(`${command.join(" ")} exited (${code})\n${output}`)));
  });
}

function kill(child) {
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // Gone already.
  }
}

test("first run: find the ONVIF camera, pick its streams, a rule from a template, the first alarm", { timeout: 300_000 }, async () => {
  const id = `f${process.pid % 100_000}`;
  const net = netns("up", id);
  const children = [];
  let demo;
  let browser;
  let page;
  let passed = false;
  const tmp = mkdtempSync(path.join(os.tmpdir(), "peregrine-firstrun-"));
  try {
    // The camera's host: the RTSP streams, and the ONVIF camera in front of them.
    const footage = process.env.PEREGRINE_FOOTAGE || path.join(os.homedir(), ".cache/peregrine/footage/vtest.mp4");
    children.push(
      await startIn(net.CAM, ["/usr/bin/python3", path.join(repoRoot, "scripts/camsim.py"), "--footage", footage, "--cameras", "2", "--port", "8554", "--bind", net.CAM_IP], "camsim: ready"),
    );
    children.push(
      await startIn(
        net.CAM,
        [
          "/usr/bin/python3", path.join(repoRoot, "tests/onvif/camera.py"),
          "--address", net.CAM_IP, "--http-port", "8080", "--password", ONVIF_PASSWORD, "--name", "Back door",
          "--main", `rtsp://${net.CAM_IP}:8554/cam1`, "--sub", `rtsp://${net.CAM_IP}:8554/cam2`,
        ],
        "onvif-camera: ready",
      ),
    );

    // Peregrine's host: a fresh console, and the browser beside it.
    demo = await startDemo({ serve: true, prefix: ["ip", "netns", "exec", net.NVR] });
    const wrapper = path.join(tmp, "chromium-in-netns");
    writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${net.NVR} ${chromiumPath()} "$@"\n`);
    chmodSync(wrapper, 0o755);
    browser = await launchBrowser({ executablePath: wrapper });
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const errors = [];
    page.on("pageerror", (err) => errors.push(err.message));
    await page.route("**/api/v1/machine/measure*", (route) => {
      const url = new URL(route.request().url());
      url.searchParams.set("seconds", String(MEASURE_S));
      return route.continue({ url: url.toString() });
    });
    const t0 = Date.now();
    const at = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
    await page.goto(demo.url, { waitUntil: "load" });

    // The first-run steps take the grid's place.
    const steps = page.locator("[data-testid=first-run]");
    await steps.waitFor({ state: "visible", timeout: 10_000 });

    // Step 3 first, as an owner might: how many cameras this machine handles.
    await page.click("[data-testid=firstrun-measure]");
    await page.waitForFunction(() => /cameras at 5 detection fps|about \d+ cameras/.test(document.querySelector("[data-testid=machine-summary]")?.textContent ?? ""), null, { timeout: 60_000 });
    const summary = await page.textContent("[data-testid=machine-summary]");
    console.log(`# ${at()}: measured: ${summary}`);
    await page.keyboard.press("Escape");
    await page.waitForSelector("[data-testid=settings]:not([open])", { state: "attached", timeout: 5_000 });

    // Step 1: the camera is found on the network with its make, model and address.
    await page.click("[data-testid=firstrun-discover]");
    const found = page.locator("[data-testid=onvif-camera]");
    await found.first().waitFor({ state: "visible", timeout: 15_000 });
    const foundText = await found.first().textContent();
    console.log(`# ${at()}: found: ${foundText}`);
    assert.equal(await found.count(), 1);
    assert.match(foundText, new RegExp(`^Peregrine Test Cameras NetCam 4 “Back door” at ${net.CAM_IP.replaceAll(".", "\\.")}:8080Pick$`));
    await found.first().locator("button", { hasText: "Pick" }).click();
    assert.equal(await page.inputValue("#camera-onvif-host"), `${net.CAM_IP}:8080`);
    assert.equal(await page.inputValue("#camera-name"), "Back door");
    // Its password, then its streams: main for live and recording, sub for detection.
    await page.fill("#camera-username", "operator");
    await page.fill("#camera-password", ONVIF_PASSWORD);
    await page.click("[data-testid=onvif-find]");
    const profiles = page.locator(".dialog__profiles li", { hasText: "stream:" });
    await profiles.nth(1).waitFor({ state: "visible", timeout: 15_000 });
    await profiles.filter({ hasText: "Main stream" }).locator("button", { hasText: "Use for live" }).click();
    await profiles.filter({ hasText: "Sub stream" }).locator("button", { hasText: "Use for detection" }).click();
    assert.equal(await page.inputValue("#camera-url"), `rtsp://${net.CAM_IP}:8554/cam1`);
    assert.equal(await page.inputValue("#camera-sub_url"), `rtsp://${net.CAM_IP}:8554/cam2`);
    await page.click("[data-testid=camera-dialog] button[type=submit]");
    console.log(`# ${at()}: camera saved`);

    // Step 2: its zones and rules open by themselves; an area and a template.
    await page.waitForSelector("[data-testid=rules-dialog][open]", { timeout: 10_000 });
    await page.waitForFunction(() => document.querySelector(".rules__img")?.naturalWidth > 0, null, { timeout: 30_000 });
    await drawArea(page, "Plaza", [[0.02, 0.02], [0.98, 0.02], [0.98, 0.98], [0.02, 0.98]]);
    await page.selectOption("select[aria-label='Rule template']", "person_in_area");
    await page.click("[data-testid=add-rule]");
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=rule]").length === 1, null, { timeout: 5_000 });
    console.log(`# ${at()}: rule armed`);
    await page.keyboard.press("Escape");

    // The first alarm, seen in the queue.
    await page.waitForSelector("[data-testid=alarm][data-state=new]", { timeout: 90_000 });
    const seconds = (Date.now() - t0) / 1000;
    const alarm = await page.textContent("[data-testid=alarm][data-state=new]");
    console.log(`# first run to first alarm: ${seconds.toFixed(1)} s (machine measured for ${MEASURE_S} s instead of 30) — ${alarm}`);
    assert.ok(seconds < FIRST_RUN_LIMIT_S, `first run took ${seconds} s`);
    assert.equal(await page.isVisible("[data-testid=first-run]"), false, "the first-run steps give way to the grid");
    mkdirSync(artifactsDir, { recursive: true });
    await page.screenshot({ path: path.join(artifactsDir, "firstrun.png") });
    assert.deepEqual(errors, []);
    passed = true;
  } finally {
    if (!passed && page) {
      mkdirSync(artifactsDir, { recursive: true });
      await page.screenshot({ path: path.join(artifactsDir, "firstrun-failed.png") }).catch(() => undefined);
    }
    await browser?.close();
    await demo?.stop();
    children.forEach(kill);
    netns("down", id);
    rmSync(tmp, { recursive: true, force: true });
  }
});
