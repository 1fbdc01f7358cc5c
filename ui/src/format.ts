// Small display helpers shared by the UI modules.

const pad2 = (n: number): string => String(n).padStart(2, "0");

/** Local wall-clock time as HH:MM:SS, or "—" for a missing/invalid time. */
export function formatClock(time: string | Date | null): string {
  if (time === null) return "—";
  const d = typeof time === "string" ? new Date(time) : time;
  if (Number.isNaN(d.getTime())) return "—";
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

export function formatUptime(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const days = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3_600);
  const m = Math.floor((s % 3_600) / 60);
  const sec = s % 60;
  const hms = `${pad2(h)}:${pad2(m)}:${pad2(sec)}`;
  return days > 0 ? `${days}d ${hms}` : hms;
}

export function formatBitrate(kbps: number): string {
  if (!Number.isFinite(kbps) || kbps <= 0) return "0 kbps";
  return kbps >= 1000 ? `${(kbps / 1000).toFixed(1)} Mbps` : `${Math.round(kbps)} kbps`;
}

export function formatFps(fps: number): string {
  return `${Number.isFinite(fps) ? fps.toFixed(1) : "0.0"} fps`;
}

export function formatScore(score: number): string {
  return score.toFixed(2);
}

/** Shorthand for creating an element with a class and optional text. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A UTC µs media time as a local Date. */
export const dateOfUs = (us: number): Date => new Date(us / 1000);

/** Local date, short: "Tue 1 Dec 2026". */
export function formatDay(d: Date): string {
  return d.toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short", year: "numeric" });
}

/** For a datetime-local input: local "YYYY-MM-DDTHH:MM:SS". */
export function localInputValue(d: Date): string {
  const date = `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
  return `${date}T${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** "45 s", "3 min 20 s", "1 h 5 min". */
export function formatSpan(us: number): string {
  const s = Math.max(0, Math.round(us / 1e6));
  if (s < 60) return `${s} s`;
  if (s < 3_600) return s % 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s / 60} min`;
  const m = Math.round(s / 60);
  return m % 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m / 60} h`;
}

/** Bytes in decimal units, as disks are sold: "950 MB", "1.2 GB", "3.4 TB". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 1_000) return `${Math.max(0, Math.round(bytes || 0))} B`;
  const units = ["kB", "MB", "GB", "TB", "PB"];
  let value = bytes / 1_000;
  let unit = 0;
  while (value >= 1_000 && unit < units.length - 1) {
    value /= 1_000;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}
