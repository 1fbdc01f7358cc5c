// End-to-end: the demo raises explained alerts with no clicks (each demo
// camera starts with a gate line, an entrance zone and two rules), the alarm
// sound is blocked until the operator interacts (a red banner says so), and
// the queue is worked by keyboard alone: N, A, C + note + Enter.

import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { CHROMIUM_ARGS, artifactsDir, borderBands, drawArea, inset, launchBrowser, pixelShareExpr, startDemo, visibilityExpr } from "./harness.mjs";

const FIRST_ALERT_MS = 60_000;

test("the demo raises an alert before any click; the queue works by keyboard", { timeout: 150_000 }, async () => {
  let demo;
  let browser;
  try {
    demo = await startDemo({ cameras: 2 });
    // The autoplay rule of a desktop browser nobody has clicked in yet
    // (Playwright's default lets pages play sound freely).
    browser = await launchBrowser({
      ignoreDefaultArgs: ["--autoplay-policy=no-user-gesture-required"],
      args: [...CHROMIUM_ARGS, "--autoplay-policy=document-user-activation-required"],
    });
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const errors = [];
    page.on("pageerror", (err) => errors.push(err.message));
    // Playwright's evaluate and selector calls count as a user gesture, so the
    // page reports its own sound state on the console before any of them run.
    await page.addInitScript(() => {
      let last = "";
      new MutationObserver(() => {
        const state = document.body?.dataset["sound"] ?? "";
        if (state === last) return;
        last = state;
        const banner = document.querySelector("[data-testid=sound-blocked]");
        console.log(`alarm-sound:${state}:banner-${banner && !banner.hidden ? "shown" : "hidden"}`);
      }).observe(document, { attributes: true, subtree: true, attributeFilter: ["data-sound"] });
    });
    const firstSound = page.waitForEvent("console", { predicate: (m) => m.text().startsWith("alarm-sound:"), timeout: FIRST_ALERT_MS });
    const launched = Date.now();
    await page.goto(demo.url, { waitUntil: "load" });
    // No click yet: the browser refused to play, and the banner says so.
    assert.equal((await firstSound).text(), "alarm-sound:blocked:banner-shown");
    mkdirSync(artifactsDir, { recursive: true });
    const screenshot = path.join(artifactsDir, "alarms.png");

    try {
      await page.waitForSelector("[data-testid=alarm][data-state=new]", { timeout: FIRST_ALERT_MS });
    } catch (err) {
      await page.screenshot({ path: screenshot }).catch(() => {});
      throw new Error(`no alert within ${FIRST_ALERT_MS / 1000} s of launch: ${err.message}\n${errors.join("\n")}\n${demo.output()}`);
    }
    const firstAlertS = (Date.now() - launched) / 1000;
    const first = await page.evaluate(() => {
      const item = document.querySelector("[data-testid=alarm][data-state=new]");
      return { why: item?.querySelector(".alarm__why")?.textContent ?? "", thumb: item?.querySelector("img")?.getAttribute("src") ?? "" };
    });
    console.log(`first alert ${firstAlertS.toFixed(1)} s after the page opened: ${first.why}`);
    assert.match(first.why, /^Person (crossed (inbound|outbound)|entered) “(Gate line|Entrance)” \(score 0\.\d\d, track \d+\): rule “/);
    assert.match(first.thumb, /^\/api\/v1\/alerts\/\d+\/snapshot\.jpg$/);
    // The snapshot is on screen.
    await page.waitForFunction(() => document.querySelector("[data-testid=alarm][data-state=new] img")?.naturalWidth > 0, null, { timeout: 10_000 });
    const [thumb] = await page.evaluate(visibilityExpr("[data-testid=alarm][data-state=new] img"));
    assert.ok(thumb?.visible && thumb.rect.width >= 40, `alarm snapshot on screen: ${JSON.stringify(thumb)}`);

    assert.equal(await page.isVisible("[data-testid=sound-blocked]"), true, "the banner stays until the sound plays");
    await page.screenshot({ path: screenshot });
    await page.click("[data-testid=sound-blocked]");
    await page.waitForFunction(() => document.querySelector("[data-testid=alarm-audio]")?.paused === false, null, { timeout: 5_000 });
    await page.waitForSelector("[data-testid=sound-blocked]", { state: "hidden", timeout: 2_000 }); // the banner goes once the sound plays

    // Keyboard only: N selects the next new alert, A acknowledges it.
    await page.evaluate(() => document.activeElement instanceof HTMLElement && document.activeElement.blur());
    await page.keyboard.press("n");
    const selected = await page.getAttribute("[data-testid=alarm][aria-selected=true]", "data-alert-id");
    assert.ok(selected, "N selected an alert");
    await page.keyboard.press("a");
    await page.waitForSelector(`[data-testid=alarm][data-alert-id="${selected}"][data-state=acknowledged]`, { timeout: 5_000 });
    // C opens it ready for a note; Enter closes it with the note.
    await page.keyboard.press("c");
    await page.waitForSelector("[data-testid=alert-dialog][open]", { timeout: 5_000 });
    // Opened, the snapshot shows the object boxed (the server draws the box
    // in orange-red into the picture), on screen.
    await page.waitForFunction(() => document.querySelector(".alert-dialog__snapshot")?.naturalWidth > 0, null, { timeout: 10_000 });
    const [snapshot] = await page.evaluate(visibilityExpr(".alert-dialog__snapshot"));
    assert.ok(snapshot?.visible && snapshot.rect.width >= 200, `alarm snapshot on screen: ${JSON.stringify(snapshot)}`);
    // Where the alert's box falls in the picture as shown (object-fit: contain).
    const boxOnScreen = await page.evaluate(async (id) => {
      const alert = await (await fetch(`/api/v1/alerts/${id}`)).json();
      const img = document.querySelector(".alert-dialog__snapshot");
      const r = img.getBoundingClientRect();
      const scale = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight);
      const [w, h] = [img.naturalWidth * scale, img.naturalHeight * scale];
      const [left, top] = [r.x + (r.width - w) / 2, r.y + (r.height - h) / 2];
      return { x: left + alert.box.x * w, y: top + alert.box.y * h, width: alert.box.w * w, height: alert.box.h * h };
    }, selected);
    const png = (await page.screenshot()).toString("base64");
    const outline = await page.evaluate(pixelShareExpr(png, borderBands(boxOnScreen, 2), "#ff4020", 70));
    const inside = await page.evaluate(pixelShareExpr(png, [inset(boxOnScreen, 5)], "#ff4020", 70));
    console.log(`alarm snapshot: ${(outline.share * 100).toFixed(0)} % of the box's outline box-coloured, ${(inside.share * 100).toFixed(0)} % inside it`);
    assert.ok(outline.share >= 0.5 && inside.share < 0.2, `the snapshot shows the object boxed: ${JSON.stringify({ boxOnScreen, outline, inside })}`);
    await page.screenshot({ path: path.join(artifactsDir, "alarm-snapshot.png") });
    await page.keyboard.type("Checked on camera: visitor");
    await page.keyboard.press("Enter");
    await page.waitForSelector("[data-testid=alert-dialog][open]", { state: "detached", timeout: 5_000 });
    const stored = await page.evaluate(async (id) => (await fetch(`/api/v1/alerts/${id}`)).json(), selected);
    assert.equal(stored.state, "closed");
    assert.equal(stored.note, "Checked on camera: visitor");
    assert.deepEqual(stored.history.map((h) => h.state), ["new", "acknowledged", "closed"]);
    // Closed alarms leave the open queue.
    assert.equal(await page.locator(`[data-testid=alarm][data-alert-id="${selected}"]`).count(), 0);

    // A site owner draws an area with the mouse and arms a template on it in two clicks.
    await page.locator("[data-testid=camera-tile]").first().locator("[data-testid=edit-camera]").click();
    await page.click("[data-testid=open-rules]");
    await page.waitForSelector("[data-testid=rules-dialog][open]");
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=rule]").length === 3, null, { timeout: 5_000 });
    await page.waitForFunction(() => document.querySelector(".rules__img")?.naturalWidth > 0, null, { timeout: 10_000 });
    await drawArea(page, "Back door", [[0.1, 0.1], [0.4, 0.1], [0.4, 0.4], [0.1, 0.4]]);
    await page.selectOption("select[aria-label='Rule template']", "loitering");
    assert.equal(await page.$eval("select[aria-label='Area or line the rule watches'] option:checked", (o) => o.textContent), "Entrance");
    await page.selectOption("select[aria-label='Area or line the rule watches']", { label: "Back door" });
    await page.click("[data-testid=add-rule]");
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=rule]").length === 4, null, { timeout: 5_000 });
    await page.screenshot({ path: path.join(artifactsDir, "rules.png") });
    const cameraId = await page.locator("[data-testid=camera-tile]").first().getAttribute("data-camera-id");
    const [zones, rules] = await page.evaluate(async (id) => Promise.all([
      (await fetch(`/api/v1/cameras/${id}/zones`)).json(),
      (await fetch(`/api/v1/cameras/${id}/rules`)).json(),
    ]), cameraId);
    const door = zones.find((z) => z.name === "Back door");
    assert.equal(door?.kind, "zone");
    assert.equal(door.points.length, 4);
    for (const [[x, y], [fx, fy]] of door.points.map((p, i) => [p, [[0.1, 0.1], [0.4, 0.1], [0.4, 0.4], [0.1, 0.4]][i]])) {
      assert.ok(Math.abs(x - fx) < 0.02 && Math.abs(y - fy) < 0.02, `corner ${x},${y} where the mouse clicked ${fx},${fy}`);
    }
    const loiter = rules.find((r) => r.template === "loitering");
    assert.deepEqual(loiter?.trigger, { type: "loiter", zone_id: door.id, seconds: 60 });
    assert.deepEqual(errors, [], "no page errors");
  } finally {
    await browser?.close().catch(() => {});
    await demo?.stop();
  }
});
