// Zones and rules of one camera, drawn with the mouse over its latest
// picture: areas (click the corners, then Save), lines (two clicks; the
// arrow shows the "in" direction: from the left of the line to its right,
// walking from the first point to the second) and masks (areas whose
// detections are ignored). Rules come from templates in two clicks: pick
// one, pick the area or line it watches (the first fitting one is
// preselected), Add.

import {
  ApiError,
  createRuleFromTemplate,
  createZone,
  deleteExclusion,
  deleteRule,
  deleteZone,
  listExclusions,
  listRules,
  listTemplates,
  listZones,
  snapshotUrl,
  updateRule,
  type Camera,
  type Exclusion,
  type Rule,
  type RuleTemplate,
  type Zone,
  type ZoneKind,
} from "./api";
import { el } from "./format";

const SVG = "http://www.w3.org/2000/svg";
const KIND_LABEL: Record<ZoneKind, string> = { zone: "area", line: "line", mask: "mask", privacy: "privacy area" };

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string>): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

const pointsAttr = (points: readonly [number, number][]): string => points.map(([x, y]) => `${x},${y}`).join(" ");

function describe(rule: Rule, zones: readonly Zone[]): string {
  const t = rule.trigger;
  if (t.type === "offline") return `no new picture for ${t.seconds} s · ${rule.priority}`;
  const zoneId = t.type === "cross" ? t.line_id : t.zone_id;
  const place = `“${zones.find((z) => z.id === zoneId)?.name ?? `#${zoneId}`}”`;
  const who = rule.classes.length ? rule.classes.join("/") : "anything";
  let what: string;
  switch (t.type) {
    case "enter":
      what = `enters ${place}`;
      break;
    case "exit":
      what = `leaves ${place}`;
      break;
    case "loiter":
      what = `stays in ${place} over ${t.seconds} s`;
      break;
    case "count":
      what = `${t.at_least}+ in ${place}`;
      break;
    case "cross":
      what = `crosses ${place} (${t.direction})`;
      break;
  }
  const when = rule.schedule ? `, ${rule.schedule.start}–${rule.schedule.end}` : "";
  return `${who} ${what}${when} · ${rule.priority}`;
}

export class RulesDialog {
  readonly element: HTMLDialogElement;
  private readonly title: HTMLHeadingElement;
  private readonly img: HTMLImageElement;
  private readonly overlay: SVGSVGElement;
  private readonly stage: HTMLDivElement;
  private readonly nameInput: HTMLInputElement;
  private readonly drawBar: HTMLDivElement;
  private readonly hint: HTMLParagraphElement;
  private readonly zoneList: HTMLUListElement;
  private readonly ruleList: HTMLUListElement;
  private readonly learntList: HTMLUListElement;
  private readonly templateSelect: HTMLSelectElement;
  private readonly targetSelect: HTMLSelectElement;
  private readonly error: HTMLParagraphElement;
  private camera: Camera | null = null;
  private zones: Zone[] = [];
  private rules: Rule[] = [];
  private templates: RuleTemplate[] = [];
  private exclusions: Exclusion[] = [];
  /** The shape being drawn, if any. */
  private drawing: { kind: ZoneKind; points: [number, number][] } | null = null;

  /** Called after any change, so the grid can redraw privacy areas. */
  constructor(private readonly changed: (cameraId: number, zones: readonly Zone[]) => void = () => undefined) {
    this.element = el("dialog", "dialog rules-dialog");
    this.element.dataset["testid"] = "rules-dialog";
    this.element.setAttribute("aria-labelledby", "rules-dialog-title");
    const body = el("div", "dialog__form");
    this.title = el("h2", "dialog__title");
    this.title.id = "rules-dialog-title";

    this.stage = el("div", "rules__stage");
    this.img = el("img", "rules__img");
    this.img.alt = "The camera's latest picture";
    // The stage takes the picture's aspect ratio, so the overlay maps 0..1 onto the picture exactly.
    this.img.addEventListener("load", () => {
      const ratio = this.img.naturalWidth / Math.max(1, this.img.naturalHeight);
      this.stage.style.maxWidth = `calc(56vh * ${ratio.toFixed(4)})`;
    });
    // A camera saved a moment ago has no picture yet: ask again each second
    // while the dialog is open.
    this.img.addEventListener("error", () => {
      window.setTimeout(() => {
        if (this.element.open && this.camera) this.img.src = snapshotUrl(this.camera.id);
      }, 1_000);
    });
    this.overlay = svg("svg", { class: "rules__overlay", viewBox: "0 0 1 1", preserveAspectRatio: "none" });
    this.stage.append(this.img, this.overlay);
    this.stage.addEventListener("click", (e) => this.addPoint(e));
    this.stage.addEventListener("dblclick", (e) => {
      e.preventDefault();
      void this.saveShape();
    });

    const tools = el("div", "rules__tools");
    for (const kind of ["zone", "line", "mask", "privacy"] as const) {
      const b = this.button(`Draw ${KIND_LABEL[kind]}`, () => this.startDrawing(kind));
      b.dataset["draw"] = kind;
      tools.append(b);
    }
    this.drawBar = el("div", "rules__drawbar");
    this.drawBar.hidden = true;
    this.nameInput = el("input", "rules__name");
    this.nameInput.placeholder = "Name, e.g. Back door";
    this.nameInput.setAttribute("aria-label", "Name of the shape");
    this.nameInput.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        void this.saveShape();
      }
    });
    const save = this.button("Save shape", () => void this.saveShape());
    save.classList.add("button--primary");
    this.drawBar.append(this.nameInput, this.button("Undo point", () => this.undoPoint()), this.button("Cancel", () => this.cancelDrawing()), save);
    this.hint = el("p", "rules__hint", "Pick what to draw, then click on the picture.");

    this.zoneList = el("ul", "rules__list");
    this.zoneList.dataset["testid"] = "zone-list";
    this.ruleList = el("ul", "rules__list");
    this.ruleList.dataset["testid"] = "rule-list";
    this.learntList = el("ul", "rules__list");
    this.learntList.dataset["testid"] = "learnt-list";
    const add = el("div", "rules__add");
    this.templateSelect = el("select");
    this.templateSelect.setAttribute("aria-label", "Rule template");
    this.templateSelect.addEventListener("change", () => this.fillTargets());
    this.targetSelect = el("select");
    this.targetSelect.setAttribute("aria-label", "Area or line the rule watches");
    const addButton = this.button("Add rule", () => void this.addRule());
    addButton.dataset["testid"] = "add-rule";
    add.append(this.templateSelect, this.targetSelect, addButton);
    this.error = el("p", "dialog__error");
    this.error.setAttribute("role", "alert");

    const buttons = el("div", "dialog__buttons");
    buttons.append(this.button("Done", () => this.element.close()));
    body.append(this.title, this.stage, tools, this.drawBar, this.hint, el("h3", "rules__heading", "Areas, lines and masks"), this.zoneList, el("h3", "rules__heading", "Rules"), this.ruleList, add, el("h3", "rules__heading", "Learnt false alarms"), this.learntList, this.error, buttons);
    this.element.append(body);
    this.element.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.drawing) {
        e.preventDefault();
        this.cancelDrawing();
      } else if (e.key === "Backspace" && this.drawing && e.target !== this.nameInput) {
        e.preventDefault();
        this.undoPoint();
      }
    });
  }

  async open(camera: Camera): Promise<void> {
    this.camera = camera;
    this.title.textContent = `Zones and rules · ${camera.name}`;
    this.img.src = snapshotUrl(camera.id);
    this.cancelDrawing();
    this.error.textContent = "";
    if (!this.element.open) this.element.showModal();
    await this.reload();
  }

  private async reload(): Promise<void> {
    if (!this.camera) return;
    try {
      const id = this.camera.id;
      const [zones, rules, templates, exclusions] = await Promise.all([listZones(id), listRules(id), listTemplates(), listExclusions(id)]);
      this.zones = zones;
      this.rules = rules;
      this.templates = templates;
      this.exclusions = exclusions;
      this.changed(id, zones);
    } catch (err) {
      this.fail(err);
    }
    this.render();
  }

  private render(): void {
    this.overlay.replaceChildren(...this.zones.map((z) => this.shape(z.kind, z.points, false)));
    if (this.drawing) this.overlay.append(this.shape(this.drawing.kind, this.drawing.points, true));
    this.zoneList.replaceChildren(
      ...this.zones.map((z) => {
        const li = el("li", "rules__item");
        li.dataset["zoneKind"] = z.kind;
        const remove = this.button("Delete", () => void this.run(async () => deleteZone(z.id)));
        remove.setAttribute("aria-label", `Delete ${z.name}`);
        li.append(el("span", `rules__swatch rules__swatch--${z.kind}`), el("span", "rules__label", `${z.name} (${KIND_LABEL[z.kind]})`), remove);
        return li;
      }),
    );
    if (this.zones.length === 0) this.zoneList.append(el("li", "rules__empty", "Nothing drawn yet."));
    this.ruleList.replaceChildren(
      ...this.rules.map((r) => {
        const li = el("li", "rules__item");
        li.dataset["testid"] = "rule";
        const on = el("input");
        on.type = "checkbox";
        on.checked = r.enabled;
        on.setAttribute("aria-label", `${r.name} armed`);
        on.addEventListener("change", () => void this.run(async () => void (await updateRule(r.id, { enabled: on.checked }))));
        const remove = this.button("Delete", () => void this.run(async () => deleteRule(r.id)));
        remove.setAttribute("aria-label", `Delete rule ${r.name}`);
        const text = el("span", "rules__label");
        text.append(el("strong", undefined, r.name), document.createTextNode(` — ${describe(r, this.zones)}`));
        li.append(on, text, remove);
        return li;
      }),
    );
    if (this.rules.length === 0) this.ruleList.append(el("li", "rules__empty", "No rules: pick a template below."));
    this.learntList.replaceChildren(
      ...this.exclusions.map((x) => {
        const li = el("li", "rules__item");
        const where = `${Math.round((x.box.x + x.box.w / 2) * 100)}% across, ${Math.round((x.box.y + x.box.h) * 100)}% down`;
        const look = x.colours.length ? `, ${x.colours.join("/")}` : "";
        const undo = this.button("Undo", () => void this.run(async () => deleteExclusion(x.id)));
        undo.setAttribute("aria-label", `Stop suppressing ${x.class} at ${where}`);
        li.append(el("span", "rules__label", `${x.class} at ${where}${look} — kept ${x.suppressed} repeat${x.suppressed === 1 ? "" : "s"} quiet`), undo);
        return li;
      }),
    );
    if (this.exclusions.length === 0) this.learntList.append(el("li", "rules__empty", "None: mark an alarm as a false alarm to keep its repeats quiet."));
    const chosen = this.templateSelect.value;
    this.templateSelect.replaceChildren(
      ...this.templates.map((t) => {
        const o = el("option", undefined, t.name);
        o.value = t.id;
        o.title = t.description;
        return o;
      }),
    );
    if (chosen) this.templateSelect.value = chosen;
    this.fillTargets();
  }

  /** The areas (or lines) the chosen template can watch; the first is preselected. */
  private fillTargets(): void {
    const template = this.templates.find((t) => t.id === this.templateSelect.value);
    if (template && template.needs === null) {
      const whole = el("option", undefined, "The whole camera");
      whole.value = "camera";
      this.targetSelect.replaceChildren(whole);
      return;
    }
    const fitting = this.zones.filter((z) => z.kind === template?.needs);
    this.targetSelect.replaceChildren(
      ...fitting.map((z) => {
        const o = el("option", undefined, z.name);
        o.value = String(z.id);
        return o;
      }),
    );
    if (fitting.length === 0 && template?.needs) {
      const o = el("option", undefined, `Draw a ${KIND_LABEL[template.needs]} first`);
      o.value = "";
      this.targetSelect.append(o);
    }
  }

  private shape(kind: ZoneKind, points: readonly [number, number][], draft: boolean): SVGGElement {
    const g = svg("g", { class: `rules__shape rules__shape--${kind}${draft ? " rules__shape--draft" : ""}` });
    if (kind === "line" || points.length < 3) {
      g.append(svg("polyline", { points: pointsAttr(points), "vector-effect": "non-scaling-stroke" }));
      const [a, b] = points;
      if (kind === "line" && a && b) {
        // The "in" arrow: from the middle, towards the right of a→b (y grows downwards).
        const mx = (a[0] + b[0]) / 2;
        const my = (a[1] + b[1]) / 2;
        const len = Math.hypot(b[0] - a[0], b[1] - a[1]) || 1;
        const nx = (-(b[1] - a[1]) / len) * 0.06;
        const ny = ((b[0] - a[0]) / len) * 0.06;
        g.append(svg("line", { x1: String(mx), y1: String(my), x2: String(mx + nx), y2: String(my + ny), class: "rules__arrow", "vector-effect": "non-scaling-stroke" }));
        g.append(svg("circle", { cx: String(mx + nx), cy: String(my + ny), r: "0.008", class: "rules__arrowhead" }));
      }
    } else {
      g.append(svg("polygon", { points: pointsAttr(points), "vector-effect": "non-scaling-stroke" }));
    }
    if (draft) for (const [x, y] of points) g.append(svg("circle", { cx: String(x), cy: String(y), r: "0.006", class: "rules__vertex" }));
    return g;
  }

  private startDrawing(kind: ZoneKind): void {
    this.drawing = { kind, points: [] };
    this.drawBar.hidden = false;
    this.nameInput.value = "";
    this.stage.dataset["drawing"] = kind;
    this.hint.textContent =
      kind === "line"
        ? "Click the line's two ends. The arrow shows the inbound direction (swap the clicks to flip it)."
        : "Click the corners, then name it and Save (or double-click). Backspace removes the last point, Esc cancels.";
    this.render();
  }

  private addPoint(e: MouseEvent): void {
    if (!this.drawing || e.detail > 1) return;
    const r = this.img.getBoundingClientRect();
    const x = Math.min(1, Math.max(0, (e.clientX - r.left) / r.width));
    const y = Math.min(1, Math.max(0, (e.clientY - r.top) / r.height));
    if (this.drawing.kind === "line" && this.drawing.points.length >= 2) return;
    this.drawing.points.push([Number(x.toFixed(4)), Number(y.toFixed(4))]);
    this.render();
    if (this.drawing.kind === "line" && this.drawing.points.length === 2) this.nameInput.focus();
  }

  private undoPoint(): void {
    this.drawing?.points.pop();
    this.render();
  }

  private cancelDrawing(): void {
    this.drawing = null;
    this.drawBar.hidden = true;
    delete this.stage.dataset["drawing"];
    this.hint.textContent = "Pick what to draw, then click on the picture.";
    this.render();
  }

  private async saveShape(): Promise<void> {
    const d = this.drawing;
    if (!d || !this.camera) return;
    const name = this.nameInput.value.trim() || `${KIND_LABEL[d.kind][0]?.toUpperCase()}${KIND_LABEL[d.kind].slice(1)} ${this.zones.length + 1}`;
    const camera = this.camera.id;
    await this.run(async () => {
      await createZone(camera, { name, kind: d.kind, points: d.points });
      this.cancelDrawing();
    });
  }

  private async addRule(): Promise<void> {
    const template = this.templateSelect.value;
    const wholeCamera = this.targetSelect.value === "camera";
    const target = Number(this.targetSelect.value);
    if (!this.camera || !template || (!wholeCamera && !target)) {
      this.error.textContent = "Draw the area or line this rule watches first.";
      return;
    }
    const camera = this.camera.id;
    await this.run(async () => void (await createRuleFromTemplate(camera, template, wholeCamera ? null : target)));
  }

  /** Runs a change, shows its error (the API's sentence) if any, and reloads. */
  private async run(change: () => Promise<void>): Promise<void> {
    try {
      await change();
      this.error.textContent = "";
    } catch (err) {
      this.fail(err);
    }
    await this.reload();
  }

  private fail(err: unknown): void {
    this.error.textContent = err instanceof ApiError ? err.message : "The server did not answer; try again.";
  }

  private button(text: string, onClick: () => void): HTMLButtonElement {
    const b = el("button", "button", text);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }
}
