// "Recent detections" panel: the newest detections first, capped in length.

import type { Detection, DetectionsEvent } from "./api";
import { classColour } from "./colours";
import { el, formatClock, formatScore } from "./format";

export interface DetectionRow {
  cameraId: number;
  mediaTime: string;
  cls: string;
  score: number;
}

export interface DetectionsListOptions {
  /** Resolves a camera id to its display name. */
  cameraName(id: number): string;
  /** Rows kept on screen. */
  limit?: number;
  /** New rows are batched and rendered at most this often. */
  flushMs?: number;
}

export function rowsFromStored(detections: readonly Detection[]): DetectionRow[] {
  return detections.map((d) => ({ cameraId: d.camera_id, mediaTime: d.media_time, cls: d.class, score: d.score }));
}

export function rowsFromEvent(event: DetectionsEvent): DetectionRow[] {
  return event.detections.map((d) => ({
    cameraId: event.camera_id,
    mediaTime: event.media_time,
    cls: d.class,
    score: d.score,
  }));
}

export class DetectionsList {
  readonly element: HTMLElement;
  private readonly list: HTMLOListElement;
  private readonly empty: HTMLParagraphElement;
  private readonly countEl: HTMLSpanElement;
  private readonly limit: number;
  private readonly flushMs: number;
  /** Rows waiting to be rendered, newest first. */
  private queue: DetectionRow[] = [];
  private flushTimer: number | undefined;

  constructor(private readonly options: DetectionsListOptions) {
    this.limit = options.limit ?? 50;
    this.flushMs = options.flushMs ?? 250;

    this.element = el("section", "panel detections");
    this.element.setAttribute("aria-labelledby", "detections-title");
    const head = el("header", "panel__head");
    const title = el("h2", "panel__title", "Recent detections");
    title.id = "detections-title";
    this.countEl = el("span", "panel__count", "0");
    this.countEl.setAttribute("aria-label", "rows shown");
    head.append(title, this.countEl);

    this.list = el("ol", "detections__list");
    this.list.dataset["testid"] = "detections-list";
    this.list.setAttribute("aria-live", "polite");
    this.list.setAttribute("aria-relevant", "additions");
    this.list.setAttribute("aria-labelledby", "detections-title");
    this.empty = el("p", "detections__empty", "No detections yet.");

    this.element.append(head, this.empty, this.list);
  }

  /** Replace the contents (e.g. the initial fetch), rows newest first. */
  reset(rows: readonly DetectionRow[]): void {
    window.clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.queue = [];
    this.list.replaceChildren();
    this.prepend(rows.slice(0, this.limit));
  }

  /** Add rows (newest first); rendering is batched to keep the DOM calm. */
  add(rows: readonly DetectionRow[]): void {
    if (rows.length === 0) return;
    this.queue = [...rows, ...this.queue].slice(0, this.limit);
    if (this.flushTimer === undefined) {
      this.flushTimer = window.setTimeout(() => {
        this.flushTimer = undefined;
        const batch = this.queue;
        this.queue = [];
        this.prepend(batch);
      }, this.flushMs);
    }
  }

  /** Re-resolve camera names after the camera list changed. */
  refreshNames(): void {
    for (const item of this.list.querySelectorAll<HTMLElement>("li[data-camera-id]")) {
      const cam = item.querySelector(".det__cam");
      if (cam) cam.textContent = this.options.cameraName(Number(item.dataset["cameraId"]));
    }
  }

  private prepend(rows: readonly DetectionRow[]): void {
    const frag = document.createDocumentFragment();
    for (const row of rows) frag.append(this.renderRow(row));
    this.list.prepend(frag);
    while (this.list.childElementCount > this.limit) this.list.lastElementChild?.remove();
    const n = this.list.childElementCount;
    this.countEl.textContent = String(n);
    this.empty.hidden = n > 0;
  }

  private renderRow(row: DetectionRow): HTMLLIElement {
    const li = el("li", "det");
    li.dataset["cameraId"] = String(row.cameraId);
    const time = el("time", "det__time", formatClock(row.mediaTime));
    time.dateTime = row.mediaTime;
    const cam = el("span", "det__cam", this.options.cameraName(row.cameraId));
    const cls = el("span", "det__class", row.cls);
    cls.style.setProperty("--class-colour", classColour(row.cls));
    const score = el("span", "det__score", formatScore(row.score));
    li.append(time, cam, cls, score);
    return li;
  }
}
