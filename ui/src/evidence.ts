// Evidence, beside the playback: mark a clip's in and out at the playhead
// (I, O), bookmark a moment with a note (B), lock the clip against deletion
// with a reason, export it signed (progress, Cancel, then the folder), and
// check an export folder against its signature. The forms are inline, one
// at a time; Esc in one closes it and leaves the panel open.

import {
  ApiError,
  cancelExport,
  createBookmark,
  createLock,
  deleteBookmark,
  deleteLock,
  getExport,
  startExport,
  verifyExport,
  type ExportStatus,
  type Timeline,
} from "./api";
import { dateOfUs, el, formatClock, formatSpan } from "./format";

const EXPORT_POLL_MS = 500;

export interface EvidenceHost {
  cameraId(): number;
  cameraName(): string;
  /** The moment on screen (UTC µs). */
  now(): number;
  seek(us: number): void;
  /** In or out changed: draw the clip on the timeline. */
  clipChanged(inUs: number | null, outUs: number | null): void;
  /** A bookmark or a lock was added or removed: fetch the timeline again. */
  marksChanged(): void;
  /** A form closed: keys go back to the video. */
  refocus(): void;
}

const clock = (us: number): string => formatClock(dateOfUs(us));
const why = (e: unknown): string => (e instanceof ApiError || e instanceof Error ? e.message : "the server did not answer");

/** A labelled input for the inline forms. */
function field(id: string, label: string, input: HTMLInputElement): HTMLElement {
  const wrap = el("div", "dialog__field");
  const l = el("label", undefined, label);
  l.htmlFor = id;
  input.id = id;
  input.autocomplete = "off";
  wrap.append(l, input);
  return wrap;
}

function button(text: string, onClick: () => void, type: "button" | "submit" = "button"): HTMLButtonElement {
  const b = el("button", "button button--small", text);
  b.type = type;
  if (type === "button") b.addEventListener("click", onClick);
  return b;
}

export class EvidencePanel {
  readonly element: HTMLElement;
  inUs: number | null = null;
  outUs: number | null = null;
  private readonly inText = el("span", "evidence__time", "—");
  private readonly outText = el("span", "evidence__time", "—");
  private readonly clipText = el("span", "evidence__span");
  private readonly status = el("p", "evidence__status");
  private readonly forms: HTMLFormElement[] = [];
  private readonly bookmarkForm: HTMLFormElement;
  private readonly bookmarkWhen = el("p", "evidence__what");
  private readonly bookmarkNote = el("input");
  private readonly lockForm: HTMLFormElement;
  private readonly lockWhat = el("p", "evidence__what");
  private readonly lockReason = el("input");
  private readonly lockUntil = el("input");
  private readonly exportForm: HTMLFormElement;
  private readonly exportWhat = el("p", "evidence__what");
  private readonly exportNote = el("input");
  private readonly exportFolder = el("input");
  private readonly exportBox = el("div", "evidence__export");
  private readonly verifyPath = el("input");
  private readonly verdict = el("p", "evidence__verdict");
  private readonly list = el("ul", "evidence__list");
  private bookmarkUs = 0;
  private exportTimer: number | undefined;

  constructor(private readonly host: EvidenceHost) {
    this.element = el("section", "evidence");
    this.element.setAttribute("aria-labelledby", "evidence-title");
    const title = el("h3", "evidence__title", "Evidence");
    title.id = "evidence-title";

    const clip = el("div", "evidence__clip");
    const markIn = button("Mark in (I)", () => this.markIn());
    markIn.dataset["testid"] = "mark-in";
    const markOut = button("Mark out (O)", () => this.markOut());
    markOut.dataset["testid"] = "mark-out";
    const clear = button("Clear", () => this.setClip(null, null));
    const inRow = el("p", "evidence__row");
    inRow.append(el("span", "evidence__label", "In"), this.inText, el("span", "evidence__label", "Out"), this.outText, this.clipText);
    const clipButtons = el("div", "evidence__buttons");
    clipButtons.append(markIn, markOut, clear);
    clip.append(inRow, clipButtons);

    const actions = el("div", "evidence__buttons");
    const bookmark = button("Bookmark (B)", () => this.openBookmark());
    bookmark.dataset["testid"] = "bookmark";
    const lock = button("Lock evidence…", () => this.openLock());
    lock.dataset["testid"] = "lock";
    const exp = button("Export…", () => this.openExport());
    exp.dataset["testid"] = "export";
    actions.append(bookmark, lock, exp);

    this.bookmarkNote.maxLength = 2000;
    this.bookmarkNote.placeholder = "What is here (optional)";
    this.bookmarkForm = this.form("Save bookmark", () => this.saveBookmark(), this.bookmarkWhen, field("bookmark-note", "Note", this.bookmarkNote));
    this.lockReason.maxLength = 2000;
    this.lockReason.required = true;
    this.lockReason.placeholder = "Incident number, who asked for it";
    this.lockUntil.type = "date";
    this.lockForm = this.form(
      "Lock evidence",
      () => this.saveLock(),
      this.lockWhat,
      field("lock-reason", "Reason", this.lockReason),
      field("lock-until", "Keep until (optional; blank: until unlocked)", this.lockUntil),
    );
    this.exportNote.maxLength = 2000;
    this.exportNote.placeholder = "Case, requester (goes into the export)";
    this.exportFolder.placeholder = "Default: exports in the data folder";
    this.exportForm = this.form(
      "Start export",
      () => this.startExport(),
      this.exportWhat,
      field("export-note", "Note", this.exportNote),
      field("export-folder", "Folder on the server (optional)", this.exportFolder),
    );
    this.exportBox.hidden = true;
    this.exportBox.setAttribute("role", "status");
    this.exportBox.dataset["testid"] = "export-status";
    this.status.setAttribute("role", "status");

    const verify = el("form", "evidence__verify");
    this.verifyPath.placeholder = "/path/to/the/export folder";
    this.verifyPath.required = true;
    const verifyField = field("verify-path", "Verify an export: its folder on the server", this.verifyPath);
    const verifyRow = el("div", "dialog__row");
    verifyRow.append(this.verifyPath, button("Verify", () => undefined, "submit"));
    verifyField.append(verifyRow);
    verify.append(verifyField, this.verdict);
    verify.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.verify();
    });
    this.verdict.setAttribute("role", "status");
    this.verdict.dataset["testid"] = "verdict";
    this.verdict.hidden = true;

    const listTitle = el("h3", "evidence__title", "Bookmarks and locks in view");
    this.list.setAttribute("aria-label", "Bookmarks and locks in view");
    this.element.append(title, clip, actions, this.bookmarkForm, this.lockForm, this.exportForm, this.status, this.exportBox, verify, listTitle, this.list);
  }

  /** Another camera, or the panel opened again: a fresh clip, forms closed (an export keeps going). */
  reset(): void {
    this.setClip(null, null);
    this.closeForms();
    this.say("");
    this.list.replaceChildren();
  }

  markIn(): void {
    this.setClip(this.host.now(), this.outUs);
  }

  markOut(): void {
    this.setClip(this.inUs, this.host.now());
  }

  openBookmark(): void {
    this.bookmarkUs = this.host.now();
    this.bookmarkWhen.textContent = `Bookmark ${this.host.cameraName()} at ${clock(this.bookmarkUs)}`;
    this.bookmarkNote.value = "";
    this.show(this.bookmarkForm, this.bookmarkNote);
  }

  /** The bookmarks and locks of the timeline's window, each with Go and Remove. */
  setMarks(t: Timeline): void {
    const items: HTMLLIElement[] = [];
    for (const b of t.bookmarks) {
      const remove = button("Remove", () => void this.remove(() => deleteBookmark(b.id), "Bookmark removed."));
      remove.setAttribute("aria-label", `Remove the bookmark at ${clock(b.media_time)}`);
      items.push(this.listItem("bookmark", `${clock(b.media_time)}${b.note ? ` · ${b.note}` : ""}`, b.media_time, remove));
    }
    for (const l of t.locks) {
      const until = l.until_us === null ? "until unlocked" : `until ${dateOfUs(l.until_us).toLocaleDateString()}`;
      // Unlocking lets retention delete evidence: a second click confirms.
      const unlock = button("Unlock", () => {
        if (unlock.dataset["armed"]) void this.remove(() => deleteLock(l.id), "Evidence unlocked.");
        else {
          unlock.dataset["armed"] = "1";
          unlock.textContent = "Really unlock?";
        }
      });
      unlock.setAttribute("aria-label", `Unlock the evidence from ${clock(l.start_us)}`);
      items.push(this.listItem("lock", `Locked ${clock(l.start_us)}–${clock(l.end_us)} · ${l.reason} (${until})`, l.start_us, unlock));
    }
    if (items.length === 0) items.push(el("li", "evidence__none", "None."));
    this.list.replaceChildren(...items);
  }

  destroy(): void {
    window.clearTimeout(this.exportTimer);
  }

  /** One row: a swatch like its mark on the timeline, the text, Go, and the action. */
  private listItem(kind: "bookmark" | "lock", text: string, us: number, action: HTMLButtonElement): HTMLLIElement {
    const li = el("li", "evidence__item");
    const swatch = el("span", `evidence__swatch evidence__swatch--${kind}`);
    swatch.setAttribute("aria-hidden", "true");
    const label = el("span", "evidence__text", text);
    label.title = text;
    const go = button("Go", () => this.host.seek(us));
    go.setAttribute("aria-label", `Go to ${clock(us)}`);
    li.append(swatch, label, go, action);
    return li;
  }

  private setClip(inUs: number | null, outUs: number | null): void {
    // Marked the wrong way round: swap rather than refuse.
    if (inUs !== null && outUs !== null && outUs < inUs) [inUs, outUs] = [outUs, inUs];
    this.inUs = inUs;
    this.outUs = outUs;
    this.inText.textContent = inUs === null ? "—" : clock(inUs);
    this.outText.textContent = outUs === null ? "—" : clock(outUs);
    this.clipText.textContent = inUs !== null && outUs !== null ? `(${formatSpan(outUs - inUs)})` : "";
    this.host.clipChanged(inUs, outUs);
  }

  /** In and out, or a sentence saying what is missing. */
  private clip(): [number, number] | null {
    if (this.inUs === null || this.outUs === null || this.outUs - this.inUs < 1e6) {
      this.say("Mark the clip first: In (I) and Out (O) at the playhead, at least a second apart.", true);
      return null;
    }
    return [this.inUs, this.outUs];
  }

  private openLock(): void {
    const clip = this.clip();
    if (!clip) return;
    this.lockWhat.textContent = `Keep ${clock(clip[0])}–${clock(clip[1])} (${formatSpan(clip[1] - clip[0])}) from deletion`;
    this.show(this.lockForm, this.lockReason);
  }

  private openExport(): void {
    const clip = this.clip();
    if (!clip) return;
    this.exportWhat.textContent = `Export ${this.host.cameraName()}, ${clock(clip[0])}–${clock(clip[1])} (${formatSpan(clip[1] - clip[0])}), signed`;
    this.show(this.exportForm, this.exportNote);
  }

  private form(submit: string, onSubmit: () => Promise<void>, ...content: HTMLElement[]): HTMLFormElement {
    const form = el("form", "evidence__form");
    form.hidden = true;
    const buttons = el("div", "evidence__buttons");
    const save = button(submit, () => undefined, "submit");
    save.classList.add("button--primary");
    buttons.append(save, button("Cancel", () => this.closeForms(true)));
    form.append(...content, buttons);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      void onSubmit();
    });
    // Esc closes the form, not the whole panel.
    form.addEventListener("keydown", (e) => {
      if (e.key !== "Escape") return;
      e.preventDefault();
      e.stopPropagation();
      this.closeForms(true);
    });
    this.forms.push(form);
    return form;
  }

  private show(form: HTMLFormElement, focus: HTMLElement): void {
    this.closeForms();
    this.say("");
    form.hidden = false;
    focus.focus();
  }

  private closeForms(refocus = false): void {
    const had = this.forms.some((f) => !f.hidden && f.contains(document.activeElement));
    for (const f of this.forms) f.hidden = true;
    if (refocus || had) this.host.refocus();
  }

  private say(text: string, bad = false): void {
    this.status.textContent = text;
    this.status.dataset["bad"] = String(bad);
  }

  private async saveBookmark(): Promise<void> {
    try {
      await createBookmark(this.host.cameraId(), this.bookmarkUs, this.bookmarkNote.value.trim());
      this.closeForms();
      this.say(`Bookmarked ${clock(this.bookmarkUs)}.`);
      this.host.marksChanged();
    } catch (e) {
      this.say(`Could not bookmark: ${why(e)}`, true);
    }
  }

  private async saveLock(): Promise<void> {
    const clip = this.clip();
    if (!clip) return;
    // A date means to the end of that day, local time.
    const day = this.lockUntil.valueAsDate;
    const until = day ? new Date(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate() + 1).getTime() * 1000 : null;
    try {
      await createLock({ camera_id: this.host.cameraId(), start_us: Math.round(clip[0]), end_us: Math.round(clip[1]), reason: this.lockReason.value.trim(), until_us: until });
      this.closeForms();
      this.say(`Locked ${clock(clip[0])}–${clock(clip[1])}: kept from deletion${day ? ` until the end of ${day.toLocaleDateString(undefined, { timeZone: "UTC" })}` : " until unlocked"}.`);
      this.host.marksChanged();
    } catch (e) {
      this.say(`Could not lock: ${why(e)}`, true);
    }
  }

  private async startExport(): Promise<void> {
    const clip = this.clip();
    if (!clip) return;
    const folder = this.exportFolder.value.trim();
    try {
      const status = await startExport({
        cameras: [this.host.cameraId()],
        from_us: Math.round(clip[0]),
        to_us: Math.round(clip[1]),
        note: this.exportNote.value.trim(),
        ...(folder ? { folder } : {}),
      });
      this.closeForms();
      this.say("");
      this.showExport(status);
    } catch (e) {
      this.say(`Could not export: ${why(e)}`, true);
    }
  }

  /** Progress while running (polled), then where it went and what it says. */
  private showExport(s: ExportStatus): void {
    window.clearTimeout(this.exportTimer);
    this.exportBox.hidden = false;
    this.exportBox.dataset["state"] = s.state;
    const message = el("p", "evidence__message", s.message || "Starting the export…");
    if (s.state === "running") {
      const bar = el("progress", "evidence__progress");
      bar.max = 1;
      bar.value = s.progress;
      bar.setAttribute("aria-label", "Export progress");
      const cancel = button("Cancel export", () => void cancelExport(s.id).then((c) => this.showExport(c), (e: unknown) => this.say(why(e), true)));
      this.exportBox.replaceChildren(bar, message, cancel);
      this.exportTimer = window.setTimeout(() => void this.pollExport(s.id), EXPORT_POLL_MS);
      return;
    }
    if (s.state === "done") {
      const path = el("code", "evidence__path", s.path);
      const check = button("Verify it", () => {
        this.verifyPath.value = s.path;
        void this.verify();
      });
      // The server's sentence repeats the folder; said once here, with how to check it elsewhere.
      const done = el("p", "evidence__done", `Exported ${s.files} files (${(s.bytes / 1e6).toFixed(1)} MB), signed, to:`);
      const hint = el("p", "evidence__hint", "Anyone can check it with “peregrine verify” and this folder, or here:");
      this.exportBox.replaceChildren(done, path, hint, check);
      return;
    }
    this.exportBox.replaceChildren(message);
  }

  private async pollExport(id: number): Promise<void> {
    try {
      this.showExport(await getExport(id));
    } catch (e) {
      this.exportBox.replaceChildren(el("p", "evidence__message", `Lost track of the export: ${why(e)}`));
    }
  }

  private async verify(): Promise<void> {
    const path = this.verifyPath.value.trim();
    if (!path) return;
    this.verdict.hidden = false;
    this.verdict.textContent = "Checking every file against the signed manifest…";
    delete this.verdict.dataset["intact"];
    try {
      const report = await verifyExport(path);
      this.verdict.textContent = report.message;
      this.verdict.dataset["intact"] = String(report.intact);
    } catch (e) {
      this.verdict.textContent = why(e);
      this.verdict.dataset["intact"] = "false";
    }
  }

  private async remove(action: () => Promise<void>, done: string): Promise<void> {
    try {
      await action();
      this.say(done);
      this.host.marksChanged();
    } catch (e) {
      this.say(why(e), true);
    }
  }
}
