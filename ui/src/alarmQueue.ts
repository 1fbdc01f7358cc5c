// The alarm queue: open alerts newest first, each with its snapshot, camera,
// time, priority and the sentence saying why it fired. Keyboard first:
// N next new alert, A acknowledge, Enter open, C close with a note, P play
// its clip, ↑/↓ move. An alert opened shows its snapshot large, its history
// (who changed what, when), a note and a "false alarm" mark, and buttons to
// its camera and its recorded clip.

import { ApiError, getAlert, updateAlert, type Alert, type AlertDetail, type AlertState, type Priority } from "./api";
import { AlarmSound } from "./alarmSound";
import { el, formatClock } from "./format";

type Filter = "open" | "new" | "all";
const RANK: Record<Priority, number> = { low: 0, medium: 1, high: 2 };

export interface AlarmQueueOptions {
  cameraName: (id: number) => string;
  /** Every camera, for the camera filter. */
  cameras: () => { id: number; name: string }[];
  showCamera: (id: number) => void;
  /** Plays the recorded clip around the alert. */
  play: (alert: Alert) => void;
  /** The count of new alerts changed (window title, tray). */
  onCount: (unacknowledged: number) => void;
}

export class AlarmQueue {
  readonly element: HTMLElement;
  readonly sound: AlarmSound;
  private readonly list: HTMLOListElement;
  private readonly count: HTMLElement;
  private readonly empty: HTMLParagraphElement;
  private readonly filterSelect: HTMLSelectElement;
  private readonly cameraSelect: HTMLSelectElement;
  private readonly prioritySelect: HTMLSelectElement;
  private readonly error: HTMLParagraphElement;
  private readonly notifyFailed: HTMLParagraphElement;
  private readonly dialog: AlertDialog;
  private readonly alerts = new Map<number, Alert>();
  private selected: number | null = null;
  private filter: Filter = "open";

  constructor(private readonly options: AlarmQueueOptions) {
    this.element = el("section", "panel alarms");
    this.element.setAttribute("aria-labelledby", "alarms-title");
    const head = el("div", "panel__head");
    const title = el("h2", "panel__title", "Alarms");
    title.id = "alarms-title";
    this.count = el("span", "panel__count alarms__count", "0 new");
    this.count.dataset["testid"] = "alarm-count";
    this.filterSelect = el("select", "alarms__filter");
    this.filterSelect.setAttribute("aria-label", "Show alarms");
    for (const [value, label] of [["open", "Open"], ["new", "New"], ["all", "All"]] as const) {
      const option = el("option", undefined, label);
      option.value = value;
      this.filterSelect.append(option);
    }
    this.filterSelect.addEventListener("change", () => {
      this.filter = this.filterSelect.value as Filter;
      this.render();
    });
    this.cameraSelect = el("select", "alarms__filter");
    this.cameraSelect.setAttribute("aria-label", "Alarms of camera");
    this.cameraSelect.addEventListener("focus", () => this.fillCameras());
    this.cameraSelect.addEventListener("change", () => this.render());
    this.prioritySelect = el("select", "alarms__filter");
    this.prioritySelect.setAttribute("aria-label", "Alarms of priority");
    for (const [value, label] of [["", "Any priority"], ["high", "High"], ["medium", "Medium"], ["low", "Low"]] as const) {
      const option = el("option", undefined, label);
      option.value = value;
      this.prioritySelect.append(option);
    }
    this.prioritySelect.addEventListener("change", () => this.render());
    this.fillCameras();
    const filters = el("div", "alarms__filters");
    filters.append(this.filterSelect, this.cameraSelect, this.prioritySelect);
    head.append(title, this.count);
    this.notifyFailed = el("p", "alarms__error");
    this.notifyFailed.dataset["testid"] = "notifications-failed";
    this.notifyFailed.hidden = true;
    const banner = el("button", "alarms__blocked", "Alarm sound is blocked: click to enable");
    banner.type = "button";
    banner.dataset["testid"] = "sound-blocked";
    this.sound = new AlarmSound(banner);
    this.error = el("p", "alarms__error");
    this.error.hidden = true;
    this.error.setAttribute("role", "alert");
    this.list = el("ol", "alarms__list");
    this.list.tabIndex = 0;
    this.list.setAttribute("role", "listbox");
    this.list.setAttribute("aria-label", "Alarm queue");
    this.list.addEventListener("keydown", (e) => this.onListKey(e));
    this.empty = el("p", "alarms__empty", "No open alarms.");
    const keys = el("p", "alarms__keys");
    keys.innerHTML = "<kbd>N</kbd> next · <kbd>A</kbd> acknowledge · <kbd>Enter</kbd> open · <kbd>C</kbd> close · <kbd>P</kbd> play";
    this.element.append(head, filters, banner, this.notifyFailed, this.error, this.list, this.empty, keys, this.sound.audio);
    this.dialog = new AlertDialog(this, options);
    document.body.append(this.dialog.element);
  }

  /** Flags desktop notifications that cannot be shown (the desktop window reports it). */
  setNotifications(status: { ok: boolean; message: string } | undefined): void {
    this.notifyFailed.hidden = !status || status.ok;
    this.notifyFailed.textContent = status && !status.ok ? `⚠ ${status.message}` : "";
  }

  /** Replaces the queue (start, or after a reconnect). */
  reset(alerts: readonly Alert[]): void {
    this.alerts.clear();
    for (const a of alerts) this.alerts.set(a.id, a);
    this.render();
  }

  /** A new alert or a change to one. */
  upsert(alert: Alert): void {
    const isNew = !this.alerts.has(alert.id);
    this.alerts.set(alert.id, alert);
    if (isNew && this.selected === null && alert.state === "new") this.selected = alert.id;
    this.render();
    this.dialog.refresh(alert);
  }

  /** N: the next new alert after the selected one (newest first, wrapping). */
  next(): void {
    const fresh = this.visible().filter((a) => a.state === "new");
    if (fresh.length === 0) return;
    const at = fresh.findIndex((a) => a.id === this.selected);
    this.select(fresh[(at + 1) % fresh.length]?.id ?? null);
  }

  /** A: acknowledges the selected alert (or the newest new one). */
  acknowledge(): void {
    const target = this.target();
    if (target?.state === "new") void this.change(target.id, { state: "acknowledged" });
  }

  /** Enter: opens the selected alert. */
  open(): void {
    const target = this.target();
    if (target) void this.dialog.show(target.id, false);
  }

  /** P: plays the selected alert's clip. */
  play(): void {
    const target = this.target();
    if (target) this.options.play(target);
  }

  /** C: opens the selected alert ready to close it with a note. */
  closeWithNote(): void {
    const target = this.target();
    if (target && target.state !== "closed") void this.dialog.show(target.id, true);
  }

  async change(id: number, patch: { state?: AlertState; note?: string; false_alarm?: boolean }): Promise<AlertDetail | null> {
    try {
      const detail = await updateAlert(id, patch);
      this.error.hidden = true;
      this.upsert(detail);
      return detail;
    } catch (err) {
      this.error.textContent = `Could not update alarm ${id}: ${err instanceof ApiError ? err.message : "the server did not answer"}`;
      this.error.hidden = false;
      return null;
    }
  }

  private target(): Alert | undefined {
    const selected = this.selected === null ? undefined : this.alerts.get(this.selected);
    return selected ?? this.visible().find((a) => a.state === "new");
  }

  /** The camera filter's options, from the cameras there are now. */
  private fillCameras(): void {
    const chosen = this.cameraSelect.value;
    const all = el("option", undefined, "All cameras");
    all.value = "";
    this.cameraSelect.replaceChildren(
      all,
      ...this.options.cameras().map((c) => {
        const o = el("option", undefined, c.name);
        o.value = String(c.id);
        return o;
      }),
    );
    this.cameraSelect.value = chosen;
  }

  private visible(): Alert[] {
    const camera = this.cameraSelect.value ? Number(this.cameraSelect.value) : null;
    const priority = this.prioritySelect.value;
    const wanted = (a: Alert): boolean =>
      (camera === null || a.camera_id === camera) &&
      (priority === "" || a.priority === priority) &&
      (this.filter === "all" || (this.filter === "new" ? a.state === "new" : a.state !== "closed"));
    return [...this.alerts.values()].filter(wanted).sort((a, b) => b.id - a.id);
  }

  private select(id: number | null): void {
    this.selected = id;
    this.render();
    this.list.querySelector<HTMLElement>("[aria-selected=true]")?.scrollIntoView({ block: "nearest" });
  }

  private onListKey(e: KeyboardEvent): void {
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
    e.preventDefault();
    const shown = this.visible();
    const at = shown.findIndex((a) => a.id === this.selected);
    const next = e.key === "ArrowDown" ? Math.min(shown.length - 1, at + 1) : Math.max(0, at - 1);
    this.select(shown[next]?.id ?? null);
  }

  private render(): void {
    const shown = this.visible();
    const fresh = [...this.alerts.values()].filter((a) => a.state === "new");
    this.count.textContent = `${fresh.length} new`;
    this.count.dataset["new"] = String(fresh.length);
    this.empty.hidden = shown.length > 0;
    this.list.replaceChildren(...shown.map((a) => this.item(a)));
    const loudest = fresh.reduce<Priority | null>((p, a) => (p === null || RANK[a.priority] > RANK[p] ? a.priority : p), null);
    this.sound.set(loudest);
    this.options.onCount(fresh.length);
  }

  private item(a: Alert): HTMLLIElement {
    const li = el("li", "alarm");
    li.dataset["testid"] = "alarm";
    li.dataset["alertId"] = String(a.id);
    li.dataset["state"] = a.state;
    li.dataset["priority"] = a.priority;
    li.setAttribute("role", "option");
    li.setAttribute("aria-selected", String(a.id === this.selected));
    if (a.snapshot_url) {
      const img = el("img", "alarm__thumb");
      img.src = a.snapshot_url;
      img.alt = "";
      img.loading = "lazy";
      li.append(img);
    } else {
      li.append(el("span", "alarm__thumb"));
    }
    const body = el("div", "alarm__body");
    const top = el("div", "alarm__top");
    top.append(
      el("span", `alarm__priority alarm__priority--${a.priority}`, a.priority),
      el("span", "alarm__cam", this.options.cameraName(a.camera_id)),
      el("time", "alarm__time", formatClock(a.media_time)),
    );
    const why = el("p", "alarm__why", a.explanation);
    const state = el("span", `alarm__state alarm__state--${a.state}`, a.false_alarm ? `${a.state} · false alarm` : a.state);
    const play = el("button", "button button--small alarm__play", "▶ Play");
    play.type = "button";
    play.dataset["testid"] = "play-alarm";
    play.title = "Play the recorded clip (P)";
    play.setAttribute("aria-label", `Play the clip of alarm ${a.id}`);
    play.addEventListener("click", (e) => {
      e.stopPropagation();
      this.select(a.id);
      this.options.play(a);
    });
    const foot = el("div", "alarm__foot");
    foot.append(state, play);
    body.append(top, why, foot);
    li.append(body);
    li.addEventListener("click", () => this.select(a.id));
    li.addEventListener("dblclick", () => void this.dialog.show(a.id, false));
    return li;
  }
}

/** One alert, large: snapshot, explanation, history, note, false alarm, actions. */
class AlertDialog {
  readonly element: HTMLDialogElement;
  private readonly img: HTMLImageElement;
  private readonly title: HTMLHeadingElement;
  private readonly why: HTMLParagraphElement;
  private readonly history: HTMLOListElement;
  private readonly note: HTMLTextAreaElement;
  private readonly falseAlarm: HTMLInputElement;
  private readonly ackButton: HTMLButtonElement;
  private readonly closeButton: HTMLButtonElement;
  private current: AlertDetail | null = null;

  constructor(
    private readonly queue: AlarmQueue,
    private readonly options: AlarmQueueOptions,
  ) {
    this.element = el("dialog", "dialog alert-dialog");
    this.element.dataset["testid"] = "alert-dialog";
    this.element.setAttribute("aria-labelledby", "alert-dialog-title");
    this.title = el("h2", "dialog__title");
    this.title.id = "alert-dialog-title";
    this.img = el("img", "alert-dialog__snapshot");
    this.img.alt = "The frame the alarm fired on, with the object boxed";
    this.why = el("p", "alert-dialog__why");
    this.history = el("ol", "alert-dialog__history");
    const noteField = el("div", "dialog__field");
    const noteLabel = el("label", undefined, "Note");
    noteLabel.htmlFor = "alert-note";
    this.note = el("textarea", "alert-dialog__note");
    this.note.id = "alert-note";
    this.note.rows = 2;
    this.note.maxLength = 2000;
    this.note.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault();
        void this.act("closed");
      }
    });
    noteField.append(noteLabel, this.note);
    const faLabel = el("label", "dialog__check");
    this.falseAlarm = el("input");
    this.falseAlarm.type = "checkbox";
    faLabel.append(this.falseAlarm, document.createTextNode(" False alarm"));
    const actions = el("div", "dialog__buttons");
    const camera = this.button("Show camera", () => {
      if (this.current) this.options.showCamera(this.current.camera_id);
      this.element.close();
    });
    this.ackButton = this.button("Acknowledge (A)", () => void this.act("acknowledged"));
    this.closeButton = this.button("Close alarm (Enter)", () => void this.act("closed"));
    this.closeButton.classList.add("button--primary");
    const play = this.button("Play clip (P)", () => this.playClip());
    play.dataset["testid"] = "alert-play";
    const cancel = this.button("Back (Esc)", () => this.element.close());
    actions.append(camera, play, cancel, this.ackButton, this.closeButton);
    const body = el("div", "dialog__form");
    body.append(this.title, this.img, this.why, this.history, noteField, faLabel, actions);
    this.element.append(body);
    this.element.addEventListener("keydown", (e) => {
      if (e.target === this.note) return;
      if (e.key.toLowerCase() === "a") void this.act("acknowledged");
      else if (e.key.toLowerCase() === "p") this.playClip();
    });
  }

  async show(id: number, closing: boolean): Promise<void> {
    try {
      this.fill(await getAlert(id));
    } catch {
      return;
    }
    if (!this.element.open) this.element.showModal();
    (closing ? this.note : this.closeButton).focus();
  }

  refresh(alert: Alert): void {
    if (this.current?.id === alert.id && this.element.open) void getAlert(alert.id).then((d) => this.fill(d), () => undefined);
  }

  private fill(d: AlertDetail): void {
    this.current = d;
    this.title.textContent = `${d.rule_name} · ${this.options.cameraName(d.camera_id)} · ${formatClock(d.media_time)}`;
    if (d.snapshot_url) this.img.src = d.snapshot_url;
    this.img.hidden = !d.snapshot_url;
    this.why.textContent = d.explanation;
    this.history.replaceChildren(
      ...d.history.map((h) =>
        el("li", undefined, `${formatClock(h.at)} ${h.actor}: ${h.state}${h.false_alarm ? " (false alarm)" : ""}${h.note ? ` — ${h.note}` : ""}`),
      ),
    );
    this.note.value = d.note;
    this.falseAlarm.checked = d.false_alarm;
    this.ackButton.disabled = d.state !== "new";
    this.closeButton.disabled = d.state === "closed";
    this.element.dataset["state"] = d.state;
  }

  private playClip(): void {
    const d = this.current;
    if (!d) return;
    this.element.close();
    this.options.play(d);
  }

  private async act(state: AlertState): Promise<void> {
    const d = this.current;
    if (!d || d.state === state || (state === "acknowledged" && d.state !== "new")) return;
    const done = await this.queue.change(d.id, { state, note: this.note.value, false_alarm: this.falseAlarm.checked });
    if (done && state === "closed") this.element.close();
  }

  private button(text: string, onClick: () => void): HTMLButtonElement {
    const b = el("button", "button", text);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }
}
