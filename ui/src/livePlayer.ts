// Live video for one camera: the camera's own H.264 as fragmented MP4 over
// a WebSocket into Media Source Extensions. Keeps to the live edge, trims
// its buffer, reconnects, and reports first-frame time and latency.
//
// Protocol (WS /api/v1/cameras/{id}/live): text {"type":"init", mime,
// base_us}, a binary init segment, then one binary moof+mdat per frame whose
// decode time is the frame's UTC time in µs; `timestampOffset = -base_us`
// keeps currentTime small, and base_us + currentTime maps a displayed frame
// back to the server's clock.

/** How far behind the newest frame playback may fall before it jumps ahead. */
const MAX_BEHIND_S = 0.5;
/** Where it lands after a jump: just behind the newest frame. */
const LIVE_EDGE_S = 0.1;
/** Buffer kept behind the playhead. */
const KEEP_BEHIND_S = 5;
/** No new frame shown for this long: the picture is frozen. */
const FROZEN_AFTER_MS = 2_000;
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 10_000;

export interface LiveStats {
  /** Opening the socket to the first frame on screen. */
  firstFrameMs: number | null;
  /** Wall clock now minus the displayed frame's capture time. */
  latencyMs: number | null;
  /** Buffered end minus currentTime. */
  bufferMs: number | null;
}

export interface LiveHandlers {
  /** MSE cannot play this stream here; snapshots must stand in. */
  unsupported(reason: string): void;
  /** A new frame is on screen; its capture time in µs (UTC). */
  frame(mediaTimeUs: number): void;
  /** The picture stopped (true) or resumed (false) advancing. */
  frozen(frozen: boolean): void;
}

/** Whether this browser can play `mime` (or H.264 at all) through MSE. */
export function canPlay(mime = 'video/mp4; codecs="avc1.4D401E"'): boolean {
  return typeof window.MediaSource === "function" && MediaSource.isTypeSupported(mime);
}

export class LivePlayer {
  readonly video: HTMLVideoElement;
  readonly stats: LiveStats = { firstFrameMs: null, latencyMs: null, bufferMs: null };

  private socket: WebSocket | null = null;
  private source: MediaSource | null = null;
  private buffer: SourceBuffer | null = null;
  private queue: ArrayBuffer[] = [];
  private baseUs = 0;
  private openedAt = 0;
  private retryMs = RETRY_MIN_MS;
  private retryTimer: number | undefined;
  private watchdog: number | undefined;
  private lastAdvance = performance.now();
  private lastTime = -1;
  private isFrozen = false;
  private stopped = false;

  constructor(
    private readonly cameraId: number,
    private readonly handlers: LiveHandlers,
  ) {
    this.video = document.createElement("video");
    this.video.muted = true;
    this.video.autoplay = true;
    this.video.playsInline = true;
    this.video.className = "tile__img tile__video";
    this.watchdog = window.setInterval(() => this.tick(), 250);
    this.onVideoFrame();
  }

  start(): void {
    if (this.stopped) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/api/v1/cameras/${this.cameraId}/live`);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    this.openedAt = performance.now();
    this.stats.firstFrameMs = null;
    socket.onmessage = (event: MessageEvent) => this.receive(event.data as string | ArrayBuffer);
    socket.onopen = () => {
      this.retryMs = RETRY_MIN_MS;
    };
    socket.onclose = () => {
      if (this.socket !== socket || this.stopped) return;
      this.socket = null;
      this.retryTimer = window.setTimeout(() => this.start(), this.retryMs);
      this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
    };
  }

  destroy(): void {
    this.stopped = true;
    window.clearTimeout(this.retryTimer);
    window.clearInterval(this.watchdog);
    this.socket?.close();
    this.socket = null;
    this.resetSource();
    this.video.remove();
  }

  private receive(data: string | ArrayBuffer): void {
    if (typeof data === "string") {
      const message = JSON.parse(data) as { type: string; mime?: string; base_us?: number };
      if (message.type === "init" && message.mime) this.init(message.mime, message.base_us ?? 0);
      return;
    }
    this.queue.push(data);
    this.pump();
  }

  /** A new stream (or new parameters): a fresh MediaSource. */
  private init(mime: string, baseUs: number): void {
    this.resetSource();
    this.queue = [];
    if (!canPlay(mime)) {
      this.stopped = true;
      this.socket?.close();
      this.handlers.unsupported(`this window cannot decode ${mime.replace(/^.*codecs="?([^"]+)"?.*$/, "$1")}`);
      return;
    }
    this.baseUs = baseUs;
    const source = new MediaSource();
    this.source = source;
    this.video.src = URL.createObjectURL(source);
    source.addEventListener("sourceopen", () => {
      if (this.source !== source) return;
      URL.revokeObjectURL(this.video.src);
      try {
        const buffer = source.addSourceBuffer(mime);
        buffer.mode = "segments";
        buffer.timestampOffset = -baseUs / 1e6;
        buffer.addEventListener("updateend", () => this.pump());
        this.buffer = buffer;
        this.pump();
      } catch (e) {
        this.stopped = true;
        this.socket?.close();
        this.handlers.unsupported(`no H.264 decoder for live video (${(e as Error).name})`);
      }
    });
  }

  private resetSource(): void {
    this.buffer = null;
    if (this.source && this.source.readyState === "open") {
      try {
        this.source.endOfStream();
      } catch {
        // Already ending.
      }
    }
    this.source = null;
    this.video.removeAttribute("src");
  }

  private pump(): void {
    const buffer = this.buffer;
    if (!buffer || buffer.updating) return;
    const next = this.queue.shift();
    if (next) {
      try {
        buffer.appendBuffer(next);
      } catch (e) {
        // QuotaExceeded: drop what is behind us and carry on from the live edge.
        this.trim(0);
        if ((e as DOMException).name !== "QuotaExceededError") this.start();
      }
      return;
    }
    this.keepLive();
  }

  /** Jumps to the live edge when behind, trims what is long past, keeps playing. */
  private keepLive(): void {
    const ranges = this.video.buffered;
    if (ranges.length === 0) return;
    const end = ranges.end(ranges.length - 1);
    const behind = end - this.video.currentTime;
    this.stats.bufferMs = Math.round(behind * 1000);
    if (behind > MAX_BEHIND_S) this.video.currentTime = Math.max(ranges.start(ranges.length - 1), end - LIVE_EDGE_S);
    this.trim(KEEP_BEHIND_S);
    if (this.video.paused) void this.video.play().catch(() => undefined);
  }

  private trim(keepBehind: number): void {
    const buffer = this.buffer;
    const ranges = this.video.buffered;
    if (!buffer || buffer.updating || ranges.length === 0) return;
    const until = this.video.currentTime - keepBehind;
    if (until - ranges.start(0) > 1) buffer.remove(ranges.start(0), until);
  }

  /** Every frame on screen: its capture time, latency, first-frame time. */
  private onVideoFrame(): void {
    const video = this.video as HTMLVideoElement & {
      requestVideoFrameCallback?: (cb: (now: number, meta: { mediaTime: number }) => void) => number;
    };
    const shown = (mediaTime: number): void => {
      const mediaUs = this.baseUs + mediaTime * 1e6;
      this.stats.latencyMs = Math.round(Date.now() - mediaUs / 1000);
      if (this.stats.firstFrameMs === null) this.stats.firstFrameMs = Math.round(performance.now() - this.openedAt);
      this.handlers.frame(mediaUs);
    };
    if (video.requestVideoFrameCallback) {
      const loop = (_now: number, meta: { mediaTime: number }): void => {
        if (this.stopped) return;
        shown(meta.mediaTime);
        video.requestVideoFrameCallback?.(loop);
      };
      video.requestVideoFrameCallback(loop);
    } else {
      const loop = (): void => {
        if (this.stopped) return;
        if (this.video.currentTime !== this.lastTime && this.video.readyState >= 2) shown(this.video.currentTime);
        window.requestAnimationFrame(loop);
      };
      window.requestAnimationFrame(loop);
    }
  }

  /** The tile's own watchdog: a picture that stops advancing is frozen, whatever the server says. */
  private tick(): void {
    const now = performance.now();
    if (this.video.currentTime !== this.lastTime) {
      this.lastTime = this.video.currentTime;
      this.lastAdvance = now;
    }
    const frozen = this.stats.firstFrameMs !== null && now - this.lastAdvance > FROZEN_AFTER_MS;
    if (frozen !== this.isFrozen) {
      this.isFrozen = frozen;
      this.handlers.frozen(frozen);
    }
    if (frozen) this.keepLive();
  }
}
