// Live video for one camera: the camera's own H.264 as fragmented MP4 over
// a WebSocket into Media Source Extensions. Keeps to the live edge, trims
// its buffer, recovers from stalls, reconnects, and measures first-frame
// time, latency and frame rate.
//
// Protocol (WS /api/v1/cameras/{id}/live): text {"type":"init", mime,
// base_us}, a binary init segment, then one binary moof+mdat per frame whose
// decode time is the frame's UTC time in µs; `timestampOffset = -base_us`
// keeps currentTime small, and base_us + currentTime maps a displayed frame
// back to the server's clock. A new init (new stream parameters) rebuilds
// the MediaSource; {"type":"error","message"} says why the server closes.

/** How far behind the newest frame playback may fall before it jumps ahead. */
const MAX_BEHIND_S = 0.5;
/** Where it lands after a jump: just behind the newest frame. */
const LIVE_EDGE_S = 0.1;
/** Behind by more than this (but not enough to jump): play slightly faster. */
const CATCH_UP_S = 0.25;
const CATCH_UP_RATE = 1.1;
/** Buffer kept behind the playhead. */
const KEEP_BEHIND_S = 10;
/** The playhead not moving for this long with data ahead of it is a stall. */
const STALL_MS = 500;
/** The playhead not moving for this long: the picture is frozen. */
const FROZEN_AFTER_MS = 2_000;
/** More frames waiting than this: the tab could not keep up; start afresh. */
const MAX_QUEUE = 300;
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 10_000;
const WATCHDOG_MS = 250;
const DEFAULT_MIME = 'video/mp4; codecs="avc1.4D401E"';

export interface LiveStats {
  /** Opening the socket to the first frame on screen. */
  firstFrameMs: number | null;
  /** Wall clock now minus the displayed frame's capture time. */
  latencyMs: number | null;
  /** Buffered end minus currentTime. */
  bufferMs: number | null;
  /** Frames shown per second, over the last second. */
  fps: number | null;
}

export interface LiveHandlers {
  /** MSE cannot play this stream here; snapshots must stand in. */
  unsupported(reason: string): void;
  /** A new frame is on screen; its capture time in µs (UTC). */
  frame(mediaTimeUs: number): void;
  /** The picture stopped (true) or resumed (false) advancing, or was cleared for a new stream. */
  changed(): void;
}

/** Why this window cannot play `mime` through MSE, or null when it can. */
export function whyNot(mime = DEFAULT_MIME): string | null {
  if (typeof window.MediaSource !== "function") return "no Media Source Extensions";
  if (!MediaSource.isTypeSupported(mime)) return "no H.264 decoder";
  return null;
}

interface FrameMeta {
  mediaTime: number;
  expectedDisplayTime: number;
}
type VideoWithFrames = HTMLVideoElement & {
  requestVideoFrameCallback?: (cb: (now: number, meta: FrameMeta) => void) => number;
};

interface InitMessage {
  type: "init";
  mime: string;
  base_us: number;
}

function parseMessage(text: string): InitMessage | { type: "error"; message: string } | null {
  try {
    const m = JSON.parse(text) as { type?: unknown; mime?: unknown; base_us?: unknown; message?: unknown };
    if (m.type === "init" && typeof m.mime === "string" && typeof m.base_us === "number") {
      return { type: "init", mime: m.mime, base_us: m.base_us };
    }
    if (m.type === "error") return { type: "error", message: typeof m.message === "string" ? m.message : "" };
  } catch {
    // Not JSON: ignored.
  }
  return null;
}

export class LivePlayer {
  readonly video: HTMLVideoElement;
  readonly stats: LiveStats = { firstFrameMs: null, latencyMs: null, bufferMs: null, fps: null };
  /** The server's last sentence on why it closed the stream; cleared by the next frame. */
  serverError = "";

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
  /** A frame of the current stream is on screen. */
  private showing = false;
  private isFrozen = false;
  private lastShownUs: number | null = null;
  private framesThisSecond = 0;
  private fpsSince = performance.now();
  private lastTrim = 0;
  private lastSeek = 0;
  private objectUrl: string | null = null;
  private stopped = false;

  constructor(
    private readonly cameraId: number,
    private readonly handlers: LiveHandlers,
  ) {
    this.video = document.createElement("video");
    this.video.muted = true;
    this.video.autoplay = true;
    this.video.playsInline = true;
    this.video.disablePictureInPicture = true;
    this.video.className = "tile__img tile__video";
    this.video.addEventListener("waiting", () => this.stalled());
    this.video.addEventListener("error", () => this.decodeFailed());
    this.watchdog = window.setInterval(() => this.tick(), WATCHDOG_MS);
    this.onVideoFrame();
  }

  /** A frame of the stream is on screen (it may be frozen: see `frozen`). */
  get hasPicture(): boolean {
    return this.showing;
  }

  /** The picture on screen stopped advancing. */
  get frozen(): boolean {
    return this.isFrozen;
  }

  /** Capture time (µs, UTC) of the frame on screen. */
  get shownUs(): number | null {
    return this.lastShownUs;
  }

  start(): void {
    if (this.stopped) return;
    window.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/api/v1/cameras/${this.cameraId}/live`);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    this.openedAt = performance.now();
    this.stats.firstFrameMs = null;
    socket.onmessage = (event: MessageEvent<unknown>) => {
      if (this.socket === socket) this.receive(event.data);
    };
    socket.onclose = () => {
      if (this.socket !== socket || this.stopped) return;
      this.socket = null;
      this.queue = [];
      this.retryTimer = window.setTimeout(() => this.start(), this.retryMs * (0.8 + Math.random() * 0.4));
      this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
    };
  }

  /** The camera (re)became live: reconnect now rather than at the next backoff step. */
  kick(): void {
    this.retryMs = RETRY_MIN_MS;
    if (!this.socket && this.retryTimer !== undefined) this.start();
  }

  destroy(): void {
    this.stopped = true;
    window.clearTimeout(this.retryTimer);
    window.clearInterval(this.watchdog);
    const socket = this.socket;
    this.socket = null;
    socket?.close();
    this.resetSource();
    this.video.remove();
  }

  private receive(data: unknown): void {
    if (typeof data === "string") {
      const message = parseMessage(data);
      if (message?.type === "init") this.init(message.mime, message.base_us);
      else if (message?.type === "error") this.serverError = message.message;
      return;
    }
    if (!(data instanceof ArrayBuffer) || !this.source) return;
    this.queue.push(data);
    if (this.queue.length > MAX_QUEUE) {
      // Far behind (a hidden tab, a slow machine): reconnecting starts from the current keyframe.
      this.socket?.close();
      return;
    }
    this.pump();
  }

  /** A new stream (or new parameters): a fresh MediaSource. */
  private init(mime: string, baseUs: number): void {
    this.resetSource();
    const why = whyNot(mime);
    if (why) {
      this.fail(`${why} for ${mime.replace(/^.*codecs="?([^"]+)"?.*$/, "$1")}`);
      return;
    }
    this.baseUs = baseUs;
    const source = new MediaSource();
    this.source = source;
    this.objectUrl = URL.createObjectURL(source);
    this.video.src = this.objectUrl;
    source.addEventListener("sourceopen", () => {
      if (this.source !== source) return;
      this.revokeUrl();
      try {
        const buffer = source.addSourceBuffer(mime);
        buffer.mode = "segments";
        buffer.timestampOffset = -baseUs / 1e6;
        buffer.addEventListener("updateend", () => {
          if (this.buffer === buffer) this.pump();
        });
        this.buffer = buffer;
        this.pump();
      } catch (e) {
        this.fail(`the decoder refused the stream: ${e instanceof Error ? e.name : String(e)}`);
      }
    });
  }

  /** This window cannot play the stream: give up on live video for good. */
  private fail(reason: string): void {
    this.stopped = true;
    window.clearTimeout(this.retryTimer);
    window.clearInterval(this.watchdog);
    const socket = this.socket;
    this.socket = null;
    socket?.close();
    this.handlers.unsupported(reason);
  }

  private decodeFailed(): void {
    if (this.stopped || !this.source) return;
    const code = this.video.error?.code ?? 0;
    // Never a picture: this window cannot decode it. Otherwise a glitch: start afresh.
    const cannot = code === MediaError.MEDIA_ERR_DECODE || code === MediaError.MEDIA_ERR_SRC_NOT_SUPPORTED;
    if (!this.showing && this.stats.firstFrameMs === null && cannot) {
      this.fail(`the video decoder failed (${this.video.error?.message || `code ${code}`})`);
    } else {
      this.socket?.close();
    }
  }

  private revokeUrl(): void {
    if (this.objectUrl) URL.revokeObjectURL(this.objectUrl);
    this.objectUrl = null;
  }

  private resetSource(): void {
    this.revokeUrl();
    this.buffer = null;
    this.queue = [];
    if (this.source && this.source.readyState === "open") {
      try {
        this.source.endOfStream();
      } catch {
        // Already ending.
      }
    }
    this.source = null;
    this.video.removeAttribute("src");
    this.video.load();
    this.video.playbackRate = 1;
    this.lastTime = -1;
    if (this.showing) {
      this.showing = false;
      this.isFrozen = false;
      this.handlers.changed();
    }
  }

  private pump(): void {
    const buffer = this.buffer;
    if (!buffer || buffer.updating) return;
    const next = this.queue.shift();
    if (next) {
      try {
        buffer.appendBuffer(next);
      } catch (e) {
        if (e instanceof DOMException && e.name === "QuotaExceededError") {
          // Full: drop what is behind the playhead and try this frame again.
          this.queue.unshift(next);
          this.trim(1);
        } else {
          this.socket?.close();
        }
      }
      return;
    }
    this.keepLive();
  }

  /** Jumps to the live edge when far behind, catches up when a little behind, trims what is long past. */
  private keepLive(): void {
    const video = this.video;
    const ranges = video.buffered;
    if (ranges.length === 0) return;
    const end = ranges.end(ranges.length - 1);
    const behind = end - video.currentTime;
    this.stats.bufferMs = Math.round(behind * 1000);
    if (behind > MAX_BEHIND_S) this.seekToEdge();
    else video.playbackRate = behind > CATCH_UP_S ? CATCH_UP_RATE : 1;
    if (video.paused) void video.play().catch(() => undefined);
    const now = performance.now();
    if (now - this.lastTrim > 2_000) {
      this.lastTrim = now;
      this.trim(KEEP_BEHIND_S);
    }
  }

  /** At most once a second, so a stream that keeps falling behind cannot cause a storm of seeks. */
  private seekToEdge(): void {
    const ranges = this.video.buffered;
    const now = performance.now();
    if (ranges.length === 0 || this.video.seeking || now - this.lastSeek < 1_000) return;
    this.lastSeek = now;
    const last = ranges.length - 1;
    this.video.currentTime = Math.max(ranges.start(last), ranges.end(last) - LIVE_EDGE_S);
    this.video.playbackRate = 1;
  }

  private trim(keepBehind: number): void {
    const buffer = this.buffer;
    const ranges = this.video.buffered;
    if (!buffer || buffer.updating || ranges.length === 0) return;
    const until = this.video.currentTime - keepBehind;
    if (until - ranges.start(0) > 1) buffer.remove(ranges.start(0), until);
  }

  /**
   * `waiting`, or the playhead not moving: out of data (the next frame is on
   * its way: nothing to do), or stuck before a gap left by skipped frames or
   * after a decoder hiccup with frames ahead of it: jump to the live edge.
   */
  private stalled(): void {
    const video = this.video;
    const ranges = video.buffered;
    if (ranges.length === 0) return;
    const last = ranges.length - 1;
    const t = video.currentTime;
    if (ranges.end(last) - t > LIVE_EDGE_S + 0.05 || t < ranges.start(last)) this.seekToEdge();
  }

  /** Every frame on screen: its capture time, latency, frame rate, first-frame time. */
  private onVideoFrame(): void {
    const video = this.video as VideoWithFrames;
    const shown = (mediaTime: number, displayDelayMs: number): void => {
      if (!this.source) return;
      const mediaUs = Math.round(this.baseUs + mediaTime * 1e6);
      this.lastShownUs = mediaUs;
      this.stats.latencyMs = Math.round(Date.now() + displayDelayMs - mediaUs / 1000);
      this.framesThisSecond += 1;
      if (this.stats.firstFrameMs === null) {
        this.stats.firstFrameMs = Math.round(performance.now() - this.openedAt);
        this.retryMs = RETRY_MIN_MS;
        this.serverError = "";
      }
      if (!this.showing) {
        this.showing = true;
        this.handlers.changed();
      }
      this.handlers.frame(mediaUs);
    };
    if (video.requestVideoFrameCallback) {
      const loop = (_now: number, meta: FrameMeta): void => {
        if (this.stopped) return;
        shown(meta.mediaTime, Math.max(0, meta.expectedDisplayTime - performance.now()));
        video.requestVideoFrameCallback?.(loop);
      };
      video.requestVideoFrameCallback(loop);
    } else {
      // No per-frame callback (older WebKit): look at currentTime every animation frame.
      let last = -1;
      const loop = (): void => {
        if (this.stopped) return;
        const t = this.video.currentTime;
        if (t !== last && this.video.readyState >= 2) {
          last = t;
          shown(t, 0);
        }
        window.requestAnimationFrame(loop);
      };
      window.requestAnimationFrame(loop);
    }
  }

  /** The tile's own watchdog: a picture that stops advancing is frozen, whatever the server says. */
  private tick(): void {
    const now = performance.now();
    const video = this.video;
    if (video.currentTime !== this.lastTime) {
      this.lastTime = video.currentTime;
      this.lastAdvance = now;
    }
    const still = now - this.lastAdvance;
    const frozen = this.showing && still > FROZEN_AFTER_MS;
    if (frozen !== this.isFrozen) {
      this.isFrozen = frozen;
      this.handlers.changed();
    }
    if (now - this.fpsSince >= 1_000) {
      this.stats.fps = Math.round((this.framesThisSecond * 10_000) / (now - this.fpsSince)) / 10;
      this.framesThisSecond = 0;
      this.fpsSince = now;
    }
    if (this.buffer && still > STALL_MS) this.stalled();
    if (this.buffer) this.keepLive();
  }
}
