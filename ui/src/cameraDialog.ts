// "Add camera": RTSP URL and credentials, a "Test connection" that says what
// the stream holds (or what is wrong) before saving, and field errors from
// the API shown beside the field they name. The password is never echoed.

import { ApiError, createCamera, testConnection, type Camera, type CameraInput } from "./api";
import { el } from "./format";

const FIELDS = ["name", "url", "username", "password", "detect_fps"] as const;
type Field = (typeof FIELDS)[number];

export class CameraDialog {
  readonly element: HTMLDialogElement;
  private readonly form: HTMLFormElement;
  private readonly inputs = new Map<Field, HTMLInputElement>();
  private readonly errors = new Map<Field, HTMLElement>();
  private readonly result: HTMLParagraphElement;

  constructor(private readonly saved: (camera: Camera) => void) {
    this.element = el("dialog", "dialog");
    this.element.setAttribute("aria-labelledby", "camera-dialog-title");
    this.element.dataset["testid"] = "camera-dialog";
    this.form = el("form", "dialog__form");
    this.form.method = "dialog";
    const title = el("h2", "dialog__title", "Add camera");
    title.id = "camera-dialog-title";
    this.form.append(title);
    this.field("name", "Name", "text", "Back door");
    this.field("url", "RTSP URL", "text", "rtsp://192.168.1.20:554/stream1");
    this.field("username", "Username (optional)", "text", "");
    this.field("password", "Password (optional)", "password", "");
    this.field("detect_fps", "Detections per second", "number", "5");
    const fps = this.inputs.get("detect_fps");
    if (fps) {
      fps.value = "5";
      fps.min = "0.1";
      fps.max = "30";
      fps.step = "0.1";
    }
    this.result = el("p", "dialog__result");
    this.result.setAttribute("role", "status");
    this.result.dataset["testid"] = "connection-result";
    const buttons = el("div", "dialog__buttons");
    const test = this.button("Test connection", "button", () => void this.test());
    const cancel = this.button("Cancel", "button", () => this.element.close());
    const save = this.button("Save", "submit", () => undefined);
    save.classList.add("button--primary");
    buttons.append(test, cancel, save);
    this.form.append(this.result, buttons);
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.save();
    });
    this.element.append(this.form);
  }

  open(): void {
    this.form.reset();
    this.inputs.get("detect_fps")!.value = "5";
    this.clearErrors();
    this.result.textContent = "";
    this.element.showModal();
    this.inputs.get("name")?.focus();
  }

  private field(name: Field, label: string, type: string, placeholder: string): void {
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
    this.form.append(wrap);
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
    const body: CameraInput = { name: this.value("name"), url: this.value("url") };
    if (this.value("username")) body.username = this.value("username");
    const password = this.inputs.get("password")?.value ?? "";
    if (password) body.password = password;
    const fps = Number(this.value("detect_fps"));
    if (this.value("detect_fps") !== "") body.detect_fps = fps;
    return body;
  }

  private async test(): Promise<void> {
    this.clearErrors();
    this.result.textContent = "Connecting…";
    const { url, username, password } = this.input();
    try {
      const report = await testConnection({ url, ...(username ? { username } : {}), ...(password ? { password } : {}) });
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
      const camera = await createCamera(this.input());
      const password = this.inputs.get("password");
      if (password) password.value = "";
      this.element.close();
      this.saved(camera);
    } catch (e) {
      this.showError(e);
    }
  }

  private showError(e: unknown): void {
    const field = e instanceof ApiError ? (e.field as Field | undefined) : undefined;
    const message = e instanceof Error ? e.message : String(e);
    const slot = field ? this.errors.get(field) : undefined;
    if (slot) {
      slot.textContent = message;
      this.inputs.get(field!)?.setAttribute("aria-invalid", "true");
      this.inputs.get(field!)?.focus();
      this.result.textContent = "";
    } else {
      this.result.textContent = message;
      this.result.dataset["ok"] = "false";
    }
  }

  private clearErrors(): void {
    for (const [name, slot] of this.errors) {
      slot.textContent = "";
      this.inputs.get(name)?.removeAttribute("aria-invalid");
    }
    delete this.result.dataset["ok"];
  }
}
