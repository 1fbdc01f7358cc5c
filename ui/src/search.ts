// Search in plain words: the operator types a sentence ("person in red at
// the back door last night"), presses Enter and gets the clips. What the
// server understood shows as chips under the box, each removable (the
// edited filter is then searched as is); words it did not understand are
// said plainly, never dropped. Results are cards, one per track (or per
// moment, for counts), that play the recording from 3 s before the object
// appeared. Keys: / focuses the box, Enter searches, arrows move between
// cards, Enter plays one, Esc clears and goes back to live.

import {
  ApiError,
  SessionExpiredError,
  getExport,
  search,
  startExport,
  type ChipKind,
  type ExportStatus,
  type SearchAnswer,
  type SearchChip,
  type SearchFilter,
  type SearchRequest,
  type SearchResult,
} from "./api";
import { classColour, namedColour } from "./colours";
import { dateOfUs, el, formatClock, formatSpan } from "./format";

const PAGE = 48;
/** A card plays from this long before its object appeared… */
const LEAD_US = 3_000_000;
/** …or from the first recorded moment up to this long after that. */
const SNAP_US = 10_000_000;
/** "More like this": this far either side of the result. */
const LIKE_SPAN_US = 3_600_000_000;
/** An export takes this much more on each side of the result. */
const EXPORT_MARGIN_US = 5_000_000;
const EXPORT_POLL_MS = 500;

/** Said before a chip's label where the label alone would be unclear. */
const KIND_TEXT: Partial<Record<ChipKind, string>> = { camera: "Camera", zone: "Zone", time: "When", time_of_day: "Hours" };

export interface SearchOptions {
  /** Every camera, to find the id of a camera chip being removed. */
  cameras: () => { id: number; name: string }[];
  /** Plays a camera's recording from `us` (UTC µs). */
  play: (cameraId: number, us: number, snapUs: number) => void;
  /** Results shown (true) or gone (false): the live grid gives way to them. */
  onActive: (active: boolean) => void;
  onExpired: () => void;
}

const why = (e: unknown): string => (e instanceof ApiError ? e.message : "the server did not answer");
const iso = (us: number): string => dateOfUs(us).toISOString();
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;

/** "Tue 1 Dec 17:02:13", local. */
function when(us: number): string {
  const d = dateOfUs(us);
  return `${d.toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short" })} ${formatClock(d)}`;
}

/** Short spans to a tenth of a second; longer ones as "3 min 20 s". */
const duration = (s: number): string => (s < 10 ? `${s.toFixed(1)} s` : formatSpan(s * 1e6));

/** The filter without what `chip` asked for. Time chips narrow each other, so one goes with all. */
function withoutChip(filter: SearchFilter, chip: SearchChip, cameraId: number | null): SearchFilter {
  const f: SearchFilter = structuredClone(filter);
  switch (chip.kind) {
    case "class": {
      const gone = new Set(chip.label.split(", "));
      f.classes = f.classes.filter((c) => !gone.has(c));
      break;
    }
    case "color":
      f.colors = f.colors.filter((c) => c !== chip.label);
      break;
    case "camera":
      f.cameras = f.cameras.filter((id) => id !== cameraId);
      break;
    case "zone":
      f.zones = f.zones.filter((z) => z !== chip.label);
      break;
    case "time":
      f.from = null;
      f.to = null;
      break;
    case "time_of_day":
      f.time_of_day = null;
      break;
    case "count":
      f.min_count = null;
      break;
    case "dwell":
      f.min_dwell_s = null;
      break;
    case "direction":
      f.direction = null;
      break;
    case "alerts":
      f.alerts_only = false;
      break;
  }
  return f;
}

export class SearchPanel {
  readonly element: HTMLElement;
  private readonly summary = el("p", "search__summary");
  private readonly chipList = el("ul", "search__chips");
  private readonly unknown = el("p", "search__unknown");
  private readonly error = el("p", "search__error");
  private readonly status = el("div", "search__status");
  private readonly grid = el("ol", "search__grid");
  private readonly empty = el("div", "search__empty");
  private readonly more: HTMLButtonElement;
  private q = "";
  private filter: SearchFilter | null = null;
  private chips: SearchChip[] = [];
  private unknownWords: string[] = [];
  private results: SearchResult[] = [];
  private cursor: string | null = null;
  private abort: AbortController | null = null;
  private exportTimer: number | undefined;
  active = false;

  constructor(
    form: HTMLFormElement,
    private readonly input: HTMLInputElement,
    private readonly options: SearchOptions,
  ) {
    this.element = el("section", "search");
    this.element.hidden = true;
    this.element.dataset["testid"] = "search-results";
    this.element.setAttribute("aria-labelledby", "search-title");
    const head = el("header", "search__head");
    const title = el("h2", "visually-hidden", "Search results");
    title.id = "search-title";
    const back = this.button("Back to live (Esc)", "Close the search and show the cameras", () => this.close());
    back.dataset["testid"] = "search-back";
    this.summary.setAttribute("role", "status");
    this.summary.dataset["testid"] = "search-summary";
    head.append(title, back, this.summary);
    this.chipList.setAttribute("aria-label", "Understood as");
    this.unknown.dataset["testid"] = "search-unknown";
    this.unknown.hidden = true;
    this.error.setAttribute("role", "alert");
    this.error.hidden = true;
    this.status.setAttribute("role", "status");
    this.status.dataset["testid"] = "search-status";
    this.status.hidden = true;
    this.grid.setAttribute("aria-label", "Results: arrows move, Enter plays");
    this.grid.addEventListener("keydown", (e) => this.onGridKey(e));
    this.empty.hidden = true;
    this.empty.dataset["testid"] = "search-empty";
    this.more = this.button("Load more", "Load the next results", () => void this.loadMore());
    this.more.classList.add("search__more");
    this.more.hidden = true;
    const keys = el("p", "search__keys");
    keys.innerHTML = "<kbd>/</kbd> search · <kbd>←</kbd><kbd>↑</kbd><kbd>↓</kbd><kbd>→</kbd> move · <kbd>Enter</kbd> play · <kbd>Esc</kbd> back to live";
    this.element.append(head, this.chipList, this.unknown, this.error, this.status, this.grid, this.empty, this.more, keys);

    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    // Not a submit button, so that the page's first "button[type=submit]" is still an open dialog's.
    form.querySelector("#search-go")?.addEventListener("click", () => form.requestSubmit());
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        this.submit();
      } else if (e.key === "Escape") {
        // A search field would only clear its text; here Esc also leaves the results.
        e.preventDefault();
        this.close();
      } else if (e.key === "ArrowDown" && this.active) {
        const first = this.grid.querySelector<HTMLElement>(".result");
        if (first) {
          e.preventDefault();
          first.focus();
        }
      }
    });
  }

  /** `/`: to the box, its text selected for a new sentence. */
  focus(): void {
    this.input.focus();
    this.input.select();
  }

  /** Back to live: the results go, the box empties. */
  close(): void {
    this.abort?.abort();
    window.clearTimeout(this.exportTimer);
    const hadFocus = this.element.contains(document.activeElement) || document.activeElement === this.input;
    this.input.value = "";
    this.grid.replaceChildren();
    this.results = [];
    this.status.hidden = true;
    this.element.removeAttribute("aria-busy");
    if (hadFocus) (document.activeElement as HTMLElement | null)?.blur();
    if (!this.active) return;
    this.active = false;
    this.element.hidden = true;
    this.options.onActive(false);
  }

  private submit(): void {
    const q = this.input.value.trim();
    if (!q) return;
    this.q = q;
    // The last sentence's chips must not pass for this one's while it runs (or fails).
    this.renderChips([], []);
    void this.run({ q, limit: PAGE }, null);
  }

  /**
   * Runs a search. `shown`: the chips and unknown words to show (an edited
   * filter, "more like this"); null: what the server understood of `q`.
   */
  private async run(request: SearchRequest, shown: { chips: SearchChip[]; unknown: string[] } | null, append = false): Promise<void> {
    this.abort?.abort();
    const abort = new AbortController();
    this.abort = abort;
    if (!this.active) {
      this.active = true;
      this.element.hidden = false;
      this.options.onActive(true);
    }
    this.element.setAttribute("aria-busy", "true");
    this.error.hidden = true;
    if (!append) this.summary.textContent = "Searching…";
    if (shown) this.renderChips(shown.chips, shown.unknown);
    let answer: SearchAnswer;
    try {
      answer = await search(request, abort.signal);
    } catch (e) {
      if (abort.signal.aborted) return;
      this.element.removeAttribute("aria-busy");
      if (e instanceof SessionExpiredError) {
        this.options.onExpired();
        return;
      }
      this.error.textContent = `Search failed: ${why(e)}`;
      this.error.hidden = false;
      if (!append) this.summary.textContent = "";
      return;
    }
    if (abort.signal.aborted) return;
    this.element.removeAttribute("aria-busy");
    if (!append) {
      this.filter = answer.filter;
      this.results = [];
      this.grid.replaceChildren();
      if (!shown) this.renderChips(answer.chips, answer.unknown_words);
    }
    const first = this.results.length;
    this.results.push(...answer.results);
    this.grid.append(...answer.results.map((r) => this.card(r)));
    this.cursor = answer.next_cursor;
    this.more.hidden = this.cursor === null;
    const n = this.results.length;
    this.summary.textContent = `${plural(n, "result")} in ${answer.took_ms} ms${this.cursor ? " · more to load" : ""}`;
    this.summary.dataset["tookMs"] = String(answer.took_ms);
    this.renderEmpty(n === 0);
    if (append) this.grid.querySelectorAll<HTMLElement>(".result")[first]?.focus();
  }

  private loadMore(): Promise<void> {
    if (!this.filter || !this.cursor) return Promise.resolve();
    return this.run({ q: this.q, filter: this.filter, limit: PAGE, cursor: this.cursor }, null, true);
  }

  private renderChips(chips: SearchChip[], unknown: string[]): void {
    this.chips = chips;
    this.unknownWords = unknown;
    this.chipList.replaceChildren(...chips.map((c, i) => this.chip(c, i)));
    this.chipList.hidden = chips.length === 0;
    this.unknown.hidden = unknown.length === 0;
    this.unknown.textContent = `Not understood: ${unknown.join(", ")}`;
  }

  private chip(c: SearchChip, index: number): HTMLLIElement {
    const li = el("li", "chip");
    li.dataset["testid"] = "search-chip";
    li.dataset["kind"] = c.kind;
    li.dataset["label"] = c.label;
    li.dataset["words"] = c.words;
    const guess = c.confidence < 1;
    const kind = KIND_TEXT[c.kind];
    if (kind) li.append(el("span", "chip__kind", kind));
    if (c.kind === "color") li.append(this.swatch(c.label));
    if (c.kind === "class") li.style.setProperty("--class-colour", classColour(c.label.split(", ")[0] ?? c.label));
    const label = el("span", "chip__label", guess ? `≈ ${c.label} ${Math.round(c.confidence * 100)}%` : c.label);
    li.append(label);
    if (guess) {
      li.classList.add("chip--guess");
      li.title = `A guess: “${c.words}” read as ${c.label} (${Math.round(c.confidence * 100)}% alike)`;
    } else li.title = `From “${c.words}”`;
    const remove = el("button", "chip__remove", "×");
    remove.type = "button";
    remove.setAttribute("aria-label", `Remove ${kind ? kind.toLowerCase() + " " : ""}${c.label}`);
    remove.addEventListener("click", () => this.removeChip(index));
    li.append(remove);
    return li;
  }

  /** Drops a chip and searches the edited filter as is. */
  private removeChip(index: number): void {
    const chip = this.chips[index];
    if (!chip || !this.filter) return;
    const cameraId = chip.kind === "camera" ? this.cameraIdOf(chip) : null;
    const filter = withoutChip(this.filter, chip, cameraId);
    const timeKinds: ChipKind[] = ["time", "time_of_day"];
    const left = this.chips.filter((c, i) => i !== index && !(timeKinds.includes(chip.kind) && c.kind === chip.kind));
    void this.run({ q: this.q, filter, limit: PAGE }, { chips: left, unknown: this.unknownWords });
    // Keyboard users stay among the chips (or go back to the box).
    const next = this.chipList.querySelectorAll<HTMLButtonElement>(".chip__remove")[Math.min(index, left.length - 1)];
    (next ?? this.input).focus();
  }

  /** A camera chip's id: by its name, else its place among the filter's cameras. */
  private cameraIdOf(chip: SearchChip): number | null {
    const cameras = this.filter?.cameras ?? [];
    const named = this.options.cameras().find((c) => c.name === chip.label && cameras.includes(c.id));
    if (named) return named.id;
    const at = this.chips.filter((c) => c.kind === "camera").indexOf(chip);
    return cameras[at] ?? null;
  }

  /** Same class, colours and camera, an hour either side. */
  private moreLike(r: SearchResult): void {
    const from = r.first_seen - LIKE_SPAN_US;
    const to = r.last_seen + LIKE_SPAN_US;
    const filter: SearchFilter = {
      classes: [r.class],
      colors: [...r.colours],
      cameras: [r.camera_id],
      zones: [],
      from: iso(from),
      to: iso(to),
      time_of_day: null,
      min_count: null,
      min_dwell_s: null,
      direction: null,
      alerts_only: false,
    };
    const chip = (kind: ChipKind, label: string): SearchChip => ({ kind, label, words: "more like this", confidence: 1 });
    const chips = [
      chip("class", r.class),
      ...r.colours.map((c) => chip("color", c)),
      chip("camera", r.camera_name),
      chip("time", `${when(from)} → ${when(to)}`),
    ];
    this.q = `more like the ${r.class} on ${r.camera_name} at ${when(r.first_seen)}`;
    this.input.value = "";
    void this.run({ q: this.q, filter, limit: PAGE }, { chips, unknown: [] });
  }

  /** No results: what was searched, and how to widen it. */
  private renderEmpty(none: boolean): void {
    this.empty.hidden = !none;
    if (!none) return;
    const understood = this.chips.map((c) => c.label).join(" · ");
    const lines = [el("p", "search__nothing", `Nothing found for “${this.q}”${understood ? ` (${understood})` : ""}.`)];
    const time = this.chips.find((c) => c.kind === "time" || c.kind === "time_of_day");
    if (time) {
      lines.push(el("p", undefined, `Widen it: remove “${time.label}” (×) or ask for a longer time, or remove another chip.`));
    } else if (this.chips.length > 0) {
      lines.push(el("p", undefined, "Widen it: remove a chip (×) above."));
    }
    lines.push(el("p", "search__hint", "Objects are stored once they leave the picture: someone still in view is not found yet."));
    this.empty.replaceChildren(...lines);
  }

  private card(r: SearchResult): HTMLLIElement {
    const li = el("li", "search__item");
    const card = el("article", "result");
    card.tabIndex = 0;
    card.dataset["testid"] = "search-result";
    card.dataset["cameraId"] = String(r.camera_id);
    card.dataset["firstSeen"] = String(r.first_seen);
    if (r.track_id !== null) card.dataset["trackId"] = String(r.track_id);
    const what = r.kind === "moment" && r.count !== null ? `${r.count} × ${r.class}` : r.class;
    card.setAttribute("aria-label", `${what} on ${r.camera_name}, ${when(r.first_seen)}, ${duration(r.duration_s)}${r.alert_ids.length ? ", alarm" : ""}. Enter plays it.`);

    const thumb = el("div", "result__thumb");
    const placeholder = (): HTMLElement => el("span", "result__none", "No picture");
    if (r.thumbnail_url) {
      const img = el("img", "result__img");
      img.loading = "lazy";
      img.alt = "";
      img.src = r.thumbnail_url;
      img.addEventListener("error", () => img.replaceWith(placeholder()), { once: true });
      thumb.append(img);
    } else thumb.append(placeholder());
    thumb.append(el("span", "result__duration", duration(r.duration_s)));
    if (r.alert_ids.length > 0) {
      const badge = el("span", "result__alert", r.alert_ids.length === 1 ? "Alarm" : `${r.alert_ids.length} alarms`);
      badge.title = `Alarm ${r.alert_ids.map((id) => `#${id}`).join(", ")}`;
      thumb.append(badge);
    }
    if (r.kind === "moment" && r.count !== null) thumb.append(el("span", "result__count", `${r.count} together`));

    const body = el("div", "result__body");
    const top = el("p", "result__top");
    const cls = el("span", "result__class", r.class);
    cls.style.setProperty("--class-colour", classColour(r.class));
    top.append(cls, el("span", "result__cam", r.camera_name));
    const time = el("time", "result__when", when(r.first_seen));
    time.dateTime = r.start;
    body.append(top, time);
    const colours = this.colours(r);
    if (colours) body.append(colours);
    const actions = el("div", "result__actions");
    const like = this.button("More like this", "Same class, colours and camera, an hour either side", () => this.moreLike(r));
    like.dataset["testid"] = "more-like-this";
    const exp = this.button("Export", "Export this clip (5 s either side), signed", () => void this.exportClip(r));
    exp.dataset["testid"] = "export-result";
    actions.append(like, exp);
    body.append(actions);
    card.append(thumb, body);

    card.addEventListener("click", (e) => {
      if (!(e.target as Element | null)?.closest("button")) this.play(r);
    });
    card.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && e.target === card) {
        e.preventDefault();
        this.play(r);
      }
    });
    li.append(card);
    return li;
  }

  /** Named swatches: top and bottom for people when known, else the object's colours. */
  private colours(r: SearchResult): HTMLElement | null {
    const groups: [string, string[]][] =
      r.upper_colours.length || r.lower_colours.length
        ? [["top", r.upper_colours], ["bottom", r.lower_colours]]
        : [["", r.colours]];
    const items = groups.filter(([, cs]) => cs.length > 0);
    if (items.length === 0) return null;
    const box = el("div", "result__colours");
    box.setAttribute("aria-label", "Colours");
    for (const [part, cs] of items) {
      const line = el("p", "result__colour-line");
      if (part) line.append(el("span", "result__part", part));
      for (const c of cs) {
        const s = el("span", "swatch");
        s.append(this.swatch(c), document.createTextNode(c));
        line.append(s);
      }
      box.append(line);
    }
    return box;
  }

  private swatch(name: string): HTMLElement {
    const dot = el("span", "swatch__dot");
    dot.style.setProperty("--swatch", namedColour(name));
    dot.setAttribute("aria-hidden", "true");
    return dot;
  }

  private play(r: SearchResult): void {
    this.options.play(r.camera_id, r.first_seen - LEAD_US, LEAD_US + SNAP_US);
  }

  /** The result's span, 5 s more each side, exported signed; progress, then the folder. */
  private async exportClip(r: SearchResult): Promise<void> {
    const from = r.first_seen - EXPORT_MARGIN_US;
    const to = r.last_seen + EXPORT_MARGIN_US;
    const what = `${r.camera_name} ${formatClock(dateOfUs(from))}–${formatClock(dateOfUs(to))}`;
    try {
      const status = await startExport({ cameras: [r.camera_id], from_us: Math.round(from), to_us: Math.round(to), note: `Search: ${this.q}` });
      this.showExport(what, status);
    } catch (e) {
      this.say(`Could not export ${what}: ${why(e)}`, true);
    }
  }

  private showExport(what: string, s: ExportStatus): void {
    window.clearTimeout(this.exportTimer);
    if (s.state === "running") {
      this.say(`Exporting ${what}… ${Math.round(s.progress * 100)}%`, false);
      this.exportTimer = window.setTimeout(() => {
        getExport(s.id).then((next) => this.showExport(what, next), (e: unknown) => this.say(`Lost track of the export: ${why(e)}`, true));
      }, EXPORT_POLL_MS);
    } else if (s.state === "done") {
      this.say(`Exported ${what}: ${s.files} files (${(s.bytes / 1e6).toFixed(1)} MB), signed, to `, false);
      this.status.append(el("code", "search__path", s.path));
    } else this.say(s.message || `Export ${s.state}.`, true);
  }

  private say(text: string, bad: boolean): void {
    this.status.textContent = text;
    this.status.dataset["bad"] = String(bad);
    this.status.hidden = false;
  }

  /** Arrows move between cards (up and down by a row), Home and End to the ends. */
  private onGridKey(e: KeyboardEvent): void {
    if (e.ctrlKey || e.metaKey || e.altKey || e.shiftKey) return;
    const cards = [...this.grid.querySelectorAll<HTMLElement>(".result")];
    const at = cards.findIndex((c) => c.contains(e.target as Node));
    if (at < 0) return;
    const top = cards[0]?.offsetTop ?? 0;
    const columns = Math.max(1, cards.filter((c) => c.offsetTop === top).length);
    const step: Record<string, number> = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -columns, ArrowDown: columns };
    let next: number;
    if (e.key in step) next = at + (step[e.key] ?? 0);
    else if (e.key === "Home") next = 0;
    else if (e.key === "End") next = cards.length - 1;
    else return;
    e.preventDefault();
    if (next < 0 && e.key === "ArrowUp") {
      this.input.focus();
      return;
    }
    const card = cards[Math.max(0, Math.min(cards.length - 1, next))];
    card?.focus();
    card?.scrollIntoView({ block: "nearest" });
  }

  private button(text: string, title: string, onClick: () => void): HTMLButtonElement {
    const b = el("button", "button button--small", text);
    b.type = "button";
    b.title = title;
    b.addEventListener("click", onClick);
    return b;
  }
}
