// Settings (the top bar's button, or ,): how many cameras this machine
// handles (measured on the bundled footage, ~30 s, with a countdown), how
// long video is kept and how much disk it may take, this installation's
// signing key (to check an export elsewhere), and who searched for what.
// The banner under the top bar asks for a first measurement, or says when
// more cameras are enabled than the last one found this machine handles.

import {
  ApiError,
  getEvidenceKey,
  getMachine,
  getRecordingSettings,
  listSearchAudit,
  measureMachine,
  saveRecordingSettings,
  type MachineReport,
  type RecordingSettings,
  type RecordingSettingsView,
} from "./api";
import { el, formatBytes, formatClock } from "./format";

/** The server's default, said on the button and counted down while it runs. */
const MEASURE_S = 30;
const AUDIT_ROWS = 20;
const GB = 1e9;

const LATER_KEY = "peregrine.measureLater";
const DISMISSED_WARNING_KEY = "peregrine.machineWarningDismissed";

const why = (e: unknown): string => (e instanceof ApiError ? e.message : "the server did not answer");

/** The API's "max_total_bytes: must be …, or null" as said beside the field: "Must be …, or blank". */
function fieldReason(message: string, field: string): string {
  const reason = message.startsWith(`${field}: `) ? message.slice(field.length + 2) : message;
  return (reason.charAt(0).toUpperCase() + reason.slice(1)).replace(/\bor null\b/, "or blank");
}

/** "Tue 1 Dec 2026, 17:02:13", local. */
function localTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "—";
  return `${d.toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short", year: "numeric" })}, ${formatClock(d)}`;
}

/** Bytes as a GB figure for an input: "5", "0.25"; no float noise. */
const gbValue = (bytes: number): string => String(Number((bytes / GB).toFixed(3)));

function remembered(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function remember(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    // Not remembered: it shows again next time.
  }
}

function button(text: string, onClick: () => void, type: "button" | "submit" = "button"): HTMLButtonElement {
  const b = el("button", "button", text);
  b.type = type;
  if (type === "button") b.addEventListener("click", onClick);
  return b;
}

/** A <dt>/<dd> pair. */
function fact(list: HTMLDListElement, term: string, value: string | HTMLElement): HTMLElement {
  const row = el("div", "settings__fact");
  const dd = el("dd");
  dd.append(value);
  row.append(el("dt", undefined, term), dd);
  list.append(row);
  return dd;
}

function section(id: string, title: string): HTMLElement {
  const s = el("section", "settings__section");
  s.setAttribute("aria-labelledby", id);
  const h = el("h3", "settings__heading", title);
  h.id = id;
  s.append(h);
  return s;
}

/** The first-run (or too-many-cameras) banner under the top bar. */
export class MachineBanner {
  private readonly text = el("p", "banner__text");
  private readonly buttons = el("div", "banner__buttons");

  constructor(
    private readonly element: HTMLElement,
    private readonly measureNow: () => void,
  ) {
    this.element.append(this.text, this.buttons);
  }

  show(report: MachineReport): void {
    if (!report.measured) {
      if (remembered(LATER_KEY)) return this.hide();
      const now = button("Measure now", () => {
        this.hide();
        this.measureNow();
      });
      now.classList.add("button--primary");
      now.dataset["testid"] = "measure-now";
      const later = button("Later", () => {
        remember(LATER_KEY, "1");
        this.hide();
      });
      later.dataset["testid"] = "measure-later";
      this.set("info", `Measure this machine (${MEASURE_S} s) to see how many cameras it handles`, now, later);
      return;
    }
    // A dismissed warning stays dismissed until it says something else (another camera count).
    const warning = report.warning;
    if (warning === null || remembered(DISMISSED_WARNING_KEY) === warning) return this.hide();
    const dismiss = button("Dismiss", () => {
      remember(DISMISSED_WARNING_KEY, warning);
      this.hide();
    });
    dismiss.setAttribute("aria-label", "Dismiss the warning");
    this.set("warn", warning, dismiss);
  }

  hide(): void {
    this.element.hidden = true;
  }

  private set(kind: "info" | "warn", text: string, ...buttons: HTMLButtonElement[]): void {
    this.element.dataset["kind"] = kind;
    this.text.textContent = text;
    this.buttons.replaceChildren(...buttons);
    this.element.hidden = false;
  }
}

export interface SettingsOptions {
  /** A measurement finished: the banner follows it. */
  measured: (report: MachineReport) => void;
}

export class SettingsDialog {
  readonly element: HTMLDialogElement;
  // This machine.
  private readonly summary = el("p", "settings__summary");
  private readonly table = el("table", "settings__table");
  private readonly tableBody = el("tbody");
  private readonly facts = el("dl", "settings__facts");
  private readonly warning = el("p", "settings__warning");
  private readonly measureButton: HTMLButtonElement;
  private readonly progress = el("div", "settings__progress");
  private readonly countdown = el("span", "settings__countdown");
  private readonly machineStatus = el("p", "settings__status");
  private measuring = false;
  private countdownTimer: number | undefined;
  // Recording.
  private readonly recordingForm = el("form", "settings__form");
  private readonly inputs = new Map<keyof RecordingSettings, HTMLInputElement>();
  private readonly errors = new Map<keyof RecordingSettings, HTMLElement>();
  private readonly disk = el("dl", "settings__facts");
  private readonly recordingStatus = el("p", "settings__status");
  // Evidence.
  private readonly key = el("code", "settings__code");
  private readonly verifyCommand = el("code", "settings__code");
  private readonly keyStatus = el("p", "settings__status");
  // Search audit.
  private readonly audit = el("tbody");
  private readonly auditStatus = el("p", "settings__status");

  constructor(private readonly options: SettingsOptions) {
    this.element = el("dialog", "dialog settings");
    this.element.setAttribute("aria-labelledby", "settings-title");
    this.element.dataset["testid"] = "settings";
    const head = el("header", "settings__head");
    const title = el("h2", "dialog__title", "Settings");
    title.id = "settings-title";
    const close = button("Close (Esc)", () => this.element.close());
    close.setAttribute("aria-label", "Close the settings");
    head.append(title, close);

    this.measureButton = button(`Measure this machine (${MEASURE_S} s)`, () => void this.measure());
    this.measureButton.dataset["testid"] = "measure";
    const body = el("div", "settings__body");
    body.append(this.machineSection(), this.recordingSection(), this.evidenceSection(), this.auditSection());
    this.element.append(head, body);
  }

  /** Opens with every section fetched afresh. */
  open(): void {
    this.clearErrors();
    this.recordingStatus.textContent = "";
    this.keyStatus.textContent = "";
    if (!this.element.open) this.element.showModal();
    void this.loadMachine();
    void this.loadRecording();
    void this.loadKey();
    void this.loadAudit();
  }

  /** From the banner: open and start measuring at once. */
  openAndMeasure(): void {
    this.open();
    void this.measure();
  }

  // ---- This machine ---------------------------------------------------------

  private machineSection(): HTMLElement {
    const s = section("settings-machine", "This machine");
    this.summary.dataset["testid"] = "machine-summary";
    this.table.dataset["testid"] = "machine-table";
    const caption = el("caption", undefined, "Cameras it handles at each detection rate");
    const head = el("thead");
    const row = el("tr");
    for (const text of ["Detections per second (each camera)", "Cameras"]) {
      const th = el("th", undefined, text);
      th.scope = "col";
      row.append(th);
    }
    head.append(row);
    this.table.append(caption, head, this.tableBody);
    this.table.hidden = true;
    this.facts.hidden = true;
    this.warning.hidden = true;
    this.warning.dataset["testid"] = "machine-warning";
    // Indeterminate: how far along is not known, only how long it should take.
    const bar = el("progress", "settings__bar");
    bar.setAttribute("aria-label", "Measuring this machine");
    this.countdown.dataset["testid"] = "measure-countdown";
    this.progress.append(bar, this.countdown);
    this.progress.hidden = true;
    this.machineStatus.setAttribute("role", "status");
    this.machineStatus.dataset["testid"] = "machine-status";
    const actions = el("div", "settings__actions");
    actions.append(this.measureButton);
    s.append(this.summary, this.warning, this.table, this.facts, this.progress, actions, this.machineStatus);
    return s;
  }

  private async loadMachine(): Promise<void> {
    if (this.measuring) return;
    try {
      this.showMachine(await getMachine());
    } catch (e) {
      this.summary.textContent = `Could not load the last measurement: ${why(e)}`;
    }
  }

  private showMachine(report: MachineReport): void {
    if (!report.measured) {
      this.summary.textContent = `Not measured yet. Measuring decodes the bundled footage and runs the detector for about ${MEASURE_S} s, then says how many cameras this machine handles.`;
      this.table.hidden = true;
      this.facts.hidden = true;
      this.warning.hidden = true;
      return;
    }
    const r = report.recommendation;
    this.summary.textContent = r.summary;
    this.tableBody.replaceChildren(
      ...r.cameras_at_fps.map(([fps, cameras]) => {
        const tr = el("tr");
        const recommended = fps === r.detect_fps;
        if (recommended) tr.dataset["recommended"] = "true";
        tr.append(el("td", undefined, recommended ? `${fps} (recommended)` : String(fps)), el("td", undefined, String(cameras)));
        return tr;
      }),
    );
    this.table.hidden = false;
    this.facts.replaceChildren();
    fact(this.facts, "Detector threads", String(r.detector_threads));
    fact(this.facts, "Cameras enabled", String(report.cameras_enabled));
    fact(this.facts, "Measured", localTime(report.measured_at));
    this.facts.hidden = false;
    this.warning.textContent = report.warning ?? "";
    this.warning.hidden = report.warning === null;
  }

  private async measure(): Promise<void> {
    if (this.measuring) return;
    this.measuring = true;
    this.measureButton.disabled = true;
    this.progress.hidden = false;
    this.machineStatus.textContent = `Measuring: decoding the bundled footage and running the detector (about ${MEASURE_S} s). Other work on this machine slows it.`;
    const started = performance.now();
    const tick = (): void => {
      const left = Math.max(0, Math.ceil(MEASURE_S - (performance.now() - started) / 1_000));
      this.countdown.textContent = left > 0 ? `${left} s` : "Finishing…";
    };
    tick();
    this.countdownTimer = window.setInterval(tick, 250);
    try {
      const report = await measureMachine(MEASURE_S);
      this.showMachine(report);
      this.machineStatus.textContent = `Measured in ${Math.round((performance.now() - started) / 1_000)} s.`;
      this.options.measured(report);
    } catch (e) {
      this.machineStatus.textContent = `Could not measure: ${why(e)}`;
    } finally {
      window.clearInterval(this.countdownTimer);
      this.progress.hidden = true;
      this.measuring = false;
      this.measureButton.disabled = false;
    }
  }

  // ---- Recording ------------------------------------------------------------

  private recordingSection(): HTMLElement {
    const s = section("settings-recording", "Recording");
    const note = el("p", "settings__note", "For every camera without a setting of its own. The oldest video goes first when a limit is reached.");
    this.field("retain_days", "Keep video for (days)", "1", "3650");
    this.field("max_total_bytes", "Cap on all video (GB; blank: no cap)", "0.1", "");
    this.field("min_free_bytes", "Keep free on the disk (GB)", "0", "");
    this.disk.dataset["testid"] = "recording-disk";
    this.recordingStatus.setAttribute("role", "status");
    this.recordingStatus.dataset["testid"] = "recording-status";
    const actions = el("div", "settings__actions");
    const save = button("Save", () => undefined, "submit");
    save.classList.add("button--primary");
    save.dataset["testid"] = "recording-save";
    actions.append(save);
    this.recordingForm.append(actions, this.recordingStatus);
    // The server's reasons, beside their fields, rather than the browser's bubbles.
    this.recordingForm.noValidate = true;
    this.recordingForm.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.saveRecording();
    });
    s.append(note, this.recordingForm, this.disk);
    return s;
  }

  private field(name: keyof RecordingSettings, label: string, min: string, max: string): void {
    const id = `settings-${name}`;
    const wrap = el("div", "dialog__field");
    const l = el("label", undefined, label);
    l.htmlFor = id;
    const input = el("input");
    input.id = id;
    input.name = name;
    input.type = "number";
    input.inputMode = "decimal";
    input.step = "any";
    input.min = min;
    if (max) input.max = max;
    input.autocomplete = "off";
    const error = el("p", "dialog__error");
    error.id = `${id}-error`;
    error.dataset["testid"] = `${name}-error`;
    input.setAttribute("aria-describedby", error.id);
    wrap.append(l, input, error);
    this.recordingForm.append(wrap);
    this.inputs.set(name, input);
    this.errors.set(name, error);
  }

  private async loadRecording(): Promise<void> {
    try {
      this.showRecording(await getRecordingSettings());
    } catch (e) {
      this.recordingStatus.textContent = `Could not load: ${why(e)}`;
    }
  }

  private showRecording(view: RecordingSettingsView): void {
    const set = (name: keyof RecordingSettings, value: string): void => {
      const input = this.inputs.get(name);
      if (input) input.value = value;
    };
    set("retain_days", String(view.retain_days));
    set("max_total_bytes", view.max_total_bytes === null ? "" : gbValue(view.max_total_bytes));
    set("min_free_bytes", gbValue(view.min_free_bytes));
    this.disk.replaceChildren();
    const folder = el("code", "settings__code", view.folder);
    folder.dataset["testid"] = "recording-folder";
    fact(this.disk, "Folder", folder);
    fact(this.disk, "Used by video", formatBytes(view.used_bytes)).dataset["testid"] = "recording-used";
    fact(this.disk, "Free on the disk", view.free_bytes === null ? "unknown" : formatBytes(view.free_bytes));
  }

  /** The form's numbers, GB as bytes; null (with the field's error said) when one is not a number. */
  private recordingInput(): RecordingSettings | null {
    const number = (name: keyof RecordingSettings, blankOk: boolean): number | null | undefined => {
      const raw = this.inputs.get(name)?.value.trim() ?? "";
      if (raw === "" && blankOk) return null;
      const n = Number(raw);
      if (raw !== "" && Number.isFinite(n)) return n;
      this.fieldError(name, "Enter a number.");
      return undefined;
    };
    const days = number("retain_days", false);
    const cap = number("max_total_bytes", true);
    const free = number("min_free_bytes", false);
    if (days == null || cap === undefined || free == null) return null;
    return { retain_days: days, max_total_bytes: cap === null ? null : Math.round(cap * GB), min_free_bytes: Math.round(free * GB) };
  }

  private async saveRecording(): Promise<void> {
    this.clearErrors();
    this.recordingStatus.textContent = "";
    const settings = this.recordingInput();
    if (!settings) return;
    try {
      this.showRecording(await saveRecordingSettings(settings));
      this.recordingStatus.textContent = "Saved.";
    } catch (e) {
      const field = e instanceof ApiError ? (e.field as keyof RecordingSettings | undefined) : undefined;
      if (field && this.errors.has(field)) this.fieldError(field, fieldReason(why(e), field));
      else this.recordingStatus.textContent = `Could not save: ${why(e)}`;
    }
  }

  private fieldError(name: keyof RecordingSettings, message: string): void {
    const slot = this.errors.get(name);
    if (slot) slot.textContent = message;
    const input = this.inputs.get(name);
    input?.setAttribute("aria-invalid", "true");
    input?.focus();
  }

  private clearErrors(): void {
    for (const [name, slot] of this.errors) {
      slot.textContent = "";
      this.inputs.get(name)?.removeAttribute("aria-invalid");
    }
  }

  // ---- Evidence -------------------------------------------------------------

  private evidenceSection(): HTMLElement {
    const s = section("settings-evidence", "Evidence");
    const note = el("p", "settings__note", "Exports are signed with this installation's key. Whoever receives one can check it with:");
    this.key.dataset["testid"] = "public-key";
    this.key.setAttribute("aria-label", "Public key");
    this.verifyCommand.dataset["testid"] = "verify-command";
    const row = el("div", "settings__key");
    const copy = button("Copy key", () => void this.copyKey());
    copy.classList.add("button--small");
    copy.dataset["testid"] = "copy-key";
    row.append(this.key, copy);
    this.keyStatus.setAttribute("role", "status");
    s.append(el("p", "settings__label", "Public key"), row, note, this.verifyCommand, this.keyStatus);
    return s;
  }

  private async loadKey(): Promise<void> {
    try {
      const key = await getEvidenceKey();
      this.key.textContent = key;
      this.verifyCommand.textContent = `peregrine verify FOLDER --key ${key}`;
    } catch (e) {
      this.keyStatus.textContent = `Could not load the key: ${why(e)}`;
    }
  }

  private async copyKey(): Promise<void> {
    const key = this.key.textContent ?? "";
    if (!key) return;
    try {
      await navigator.clipboard.writeText(key);
      this.keyStatus.textContent = "Copied.";
    } catch {
      // No clipboard access (a browser setting): select it for Ctrl+C instead.
      const range = document.createRange();
      range.selectNodeContents(this.key);
      window.getSelection()?.removeAllRanges();
      window.getSelection()?.addRange(range);
      this.keyStatus.textContent = "Selected: press Ctrl+C to copy.";
    }
  }

  // ---- Search audit ---------------------------------------------------------

  private auditSection(): HTMLElement {
    const s = section("settings-audit", "Search audit");
    const note = el("p", "settings__note", `Who searched the recordings for what: the last ${AUDIT_ROWS}, newest first.`);
    const table = el("table", "settings__table settings__audit");
    table.dataset["testid"] = "audit";
    const head = el("thead");
    const row = el("tr");
    for (const text of ["When", "Who", "Searched for"]) {
      const th = el("th", undefined, text);
      th.scope = "col";
      row.append(th);
    }
    head.append(row);
    table.append(head, this.audit);
    s.append(note, table, this.auditStatus);
    return s;
  }

  private async loadAudit(): Promise<void> {
    try {
      const entries = (await listSearchAudit()).slice(0, AUDIT_ROWS);
      this.audit.replaceChildren(
        ...entries.map((a) => {
          const tr = el("tr");
          tr.dataset["testid"] = "audit-row";
          tr.append(el("td", "settings__when", localTime(a.at)), el("td", undefined, a.actor), el("td", "settings__query", a.query));
          return tr;
        }),
      );
      this.auditStatus.textContent = entries.length === 0 ? "No searches yet." : "";
    } catch (e) {
      this.auditStatus.textContent = `Could not load the audit log: ${why(e)}`;
    }
  }
}

/** The last measurement, for the banner; null when the server did not answer. */
export const lastMachineReport = (): Promise<MachineReport | null> => getMachine().catch(() => null);
