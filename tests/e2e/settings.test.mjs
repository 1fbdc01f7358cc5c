// End-to-end: Settings. On first run a banner asks to measure this machine
// ("Later" is remembered); "Measure now" opens Settings and measures on the
// server — for 3 s instead of 30, the request's `seconds` rewritten on the
// way — with a bar and a countdown, then the summary and the cameras per
// detection rate, and the banner goes. Recording limits: a cap under 100 MB
// is refused beside its field, 5 GB is saved. The signing key is shown with
// the command that checks an export against it, and a search made through
// the API shows in the audit list. Keys: , opens, Tab walks the controls in
// order, Esc closes.

import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { artifactsDir, launchBrowser, startDemo } from "./harness.mjs";

const MEASURE_S = 3;
const FIRST_RUN = "Measure this machine (30 s) to see how many cameras it handles";

test("settings: measure this machine on first run, recording limits, signing key, search audit", { timeout: 240_000 }, async () => {
  let demo;
  let browser;
  const errors = [];
  try {
    // One camera: the measurement shares this machine with it.
    demo = await startDemo({ cameras: 1 });
    const token = new URL(demo.url).searchParams.get("t");
    const api = async (p) => {
      const r = await fetch(demo.origin + p, { headers: { Authorization: `Bearer ${token}` } });
      assert.equal(r.status, 200, `${p}: ${r.status}`);
      return r.json();
    };
    assert.deepEqual(await api("/api/v1/machine"), { measured: false }, "a fresh data folder has no measurement");
    browser = await launchBrowser();

    // "Later" hides the banner, and it stays hidden after a reload (localStorage).
    const other = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await other.goto(demo.url, { waitUntil: "load" });
    await other.waitForSelector("[data-testid=machine-banner]", { state: "visible", timeout: 10_000 });
    await other.click("[data-testid=measure-later]");
    assert.equal(await other.isVisible("[data-testid=machine-banner]"), false, "Later hides the banner");
    await other.reload({ waitUntil: "load" });
    await other.waitForFunction(() => document.querySelector("#conn-status")?.dataset.status === "open", null, { timeout: 10_000 });
    await other.waitForTimeout(500);
    assert.equal(await other.isVisible("[data-testid=machine-banner]"), false, "Later is remembered");
    await other.close();

    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    page.on("pageerror", (err) => errors.push(err.message));
    // The measurement runs on the server for real, only shorter.
    await page.route("**/api/v1/machine/measure*", (route) => {
      const url = new URL(route.request().url());
      url.searchParams.set("seconds", String(MEASURE_S));
      return route.continue({ url: url.toString() });
    });
    await page.goto(demo.url, { waitUntil: "load" });

    // First run: the banner asks; Measure now opens Settings and measures.
    const banner = page.locator("[data-testid=machine-banner]");
    await banner.waitFor({ state: "visible", timeout: 10_000 });
    assert.equal((await banner.locator(".banner__text").textContent()).trim(), FIRST_RUN);
    mkdirSync(artifactsDir, { recursive: true });
    await page.screenshot({ path: path.join(artifactsDir, "settings-banner.png"), clip: { x: 0, y: 0, width: 1440, height: 160 } });
    const measured = page.waitForResponse((r) => r.url().includes("/api/v1/machine/measure"), { timeout: 90_000 });
    const clickedAt = Date.now();
    await page.click("[data-testid=measure-now]");
    await page.waitForSelector("[data-testid=settings][open]", { timeout: 2_000 });
    assert.equal(await banner.isVisible(), false, "the banner goes once measuring starts");
    await page.waitForSelector(".settings__progress progress", { state: "visible", timeout: 2_000 });
    const countdown = await page.textContent("[data-testid=measure-countdown]");
    assert.match(countdown, /^(30|29) s$/, `a countdown from 30 (${countdown})`);
    assert.equal(await page.isDisabled("[data-testid=measure]"), true, "one measurement at a time");
    assert.equal(await page.getAttribute(".settings__progress progress", "value"), null, "an indeterminate bar");
    await page.screenshot({ path: path.join(artifactsDir, "settings-measuring.png") });
    const response = await measured;
    assert.equal(new URL(response.url()).searchParams.get("seconds"), String(MEASURE_S));
    assert.equal(response.status(), 200, await response.text());
    const report = await response.json();
    await page.waitForFunction(() => /cameras? at \d+ detection fps/.test(document.querySelector("[data-testid=machine-summary]")?.textContent ?? ""), null, { timeout: 5_000 });
    const summary = await page.textContent("[data-testid=machine-summary]");
    const rows = await page.$$eval("[data-testid=machine-table] tbody tr", (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
    console.log(`measured in ${((Date.now() - clickedAt) / 1000).toFixed(1)} s: ${summary}`);
    console.log(`cameras per detection fps: ${rows.map(([f, c]) => `${f} → ${c}`).join(", ")}; threads ${report.recommendation.detector_threads}; warning ${report.warning}`);
    assert.equal(summary, report.recommendation.summary);
    assert.equal(rows.length, 5, "five detection rates");
    assert.deepEqual(rows.map(([, c]) => Number(c)), report.recommendation.cameras_at_fps.map(([, c]) => c));
    assert.ok(rows.some(([f]) => f.endsWith("(recommended)")), "the recommended rate is marked");
    assert.ok((await page.textContent(".settings__facts")).includes(`Detector threads${report.recommendation.detector_threads}`));
    assert.equal(await page.isVisible(".settings__progress"), false, "the bar goes");
    assert.equal(await page.isDisabled("[data-testid=measure]"), false);
    const stored = await api("/api/v1/machine");
    assert.equal(stored.measured, true, "the server kept the measurement");
    assert.equal(stored.recommendation.summary, summary);
    // Done: no first-run banner; the warning instead, if this machine has too many cameras.
    if (report.warning === null) assert.equal(await banner.isVisible(), false, "the banner is gone");
    else assert.equal((await banner.locator(".banner__text").textContent()).trim(), report.warning);

    // Recording: where the video goes, how much it takes.
    await page.waitForFunction(() => document.querySelector("[data-testid=recording-folder]")?.textContent, null, { timeout: 5_000 });
    const folder = await page.textContent("[data-testid=recording-folder]");
    const used = await page.textContent("[data-testid=recording-used]");
    const disk = await page.textContent("[data-testid=recording-disk]");
    console.log(`recording: ${disk}`);
    assert.ok(folder.startsWith(demo.dataDir), `the folder is in the data folder (${folder})`);
    assert.match(used, /^\d+(\.\d)? (B|kB|MB|GB)$/, "used, in human units");
    assert.match(disk, /Free on the disk(\d+(\.\d)? (B|kB|MB|GB|TB)|unknown)/);

    // A cap under 100 MB is refused, the reason beside the field (the demo starts with a 2 GB cap).
    const before = (await api("/api/v1/settings/recording")).max_total_bytes;
    assert.equal(await page.inputValue("#settings-max_total_bytes"), before === null ? "" : String(before / 1e9));
    await page.fill("#settings-max_total_bytes", "0.05");
    await page.click("[data-testid=recording-save]");
    const capError = page.locator("[data-testid=max_total_bytes-error]");
    await capError.waitFor({ state: "visible", timeout: 5_000 });
    const capText = await capError.textContent();
    console.log(`0.05 GB: ${capText}`);
    assert.equal(capText, "Must be at least 100 MB (100000000), or blank");
    assert.equal(await page.getAttribute("#settings-max_total_bytes", "aria-invalid"), "true");
    assert.equal(
      await page.evaluate(() => document.querySelector("#settings-max_total_bytes").parentElement === document.querySelector("[data-testid=max_total_bytes-error]").parentElement),
      true,
      "the error is next to its field",
    );
    assert.equal((await api("/api/v1/settings/recording")).max_total_bytes, before, "nothing saved");

    // 5 GB is saved.
    await page.fill("#settings-max_total_bytes", "5");
    await page.click("[data-testid=recording-save]");
    await page.waitForFunction(() => document.querySelector("[data-testid=recording-status]")?.textContent === "Saved.", null, { timeout: 5_000 });
    assert.equal(await capError.isVisible(), false, "the error is cleared");
    const saved = await api("/api/v1/settings/recording");
    assert.equal(saved.max_total_bytes, 5_000_000_000);
    assert.equal(await page.inputValue("#settings-max_total_bytes"), "5");

    // The signing key, and how to check an export with it.
    const key = await page.textContent("[data-testid=public-key]");
    assert.match(key, /^[A-Za-z0-9+/]{43}=$/, `44 base64 characters (${key})`);
    assert.equal(key, (await api("/api/v1/evidence/key")).public_key);
    assert.equal(await page.textContent("[data-testid=verify-command]"), `peregrine verify FOLDER --key ${key}`);

    // Esc closes; a search through the API; , opens again with it in the audit list.
    await page.keyboard.press("Escape");
    await page.waitForSelector("[data-testid=settings]:not([open])", { state: "attached", timeout: 2_000 });
    await api("/api/v1/search?q=person");
    await page.keyboard.press(",");
    await page.waitForSelector("[data-testid=settings][open]", { timeout: 2_000 });
    await page.waitForSelector("[data-testid=audit-row]", { timeout: 5_000 });
    const audit = await page.$$eval("[data-testid=audit-row]", (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
    console.log(`audit: ${audit.map((r) => r.join(" · ")).join(" | ")}`);
    assert.ok(audit.length >= 1 && audit.length <= 20);
    assert.equal(audit[0][2], "person", "the newest search first");
    assert.match(audit[0][0], /\d\d:\d\d:\d\d$/, "the local time");
    assert.equal(audit[0][1], "operator");

    // Tab walks the controls in reading order, starting at Close.
    const order = [];
    order.push(await page.evaluate(() => document.activeElement?.textContent));
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press("Tab");
      order.push(await page.evaluate(() => document.activeElement?.id || document.activeElement?.textContent));
    }
    console.log(`tab order: ${order.join(" → ")}`);
    assert.deepEqual(order, [
      "Close (Esc)",
      "Measure this machine (30 s)",
      "settings-retain_days",
      "settings-max_total_bytes",
      "settings-min_free_bytes",
      "Save",
      "Copy key",
    ]);

    await page.screenshot({ path: path.join(artifactsDir, "settings.png") });
    await page.keyboard.press("Escape");
    await page.waitForSelector("[data-testid=settings]:not([open])", { state: "attached", timeout: 2_000 });
    assert.deepEqual(errors, [], "no page errors");
  } finally {
    await browser?.close().catch(() => {});
    await demo?.stop();
  }
});
