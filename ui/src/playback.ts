// The playback panel: one camera's recordings, from an alert (5 s before
// it, playing) or from the camera ("Recordings…"). Video with the moment
// on screen in local time under it, play/pause, speed, ±10 s, "go to", the
// timeline, and evidence beside it. Keys: Space play/pause, ←/→ 10 s
// (Shift: 1 min), I/O mark in/out, B bookmark, Esc closes.
//
// The panel carries the moment on screen as data-media-time-us (UTC µs)
// for tests and tools.

import { ApiError, getTimeline, type Alert, type Timeline } from "./api";
import { EvidencePanel } from "./evidence";
import { dateOfUs, el, formatClock, formatDay, localInputValue } from "./format";
import { RecordingPlayer, type PlayerState } from "./recordingPlayer";
import { ALERT_LEAD_US, BUCKETS, TimelineBar } from "./timeline";

const SPEEDS = [0.5, 1, 2, 4, 8, 16];
const JUMP_US = 10_000_000;
const TIMELINE_REFRESH_MS = 10_000;
/** Opened from a camera: from this long ago. */
const RECENT_US = 60_000_000;

export interface PlaybackOptions {
  cameraName: (id: number) => string;
  /** "Live": back to the camera's live picture. */
  showLive: (id: number) => void;
}

const STATE_TEXT: Partial<Record<PlayerState, string>> = {
  loading: "Loading…",
  paused: "Paused",
  buffering: "Loading…",
};

export class PlaybackDialog {
  readonly element: HTMLDialogElement;
  private readonly title = el("h2", "dialog__title playback__title");
  private readonly recHealth = el("p", "playback__health");
  private readonly stage = el("div", "playback__stage");
  private readonly notice = el("div", "playback__notice");
  private readonly clock = el("strong", "playback__clock");
  private readonly day = el("span", "playback__day");
  private readonly state = el("span", "playback__state");
  private readonly playButton: HTMLButtonElement;
  private readonly speedButtons: HTMLButtonElement[] = [];
  private readonly goto = el("input");
  private readonly timeline: TimelineBar;
  private readonly evidence: EvidencePanel;
  private player: RecordingPlayer | null = null;
  private cameraId = 0;
  private timelineTimer: number | undefined;
  private timelineAbort: AbortController | null = null;
  private noticeKey = "";

  constructor(private readonly options: PlaybackOptions) {
    this.element = el("dialog", "dialog playback");
    this.element.dataset["testid"] = "playback";
    this.element.setAttribute("aria-labelledby", "playback-title");
    this.title.id = "playback-title";

    const head = el("header", "playback__head");
    const live = this.button("Live", "Back to the live picture", () => this.backToLive());
    live.dataset["testid"] = "playback-live";
    const close = this.button("Close (Esc)", "Close the recordings", () => this.element.close());
    head.append(this.title, this.recHealth, live, close);

    this.stage.tabIndex = -1;
    this.stage.setAttribute("aria-label", "Recorded video");
    this.notice.hidden = true;
    this.notice.setAttribute("role", "status");
    this.notice.dataset["testid"] = "playback-notice";
    this.stage.append(this.notice);

    const when = el("p", "playback__when");
    this.clock.dataset["testid"] = "playback-clock";
    when.append(this.clock, this.day, this.state);
    when.setAttribute("aria-live", "off");

    const controls = el("div", "playback__controls");
    const back = this.button("−10 s", "Back 10 seconds (←)", () => this.jump(-JUMP_US));
    back.dataset["testid"] = "jump-back";
    this.playButton = this.button("Play", "Play (Space)", () => this.player?.toggle());
    this.playButton.classList.add("playback__play");
    this.playButton.dataset["testid"] = "playback-play";
    const forward = this.button("+10 s", "Forward 10 seconds (→)", () => this.jump(JUMP_US));
    forward.dataset["testid"] = "jump-forward";
    const speeds = el("div", "segmented");
    speeds.setAttribute("role", "group");
    speeds.setAttribute("aria-label", "Speed");
    for (const s of SPEEDS) {
      const b = this.button(`${s}×`, `Play at ${s}× speed`, () => this.player?.setSpeed(s));
      b.dataset["speed"] = String(s);
      b.setAttribute("aria-pressed", String(s === 1));
      this.speedButtons.push(b);
      speeds.append(b);
    }
    const gotoForm = el("form", "playback__goto");
    this.goto.type = "datetime-local";
    this.goto.step = "1";
    this.goto.setAttribute("aria-label", "Go to a date and time (local)");
    this.goto.addEventListener("focus", () => {
      if (!this.goto.dataset["edited"]) this.goto.value = localInputValue(dateOfUs(this.player?.timeUs ?? Date.now() * 1000));
    });
    this.goto.addEventListener("input", () => (this.goto.dataset["edited"] = "1"));
    const go = this.button("Go", "Go to that moment", () => undefined);
    go.type = "submit";
    gotoForm.append(this.goto, go);
    gotoForm.addEventListener("submit", (e) => {
      e.preventDefault();
      const at = new Date(this.goto.value).getTime();
      delete this.goto.dataset["edited"];
      if (Number.isFinite(at)) this.seek(at * 1000);
      this.stage.focus({ preventScroll: true });
    });
    controls.append(back, this.playButton, forward, speeds, gotoForm);

    this.timeline = new TimelineBar({
      seek: (us, snapUs) => this.seek(us, snapUs),
      windowChanged: () => void this.refreshTimeline(),
    });
    this.evidence = new EvidencePanel({
      cameraId: () => this.cameraId,
      cameraName: () => this.options.cameraName(this.cameraId),
      now: () => this.player?.timeUs ?? Date.now() * 1000,
      seek: (us) => this.seek(us),
      clipChanged: (a, b) => this.timeline.setClip(a, b),
      marksChanged: () => void this.refreshTimeline(),
      refocus: () => this.stage.focus({ preventScroll: true }),
    });

    const main = el("div", "playback__main");
    main.append(this.stage, when, controls, this.timeline.element);
    const keys = el("p", "playback__keys");
    keys.innerHTML =
      "<kbd>Space</kbd> play/pause · <kbd>←</kbd>/<kbd>→</kbd> 10 s (<kbd>Shift</kbd>: 1 min) · <kbd>I</kbd>/<kbd>O</kbd> mark in/out · " +
      "<kbd>B</kbd> bookmark · <kbd>Page Up</kbd>/<kbd>Down</kbd> on the timeline: earlier/later · <kbd>Esc</kbd> close";
    const body = el("div", "playback__body");
    body.append(head, main, this.evidence.element, keys);
    this.element.append(body);

    this.element.addEventListener("keydown", (e) => this.onKey(e));
    // After a mouse click on a control, keys go back to the video (Space must not click it again).
    this.element.addEventListener("click", (e) => {
      const target = e.target as Element | null;
      if (target?.closest(".playback__notice button") || (e.detail > 0 && target?.closest(".playback__controls button, .timeline__bar button, .timeline__mark"))) {
        this.stage.focus({ preventScroll: true });
      }
    });
    this.element.addEventListener("close", () => this.stop());
  }

  /** An alert's clip: from 5 s before it, playing (from its first recorded moment if that is later). */
  openAlert(alert: Pick<Alert, "camera_id" | "media_time_us">): void {
    this.open(alert.camera_id, alert.media_time_us - ALERT_LEAD_US, true, ALERT_LEAD_US + 1_000_000);
  }

  /** A moment found by search, playing from `us` (or the first recorded moment within `snapUs` after it). */
  openAt(cameraId: number, us: number, snapUs: number): void {
    this.open(cameraId, us, true, snapUs);
  }

  /** A camera's recordings, from a minute ago (or its first recording since). */
  openCamera(id: number): void {
    this.open(id, Date.now() * 1000 - RECENT_US, true, RECENT_US);
  }

  private open(cameraId: number, us: number, play: boolean, snapUs: number): void {
    if (this.player && this.cameraId !== cameraId) this.stop();
    this.cameraId = cameraId;
    this.element.dataset["cameraId"] = String(cameraId);
    this.title.textContent = `Recordings · ${this.options.cameraName(cameraId)}`;
    this.evidence.reset();
    if (!this.player) {
      this.player = new RecordingPlayer(cameraId, () => this.render());
      this.stage.prepend(this.player.video);
    }
    if (!this.element.open) this.element.showModal();
    this.timeline.center(us);
    void this.player.seek(us, play, snapUs);
    this.render();
    this.stage.focus({ preventScroll: true });
    window.clearInterval(this.timelineTimer);
    this.timelineTimer = window.setInterval(() => void this.refreshTimeline(), TIMELINE_REFRESH_MS);
  }

  private stop(): void {
    window.clearInterval(this.timelineTimer);
    this.timelineAbort?.abort();
    this.player?.destroy();
    this.player = null;
  }

  private seek(us: number, snapUs = 0): void {
    if (!this.player) return;
    if (!this.timeline.shows(us)) this.timeline.center(us);
    void this.player.seek(us, this.player.playing, snapUs);
    this.render();
  }

  private jump(deltaUs: number): void {
    if (this.player) this.seek(this.player.timeUs + deltaUs);
  }

  private backToLive(): void {
    const id = this.cameraId;
    this.element.close();
    this.options.showLive(id);
  }

  private async refreshTimeline(): Promise<void> {
    if (!this.element.open) return;
    this.timelineAbort?.abort();
    const abort = new AbortController();
    this.timelineAbort = abort;
    const { fromUs, toUs } = this.timeline;
    let t: Timeline;
    try {
      t = await getTimeline(this.cameraId, fromUs, toUs, BUCKETS, abort.signal);
    } catch (e) {
      if (!abort.signal.aborted) this.showHealth(e instanceof ApiError ? `Timeline: ${e.message}` : "The timeline could not be loaded.", true);
      return;
    }
    if (abort.signal.aborted || t.camera_id !== this.cameraId || fromUs !== this.timeline.fromUs) return;
    this.timeline.setData(t);
    this.evidence.setMarks(t);
    const rec = t.recording;
    if (rec?.state === "error") this.showHealth(`Recording error: ${rec.message}`, true);
    else this.showHealth(rec === null ? "" : rec.state === "off" ? "Not recording now" : "", false);
  }

  private showHealth(text: string, bad: boolean): void {
    this.recHealth.textContent = text;
    this.recHealth.dataset["bad"] = String(bad);
  }

  /** Everything that follows the player: the time, the state, the buttons, the playhead. */
  private render(): void {
    const player = this.player;
    if (!player) return;
    const us = player.timeUs;
    const status = player.status;
    this.element.dataset["mediaTimeUs"] = String(Math.round(us));
    this.element.dataset["state"] = status.state;
    this.element.dataset["speed"] = String(player.speed);
    const date = dateOfUs(us);
    this.clock.textContent = formatClock(date);
    this.day.textContent = formatDay(date);
    const speed = player.speed === 1 ? "" : `${player.speed}×`;
    this.state.textContent = [status.message || STATE_TEXT[status.state] || "", speed].filter(Boolean).join(" · ");
    this.playButton.textContent = player.playing ? "Pause" : "Play";
    this.playButton.title = `${player.playing ? "Pause" : "Play"} (Space)`;
    for (const b of this.speedButtons) b.setAttribute("aria-pressed", String(Number(b.dataset["speed"]) === player.speed));
    this.timeline.setPlayhead(us);
    this.renderNotice(status.state, status.message, status.nextUs);
  }

  /** Over the picture: a gap (and where the next recording starts), or an error. */
  private renderNotice(state: PlayerState, message: string, nextUs: number | null): void {
    const key = `${state}|${message}|${nextUs}`;
    if (key === this.noticeKey) return;
    this.noticeKey = key;
    this.notice.hidden = state !== "gap" && state !== "error";
    this.notice.dataset["kind"] = state;
    if (state === "error") {
      this.notice.replaceChildren(el("p", undefined, message));
      return;
    }
    if (state !== "gap") return;
    const lines: HTMLElement[] = [el("p", "playback__gap", "No recording here")];
    if (nextUs === null) lines.push(el("p", undefined, "Nothing was recorded after this moment."));
    else {
      const next = dateOfUs(nextUs);
      const same = next.toDateString() === dateOfUs(this.player?.timeUs ?? nextUs).toDateString();
      const when = same ? formatClock(next) : `${formatDay(next)} ${formatClock(next)}`;
      lines.push(el("p", undefined, `Next recording: ${when}`));
      const play = this.button(`Play from ${formatClock(next)}`, "Play the next recording", () => this.player?.seek(nextUs, true));
      play.dataset["testid"] = "play-next";
      lines.push(play);
    }
    this.notice.replaceChildren(...lines);
  }

  private onKey(e: KeyboardEvent): void {
    if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented || !this.player) return;
    const target = e.target as HTMLElement | null;
    if (target?.closest("input, textarea, select")) return;
    const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    if (key === " ") {
      // A focused button keeps Space for itself, as everywhere.
      if (target?.closest("button")) return;
      e.preventDefault();
      this.player.toggle();
    } else if (key === "ArrowLeft" || key === "ArrowRight") {
      e.preventDefault();
      this.jump((key === "ArrowLeft" ? -1 : 1) * (e.shiftKey ? 6 : 1) * JUMP_US);
    } else if (key === "i") this.evidence.markIn();
    else if (key === "o") this.evidence.markOut();
    else if (key === "b") {
      e.preventDefault();
      this.evidence.openBookmark();
    }
  }

  private button(text: string, label: string, onClick: () => void): HTMLButtonElement {
    const b = el("button", "button button--small", text);
    b.type = "button";
    b.title = label;
    b.addEventListener("click", onClick);
    return b;
  }
}
