// Peregrine console: wires the API client to the camera grid, the detections
// panel and the header. Initial state comes from REST; live updates from WS.

import "./style.css";
import {
  ApiError,
  EventStream,
  SESSION_EXPIRED_MESSAGE,
  SessionExpiredError,
  getHealth,
  listAlerts,
  listCameras,
  listZones,
  listDetections,
  type Camera,
  type ServerEvent,
  type Zone,
} from "./api";
import { AlarmQueue } from "./alarmQueue";
import { CameraDialog } from "./cameraDialog";
import { CameraTile } from "./cameraTile";
import { RulesDialog } from "./rulesDialog";
import { DetectionsList, rowsFromEvent, rowsFromStored } from "./detectionsList";
import { GridLayout } from "./gridLayout";
import { HealthView } from "./health";
import { PlaybackDialog } from "./playback";
import { SearchPanel } from "./search";
import { MachineBanner, SettingsDialog, lastMachineReport } from "./settings";

const HEALTH_REFRESH_MS = 15_000;

const privacyOf = (zones: readonly Zone[]): [number, number][][] => zones.filter((z) => z.kind === "privacy").map((z) => z.points);
const INITIAL_DETECTIONS = 50;
const INITIAL_ALERTS = 200;

function byId<T extends HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`missing #${id}`);
  return node as T;
}

class App {
  private readonly grid = byId<HTMLDivElement>("camera-grid");
  private readonly cameras = byId<HTMLElement>("cameras");
  private readonly gridEmpty = byId<HTMLElement>("cameras-empty");
  private readonly banner = byId<HTMLDivElement>("banner");
  private readonly health = new HealthView();
  readonly layout = new GridLayout(this.grid, document.querySelectorAll<HTMLButtonElement>(".segmented [data-columns]"));
  private readonly rulesDialog = new RulesDialog((id, zones) => this.tiles.get(id)?.setPrivacy(privacyOf(zones)));
  private readonly playback = new PlaybackDialog({
    cameraName: (id) => this.tiles.get(id)?.name ?? `Camera ${id}`,
    showLive: (id) => this.showCamera(id),
  });
  readonly search = new SearchPanel(byId<HTMLFormElement>("search-form"), byId<HTMLInputElement>("search-input"), {
    cameras: () => [...this.tiles.entries()].map(([id, tile]) => ({ id, name: tile.name })),
    play: (cameraId, us, snapUs) => this.playback.openAt(cameraId, us, snapUs),
    // The results take the grid's place; the live tiles keep running under them.
    onActive: (active) => {
      this.cameras.hidden = active;
    },
    onExpired: () => this.sessionExpired(),
  });
  readonly settings = new SettingsDialog({ measured: (report) => this.machineBanner.show(report) });
  private readonly machineBanner = new MachineBanner(byId("machine-banner"), () => this.settings.openAndMeasure());
  private readonly addDialog = new CameraDialog(
    // More or fewer cameras enabled may start or end the too-many-cameras warning.
    (camera, created) => {
      // The first camera of a fresh console goes on to what raises an alarm
      // (the event stream may have shown the new camera already).
      const first = created && [...this.tiles.keys()].every((id) => id === camera.id);
      this.upsertCamera(camera);
      void this.refreshMachine();
      if (first) void this.rulesDialog.open(camera);
    },
    (id) => {
      this.removeCamera(id);
      void this.refreshMachine();
    },
    (camera) => void this.rulesDialog.open(camera),
    (camera) => this.playback.openCamera(camera.id),
  );
  private readonly tiles = new Map<number, CameraTile>();
  private readonly detections = new DetectionsList({
    cameraName: (id) => this.tiles.get(id)?.name ?? `Camera ${id}`,
    limit: INITIAL_DETECTIONS,
  });
  readonly alarms = new AlarmQueue({
    cameraName: (id) => this.tiles.get(id)?.name ?? `Camera ${id}`,
    cameras: () => [...this.tiles.entries()].map(([id, tile]) => ({ id, name: tile.name })),
    showCamera: (id) => this.showCamera(id),
    play: (alert) => this.playback.openAlert(alert),
    onCount: (n) => {
      document.title = n > 0 ? `(${n}) Peregrine` : "Peregrine";
    },
  });
  private readonly stream = new EventStream({
    onEvent: (event) => this.onEvent(event),
    onOpen: (reconnect) => {
      // Alerts raised between the first load and this socket opening would be missed.
      if (reconnect) void this.resync();
      else void this.refreshAlerts();
    },
    onStatus: (status) => {
      if (this.expired) return;
      this.health.setStream(status);
      // A failed (re)connect may be an expired session or a server that is
      // gone; the health check tells which and shows it.
      if (status === "closed") void this.refreshHealth();
    },
  });
  private healthTimer: number | undefined;
  private expired = false;
  private retryDelayMs = 1_000;

  constructor() {
    document.body.append(this.addDialog.element, this.rulesDialog.element, this.playback.element, this.settings.element);
    byId<HTMLButtonElement>("add-camera").addEventListener("click", () => this.addDialog.open());
    // First run: the steps shown while there is no camera.
    byId<HTMLButtonElement>("firstrun-discover").addEventListener("click", () => this.addDialog.openAndDiscover());
    byId<HTMLButtonElement>("firstrun-add").addEventListener("click", () => this.addDialog.open());
    byId<HTMLButtonElement>("firstrun-measure").addEventListener("click", () => this.settings.openAndMeasure());
    byId<HTMLButtonElement>("open-settings").addEventListener("click", () => this.settings.open());
    byId("side").append(this.alarms.element, this.detections.element);
    this.cameras.before(this.search.element);
  }

  /** One camera, live: out of a search first. */
  private showCamera(id: number): void {
    this.search.close();
    const tile = this.tiles.get(id);
    if (tile) this.layout.focusTile(tile.element);
  }

  async start(): Promise<void> {
    try {
      const [health, cameras, detections, alerts] = await Promise.all([
        getHealth(),
        listCameras(),
        listDetections({ limit: INITIAL_DETECTIONS }),
        listAlerts(["new", "acknowledged", "closed"], INITIAL_ALERTS),
      ]);
      this.clearBanner();
      this.health.set(health);
      this.alarms.setNotifications(health.notifications);
      this.syncCameras(cameras);
      this.detections.reset(rowsFromStored(detections));
      this.alarms.reset(alerts.alerts);
    } catch (err) {
      if (this.handleError(err, "Could not load Peregrine")) {
        window.setTimeout(() => void this.start(), this.retryDelayMs);
        this.retryDelayMs = Math.min(15_000, this.retryDelayMs * 2);
      }
      return;
    }
    this.stream.start();
    void this.refreshMachine();
    this.healthTimer = window.setInterval(() => void this.refreshHealth(), HEALTH_REFRESH_MS);
  }

  private onEvent(event: ServerEvent): void {
    switch (event.type) {
      case "camera":
        this.upsertCamera(event.camera);
        break;
      case "detections": {
        this.tiles.get(event.camera_id)?.setDetections(event);
        this.detections.add(rowsFromEvent(event));
        break;
      }
      case "alert":
        this.alarms.upsert(event.alert);
        break;
    }
  }

  /** After a WS reconnect, events may have been missed: refetch state. */
  private async resync(): Promise<void> {
    try {
      const [health, cameras, alerts] = await Promise.all([
        getHealth(),
        listCameras(),
        listAlerts(["new", "acknowledged", "closed"], INITIAL_ALERTS),
      ]);
      this.clearBanner();
      this.health.set(health);
      this.alarms.setNotifications(health.notifications);
      this.syncCameras(cameras);
      this.alarms.reset(alerts.alerts);
    } catch (err) {
      this.handleError(err, "Could not refresh the camera list");
    }
  }

  private async refreshAlerts(): Promise<void> {
    try {
      this.alarms.reset((await listAlerts(["new", "acknowledged", "closed"], INITIAL_ALERTS)).alerts);
    } catch (err) {
      this.handleError(err, "Could not load the alarms");
    }
  }

  private async refreshHealth(): Promise<void> {
    try {
      const health = await getHealth();
      this.health.set(health);
      this.alarms.setNotifications(health.notifications);
      this.clearBanner();
    } catch (err) {
      this.handleError(err, "Could not reach the Peregrine server");
    }
  }

  /** First run: ask for a measurement; later: warn when more cameras are enabled than it handles. */
  private async refreshMachine(): Promise<void> {
    const report = await lastMachineReport();
    if (report && !this.expired) this.machineBanner.show(report);
  }

  private syncCameras(cameras: readonly Camera[]): void {
    const seen = new Set<number>();
    for (const camera of cameras) {
      seen.add(camera.id);
      this.upsertCamera(camera);
    }
    for (const [id, tile] of this.tiles) {
      if (!seen.has(id)) {
        tile.destroy();
        this.tiles.delete(id);
      }
    }
    this.afterCamerasChanged();
  }

  private upsertCamera(camera: Camera): void {
    const existing = this.tiles.get(camera.id);
    if (existing) {
      const renamed = existing.name !== camera.name;
      existing.update(camera);
      if (renamed) this.detections.refreshNames();
      return;
    }
    const tile = new CameraTile(
      camera,
      (c) => this.addDialog.openEdit(c),
      (c) => this.playback.openCamera(c.id),
    );
    this.tiles.set(camera.id, tile);
    listZones(camera.id).then((zones) => tile.setPrivacy(privacyOf(zones)), () => undefined);
    tile.element.tabIndex = -1;
    this.layout.place(tile.element, camera.id);
    this.afterCamerasChanged();
  }

  private removeCamera(id: number): void {
    this.tiles.get(id)?.destroy();
    this.tiles.delete(id);
    this.afterCamerasChanged();
  }

  private afterCamerasChanged(): void {
    this.gridEmpty.hidden = this.tiles.size > 0;
    this.grid.dataset["count"] = String(this.tiles.size);
    this.detections.refreshNames();
  }

  /** Shows the error; returns true when retrying makes sense. */
  private handleError(err: unknown, context: string): boolean {
    if (err instanceof SessionExpiredError) {
      this.sessionExpired();
      return false;
    }
    if (this.expired) return false;
    const detail = err instanceof ApiError ? err.message : "the server did not answer";
    this.showBanner(`${context}: ${detail}. Retrying…`, "warn");
    return true;
  }

  private sessionExpired(): void {
    if (this.expired) return;
    this.expired = true;
    this.stream.stop();
    this.health.stop();
    this.health.setStream("expired");
    window.clearInterval(this.healthTimer);
    for (const tile of this.tiles.values()) tile.destroy();
    this.tiles.clear();
    this.afterCamerasChanged();
    this.gridEmpty.hidden = true;
    this.machineBanner.hide();
    this.showBanner(SESSION_EXPIRED_MESSAGE, "error");
    document.body.dataset["session"] = "expired";
  }

  private showBanner(text: string, kind: "warn" | "error"): void {
    this.banner.textContent = text;
    this.banner.dataset["kind"] = kind;
    this.banner.hidden = false;
  }

  private clearBanner(): void {
    if (this.expired) return;
    this.banner.hidden = true;
    this.banner.textContent = "";
  }
}

const BOXES_KEY = "peregrine.boxes";

/** Detection boxes on or off (B, or the Boxes button), remembered in this browser. */
function bindBoxesToggle(): () => void {
  const button = byId<HTMLButtonElement>("toggle-boxes");
  const set = (on: boolean): void => {
    document.body.classList.toggle("hide-boxes", !on);
    button.setAttribute("aria-pressed", String(on));
    try {
      localStorage.setItem(BOXES_KEY, on ? "on" : "off");
    } catch {
      // Not remembered.
    }
  };
  let initial = true;
  try {
    initial = localStorage.getItem(BOXES_KEY) !== "off";
  } catch {
    // Default: on.
  }
  set(initial);
  const toggle = (): void => set(document.body.classList.contains("hide-boxes"));
  button.addEventListener("click", toggle);
  return toggle;
}

/**
 * Keyboard: 1–9 one camera, G grid size, F full screen, Esc back, B boxes,
 * D latency overlay, Shift+←/→ moves the tile that has focus; alarms:
 * N next new, A acknowledge, Enter open, C close with a note, P play its clip;
 * / search (Esc: back to live); , settings.
 */
function bindShortcuts(layout: GridLayout, alarms: AlarmQueue, search: SearchPanel, settings: SettingsDialog, toggleBoxes: () => void): void {
  // A closed dialog gives up focus at once when its opener is gone (the
  // first-run banner), rather than when the browser next fixes focus up.
  document.addEventListener(
    "close",
    (event) => {
      const dialog = event.target;
      const focused = document.activeElement;
      if (dialog instanceof HTMLDialogElement && focused instanceof HTMLElement && dialog.contains(focused)) focused.blur();
    },
    true,
  );
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    const target = event.target as HTMLElement | null;
    if (target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))) return;
    // Keys typed in an open dialog are its own. A dialog that just closed can
    // still hold focus until the browser moves it, and must not eat them.
    if (target?.closest("dialog[open]")) return;
    if (event.shiftKey && (event.key === "ArrowLeft" || event.key === "ArrowRight")) {
      const tile = target?.closest<HTMLElement>("[data-camera-id]");
      if (tile) {
        event.preventDefault();
        layout.move(tile, event.key === "ArrowLeft" ? -1 : 1);
      }
      return;
    }
    const key = event.key.toLowerCase();
    if (key === "/") {
      event.preventDefault();
      search.focus();
      return;
    }
    if (key === ",") {
      event.preventDefault();
      settings.open();
      return;
    }
    // Keys about the live grid leave a search first.
    if (search.active && (key === "escape" || key === "g" || key === "f" || /^[1-9]$/.test(key))) {
      search.close();
      if (key === "escape") return;
    }
    // Enter belongs to a focused button or link; elsewhere it opens the alarm.
    if (key === "enter") {
      if (!target || target === document.body || target.closest(".alarms__list")) {
        event.preventDefault();
        alarms.open();
      }
      return;
    }
    if (key === "n") alarms.next();
    else if (key === "a") alarms.acknowledge();
    else if (key === "c") alarms.closeWithNote();
    else if (key === "p") alarms.play();
    else if (key === "b") toggleBoxes();
    else if (key === "d") document.body.classList.toggle("show-debug");
    else if (key === "g") layout.cycle();
    else if (key === "f") layout.fullscreen();
    else if (key === "escape") layout.back();
    else if (/^[1-9]$/.test(key)) layout.focus(Number(key));
  });
}

const app = new App();
bindShortcuts(app.layout, app.alarms, app.search, app.settings, bindBoxesToggle());
void app.start();
