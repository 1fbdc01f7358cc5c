// End-to-end: recorded video. The demo records its camera continuously;
// once an alert has a few seconds recorded before it, its "Play" in the
// alarm queue opens the playback panel 5 s before the alert, playing (MSE,
// absolute fragment times), with that moment shown in local time. Then: 4×
// speed, −10 s by keyboard, the timeline's recorded ranges and alert marks,
// "No recording here" before the first recording, a bookmark, an export of
// a marked clip and its verification, Esc to close, and the tile's quiet
// "REC" that turns into a red "REC error".

import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { artifactsDir, launchBrowser, startDemo } from "./harness.mjs";

const LEAD_US = 5_000_000;
/** Recorded before the alert's clip starts, so that −10 s later on stays in the recording. */
const BEFORE_CLIP_US = 6_000_000;
const WAIT_MS = 90_000;

/** Where the panel is: its data attributes and its video. */
const panel = (page) =>
  page.evaluate(() => {
    const d = document.querySelector("[data-testid=playback]");
    const v = d?.querySelector("video");
    return {
      open: d?.open ?? false,
      state: d?.dataset.state ?? "",
      us: Number(d?.dataset.mediaTimeUs ?? NaN),
      clock: d?.querySelector("[data-testid=playback-clock]")?.textContent ?? "",
      paused: v?.paused ?? true,
      currentTime: v?.currentTime ?? -1,
      rate: v?.playbackRate ?? 0,
    };
  });

test("an alert's clip plays from 5 s before it; speed, jumps, timeline, gap, bookmark, export", { timeout: 240_000 }, async () => {
  let demo;
  let browser;
  const errors = [];
  try {
    demo = await startDemo({ cameras: 1 });
    browser = await launchBrowser();
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    page.on("pageerror", (err) => errors.push(err.message));
    await page.goto(demo.url, { waitUntil: "load" });
    mkdirSync(artifactsDir, { recursive: true });
    const screenshot = path.join(artifactsDir, "playback.png");

    // An alert with at least BEFORE_CLIP_US recorded before its clip, and ≥ 8 s recorded in all.
    const started = Date.now();
    let pick;
    for (;;) {
      pick = await page.evaluate(async ({ lead, before }) => {
        const recs = (await (await fetch("/api/v1/cameras/1/recordings")).json()).recordings;
        const { alerts } = await (await fetch("/api/v1/alerts?state=new,acknowledged&limit=200")).json();
        if (recs.length === 0) return null;
        const first = Math.min(...recs.map((r) => r.start_us));
        const last = Math.max(...recs.map((r) => r.end_us));
        const alert = alerts
          .filter((a) => a.camera_id === 1 && a.media_time_us - lead >= first + before && a.media_time_us + 1_000_000 <= last)
          .sort((a, b) => b.media_time_us - a.media_time_us)[0];
        return { first, last, recordedS: (last - first) / 1e6, alert: alert ? { id: alert.id, us: alert.media_time_us } : null };
      }, { lead: LEAD_US, before: BEFORE_CLIP_US });
      if (pick?.alert && pick.recordedS >= 8) break;
      if (Date.now() - started > WAIT_MS) throw new Error(`no alert with its clip recorded within ${WAIT_MS / 1000} s: ${JSON.stringify(pick)}\n${demo.output()}`);
      await page.waitForTimeout(1_000);
    }
    console.log(`alert ${pick.alert.id} at ${((pick.alert.us - pick.first) / 1e6).toFixed(1)} s into the recording (${pick.recordedS.toFixed(1)} s recorded, ${((Date.now() - started) / 1000).toFixed(0)} s wait)`);

    // Click to playing, timed in the page: the click, then the panel's state turning "playing".
    const item = `[data-testid=alarm][data-alert-id="${pick.alert.id}"]`;
    await page.waitForSelector(item, { timeout: 10_000 });
    await page.evaluate(() => {
      const times = (window.__playback = {});
      document.addEventListener("click", (e) => {
        if (e.target.closest?.("[data-testid=play-alarm]")) times.clickAt = performance.now();
      }, true);
      const d = document.querySelector("[data-testid=playback]");
      new MutationObserver(() => {
        if (d.dataset.state === "playing" && times.playingAt === undefined) {
          times.playingAt = performance.now();
          times.startUs = Number(d.dataset.mediaTimeUs);
        }
      }).observe(d, { attributes: true, attributeFilter: ["data-state"] });
    });
    await page.click(`${item} [data-testid=play-alarm]`);
    try {
      await page.waitForSelector("[data-testid=playback][data-state=playing]", { timeout: 10_000 });
    } catch (err) {
      await page.screenshot({ path: screenshot }).catch(() => {});
      throw new Error(`the clip did not play: ${err.message}\n${JSON.stringify(await panel(page))}\n${errors.join("\n")}`);
    }
    const times = await page.evaluate(() => window.__playback);
    const toPlayingMs = times.playingAt - times.clickAt;
    const offsetS = (times.startUs - (pick.alert.us - LEAD_US)) / 1e6;
    console.log(`click to playing: ${toPlayingMs.toFixed(0)} ms; first moment shown ${offsetS.toFixed(2)} s from alert − 5 s`);
    assert.ok(Math.abs(offsetS) < 2, `starts within 2 s of the alert − 5 s (was ${offsetS.toFixed(2)} s off)`);
    assert.ok(toPlayingMs < 3_000, `plays within 3 s of the click (took ${toPlayingMs.toFixed(0)} ms)`);

    // Really playing: currentTime and the shown moment both advance; the clock shows that moment.
    const a = await panel(page);
    await page.waitForTimeout(1_000);
    const b = await panel(page);
    const advancedS = b.currentTime - a.currentTime;
    console.log(`1× for 1 s: currentTime +${advancedS.toFixed(2)} s, media time +${((b.us - a.us) / 1e6).toFixed(2)} s`);
    assert.equal(b.paused, false);
    assert.ok(advancedS > 0.5 && advancedS < 1.6, `currentTime advances at 1× (${advancedS.toFixed(2)} s in 1 s)`);
    assert.ok(Math.abs((b.us - a.us) / 1e6 - advancedS) < 0.15, "the shown moment follows the video");
    const expectedClock = await page.evaluate((us) => {
      const d = new Date(us / 1000);
      return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
    }, b.us);
    assert.equal(b.clock, expectedClock, "the clock under the video is the shown moment, local time");

    // The timeline: at least one recorded range, the alert's mark.
    await page.waitForSelector("[data-testid=playback] [data-testid=recorded-range]", { timeout: 10_000 });
    const ranges = await page.locator("[data-testid=playback] [data-testid=recorded-range]").count();
    const alertMarks = await page.locator("[data-testid=playback] [data-testid=timeline-alert]").count();
    console.log(`timeline: ${ranges} recorded range(s), ${alertMarks} alert mark(s)`);
    assert.ok(ranges >= 1);
    assert.ok(alertMarks >= 1);

    // 4×: playbackRate, and the picture really runs faster.
    await page.click("[data-testid=playback] [data-speed='4']");
    const c = await panel(page);
    await page.waitForTimeout(1_000);
    const d = await panel(page);
    const fastS = (d.us - c.us) / 1e6;
    console.log(`4× for 1 s: media time +${fastS.toFixed(2)} s, playbackRate ${d.rate}`);
    assert.equal(d.rate, 4);
    assert.ok(fastS > 2.5, `4× advances more than 2.5 s a second (${fastS.toFixed(2)} s)`);
    await page.click("[data-testid=playback] [data-speed='1']");
    assert.equal((await panel(page)).rate, 1);

    // ← jumps back 10 s (focus went back to the video after the mouse click).
    const e = await panel(page);
    await page.keyboard.press("ArrowLeft");
    await page.waitForFunction((before) => Number(document.querySelector("[data-testid=playback]").dataset.mediaTimeUs) < before - 5e6, e.us, { timeout: 5_000 });
    await page.waitForSelector("[data-testid=playback][data-state=playing]", { timeout: 5_000 });
    const f = await panel(page);
    const jumpS = (f.us - e.us) / 1e6;
    console.log(`← : ${jumpS.toFixed(2)} s`);
    assert.ok(jumpS > -10.5 && jumpS < -8.5, `← goes back 10 s (${jumpS.toFixed(2)} s)`);

    // Bookmark by keyboard: B, a note, Enter; it shows on the timeline.
    await page.keyboard.press("b");
    await page.keyboard.type("Van at the gate");
    await page.keyboard.press("Enter");
    await page.waitForSelector("[data-testid=playback] .timeline__bookmark", { timeout: 5_000 });
    const bookmarks = await page.evaluate(async () => {
      const t = await (await fetch("/api/v1/cameras/1/timeline")).json();
      return t.bookmarks.map((b) => b.note);
    });
    assert.deepEqual(bookmarks, ["Van at the gate"]);

    // Export a marked 3 s clip; progress, then the folder; verify it: intact.
    await page.keyboard.press("i");
    await page.waitForTimeout(3_000);
    await page.keyboard.press("o");
    await page.click("[data-testid=playback] [data-testid=export]");
    await page.fill("#export-note", "Case 42");
    await page.keyboard.press("Enter");
    await page.waitForSelector("[data-testid=export-status][data-state=done]", { timeout: 30_000 });
    const folder = await page.textContent("[data-testid=export-status] .evidence__path");
    console.log(`export: ${folder}`);
    assert.ok(folder?.startsWith(demo.dataDir), `exported under the data folder (${folder})`);
    await page.click("[data-testid=export-status] >> text=Verify it");
    await page.waitForSelector("[data-testid=verdict][data-intact]", { timeout: 15_000 });
    const verdict = await page.evaluate(() => {
      const v = document.querySelector("[data-testid=verdict]");
      return { intact: v.dataset.intact, text: v.textContent };
    });
    console.log(`verdict: ${verdict.text}`);
    assert.equal(verdict.intact, "true");
    assert.match(verdict.text, /^Intact/);

    // Before the first recording: "No recording here" and when the next one starts.
    await page.fill("[data-testid=playback] input[type=datetime-local]", await page.evaluate((us) => {
      const d = new Date(us / 1000 - 60_000);
      const p = (n) => String(n).padStart(2, "0");
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
    }, pick.first));
    await page.keyboard.press("Enter");
    await page.waitForSelector("[data-testid=playback][data-state=gap] [data-testid=playback-notice]:not([hidden])", { timeout: 5_000 });
    const notice = await page.textContent("[data-testid=playback-notice]");
    console.log(`gap: ${notice}`);
    assert.match(notice, /No recording here/);
    assert.match(notice, /Next recording: \d\d:\d\d:\d\d/);
    await page.click("[data-testid=play-next]");
    await page.waitForSelector("[data-testid=playback][data-state=playing]", { timeout: 5_000 });
    const g = await panel(page);
    assert.ok(Math.abs(g.us - pick.first) < 2e6, "Play from there starts at the first recording");

    // The last 10 minutes, for the screenshot: ranges, density, alert marks, the clip, the bookmark.
    await page.click("[data-testid=playback] [data-span='600000000']");
    await page.waitForSelector("[data-testid=playback] [data-testid=recorded-range]", { timeout: 5_000 });
    await page.waitForTimeout(500);
    await page.screenshot({ path: screenshot });

    // Esc closes the panel.
    await page.focus("[data-testid=playback] .playback__stage");
    await page.keyboard.press("Escape");
    await page.waitForFunction(() => !document.querySelector("[data-testid=playback]").open, null, { timeout: 2_000 });

    // Recording going well is a quiet "REC"; a recording error is a red "REC error" saying why.
    const rec = page.locator("[data-testid=camera-tile] [data-testid=open-recordings]");
    assert.equal(await rec.textContent(), "REC");
    assert.equal(await rec.getAttribute("data-state"), "recording");
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    await context.addCookies(await page.context().cookies());
    const other = await context.newPage();
    other.on("pageerror", (err) => errors.push(err.message));
    // No live updates on this page: the tile shows what the camera list said.
    await other.routeWebSocket(/\/api\/v1\/events$/, () => {});
    await other.route(/\/api\/v1\/cameras$/, async (route) => {
      const res = await route.fetch();
      const cameras = await res.json();
      cameras[0].recording = { state: "error", message: "The disk is full: recording stopped", last_written_at: null };
      await route.fulfill({ response: res, json: cameras });
    });
    await other.goto(demo.origin + "/");
    const failing = other.locator("[data-testid=camera-tile] [data-testid=open-recordings]");
    await failing.waitFor({ timeout: 10_000 });
    assert.equal(await failing.textContent(), "REC error");
    assert.match(await failing.getAttribute("title"), /^Recording error: The disk is full: recording stopped/);
    await context.close();
    assert.deepEqual(errors, [], "no page errors");
  } finally {
    await browser?.close().catch(() => {});
    await demo?.stop();
  }
});
