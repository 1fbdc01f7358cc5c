// The playback timeline of one camera over a window (10 min, 1 h or 24 h):
// what was recorded, how busy detection was (bars), alerts coloured by
// priority (click: play from just before), bookmarks, evidence locks, the
// marked clip and the playhead. Click or drag to go to a moment; PageUp /
// PageDown move the window. Labels are local wall-clock time.

import type { Timeline } from "./api";
import { dateOfUs, el, formatClock, formatSpan } from "./format";

/** Alerts play from this long before the moment they fired. */
export const ALERT_LEAD_US = 5_000_000;
/** Density bars across the window. */
export const BUCKETS = 120;

export const SPANS: readonly { label: string; us: number }[] = [
  { label: "10 min", us: 600e6 },
  { label: "1 h", us: 3_600e6 },
  { label: "24 h", us: 86_400e6 },
];

/** Tick steps to pick from, so a window gets 5–12 labels. */
const STEPS_MIN = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360];

export interface TimelineHandlers {
  /** Go to `us`; in a gap, start at the next recording when it is at most `snapUs` later. */
  seek(us: number, snapUs?: number): void;
  /** The window moved (zoom, pan, or following the playhead): fetch its data. */
  windowChanged(): void;
}

const PRIORITY_LABEL = { high: "High", medium: "Medium", low: "Low" } as const;

export class TimelineBar {
  readonly element: HTMLElement;
  fromUs = 0;
  toUs = 0;
  private spanUs = 3_600e6;
  private readonly track: HTMLDivElement;
  private readonly density = el("div", "timeline__density");
  private readonly recs = el("div", "timeline__recs");
  private readonly locks = el("div", "timeline__locks");
  private readonly clip = el("div", "timeline__clip");
  private readonly marks = el("div", "timeline__marks");
  private readonly playhead = el("div", "timeline__playhead");
  private readonly hover = el("div", "timeline__hover");
  private readonly hoverLabel = el("span", "timeline__hover-label");
  private readonly axis = el("div", "timeline__axis");
  private readonly range = el("span", "timeline__range");
  private readonly zoom: HTMLButtonElement[] = [];
  private playheadUs = 0;
  private dragging = false;

  constructor(private readonly handlers: TimelineHandlers) {
    this.element = el("div", "timeline");
    const bar = el("div", "timeline__bar");
    const earlier = this.button("◀ Earlier", "Show the earlier half window", () => this.pan(-1));
    const later = this.button("Later ▶", "Show the later half window", () => this.pan(1));
    const zoom = el("div", "segmented");
    zoom.setAttribute("role", "group");
    zoom.setAttribute("aria-label", "Timeline span");
    for (const span of SPANS) {
      const b = this.button(span.label, `Show ${span.label} around the playhead`, () => this.setSpan(span.us));
      b.dataset["span"] = String(span.us);
      b.setAttribute("aria-pressed", "false");
      this.zoom.push(b);
      zoom.append(b);
    }
    bar.append(earlier, zoom, later, this.range);

    this.track = el("div", "timeline__track");
    this.track.dataset["testid"] = "timeline";
    this.track.tabIndex = 0;
    this.track.setAttribute("role", "slider");
    this.track.setAttribute("aria-label", "Timeline: click or drag to go to a moment; Page Up and Page Down move the window");
    this.clip.hidden = true;
    this.hover.hidden = true;
    this.hover.append(this.hoverLabel);
    this.track.append(this.recs, this.density, this.locks, this.clip, this.marks, this.playhead, this.hover);
    this.track.addEventListener("pointerdown", (e) => this.pointerDown(e));
    this.track.addEventListener("pointermove", (e) => this.pointerMove(e));
    this.track.addEventListener("pointerup", (e) => this.pointerUp(e));
    this.track.addEventListener("pointercancel", () => this.endDrag());
    this.track.addEventListener("pointerleave", () => {
      if (!this.dragging) this.hover.hidden = true;
    });
    this.track.addEventListener("keydown", (e) => this.onKey(e));
    this.axis.setAttribute("aria-hidden", "true");
    this.element.append(bar, this.track, this.axis);
  }

  /** A window of the current span around `us`, not running far past now. */
  center(us: number): void {
    const latest = Date.now() * 1000 + this.spanUs * 0.05;
    this.fromUs = Math.round(Math.min(us - this.spanUs / 2, latest - this.spanUs));
    this.toUs = this.fromUs + this.spanUs;
    this.drawWindow();
    this.handlers.windowChanged();
  }

  setSpan(us: number): void {
    this.spanUs = us;
    this.center(this.playheadUs);
  }

  /** Half a window earlier (−1) or later (+1). */
  pan(direction: number): void {
    this.fromUs += (direction * this.spanUs) / 2;
    this.toUs = this.fromUs + this.spanUs;
    this.drawWindow();
    this.handlers.windowChanged();
  }

  /** Whether `us` is in the window. */
  shows(us: number): boolean {
    return us >= this.fromUs && us <= this.toUs;
  }

  /** The moment on screen; the window follows it when playing runs it off an end (not after a pan). */
  setPlayhead(us: number): void {
    const wasIn = this.shows(this.playheadUs);
    this.playheadUs = us;
    if (!this.dragging && wasIn && (us < this.fromUs || us > this.toUs - this.spanUs * 0.02)) this.center(us);
    this.playhead.style.left = this.pct(us);
    // Once a second is enough for assistive technology (this runs every frame).
    const second = String(Math.floor(us / 1e6));
    if (this.track.getAttribute("aria-valuenow") === second) return;
    this.track.setAttribute("aria-valuenow", second);
    this.track.setAttribute("aria-valuetext", dateOfUs(us).toLocaleString());
  }

  /** The marked clip (in and out), or nothing. */
  setClip(inUs: number | null, outUs: number | null): void {
    this.clip.hidden = inUs === null && outUs === null;
    if (this.clip.hidden) return;
    const a = inUs ?? outUs ?? 0;
    const b = outUs ?? inUs ?? 0;
    this.clip.style.left = this.pct(Math.min(a, b));
    this.clip.style.width = this.width(Math.min(a, b), Math.max(a, b));
    this.clip.classList.toggle("timeline__clip--open", inUs === null || outUs === null);
  }

  /** Draws the server's answer for the window it asked about. */
  setData(t: Timeline): void {
    this.recs.replaceChildren(
      ...t.recordings.map(([start, end]) => {
        const r = el("div", "timeline__rec");
        r.dataset["testid"] = "recorded-range";
        r.style.left = this.pct(start);
        r.style.width = this.width(start, end);
        return r;
      }),
    );
    const most = Math.max(1, ...t.density.map(([, n]) => n));
    this.density.replaceChildren(
      ...t.density.map(([start, n]) => {
        const b = el("div", "timeline__bucket");
        b.style.left = this.pct(start);
        b.style.width = this.width(start, start + t.bucket_us);
        b.style.height = `${Math.max(8, (n / most) * 100).toFixed(1)}%`;
        return b;
      }),
    );
    this.locks.replaceChildren(
      ...t.locks.map((l) => {
        const band = el("div", "timeline__lock");
        band.style.left = this.pct(l.start_us);
        band.style.width = this.width(l.start_us, l.end_us);
        band.title = `Locked: ${l.reason} (${formatClock(dateOfUs(l.start_us))}–${formatClock(dateOfUs(l.end_us))})`;
        return band;
      }),
    );
    const alerts = t.alerts.map((a) => {
      const when = formatClock(dateOfUs(a.media_time));
      const b = this.mark(`timeline__alert timeline__alert--${a.priority}`, `${PRIORITY_LABEL[a.priority]}: ${a.rule_name} at ${when}`, a.media_time);
      b.dataset["testid"] = "timeline-alert";
      b.addEventListener("click", () => this.handlers.seek(a.media_time - ALERT_LEAD_US, ALERT_LEAD_US + 1e6));
      return b;
    });
    const bookmarks = t.bookmarks.map((m) => {
      const b = this.mark("timeline__bookmark", `Bookmark at ${formatClock(dateOfUs(m.media_time))}${m.note ? `: ${m.note}` : ""}`, m.media_time);
      b.addEventListener("click", () => this.handlers.seek(m.media_time));
      return b;
    });
    this.marks.replaceChildren(...alerts, ...bookmarks);
  }

  private mark(className: string, label: string, us: number): HTMLButtonElement {
    const b = el("button", `timeline__mark ${className}`);
    b.type = "button";
    b.title = label;
    b.setAttribute("aria-label", label);
    b.style.left = this.pct(us);
    // A mark is its own target, not the start of a scrub.
    b.addEventListener("pointerdown", (e) => e.stopPropagation());
    return b;
  }

  private drawWindow(): void {
    for (const b of this.zoom) b.setAttribute("aria-pressed", String(Number(b.dataset["span"]) === this.spanUs));
    this.track.setAttribute("aria-valuemin", String(Math.round(this.fromUs / 1e6)));
    this.track.setAttribute("aria-valuemax", String(Math.round(this.toUs / 1e6)));
    const from = dateOfUs(this.fromUs);
    const to = dateOfUs(this.toUs);
    const day = (d: Date): string => d.toLocaleDateString(undefined, { day: "numeric", month: "short" });
    this.range.textContent = `${day(from)} ${formatClock(from).slice(0, 5)} – ${day(to) === day(from) ? "" : `${day(to)} `}${formatClock(to).slice(0, 5)} · ${formatSpan(this.spanUs)}`;
    this.drawAxis();
    // Old data would be drawn in the wrong place: cleared until the new window's arrives.
    this.recs.replaceChildren();
    this.density.replaceChildren();
    this.locks.replaceChildren();
    this.marks.replaceChildren();
    this.playhead.style.left = this.pct(this.playheadUs);
  }

  /** Local-time labels at a round step from local midnight. */
  private drawAxis(): void {
    const spanMin = this.spanUs / 60e6;
    const stepMin = STEPS_MIN.find((s) => spanMin / s <= 10) ?? 360;
    const step = stepMin * 60e6;
    const start = dateOfUs(this.fromUs);
    let t = new Date(start.getFullYear(), start.getMonth(), start.getDate()).getTime() * 1000;
    t += Math.ceil((this.fromUs - t) / step) * step;
    const ticks: HTMLElement[] = [];
    for (; t <= this.toUs; t += step) {
      const d = dateOfUs(t);
      const midnight = d.getHours() === 0 && d.getMinutes() === 0;
      const text = midnight ? d.toLocaleDateString(undefined, { day: "numeric", month: "short" }) : formatClock(d).slice(0, 5);
      const tick = el("span", "timeline__tick", text);
      tick.style.left = this.pct(t);
      ticks.push(tick);
    }
    this.axis.replaceChildren(...ticks);
  }

  private pct(us: number): string {
    const f = (us - this.fromUs) / (this.toUs - this.fromUs || 1);
    return `${(Math.min(1, Math.max(0, f)) * 100).toFixed(3)}%`;
  }

  private width(startUs: number, endUs: number): string {
    const a = Math.max(startUs, this.fromUs);
    const b = Math.min(endUs, this.toUs);
    return `${(Math.max(0, b - a) / (this.toUs - this.fromUs || 1)) * 100}%`;
  }

  private usAt(clientX: number): number {
    const box = this.track.getBoundingClientRect();
    const f = Math.min(1, Math.max(0, (clientX - box.left) / (box.width || 1)));
    return this.fromUs + f * (this.toUs - this.fromUs);
  }

  private showHover(us: number): void {
    this.hover.hidden = false;
    this.hover.style.left = this.pct(us);
    this.hoverLabel.textContent = formatClock(dateOfUs(us));
  }

  private pointerDown(e: PointerEvent): void {
    if (e.button !== 0) return;
    e.preventDefault();
    this.track.focus();
    this.track.setPointerCapture(e.pointerId);
    this.dragging = true;
    this.track.classList.add("timeline__track--dragging");
    this.pointerMove(e);
  }

  private pointerMove(e: PointerEvent): void {
    const us = this.usAt(e.clientX);
    this.showHover(us);
    if (this.dragging) this.playhead.style.left = this.pct(us);
  }

  private pointerUp(e: PointerEvent): void {
    if (!this.dragging) return;
    const us = this.usAt(e.clientX);
    this.endDrag();
    this.playheadUs = us;
    this.handlers.seek(us, 2e6);
  }

  private endDrag(): void {
    this.dragging = false;
    this.track.classList.remove("timeline__track--dragging");
    this.playhead.style.left = this.pct(this.playheadUs);
  }

  private onKey(e: KeyboardEvent): void {
    if (e.key === "PageUp" || e.key === "PageDown") {
      e.preventDefault();
      this.pan(e.key === "PageUp" ? -1 : 1);
    } else if (e.key === "Home" || e.key === "End") {
      e.preventDefault();
      this.handlers.seek(e.key === "Home" ? this.fromUs : this.toUs - 10e6, 10e6);
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
