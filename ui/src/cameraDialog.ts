// "Add camera" / "Edit camera": RTSP URL and credentials, a "Test
// connection" that says what the stream holds (or what is wrong) before
// saving, and field errors from the API shown beside the field they name.
// The password is never echoed: editing leaves it unchanged unless retyped.
// Recording: off, continuous or only around detections (with the seconds
// kept before and after), and how many days to keep (blank: the default).

import {
  ApiError,
  createCamera,
  deleteCamera,
  onvifDiscover,
  onvifProbe,
  testConnection,
  updateCamera,
  type Camera,
  type CameraInput,
  type CameraPatch,
  type RecordMode,
} from "./api";
import { el } from "./format";

const FIELDS = ["name", "url", "sub_url", "username", "password", "detect_fps", "classes", "min_score", "pre_roll_s", "post_roll_s", "retain_days"] as const;
type Field = (typeof FIELDS)[number];
/** Fields the API may name in an error: the inputs and the recording mode. */
type ErrorField = Field | "record_mode";

const MODES: readonly [RecordMode, string][] = [
  ["continuous", "Continuous"],
  ["events", "Only around detections"],
  ["off", "Off"],
];

export class CameraDialog {
  readonly element: HTMLDialogElement;
  private readonly form: HTMLFormElement;
  private readonly inputs = new Map<Field, HTMLInputElement>();
  private readonly errors = new Map<ErrorField, HTMLElement>();
  private readonly mode = el("select");
  private readonly result: HTMLParagraphElement;
  private readonly title: HTMLHeadingElement;
  private readonly enabled: HTMLInputElement;
  private readonly enabledRow: HTMLLabelElement;
  private readonly remove: HTMLButtonElement;
  /** The camera being edited; null when adding. */
  private editing: Camera | null = null;

  private readonly rulesButton: HTMLButtonElement;
  private readonly recordingsButton: HTMLButtonElement;
  private readonly onvifHost = el("input");
  private readonly onvifResults = el("div");
  private readonly discovered = el("div");

  constructor(
    /** `created`: a new camera rather than an edit. */
    private readonly saved: (camera: Camera, created: boolean) => void,
    private readonly deleted: (id: number) => void,
    private readonly openRules: (camera: Camera) => void,
    private readonly openRecordings: (camera: Camera) => void,
  ) {
    this.element = el("dialog", "dialog");
    this.element.setAttribute("aria-labelledby", "camera-dialog-title");
    this.element.dataset["testid"] = "camera-dialog";
    this.form = el("form", "dialog__form");
    this.form.method = "dialog";
    this.title = el("h2", "dialog__title", "Add camera");
    this.title.id = "camera-dialog-title";
    this.form.append(this.title);
    this.field("name", "Name", "text", "Back door");
    this.field("url", "RTSP URL (live view and recording)", "text", "rtsp://192.168.1.20:554/stream1");
    this.field("sub_url", "Detection stream URL (optional: the camera's sub stream)", "text", "rtsp://192.168.1.20:554/stream2");
    this.field("username", "Username (optional)", "text", "");
    this.field("password", "Password (optional)", "password", "");
    this.form.append(this.onvifFinder());
    this.field("detect_fps", "Detections per second", "number", "5");
    this.field("classes", "Detect only (comma-separated, empty for all)", "text", "person, car, truck");
    this.field("min_score", "Minimum score", "number", "0.5");
    const score = this.inputs.get("min_score");
    if (score) {
      score.min = "0.3";
      score.max = "0.95";
      score.step = "0.05";
    }
    const fps = this.inputs.get("detect_fps");
    if (fps) {
      fps.value = "5";
      fps.min = "0.1";
      fps.max = "30";
      fps.step = "0.1";
    }
    this.form.append(this.recordingSection());
    this.enabledRow = el("label", "dialog__check");
    this.enabled = el("input");
    this.enabled.type = "checkbox";
    this.enabled.id = "camera-enabled";
    this.enabledRow.append(this.enabled, document.createTextNode(" Enabled"));
    this.form.append(this.enabledRow);
    this.result = el("p", "dialog__result");
    this.result.setAttribute("role", "status");
    this.result.dataset["testid"] = "connection-result";
    const buttons = el("div", "dialog__buttons");
    this.remove = this.button("Delete", "button", () => void this.delete());
    this.remove.classList.add("button--danger");
    this.rulesButton = this.button("Zones and rules…", "button", () => {
      const camera = this.editing;
      this.element.close();
      if (camera) this.openRules(camera);
    });
    this.rulesButton.dataset["testid"] = "open-rules";
    this.recordingsButton = this.button("Recordings…", "button", () => {
      const camera = this.editing;
      this.element.close();
      if (camera) this.openRecordings(camera);
    });
    this.recordingsButton.dataset["testid"] = "dialog-recordings";
    const test = this.button("Test connection", "button", () => void this.test());
    const cancel = this.button("Cancel", "button", () => this.element.close());
    const save = this.button("Save", "submit", () => undefined);
    save.classList.add("button--primary");
    buttons.append(this.remove, this.rulesButton, this.recordingsButton, test, cancel, save);
    this.form.append(this.result, buttons);
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.save();
    });
    this.element.append(this.form);
  }

  /** Add a camera. */
  open(): void {
    this.show(null);
  }

  /** Add a camera, starting with a search of the network for ONVIF cameras. */
  openAndDiscover(): void {
    this.show(null);
    void this.findCameras();
  }

  /** Edit a camera: its fields filled in, the password left blank (unchanged). */
  openEdit(camera: Camera): void {
    this.show(camera);
  }

  private show(camera: Camera | null): void {
    this.editing = camera;
    this.form.reset();
    this.clearErrors();
    this.result.textContent = "";
    this.title.textContent = camera ? `Edit ${camera.name}` : "Add camera";
    this.remove.hidden = camera === null;
    this.rulesButton.hidden = camera === null;
    this.recordingsButton.hidden = camera === null;
    this.enabledRow.hidden = camera === null;
    this.enabled.checked = camera?.enabled ?? true;
    const set = (name: Field, value: string): void => {
      const input = this.inputs.get(name);
      if (input) input.value = value;
    };
    set("name", camera?.name ?? "");
    set("url", camera?.url ?? "");
    set("sub_url", camera?.sub_url ?? "");
    this.onvifResults.replaceChildren();
    this.discovered.replaceChildren();
    this.onvifHost.value = "";
    set("username", camera?.username ?? "");
    set("detect_fps", String(camera?.detect_fps ?? 5));
    set("classes", camera?.classes?.join(", ") ?? "");
    set("min_score", String(camera?.min_score ?? 0.5));
    this.mode.value = camera?.record_mode ?? "continuous";
    set("pre_roll_s", String(camera?.pre_roll_s ?? 5));
    set("post_roll_s", String(camera?.post_roll_s ?? 10));
    set("retain_days", camera?.retain_days == null ? "" : String(camera.retain_days));
    const password = this.inputs.get("password");
    if (password) password.placeholder = camera?.has_password ? "unchanged (type to replace)" : "";
    this.syncRolls();
    this.element.showModal();
    this.inputs.get("name")?.focus();
  }

  /**
   * ONVIF: the camera's address (and the username and password above) →
   * its streams, each with buttons that fill in the URL fields.
   */
  private onvifFinder(): HTMLElement {
    const wrap = el("div", "dialog__field");
    const label = el("label", undefined, "Or find the streams with ONVIF: the camera's address");
    label.htmlFor = "camera-onvif-host";
    const row = el("div", "dialog__row");
    this.onvifHost.id = "camera-onvif-host";
    this.onvifHost.placeholder = "192.168.1.20 or 192.168.1.20:8080";
    this.onvifHost.autocomplete = "off";
    const find = this.button("Find streams", "button", () => void this.findStreams());
    find.dataset["testid"] = "onvif-find";
    const search = this.button("Find cameras on this network", "button", () => void this.findCameras());
    search.dataset["testid"] = "onvif-discover";
    row.append(this.onvifHost, find, search);
    this.onvifResults.className = "dialog__onvif";
    this.onvifResults.setAttribute("role", "status");
    this.discovered.className = "dialog__onvif";
    this.discovered.setAttribute("role", "status");
    this.discovered.dataset["testid"] = "onvif-found";
    wrap.append(label, row, this.discovered, this.onvifResults);
    return wrap;
  }

  /** WS-Discovery: the ONVIF cameras on this network, each a button that picks it. */
  private async findCameras(): Promise<void> {
    this.discovered.replaceChildren(el("p", undefined, "Looking for cameras on this network (3 s)…"));
    try {
      const { cameras } = await onvifDiscover();
      if (cameras.length === 0) {
        this.discovered.replaceChildren(
          el("p", "dialog__error", "No ONVIF camera answered. Check that the cameras are on this machine's network and have ONVIF on, or type a camera's address."),
        );
        return;
      }
      const list = el("ul", "dialog__profiles");
      for (const c of cameras) {
        const li = el("li", "dialog__profile");
        li.dataset["testid"] = "onvif-camera";
        const make = [c.manufacturer, c.model].filter(Boolean).join(" ") || "Unknown make";
        li.append(el("span", undefined, `${make}${c.name ? ` “${c.name}”` : ""} at ${c.host}:${c.port}`));
        li.append(
          this.button("Pick", "button", () => {
            this.onvifHost.value = `${c.host}:${c.port}`;
            if (!this.value("name") && c.name) this.setValue("name", c.name);
            this.onvifResults.replaceChildren(el("p", undefined, "Type its username and password above, then Find streams."));
            this.inputs.get("username")?.focus();
          }),
        );
        list.append(li);
      }
      this.discovered.replaceChildren(el("p", undefined, `${cameras.length} camera${cameras.length === 1 ? "" : "s"} found:`), list);
    } catch (e) {
      this.discovered.replaceChildren(el("p", "dialog__error", e instanceof Error ? e.message : String(e)));
    }
  }

  private async findStreams(): Promise<void> {
    const raw = this.onvifHost.value.trim();
    // host:port; an IPv6 address (several colons) is taken whole.
    const parts = raw.split(":");
    const host = parts.length === 2 ? (parts[0] ?? "") : raw;
    const port = parts.length === 2 && /^\d+$/.test(parts[1] ?? "") ? Number(parts[1]) : undefined;
    this.onvifResults.replaceChildren(el("p", undefined, "Asking the camera…"));
    const username = this.value("username");
    const password = this.inputs.get("password")?.value ?? "";
    try {
      const report = await onvifProbe({ host, ...(port ? { port } : {}), ...(username ? { username } : {}), ...(password ? { password } : {}) });
      const d = report.device;
      const rows = report.profiles.map((p) => {
        const li = el("li", "dialog__profile");
        const size = p.width && p.height ? ` · ${p.width}×${p.height}` : "";
        const fps = p.fps ? ` · ${p.fps} fps` : "";
        li.append(el("span", undefined, `${p.name}: ${p.encoding}${size}${fps}`));
        const live = this.button("Use for live", "button", () => this.setValue("url", p.stream_uri));
        const detect = this.button("Use for detection", "button", () => this.setValue("sub_url", p.stream_uri));
        li.append(live, detect);
        return li;
      });
      const list = el("ul", "dialog__profiles");
      list.append(...rows);
      this.onvifResults.replaceChildren(el("p", undefined, `${d.manufacturer} ${d.model} (firmware ${d.firmware}): ${report.profiles.length} stream${report.profiles.length === 1 ? "" : "s"}`), list);
      if (report.profiles[0] && !this.value("url")) this.setValue("url", report.profiles[0].stream_uri);
    } catch (e) {
      this.onvifResults.replaceChildren(el("p", "dialog__error", e instanceof Error ? e.message : String(e)));
    }
  }

  private setValue(name: Field, value: string): void {
    const input = this.inputs.get(name);
    if (input) input.value = value;
  }

  /** Recording: the mode, the seconds kept around a detection, the days kept. */
  private recordingSection(): HTMLFieldSetElement {
    const section = el("fieldset", "dialog__section");
    section.append(el("legend", undefined, "Recording"));
    const wrap = el("div", "dialog__field");
    const label = el("label", undefined, "Record");
    label.htmlFor = "camera-record_mode";
    this.mode.id = "camera-record_mode";
    this.mode.name = "record_mode";
    for (const [value, text] of MODES) {
      const option = el("option", undefined, text);
      option.value = value;
      this.mode.append(option);
    }
    const error = el("p", "dialog__error");
    error.id = "camera-record_mode-error";
    this.mode.setAttribute("aria-describedby", error.id);
    this.errors.set("record_mode", error);
    wrap.append(label, this.mode, error);
    const rolls = el("div", "dialog__pair");
    section.append(wrap, rolls);
    this.field("pre_roll_s", "Seconds kept before a detection", "number", "5", rolls);
    this.field("post_roll_s", "Seconds kept after", "number", "10", rolls);
    this.field("retain_days", "Keep video for (days; blank: the default)", "number", "default", section);
    for (const [name, max] of [["pre_roll_s", "60"], ["post_roll_s", "600"], ["retain_days", "3650"]] as const) {
      const input = this.inputs.get(name);
      if (!input) continue;
      input.min = "0";
      input.max = max;
      input.step = "any";
    }
    const sync = (): void => {
      // The seconds around a detection only matter in that mode.
      for (const name of ["pre_roll_s", "post_roll_s"] as const) {
        const input = this.inputs.get(name);
        if (input) input.disabled = this.mode.value !== "events";
      }
    };
    this.mode.addEventListener("change", sync);
    this.syncRolls = sync;
    return section;
  }

  private syncRolls: () => void = () => undefined;

  private field(name: Field, label: string, type: string, placeholder: string, parent: HTMLElement = this.form): void {
    const id = `camera-${name}`;
    const wrap = el("div", "dialog__field");
    const labelEl = el("label", undefined, label);
    labelEl.htmlFor = id;
    const input = el("input");
    input.id = id;
    input.name = name;
    input.type = type;
    input.placeholder = placeholder;
    input.autocomplete = type === "password" ? "new-password" : "off";
    const error = el("p", "dialog__error");
    error.id = `${id}-error`;
    input.setAttribute("aria-describedby", error.id);
    wrap.append(labelEl, input, error);
    parent.append(wrap);
    this.inputs.set(name, input);
    this.errors.set(name, error);
  }

  private button(text: string, type: "button" | "submit", onClick: () => void): HTMLButtonElement {
    const b = el("button", "button", text);
    b.type = type;
    b.addEventListener("click", onClick);
    return b;
  }

  private value(name: Field): string {
    return this.inputs.get(name)?.value.trim() ?? "";
  }

  private input(): CameraInput {
    const body: CameraInput = { name: this.value("name"), url: this.value("url"), sub_url: this.value("sub_url") || null };
    if (this.value("username")) body.username = this.value("username");
    const password = this.inputs.get("password")?.value ?? "";
    if (password) body.password = password;
    if (this.value("detect_fps") !== "") body.detect_fps = Number(this.value("detect_fps"));
    body.classes = this.classes();
    if (this.value("min_score") !== "") body.min_score = Number(this.value("min_score"));
    body.record_mode = this.mode.value as RecordMode;
    if (this.value("pre_roll_s") !== "") body.pre_roll_s = Number(this.value("pre_roll_s"));
    if (this.value("post_roll_s") !== "") body.post_roll_s = Number(this.value("post_roll_s"));
    body.retain_days = this.value("retain_days") === "" ? null : Number(this.value("retain_days"));
    return body;
  }

  /** The classes typed, or null for all. */
  private classes(): string[] | null {
    const names = this.value("classes")
      .split(",")
      .map((c) => c.trim())
      .filter((c) => c !== "");
    return names.length > 0 ? names : null;
  }

  private async test(): Promise<void> {
    this.clearErrors();
    this.result.textContent = "Connecting…";
    const { url, username, password } = this.input();
    try {
      const report = await testConnection({
        url,
        ...(username ? { username } : {}),
        ...(password ? { password } : {}),
        ...(this.editing ? { camera_id: this.editing.id } : {}),
      });
      if (report.ok) {
        const s = report.stream;
        const fps = s.fps === null ? "" : ` · ${s.fps.toFixed(1)} fps`;
        this.result.textContent = `Works: ${s.codec}${s.profile ? ` ${s.profile}` : ""} · ${s.width}×${s.height}${fps} · ${s.audio ? "with" : "no"} audio`;
        this.result.dataset["ok"] = "true";
      } else {
        this.result.textContent = report.message;
        this.result.dataset["ok"] = "false";
      }
    } catch (e) {
      this.showError(e);
    }
  }

  private async save(): Promise<void> {
    this.clearErrors();
    try {
      const camera = this.editing ? await updateCamera(this.editing.id, this.patch(this.editing)) : await createCamera(this.input());
      const password = this.inputs.get("password");
      if (password) password.value = "";
      const created = this.editing === null;
      this.element.close();
      this.saved(camera, created);
    } catch (e) {
      this.showError(e);
    }
  }

  /** Only what changed; a blank password keeps the stored one. */
  private patch(camera: Camera): CameraPatch {
    const input = this.input();
    const patch: CameraPatch = {};
    if (input.name !== camera.name) patch.name = input.name;
    if (input.url !== camera.url) patch.url = input.url;
    if ((input.sub_url ?? null) !== camera.sub_url) patch.sub_url = input.sub_url ?? null;
    const username = input.username ?? null;
    if (username !== camera.username) patch.username = username;
    if (input.password) patch.password = input.password;
    if (input.detect_fps !== undefined && input.detect_fps !== camera.detect_fps) patch.detect_fps = input.detect_fps;
    if (this.enabled.checked !== camera.enabled) patch.enabled = this.enabled.checked;
    if ((input.classes ?? []).join(",") !== (camera.classes ?? []).join(",")) patch.classes = input.classes ?? null;
    if (input.min_score !== undefined && input.min_score !== camera.min_score) patch.min_score = input.min_score;
    if (input.record_mode !== undefined && input.record_mode !== camera.record_mode) patch.record_mode = input.record_mode;
    if (input.pre_roll_s !== undefined && input.pre_roll_s !== camera.pre_roll_s) patch.pre_roll_s = input.pre_roll_s;
    if (input.post_roll_s !== undefined && input.post_roll_s !== camera.post_roll_s) patch.post_roll_s = input.post_roll_s;
    if ((input.retain_days ?? null) !== camera.retain_days) patch.retain_days = input.retain_days ?? null;
    return patch;
  }

  private async delete(): Promise<void> {
    const camera = this.editing;
    if (!camera || !window.confirm(`Delete ${camera.name} and its detections?`)) return;
    try {
      await deleteCamera(camera.id);
      this.element.close();
      this.deleted(camera.id);
    } catch (e) {
      this.showError(e);
    }
  }

  private showError(e: unknown): void {
    const field = e instanceof ApiError ? (e.field as ErrorField | undefined) : undefined;
    const message = e instanceof Error ? e.message : String(e);
    const slot = field ? this.errors.get(field) : undefined;
    if (slot && field) {
      slot.textContent = message;
      const control = field === "record_mode" ? this.mode : this.inputs.get(field);
      control?.setAttribute("aria-invalid", "true");
      control?.focus();
      this.result.textContent = "";
    } else {
      this.result.textContent = message;
      this.result.dataset["ok"] = "false";
    }
  }

  private clearErrors(): void {
    for (const [name, slot] of this.errors) {
      slot.textContent = "";
      (name === "record_mode" ? this.mode : this.inputs.get(name))?.removeAttribute("aria-invalid");
    }
    delete this.result.dataset["ok"];
  }
}
