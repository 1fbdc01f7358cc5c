// One camera in the live grid: name, state badge, stats, live video (MSE)
// with the detection boxes of the frame on screen, or, where this window
// cannot decode H.264, a flicker-free snapshot refresh loop. The state the
// tile shows is what the guard sees: a picture that stopped is stale. A
// quiet "REC" opens the recordings; it turns into a red "REC error" (a full
// disk, say) with the reason as its title.

import { snapshotUrl, type Camera, type CameraState, type DetectionsEvent, type FrameDetection, type RecordingHealth } from "./api";
import { LivePlayer, whyNot } from "./livePlayer";
import { classColour } from "./colours";
import { el, formatBitrate, formatClock, formatFps, formatScore } from "./format";

/** Target interval between snapshot requests while the camera is live. */
const SNAPSHOT_INTERVAL_MS = 500;
/** Slower polling while connecting / in error (a frame may still appear). */
const SNAPSHOT_IDLE_INTERVAL_MS = 2_000;
/** Boxes older than this are cleared. */
const BOX_TTL_MS = 1_500;
/** Detections kept to match frames that are still to be shown. */
const DETECTIONS_KEPT_US = 3_000_000;
/**
 * A frame is drawn with detections up to this much older than itself (the
 * detector runs at a few frames a second and its queue adds delay under
 * load); boxes more than BOX_FRESH_US behind the picture are drawn faded.
 */
const BOX_MATCH_US = 800_000;
const BOX_FRESH_US = 300_000;
/**
 * Snapshots only: the server's last_frame_at (published about every 2 s
 * while frames arrive) not advancing for this long means the picture is old.
 */
const SERVER_STALE_MS = 4_500;

const STATE_LABEL: Record<CameraState, string> = {
  connecting: "Connecting",
  live: "Live",
  stale: "Stale",
  reconnecting: "Reconnecting",
  error: "Error",
  disabled: "Disabled",
};

const REC_SAYS: Record<RecordingHealth["state"], string> = {
  off: "Not recording",
  starting: "Recording is starting",
  recording: "Recording",
  waiting: "Recording around detections: none now",
  error: "Recording error",
};

/** "12 s", "3 min", "2 h". */
function formatAgo(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7_200) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3_600)} h`;
}

const reducedMotion = (): boolean => window.matchMedia("(prefers-reduced-motion: reduce)").matches;
const clamp01 = (v: number): number => Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0));
const pct = (v: number): string => `${(clamp01(v) * 100).toFixed(3)}%`;

export class CameraTile {
  readonly element: HTMLElement;
  private camera: Camera;

  private readonly nameEl: HTMLHeadingElement;
  private readonly badgeEl: HTMLSpanElement;
  private readonly recEl: HTMLButtonElement;
  private readonly expandBtn: HTMLButtonElement;
  private readonly viewEl: HTMLDivElement;
  private readonly frameEl: HTMLDivElement;
  /** Privacy areas, blacked out over the live video (the server blanks its own pictures). */
  private readonly privacyEl: SVGSVGElement;
  private imgEl: HTMLImageElement;
  private readonly placeholderEl: HTMLDivElement;
  private readonly boxesEl: HTMLDivElement;
  private readonly messageEl: HTMLParagraphElement;
  private readonly fpsEl: HTMLElement;
  private readonly detectEl: HTMLParagraphElement;
  private readonly bitrateEl: HTMLElement;
  private readonly resolutionEl: HTMLElement;
  private readonly lastFrameEl: HTMLTimeElement;

  private snapshotTimer: number | undefined;
  private pending: HTMLImageElement | null = null;
  private hasFrame = false;
  private failures = 0;
  private boxTimer: number | undefined;
  private destroyed = false;
  private live: LivePlayer | null = null;
  /** The picture stopped advancing although the server may still say live. */
  private recent: DetectionsEvent[] = [];
  private drawnUs = -1;
  /** Displayed frame time minus the time of the detections drawn on it. */
  private boxesLagMs: number | null = null;
  /** When the server's last_frame_at last moved (performance.now()). */
  private serverFrameSeenAt = performance.now();
  private readonly noticeEl: HTMLParagraphElement;
  private readonly debugEl: HTMLDivElement;
  private clockTimer: number | undefined;

  constructor(
    camera: Camera,
    private readonly onEdit: (camera: Camera) => void,
    private readonly onRecordings: (camera: Camera) => void,
  ) {
    this.camera = camera;
    const idBase = `cam-${camera.id}`;

    this.element = el("article", "tile");
    this.element.dataset["testid"] = "camera-tile";
    this.element.setAttribute("aria-labelledby", `${idBase}-name`);
    this.element.setAttribute("aria-describedby", `${idBase}-msg`);

    const head = el("header", "tile__head");
    this.nameEl = el("h2", "tile__name");
    this.nameEl.id = `${idBase}-name`;
    this.badgeEl = el("span", "badge");
    this.badgeEl.dataset["testid"] = "camera-state";
    this.expandBtn = el("button", "tile__expand");
    this.expandBtn.type = "button";
    this.expandBtn.setAttribute("aria-pressed", "false");
    this.expandBtn.innerHTML =
      '<svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true" focusable="false">' +
      '<path d="M2 6V2h4M10 2h4v4M14 10v4h-4M6 14H2v-4" fill="none" stroke="currentColor" stroke-width="1.6"/></svg>';
    this.expandBtn.addEventListener("click", () => this.toggleExpanded());
    const editBtn = el("button", "tile__expand tile__edit", "⋯");
    editBtn.type = "button";
    editBtn.setAttribute("aria-label", `Edit ${camera.name}`);
    editBtn.dataset["testid"] = "edit-camera";
    editBtn.addEventListener("click", () => this.onEdit(this.camera));
    this.recEl = el("button", "tile__rec", "REC");
    this.recEl.type = "button";
    this.recEl.dataset["testid"] = "open-recordings";
    this.recEl.addEventListener("click", () => this.onRecordings(this.camera));
    head.append(this.nameEl, this.badgeEl, this.recEl, editBtn, this.expandBtn);

    // The view has a fixed aspect ratio so all tiles line up; the frame
    // inside is letterboxed to the video's aspect ratio and carries both the
    // image and the box overlay, so normalised boxes map 1:1 onto it.
    this.viewEl = el("div", "tile__view");
    this.frameEl = el("div", "tile__frame");
    this.imgEl = el("img", "tile__img");
    this.imgEl.hidden = true;
    this.placeholderEl = el("div", "tile__placeholder", "No frame yet");
    this.boxesEl = el("div", "tile__boxes");
    this.boxesEl.setAttribute("aria-hidden", "true");
    this.privacyEl = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    this.privacyEl.setAttribute("class", "tile__privacy");
    this.privacyEl.setAttribute("viewBox", "0 0 1 1");
    this.privacyEl.setAttribute("preserveAspectRatio", "none");
    this.privacyEl.setAttribute("aria-hidden", "true");
    this.frameEl.append(this.imgEl, this.privacyEl, this.boxesEl);
    this.messageEl = el("p", "tile__message");
    this.messageEl.id = `${idBase}-msg`;
    this.noticeEl = el("p", "tile__notice");
    this.noticeEl.hidden = true;
    this.debugEl = el("div", "tile__debug");
    this.debugEl.setAttribute("aria-hidden", "true");
    this.viewEl.append(this.placeholderEl, this.frameEl, this.messageEl, this.noticeEl, this.debugEl);

    const stats = el("dl", "tile__stats");
    const stat = (label: string, value: HTMLElement): void => {
      const group = el("div", "stat");
      group.append(el("dt", undefined, label), value);
      stats.append(group);
    };
    this.fpsEl = el("dd");
    this.bitrateEl = el("dd");
    this.resolutionEl = el("dd");
    this.lastFrameEl = el("time");
    const lastFrameDd = el("dd");
    lastFrameDd.append(this.lastFrameEl);
    stat("Rate", this.fpsEl);
    stat("Bitrate", this.bitrateEl);
    stat("Size", this.resolutionEl);
    stat("last frame", lastFrameDd);
    // Only for cameras with a sub stream: how the stream detection runs on is doing.
    this.detectEl = el("p", "tile__detect");
    this.detectEl.dataset["testid"] = "detect-stream";
    this.detectEl.hidden = true;

    this.element.append(head, this.viewEl, stats, this.detectEl);
    const why = whyNot();
    if (why === null) this.startLive();
    else this.fallBackToSnapshots(why);
    this.render();
    this.clockTimer = window.setInterval(() => this.everySecond(), 1_000);
  }

  private startLive(): void {
    const live = new LivePlayer(this.camera.id, {
      unsupported: (reason) => this.fallBackToSnapshots(reason),
      frame: (mediaUs) => this.frameShown(mediaUs),
      changed: () => this.render(),
    });
    this.live = live;
    this.frameEl.prepend(live.video);
    live.start();
  }

  /** Live video cannot play here: server-side JPEGs instead, and say why. */
  private fallBackToSnapshots(reason: string): void {
    const live = this.live;
    this.live = null;
    live?.destroy();
    this.recent = [];
    this.boxesLagMs = null;
    this.boxesEl.replaceChildren();
    const fix = reason.includes("H.265")
      ? "Set the camera to H.264 for live video here."
      : "On Linux, install gstreamer1.0-libav.";
    this.noticeEl.textContent = `Live video unavailable in this window (${reason}): showing snapshots. ${fix}`;
    this.noticeEl.title = this.noticeEl.textContent;
    this.noticeEl.hidden = false;
    this.element.dataset["video"] = "snapshots";
    this.hasFrame = false;
    delete this.element.dataset["hasFrame"];
    this.placeholderEl.hidden = false;
    this.render();
    this.scheduleSnapshot(0);
  }

  /**
   * A live frame is on screen: draw the detections of that very frame, or
   * of the latest analysed frame before it (detection runs at a lower rate).
   */
  private frameShown(mediaUs: number): void {
    if (!this.hasFrame) {
      this.hasFrame = true;
      this.placeholderEl.hidden = true;
      this.element.dataset["hasFrame"] = "true";
      this.element.dataset["video"] = "live";
    }
    let match: DetectionsEvent | undefined;
    for (const e of this.recent) {
      if (e.media_time_us > mediaUs) break;
      if (mediaUs - e.media_time_us <= BOX_MATCH_US) match = e;
    }
    this.boxesLagMs = match ? Math.round((mediaUs - match.media_time_us) / 1000) : null;
    const key = match?.media_time_us ?? -1;
    if (key !== this.drawnUs) {
      this.drawnUs = key;
      this.drawBoxes(match?.detections ?? []);
    }
    this.boxesEl.classList.toggle("tile__boxes--behind", match !== undefined && mediaUs - match.media_time_us > BOX_FRESH_US);
  }

  /** Once a second: the debug overlay and its figures, countdowns, the stale check. */
  private everySecond(): void {
    if (this.live) {
      const s = this.live.stats;
      const ms = (v: number | null): string => (v === null ? "—" : `${v} ms`);
      this.debugEl.textContent =
        `latency ${ms(s.latencyMs)} · buffer ${ms(s.bufferMs)}\n` +
        `first frame ${ms(s.firstFrameMs)} · ${s.fps === null ? "—" : s.fps.toFixed(1)} fps · ` +
        `boxes ${this.boxesLagMs === null ? "—" : `−${this.boxesLagMs} ms`}`;
      const set = (key: string, v: number | null): void => {
        if (v === null) delete this.element.dataset[key];
        else this.element.dataset[key] = String(v);
      };
      set("firstFrameMs", s.firstFrameMs);
      set("latencyMs", s.latencyMs);
      set("bufferMs", s.bufferMs);
      set("fps", s.fps);
      set("boxesLagMs", this.boxesLagMs);
    } else {
      this.debugEl.textContent = "snapshots";
    }
    this.render();
  }

  get id(): number {
    return this.camera.id;
  }

  get name(): string {
    return this.camera.name;
  }

  update(camera: Camera): void {
    const wasLive = this.camera.state === "live";
    if (camera.last_frame_at !== this.camera.last_frame_at) this.serverFrameSeenAt = performance.now();
    this.camera = camera;
    this.render();
    if (!wasLive && camera.state === "live") {
      // A camera that just came up should not wait for the next retry or the slow idle poll.
      if (this.live) this.live.kick();
      else if (this.pending === null) this.scheduleSnapshot(0);
    }
  }

  /** A `detections` event for this camera: drawn with its own frame when live. */
  setDetections(event: DetectionsEvent): void {
    if (!this.live) {
      this.drawBoxes(event.detections);
      return;
    }
    if (typeof event.media_time_us !== "number") return;
    // Kept in media time order (events normally arrive in order).
    let i = this.recent.length;
    while (i > 0 && (this.recent[i - 1]?.media_time_us ?? 0) > event.media_time_us) i -= 1;
    this.recent.splice(i, 0, event);
    const newest = this.recent[this.recent.length - 1]?.media_time_us ?? 0;
    while (this.recent.length > 0 && (this.recent[0]?.media_time_us ?? 0) < newest - DETECTIONS_KEPT_US) this.recent.shift();
    // Analysed after its frame went up (slow detector, very low latency): draw it on the frame still on screen.
    const shown = this.live.shownUs;
    if (shown !== null && event.media_time_us <= shown && event.media_time_us > this.drawnUs) this.frameShown(shown);
  }

  /** The camera's privacy areas (0..1 of the frame), drawn opaque over the picture. */
  setPrivacy(areas: readonly (readonly [number, number][])[]): void {
    this.privacyEl.replaceChildren(
      ...areas.map((points) => {
        const polygon = document.createElementNS("http://www.w3.org/2000/svg", "polygon");
        polygon.setAttribute("points", points.map(([x, y]) => `${x},${y}`).join(" "));
        return polygon;
      }),
    );
    this.element.dataset["privacyAreas"] = String(areas.length);
  }

  private drawBoxes(detections: readonly FrameDetection[]): void {
    window.clearTimeout(this.boxTimer);
    const frag = document.createDocumentFragment();
    for (const d of detections) {
      const colour = classColour(d.class);
      const box = el("div", "box");
      box.style.left = pct(d.box.x);
      box.style.top = pct(d.box.y);
      box.style.width = pct(Math.min(d.box.w, 1 - clamp01(d.box.x)));
      box.style.height = pct(Math.min(d.box.h, 1 - clamp01(d.box.y)));
      box.style.setProperty("--box-colour", colour);
      if (d.box.y < 0.08) box.classList.add("box--label-inside");
      const track = d.track_id === null ? "" : ` #${d.track_id}`;
      const label = el("span", "box__label", `${d.class} ${formatScore(d.score)}${track}`);
      label.dataset["testid"] = "detection-label";
      box.append(label);
      frag.append(box);
    }
    this.boxesEl.replaceChildren(frag);
    if (detections.length > 0 && !this.live) {
      this.boxTimer = window.setTimeout(() => this.boxesEl.replaceChildren(), BOX_TTL_MS);
    }
  }

  destroy(): void {
    this.destroyed = true;
    this.live?.destroy();
    window.clearInterval(this.clockTimer);
    window.clearTimeout(this.snapshotTimer);
    window.clearTimeout(this.boxTimer);
    if (this.pending) this.pending.src = "";
    this.pending = null;
    this.element.remove();
  }

  /**
   * What the guard sees: the server's state, except that a picture that
   * stopped advancing is stale and a live camera whose picture is not up yet
   * is connecting, whatever the server says.
   */
  private visibleState(): CameraState {
    const c = this.camera;
    if (c.state !== "live") return c.state;
    if (this.live) {
      if (!this.live.hasPicture) return "connecting";
      return this.live.frozen ? "stale" : "live";
    }
    if (!this.hasFrame) return "connecting";
    return performance.now() - this.serverFrameSeenAt > SERVER_STALE_MS ? "stale" : "live";
  }

  /** Capture time of the picture on screen (for a stale one: when it froze). */
  private lastFrameTime(): Date | string | null {
    const shown = this.live?.shownUs;
    return this.live?.hasPicture && shown ? new Date(shown / 1000) : this.camera.last_frame_at;
  }

  private stateMessage(state: CameraState): string {
    const c = this.camera;
    switch (state) {
      case "live":
        return "";
      case "stale":
        return "Picture frozen";
      case "connecting":
        if (c.state === "live") return this.live?.serverError || "Starting live video…";
        return c.message || "Connecting to the camera…";
      case "reconnecting":
      case "error": {
        const wait = c.retry_at ? Math.ceil((Date.parse(c.retry_at) - Date.now()) / 1000) : 0;
        const when = wait > 0 ? ` Retrying in ${wait} s.` : c.retry_at ? " Retrying now…" : "";
        const reason = c.message.replace(/ Retrying in \d+ s\.$/, "");
        return `${reason || (state === "error" ? "The camera cannot be reached." : "Connection lost.")}${when}`;
      }
      default:
        return c.message;
    }
  }

  /** Stale: the time of the last frame, large, and how long ago it was. */
  private renderStale(): void {
    const when = this.lastFrameTime();
    const at = when === null ? Number.NaN : new Date(when).getTime();
    const ago = Number.isNaN(at) ? "" : ` (${formatAgo(Date.now() - at)} ago)`;
    const clock = el("strong", "tile__clock", formatClock(when));
    this.messageEl.replaceChildren(
      el("span", "tile__frozen", "Picture frozen"),
      document.createTextNode(" · last frame "),
      clock,
      document.createTextNode(ago),
    );
  }

  private render(): void {
    const c = this.camera;
    const state = this.visibleState();
    this.element.dataset["cameraId"] = String(c.id);
    this.element.dataset["state"] = state;
    this.nameEl.textContent = c.name;
    this.nameEl.title = c.name;
    this.badgeEl.className = `badge badge--${state}`;
    this.badgeEl.textContent = STATE_LABEL[state] ?? state;
    this.expandBtn.setAttribute("aria-label", `Enlarge ${c.name}`);
    this.renderRec();

    const message = this.stateMessage(state);
    if (state === "stale") this.renderStale();
    else this.messageEl.textContent = message;
    this.messageEl.hidden = message === "";

    this.fpsEl.textContent = formatFps(c.fps);
    this.bitrateEl.textContent = formatBitrate(c.bitrate_kbps);
    this.resolutionEl.textContent = c.width && c.height ? `${c.width}×${c.height}` : "—";
    const d = c.detect_stream;
    this.detectEl.hidden = !d;
    if (d) {
      const size = d.width && d.height ? ` ${d.width}×${d.height}` : "";
      this.detectEl.textContent =
        d.state === "live" ? `Detection stream: live${size} · ${formatFps(d.fps)}` : `Detection stream ${d.state}: ${d.message}`;
      this.detectEl.dataset["state"] = d.state;
    }
    const lastFrame = state === "stale" ? this.lastFrameTime() : c.last_frame_at;
    this.lastFrameEl.textContent = formatClock(lastFrame);
    if (lastFrame) this.lastFrameEl.dateTime = typeof lastFrame === "string" ? lastFrame : lastFrame.toISOString();
    else this.lastFrameEl.removeAttribute("datetime");

    this.imgEl.alt = `Latest frame from ${c.name}`;
    this.placeholderEl.textContent = state === "error" || state === "reconnecting" ? "No signal" : "Waiting for first frame…";
    this.placeholderEl.hidden = this.live ? this.live.hasPicture : this.hasFrame;
    if (c.width && c.height) this.setAspect(c.width, c.height);
  }

  private renderRec(): void {
    const r = this.camera.recording;
    const state = r?.state ?? "off";
    const says = state === "error" && r?.message ? `${REC_SAYS.error}: ${r.message}` : REC_SAYS[state];
    this.recEl.dataset["state"] = state;
    this.recEl.textContent = state === "error" ? "REC error" : "REC";
    this.recEl.title = `${says}. Click for the recordings.`;
    this.recEl.setAttribute("aria-label", `Recordings of ${this.camera.name}. ${says}`);
  }

  private setAspect(w: number, h: number): void {
    this.frameEl.style.setProperty("--frame-ar", String(w / h));
  }

  private toggleExpanded(): void {
    const expanded = this.element.classList.toggle("tile--expanded");
    this.expandBtn.setAttribute("aria-pressed", String(expanded));
    if (expanded) this.element.scrollIntoView({ block: "nearest", behavior: reducedMotion() ? "auto" : "smooth" });
  }

  private scheduleSnapshot(delayMs: number): void {
    window.clearTimeout(this.snapshotTimer);
    if (this.destroyed) return;
    this.snapshotTimer = window.setTimeout(() => this.loadSnapshot(), delayMs);
  }

  /**
   * Load the next frame off-screen and swap it in once decoded, so the tile
   * never flickers. Only one request is in flight per tile; the next one is
   * scheduled after the previous finished (loaded or failed).
   */
  private loadSnapshot(): void {
    if (this.destroyed || this.pending) return;
    if (document.hidden) {
      this.scheduleSnapshot(1_000);
      return;
    }
    const started = performance.now();
    const next = new Image();
    next.className = "tile__img";
    next.decoding = "async";
    next.alt = this.imgEl.alt;
    this.pending = next;
    next.src = snapshotUrl(this.camera.id);
    next.decode().then(
      () => {
        if (this.pending !== next || this.destroyed) return;
        this.pending = null;
        this.failures = 0;
        this.swapIn(next);
        const interval = this.camera.state === "live" ? SNAPSHOT_INTERVAL_MS : SNAPSHOT_IDLE_INTERVAL_MS;
        this.scheduleSnapshot(Math.max(0, interval - (performance.now() - started)));
      },
      () => {
        if (this.pending !== next || this.destroyed) return;
        this.pending = null;
        this.failures += 1;
        const backoff = this.camera.state === "live" ? 1_000 * this.failures : SNAPSHOT_IDLE_INTERVAL_MS * this.failures;
        this.scheduleSnapshot(Math.min(5_000, backoff));
      },
    );
  }

  private swapIn(next: HTMLImageElement): void {
    if (next.naturalWidth > 0 && next.naturalHeight > 0) this.setAspect(next.naturalWidth, next.naturalHeight);
    this.imgEl.replaceWith(next);
    this.imgEl = next;
    if (!this.hasFrame) {
      this.hasFrame = true;
      this.placeholderEl.hidden = true;
      this.element.dataset["hasFrame"] = "true";
    }
  }
}
