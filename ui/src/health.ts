// Header status: server health (version, camera count, uptime) and the
// state of the live-update connection.

import type { Health, StreamStatus } from "./api";
import { formatUptime } from "./format";

function byId(id: string): HTMLElement {
  const node = document.getElementById(id);
  if (!node) throw new Error(`missing #${id}`);
  return node;
}

const STREAM_TEXT: Record<StreamStatus, string> = {
  connecting: "Connecting…",
  open: "Live updates",
  closed: "Reconnecting…",
};

/** Who records: the service whether or not a window is open, or this console while it runs. */
const MODE_TEXT: Record<"service" | "standalone", { text: string; title: string }> = {
  service: {
    text: "By the service",
    title: "The recording service records, detects and raises alarms with no window open. Closing this window stops nothing.",
  },
  standalone: {
    text: "While open",
    title: "This console records while it runs. Turn on the recording service to keep recording when it is closed.",
  },
};

export class HealthView {
  private readonly versionEl = byId("health-version");
  private readonly camerasEl = byId("health-cameras");
  private readonly uptimeEl = byId("health-uptime");
  private readonly modeEl = byId("health-mode");
  private readonly connEl = byId("conn-status");
  private readonly connTextEl = byId("conn-text");
  /** Server uptime at `syncedAt` (performance.now() ms). */
  private uptime: { seconds: number; syncedAt: number } | null = null;
  private ticker: number | undefined;

  set(health: Health): void {
    this.versionEl.textContent = `v${health.version}`;
    this.camerasEl.textContent = String(health.cameras);
    const mode = MODE_TEXT[health.mode ?? "standalone"];
    this.modeEl.textContent = mode.text;
    this.modeEl.title = mode.title;
    this.modeEl.dataset["mode"] = health.mode ?? "standalone";
    this.uptime = { seconds: health.uptime_s, syncedAt: performance.now() };
    this.renderUptime();
    if (this.ticker === undefined) this.ticker = window.setInterval(() => this.renderUptime(), 1_000);
  }

  setStream(status: StreamStatus | "expired"): void {
    this.connEl.dataset["status"] = status;
    this.connTextEl.textContent = status === "expired" ? "Signed out" : STREAM_TEXT[status];
  }

  stop(): void {
    window.clearInterval(this.ticker);
    this.ticker = undefined;
  }

  private renderUptime(): void {
    if (!this.uptime) return;
    const elapsed = (performance.now() - this.uptime.syncedAt) / 1_000;
    this.uptimeEl.textContent = formatUptime(this.uptime.seconds + elapsed);
  }
}
