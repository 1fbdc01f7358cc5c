// The live grid's layout: 1, 2×2, 3×3 or 4×4 columns, one camera on its
// own, full screen, and the operator's tile order (drag to reorder, or
// Shift+←/→ on a tile). The layout and order are remembered in this browser
// (localStorage).

const COLUMNS = [1, 2, 3, 4] as const;
const LAYOUT_KEY = "peregrine.grid.columns";
const ORDER_KEY = "peregrine.grid.order";

function load<T>(key: string, fallback: T): T {
  try {
    const raw = localStorage.getItem(key);
    return raw === null ? fallback : (JSON.parse(raw) as T);
  } catch {
    return fallback;
  }
}

function save(key: string, value: unknown): void {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Private mode or full storage: the layout just is not remembered.
  }
}

export class GridLayout {
  private columns: number;
  private dragged: HTMLElement | null = null;

  private readonly buttons: HTMLButtonElement[];

  constructor(
    private readonly grid: HTMLElement,
    buttons: Iterable<HTMLButtonElement> = [],
  ) {
    const saved = load<number>(LAYOUT_KEY, 2);
    this.columns = (COLUMNS as readonly number[]).includes(saved) ? saved : 2;
    this.buttons = [...buttons];
    for (const b of this.buttons) b.addEventListener("click", () => this.setColumns(Number(b.dataset["columns"])));
    this.apply();
    const tileOf = (e: Event): HTMLElement | null =>
      e.target instanceof Element ? e.target.closest<HTMLElement>("[data-camera-id]") : null;
    let over: HTMLElement | null = null;
    const mark = (tile: HTMLElement | null): void => {
      over?.classList.remove("tile--drop-target");
      over = tile && tile !== this.dragged ? tile : null;
      over?.classList.add("tile--drop-target");
    };
    grid.addEventListener("dragstart", (e) => {
      this.dragged = tileOf(e);
      if (!this.dragged) return;
      this.dragged.classList.add("tile--dragging");
      if (e.dataTransfer) {
        e.dataTransfer.effectAllowed = "move";
        e.dataTransfer.setData("text/plain", this.dragged.dataset["cameraId"] ?? "");
      }
    });
    grid.addEventListener("dragover", (e) => {
      if (!this.dragged) return;
      e.preventDefault();
      if (e.dataTransfer) e.dataTransfer.dropEffect = "move";
      mark(tileOf(e));
    });
    grid.addEventListener("drop", (e) => {
      e.preventDefault();
      const target = tileOf(e);
      if (this.dragged && target && target !== this.dragged) {
        const before = [...grid.children].indexOf(this.dragged) > [...grid.children].indexOf(target);
        grid.insertBefore(this.dragged, before ? target : target.nextSibling);
        this.saveOrder();
      }
    });
    grid.addEventListener("dragend", () => {
      this.dragged?.classList.remove("tile--dragging");
      this.dragged = null;
      mark(null);
    });
  }

  /** Shift+←/→ on a tile: moves it one place earlier or later. */
  move(tile: HTMLElement, delta: -1 | 1): void {
    if (tile.parentElement !== this.grid) return;
    const sibling = delta < 0 ? tile.previousElementSibling : tile.nextElementSibling;
    if (!sibling) return;
    const focused = document.activeElement;
    this.grid.insertBefore(tile, delta < 0 ? sibling : sibling.nextSibling);
    if (focused instanceof HTMLElement) focused.focus();
    this.saveOrder();
  }

  setColumns(columns: number): void {
    if (!(COLUMNS as readonly number[]).includes(columns)) return;
    this.columns = columns;
    save(LAYOUT_KEY, this.columns);
    this.back();
    this.apply();
  }

  /** Puts a new tile where the operator's saved order says. */
  place(tile: HTMLElement, cameraId: number): void {
    tile.draggable = true;
    const order = load<number[]>(ORDER_KEY, []);
    const rank = (id: number): number => {
      const i = order.indexOf(id);
      return i === -1 ? order.length + id : i;
    };
    const after = [...this.grid.children].find((c) => rank(Number((c as HTMLElement).dataset["cameraId"])) > rank(cameraId));
    this.grid.insertBefore(tile, after ?? null);
  }

  /** G: 1 → 2×2 → 3×3 → 4×4 → 1. */
  cycle(): void {
    const i = (COLUMNS as readonly number[]).indexOf(this.columns);
    this.setColumns(COLUMNS[(i + 1) % COLUMNS.length] ?? 2);
  }

  /** 1–9: that camera alone, large (the same key again: back to the grid). */
  focus(position: number): void {
    const tile = this.grid.children[position - 1] as HTMLElement | undefined;
    if (!tile) return;
    if (tile.classList.contains("tile--focused")) {
      this.back();
      return;
    }
    for (const t of this.grid.children) t.classList.toggle("tile--focused", t === tile);
    this.grid.dataset["focus"] = "true";
    tile.focus();
  }

  /** A camera alone, large (from an alarm); stays focused if it already is. */
  focusTile(tile: HTMLElement): void {
    const position = [...this.grid.children].indexOf(tile) + 1;
    if (position > 0 && !tile.classList.contains("tile--focused")) this.focus(position);
  }

  /** F: full screen (the grid, or the focused camera in it). */
  fullscreen(): void {
    if (document.fullscreenElement) void document.exitFullscreen();
    else void this.grid.requestFullscreen?.().catch(() => undefined);
  }

  /** Esc: back to the whole grid. */
  back(): void {
    delete this.grid.dataset["focus"];
    for (const t of this.grid.children) t.classList.remove("tile--focused");
  }

  private apply(): void {
    this.grid.dataset["columns"] = String(this.columns);
    for (const b of this.buttons) b.setAttribute("aria-pressed", String(Number(b.dataset["columns"]) === this.columns));
    this.grid.setAttribute("aria-label", `Camera grid, ${this.columns === 1 ? "one camera" : `${this.columns}×${this.columns}`}`);
  }

  private saveOrder(): void {
    save(
      ORDER_KEY,
      [...this.grid.children].map((c) => Number((c as HTMLElement).dataset["cameraId"])),
    );
  }
}
