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

// Keeping up with the live edge. Chromium plays an MSE stream of unknown
// (infinite) duration as live and catches up by itself, a few per cent
// faster, when far behind. Seeking often, or changing playbackRate, on top of
// that makes its renderer underflow at every frame and drop most of them
// (measured against a mock server at 10 fps), so the player seeks only when
// the picture is clearly behind: at the start (the server starts from the
// last keyframe), at a gap, when stuck, or after falling behind for a while
// (a busy or hidden tab); and it lands two frames behind the newest, not one
// (one frame: a tile in four got stuck; two: none, in all runs).

/** How far behind the newest frame playback may fall before it jumps ahead. */
const MAX_BEHIND_S = 0.5;
/** ...for this long, once playing (Chromium's own catch-up gets there first). */
const BEHIND_FOR_MS = 3_000;
/** Where a jump lands, in frames behind the newest. */
const LIVE_EDGE_FRAMES = 2;
const LIVE_EDGE_MIN_S = 0.1;
const LIVE_EDGE_MAX_S = 0.4;
/** Jumps right away while the first picture settles. */
const SETTLE_MS = 1_500;
/** Buffer kept behind the playhead. */
const KEEP_BEHIND_S = 10;
/** Neither currentTime nor the picture moving for this long, with frames ahead: a stall. */
const STALL_MS = 600;
/**
 * Playing at less than this speed over a second, with frames ahead: a stall
 * too. Chromium's renderer can get stuck underflowing at every frame (the
 * clock creeping a millisecond per frame, nearly every frame dropped) after
 * running dry with too thin a buffer; a seek a few frames back cures it.
 */
const MIN_RATE = 0.5;
/** currentTime moving less than this does not count as the picture advancing. */
const MOVED_S = 0.04;
/** Neither currentTime nor the picture moving for this long: the picture is frozen. */
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
  if (!MediaSource.isTypeSupported(mime)) return /codecs="?(hvc1|hev1)/.test(mime) ? "no H.265 decoder" : "no H.264 decoder";
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
  /** When currentTime or the picture last moved (performance.now()). */
  private lastAdvance = performance.now();
  private lastTime = -1;
  /** currentTime a second ago, and when: the playback rate actually achieved. */
  private rateFrom = 0;
  private rateSince = 0;
  /** Media time (s) of the last frame put on screen, and when. */
  private shownMediaTime = -1;
  private shownAt = 0;
  private firstFrameAt = 0;
  /** Since when playback has been more than MAX_BEHIND_S behind (0: it is not). */
  private behindSince = 0;
  /** Frame duration, learnt from how far each appended frame moves the buffered end. */
  private frameS = 0.1;
  private lastEnd = 0;
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
    this.video.addEventListener("waiting", () => this.atGap());
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
    this.firstFrameAt = 0;
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
    this.firstFrameAt = 0;
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
          if (this.buffer !== buffer) return;
          this.learnFrameDuration();
          this.pump();
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
    this.lastTime = -1;
    this.lastEnd = 0;
    this.shownMediaTime = -1;
    this.behindSince = 0;
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

  private learnFrameDuration(): void {
    const ranges = this.video.buffered;
    if (ranges.length === 0) return;
    const end = ranges.end(ranges.length - 1);
    const step = end - this.lastEnd;
    this.lastEnd = end;
    if (step > 0.005 && step < 0.25) this.frameS += (step - this.frameS) * 0.1;
  }

  /** Where a jump lands: a few frames behind the newest one. */
  private get edgeS(): number {
    return Math.min(LIVE_EDGE_MAX_S, Math.max(LIVE_EDGE_MIN_S, LIVE_EDGE_FRAMES * this.frameS));
  }

  /** The media time on screen: the last frame shown when recent (currentTime can lag it), else currentTime. */
  private playhead(now: number): number {
    const t = this.video.currentTime;
    return now - this.shownAt < 500 ? Math.max(t, this.shownMediaTime) : t;
  }

  /** Jumps to the live edge when clearly behind, trims what is long past, keeps playing. */
  private keepLive(): void {
    const video = this.video;
    const ranges = video.buffered;
    if (ranges.length === 0) return;
    const now = performance.now();
    const end = ranges.end(ranges.length - 1);
    this.stats.bufferMs = Math.round((end - video.currentTime) * 1000);
    const behind = end - this.playhead(now);
    const settling = this.firstFrameAt === 0 || now - this.firstFrameAt < SETTLE_MS;
    if (behind <= MAX_BEHIND_S) this.behindSince = 0;
    else if (this.behindSince === 0) this.behindSince = now;
    if (behind > MAX_BEHIND_S && (settling || now - this.behindSince > BEHIND_FOR_MS)) this.seekToEdge(settling);
    if (video.paused) void video.play().catch(() => undefined);
    if (now - this.lastTrim > 2_000) {
      this.lastTrim = now;
      this.trim(KEEP_BEHIND_S);
    }
  }

  /** At most once a second once playing, so nothing can cause a storm of seeks. */
  private seekToEdge(settling = false, margin = 0): void {
    const ranges = this.video.buffered;
    const now = performance.now();
    if (ranges.length === 0 || this.video.seeking || (!settling && now - this.lastSeek < 1_000)) return;
    this.lastSeek = now;
    this.behindSince = 0;
    const last = ranges.length - 1;
    this.video.currentTime = Math.max(ranges.start(last), ranges.end(last) - this.edgeS - margin);
  }

  private trim(keepBehind: number): void {
    const buffer = this.buffer;
    const ranges = this.video.buffered;
    if (!buffer || buffer.updating || ranges.length === 0) return;
    const until = this.video.currentTime - keepBehind;
    if (until - ranges.start(0) > 1) buffer.remove(ranges.start(0), until);
  }

  /** `waiting` before a gap (frames the server skipped): jump over it. Plain underflow: the next frame is on its way. */
  private atGap(): void {
    const ranges = this.video.buffered;
    const last = ranges.length - 1;
    if (last >= 1 && this.video.currentTime < ranges.start(last)) this.seekToEdge();
  }

  /** Neither currentTime nor the picture moved for a while with frames ahead: a decoder hiccup or a gap. */
  private stalled(): void {
    const ranges = this.video.buffered;
    if (ranges.length === 0) return;
    const last = ranges.length - 1;
    const t = this.video.currentTime;
    // One frame further back than a plain jump: a thin buffer is what gets the renderer stuck.
    if (ranges.end(last) - t > this.edgeS + this.frameS || t < ranges.start(last)) this.seekToEdge(false, this.frameS);
  }

  /** Every frame on screen: its capture time, latency, frame rate, first-frame time. */
  private onVideoFrame(): void {
    const video = this.video as VideoWithFrames;
    const shown = (mediaTime: number, displayDelayMs: number): void => {
      if (!this.source) return;
      const mediaUs = Math.round(this.baseUs + mediaTime * 1e6);
      const now = performance.now();
      if (mediaTime !== this.shownMediaTime) this.lastAdvance = now;
      this.shownMediaTime = mediaTime;
      this.shownAt = now;
      this.lastShownUs = mediaUs;
      this.stats.latencyMs = Math.round(Date.now() + displayDelayMs - mediaUs / 1000);
      this.framesThisSecond += 1;
      if (this.stats.firstFrameMs === null) {
        this.firstFrameAt = now;
        this.stats.firstFrameMs = Math.round(now - this.openedAt);
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

  /**
   * The tile's own watchdog: a picture that stops advancing is frozen,
   * whatever the server says. Advancing: a new frame on screen, or
   * currentTime moving (a hidden tile's frames are not painted).
   */
  private tick(): void {
    const now = performance.now();
    const video = this.video;
    const t = video.currentTime;
    if (Math.abs(t - this.lastTime) >= MOVED_S) {
      this.lastTime = t;
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
    let slow = false;
    if (now - this.rateSince >= 1_000) {
      slow = this.rateSince > 0 && (t - this.rateFrom) / ((now - this.rateSince) / 1_000) < MIN_RATE;
      this.rateFrom = t;
      this.rateSince = now;
    }
    if (this.buffer && this.showing && !video.paused && (still > STALL_MS || slow)) this.stalled();
    if (this.buffer) this.keepLive();
  }
}
