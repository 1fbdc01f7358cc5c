// Plays one camera's recorded segments through Media Source Extensions.
//
// Each segment file is a fragmented MP4 whose fragment times are UTC µs
// (timescale 1 MHz), like the live stream's. Every file goes into one
// SourceBuffer with the same timestampOffset (−originUs), so currentTime
// runs on across files and originUs + currentTime is the server's clock.
// A plain <video src> would not do: its clock would start at the absolute
// fragment time, and it cannot go on into the next file.
//
// Files are streamed into the buffer as they arrive, so playback starts on
// the first fragments; the next file is fetched while one plays (further
// ahead at high speed). The file still being written is read again from
// where the last read stopped (HTTP Range): appends are one byte stream to
// the parser, so a fragment split between two reads is fine, but a new file
// must reset the parser first. Playing into a gap between recordings skips
// to the next one; seeking into one says where the next recording starts.

import { fetchRecording, listRecordings, type Recording } from "./api";
import { whyNot } from "./livePlayer";

/** Room before the first file, so jumping back a little needs no new MediaSource. */
const ORIGIN_SLACK_US = 3_600_000_000;
/** Fetch more when less than this much video is ahead, times the speed. */
const AHEAD_S = 12;
/** Buffer kept around the playhead; the rest is dropped. */
const KEEP_BEHIND_S = 60;
const KEEP_AHEAD_S = 600;
/** Appended in pieces of about this size; the first piece small, to start soon. */
const FIRST_APPEND = 64 * 1024;
const APPEND = 512 * 1024;
/** A hole between two files longer than this is a gap, skipped while playing. */
const GAP_US = 400_000;
/** How often to read a growing file again, or ask for new files. */
const POLL_MS = 1_000;
const TICK_MS = 200;
const TRIM_EVERY_MS = 5_000;

export type PlayerState = "loading" | "playing" | "paused" | "buffering" | "gap" | "edge" | "end" | "error";

export interface PlayerStatus {
  state: PlayerState;
  /** A sentence for the user; empty while all is well. */
  message: string;
  /** At a gap: where the next recording starts (null: none after it). */
  nextUs: number | null;
}

const mimeOf = (r: Recording): string => `video/mp4; codecs="${r.codec}"`;
const isAbort = (e: unknown): boolean => e instanceof DOMException && e.name === "AbortError";

export class RecordingPlayer {
  readonly video: HTMLVideoElement;
  status: PlayerStatus = { state: "loading", message: "", nextUs: null };

  /** Files known for this camera, by id, and sorted by start. */
  private readonly known = new Map<number, Recording>();
  private sorted: Recording[] = [];
  private source: MediaSource | null = null;
  private buffer: SourceBuffer | null = null;
  private mime = "";
  private originUs = 0;
  /** The file whose bytes went in last, and how many: the parser is part way through it. */
  private cont: { id: number; bytes: number } | null = null;
  /** The fetch-and-append (or removal) under way; one at a time. */
  private busy: Promise<unknown> | null = null;
  private abort: AbortController | null = null;
  /** Bumped by every seek: older seeks stop where they are. */
  private generation = 0;
  /** While a seek is under way, or at a gap: the time asked for. */
  private pendingUs: number | null = null;
  private wantPlay = false;
  private rate = 1;
  private lastReread = 0;
  private lastList = 0;
  private lastTrim = 0;
  /** A short-lived note ("Skipped a gap…") and until when it shows. */
  private note = "";
  private noteUntil = 0;
  private readonly timer: number;
  private destroyed = false;
  /** An error is shown until the next seek. */
  private errored = false;

  constructor(
    private readonly cameraId: number,
    private readonly changed: () => void,
  ) {
    this.video = document.createElement("video");
    this.video.muted = true;
    this.video.playsInline = true;
    this.video.disablePictureInPicture = true;
    this.video.className = "playback__video";
    for (const type of ["playing", "pause", "waiting", "seeked", "ratechange"]) {
      this.video.addEventListener(type, () => this.update());
    }
    this.video.addEventListener("error", () => this.decodeFailed());
    this.timer = window.setInterval(() => this.tick(), TICK_MS);
    this.everyFrame();
  }

  /** Every new frame on screen moves the clock, not just the next tick. */
  private everyFrame(): void {
    const video = this.video as HTMLVideoElement & { requestVideoFrameCallback?: (cb: () => void) => number };
    if (!video.requestVideoFrameCallback) return;
    const loop = (): void => {
      if (this.destroyed) return;
      if (this.pendingUs === null) this.changed();
      video.requestVideoFrameCallback?.(loop);
    };
    video.requestVideoFrameCallback(loop);
  }

  /** The moment on screen (UTC µs); while seeking, the one asked for. */
  get timeUs(): number {
    return this.pendingUs ?? this.originUs + this.video.currentTime * 1e6;
  }

  get playing(): boolean {
    return this.wantPlay;
  }

  get speed(): number {
    return this.rate;
  }

  /**
   * Shows `us` and plays from there when `play`. In a gap, `snapUs` lets
   * it start at the next recording if that is at most this much later
   * (an alert's pre-roll that was not recorded).
   */
  async seek(us: number, play = this.wantPlay, snapUs = 0): Promise<void> {
    const generation = ++this.generation;
    this.wantPlay = play;
    this.errored = false;
    if (this.buffer && this.buffered(us) && this.source?.readyState === "open") {
      this.pendingUs = null;
      this.video.currentTime = this.toS(us);
      this.applyPlay();
      this.update();
      return;
    }
    this.pendingUs = us;
    this.setStatus("loading", "Loading the recording…");
    await this.stopLoading();
    if (generation !== this.generation) return;
    try {
      await this.list(us - 120_000_000, us + 3_600_000_000);
      if (generation !== this.generation) return;
      let file = this.fileAt(us);
      if (!file) {
        const next = await this.nextAfter(us);
        if (generation !== this.generation) return;
        if (!next || next.start_us - us > snapUs) {
          this.atGap(us, next);
          return;
        }
        us = next.start_us;
        this.pendingUs = us;
        file = next;
      }
      if (!this.source || !this.buffer || us < this.originUs || mimeOf(file) !== this.mime) await this.rebuild(file);
      if (generation !== this.generation) return;
      const target = us;
      const place = (): void => {
        if (generation !== this.generation) return;
        this.extendTo(target);
        this.video.currentTime = this.toS(target);
        this.pendingUs = null;
        this.applyPlay();
        this.update();
      };
      this.extendTo(target);
      // Chromium learns the header a moment after the append: a seek before that is lost.
      await this.load(file, 0, () => {
        if (this.video.readyState >= HTMLMediaElement.HAVE_METADATA) place();
        else this.video.addEventListener("loadedmetadata", place, { once: true });
      });
    } catch (e) {
      if (generation === this.generation && !isAbort(e)) this.fail(e);
    }
  }

  /** Jumps by `deltaUs` from the moment on screen. */
  jump(deltaUs: number): void {
    void this.seek(this.timeUs + deltaUs);
  }

  play(): void {
    if (this.status.state === "gap") {
      if (this.status.nextUs !== null) void this.seek(this.status.nextUs, true);
      return;
    }
    this.wantPlay = true;
    this.applyPlay();
    this.update();
  }

  pause(): void {
    this.wantPlay = false;
    this.applyPlay();
    this.update();
  }

  toggle(): void {
    if (this.wantPlay) this.pause();
    else this.play();
  }

  setSpeed(rate: number): void {
    this.rate = rate;
    this.video.defaultPlaybackRate = rate;
    this.video.playbackRate = rate;
    this.update();
  }

  destroy(): void {
    this.destroyed = true;
    this.generation += 1;
    window.clearInterval(this.timer);
    this.abort?.abort();
    this.teardown();
    this.video.remove();
  }

  // ---- Files ---------------------------------------------------------------

  /** Asks the server for the files over a range and merges them in. */
  private async list(fromUs: number, toUs: number): Promise<Recording[]> {
    this.lastList = performance.now();
    const found = await listRecordings(this.cameraId, fromUs, toUs);
    for (const r of found) this.known.set(r.id, r);
    this.sorted = [...this.known.values()].sort((a, b) => a.start_us - b.start_us);
    return found;
  }

  private fileAt(us: number): Recording | undefined {
    return this.sorted.find((r) => r.start_us <= us && us < r.end_us);
  }

  /** The first recording after `us`: the next hour, else day, else week. */
  private async nextAfter(us: number): Promise<Recording | undefined> {
    for (const span of [3_600e6, 86_400e6, 7 * 86_400e6]) {
      const next = (await this.list(us, us + span)).filter((r) => r.start_us > us).sort((a, b) => a.start_us - b.start_us)[0];
      if (next) return next;
    }
    return undefined;
  }

  // ---- Media Source --------------------------------------------------------

  private toS(us: number): number {
    return (us - this.originUs) / 1e6;
  }

  private toUs(s: number): number {
    return this.originUs + s * 1e6;
  }

  /** The buffered range around `s` seconds, if any. */
  private rangeAt(s: number): { start: number; end: number } | null {
    const ranges = this.video.buffered;
    for (let i = 0; i < ranges.length; i++) {
      // A hair of slack: currentTime can sit a frame short of a range's start.
      if (ranges.start(i) - 0.05 <= s && s < ranges.end(i)) return { start: ranges.start(i), end: ranges.end(i) };
    }
    return null;
  }

  private buffered(us: number): boolean {
    return this.rangeAt(this.toS(us)) !== null;
  }

  /** A fresh MediaSource whose clock starts a while before `file`. */
  private rebuild(file: Recording): Promise<void> {
    this.teardown();
    const mime = mimeOf(file);
    const why = whyNot(mime);
    if (why) return Promise.reject(new Error(`This window cannot play this recording (${why} for ${file.codec}).`));
    const origin = file.start_us - ORIGIN_SLACK_US;
    const source = new MediaSource();
    this.source = source;
    const url = URL.createObjectURL(source);
    this.video.src = url;
    this.video.defaultPlaybackRate = this.rate;
    this.video.playbackRate = this.rate;
    return new Promise((resolve, reject) => {
      source.addEventListener(
        "sourceopen",
        () => {
          URL.revokeObjectURL(url);
          if (this.source !== source) return reject(new DOMException("replaced", "AbortError"));
          try {
            const buffer = source.addSourceBuffer(mime);
            buffer.mode = "segments";
            buffer.timestampOffset = -origin / 1e6;
            this.buffer = buffer;
            this.mime = mime;
            this.originUs = origin;
            resolve();
          } catch (e) {
            reject(e instanceof Error ? e : new Error(String(e)));
          }
        },
        { once: true },
      );
    });
  }

  /**
   * A seek past the duration lands on the duration, and the duration so far
   * is only what has been appended: make room up to `us` first.
   */
  private extendTo(us: number): void {
    const source = this.source;
    const s = this.toS(us) + 1;
    if (!source || source.readyState !== "open" || this.buffer?.updating || source.duration >= s) return;
    try {
      source.duration = s;
    } catch {
      // Being updated: the seek may land short, and the next append lets it on.
    }
  }

  private teardown(): void {
    this.buffer = null;
    this.cont = null;
    this.mime = "";
    if (this.source?.readyState === "open") {
      try {
        this.source.endOfStream();
      } catch {
        // Already ending.
      }
    }
    this.source = null;
    this.video.removeAttribute("src");
    this.video.load();
  }

  /**
   * Streams `file` from byte `from` into the buffer; `first` runs once the
   * first piece is in (the picture's size and codec are known by then).
   * Resolves to the bytes appended.
   */
  private load(file: Recording, from: number, first?: () => void): Promise<number> {
    const run = async (): Promise<number> => {
      const abort = new AbortController();
      this.abort = abort;
      if (from === 0) this.resetParser();
      const res = await fetchRecording(file.url, from, abort.signal);
      if (!res) return 0;
      // A server that ignored the Range header sent the whole file again.
      let skip = res.status === 200 ? from : 0;
      this.cont = { id: file.id, bytes: from };
      const reader = res.body?.getReader();
      if (!reader) return 0;
      let pieces: Uint8Array[] = [];
      let size = 0;
      let appended = 0;
      const flush = async (): Promise<void> => {
        if (size === 0) return;
        const joined = new Uint8Array(size);
        let at = 0;
        for (const p of pieces) {
          joined.set(p, at);
          at += p.byteLength;
        }
        pieces = [];
        size = 0;
        await this.append(joined);
        appended += joined.byteLength;
        if (this.cont?.id === file.id) this.cont.bytes += joined.byteLength;
        const done = first;
        first = undefined;
        done?.();
      };
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        let chunk = value;
        if (skip > 0) {
          const n = Math.min(skip, chunk.byteLength);
          chunk = chunk.subarray(n);
          skip -= n;
        }
        if (chunk.byteLength === 0) continue;
        pieces.push(chunk);
        size += chunk.byteLength;
        if (size >= (appended === 0 ? FIRST_APPEND : APPEND)) await flush();
      }
      await flush();
      first?.();
      return appended;
    };
    const job = run().finally(() => {
      if (this.busy === job) this.busy = null;
    });
    this.busy = job;
    return job;
  }

  private append(data: Uint8Array<ArrayBuffer>): Promise<void> {
    return this.whileIdle((buffer) => buffer.appendBuffer(data)).catch(async (e: unknown) => {
      if (!(e instanceof DOMException && e.name === "QuotaExceededError")) throw e;
      // Full: drop what is behind the playhead and try once more.
      await this.remove(0, this.video.currentTime - 2);
      await this.whileIdle((buffer) => buffer.appendBuffer(data));
    });
  }

  private remove(startS: number, endS: number): Promise<void> {
    if (endS - startS < 0.5) return Promise.resolve();
    return this.whileIdle((buffer) => buffer.remove(Math.max(0, startS), endS));
  }

  /** Runs one SourceBuffer operation and waits for its updateend. */
  private whileIdle(operation: (buffer: SourceBuffer) => void): Promise<void> {
    const buffer = this.buffer;
    if (!buffer || this.source?.readyState !== "open") return Promise.reject(new DOMException("closed", "AbortError"));
    return new Promise((resolve, reject) => {
      let failed = false;
      const onError = (): void => {
        failed = true;
      };
      const onEnd = (): void => {
        buffer.removeEventListener("error", onError);
        buffer.removeEventListener("updateend", onEnd);
        if (failed) reject(new Error("the browser could not read this recording"));
        else resolve();
      };
      buffer.addEventListener("error", onError);
      buffer.addEventListener("updateend", onEnd);
      try {
        operation(buffer);
      } catch (e) {
        buffer.removeEventListener("error", onError);
        buffer.removeEventListener("updateend", onEnd);
        reject(e);
      }
    });
  }

  /** A new file starts with its own header: the parser must not be part way through the last one. */
  private resetParser(): void {
    this.cont = null;
    if (this.buffer && this.source?.readyState === "open") {
      try {
        this.buffer.abort();
      } catch {
        // Nothing to reset.
      }
    }
  }

  private async stopLoading(): Promise<void> {
    const busy = this.busy;
    if (!busy) return;
    this.abort?.abort();
    await busy.catch(() => undefined);
    this.resetParser();
  }

  // ---- Playing on ----------------------------------------------------------

  private applyPlay(): void {
    if (this.wantPlay && this.pendingUs === null) void this.video.play().catch(() => undefined);
    else if (!this.wantPlay) this.video.pause();
  }

  private atGap(us: number, next: Recording | undefined): void {
    this.pendingUs = us;
    this.video.pause();
    this.status = { state: "gap", message: "No recording here.", nextUs: next?.start_us ?? null };
    this.changed();
  }

  private fail(e: unknown): void {
    this.errored = true;
    this.video.pause();
    const why = e instanceof Error ? e.message : String(e);
    this.setStatus("error", why);
  }

  private decodeFailed(): void {
    if (!this.source || this.destroyed) return;
    const why = this.video.error?.message || `code ${this.video.error?.code ?? 0}`;
    // The next seek starts afresh.
    this.source = null;
    this.buffer = null;
    this.fail(new Error(`The recording could not be decoded here (${why}).`));
  }

  private setStatus(state: PlayerState, message: string): void {
    this.status = { state, message, nextUs: null };
    this.changed();
  }

  /** The state from the video element, unless a seek, a gap or an error says otherwise. */
  private update(): void {
    if (this.pendingUs !== null || this.errored) {
      this.changed();
      return;
    }
    const v = this.video;
    const note = performance.now() < this.noteUntil ? this.note : "";
    if (!this.wantPlay) this.status = { state: "paused", message: note, nextUs: null };
    else if (!v.paused && v.readyState >= 3) this.status = { state: "playing", message: note, nextUs: null };
    else {
      const range = this.rangeAt(v.currentTime);
      const atEnd = range !== null && range.end - v.currentTime < 0.3 && !this.busy;
      const last = this.sorted[this.sorted.length - 1];
      const newest = last !== undefined && this.toUs(v.currentTime) >= last.start_us;
      if (atEnd && newest && last.open) this.status = { state: "edge", message: "At the newest recording: waiting for more video…", nextUs: null };
      else if (atEnd && newest) this.status = { state: "end", message: "End of the recordings.", nextUs: null };
      else this.status = { state: "buffering", message: "Loading…", nextUs: null };
    }
    this.changed();
  }

  private tick(): void {
    if (this.destroyed || !this.buffer || this.pendingUs !== null || this.errored) return;
    const v = this.video;
    const range = this.rangeAt(v.currentTime);
    if (this.wantPlay && range && range.end - v.currentTime < 0.25 && !v.seeking) this.overGap(range.end);
    if (!this.busy) this.loadMore();
    if (!this.busy && performance.now() - this.lastTrim > TRIM_EVERY_MS) this.trim();
    this.update();
    // Caught up with the file being written: faster than real time would only stutter.
    if (this.status.state === "edge" && this.rate > 1) {
      this.note = "Caught up with the recording: back to 1×.";
      this.noteUntil = performance.now() + 4_000;
      this.setSpeed(1);
    }
  }

  /** Playing reached the end of what is buffered: a gap before the next file is skipped. */
  private overGap(endS: number): void {
    const endUs = this.toUs(endS);
    const next = this.sorted.find((r) => r.start_us > endUs - GAP_US && r.end_us > endUs + GAP_US);
    if (!next || next.start_us - endUs <= GAP_US) return;
    if (this.buffered(next.start_us + 50_000)) {
      this.video.currentTime = this.toS(next.start_us) + 0.01;
      const from = new Date(endUs / 1000).toLocaleTimeString();
      const to = new Date(next.start_us / 1000).toLocaleTimeString();
      this.note = `Skipped a gap: nothing recorded from ${from} to ${to}.`;
      this.noteUntil = performance.now() + 4_000;
    } else if (mimeOf(next) !== this.mime && !this.busy) {
      void this.seek(next.start_us, true);
    }
  }

  /** Reads on: the rest of a growing file, the rest of a file cut short, or the next file. */
  private loadMore(): void {
    const v = this.video;
    const range = this.rangeAt(v.currentTime);
    if (!range || range.end - v.currentTime > AHEAD_S * Math.max(1, this.rate)) return;
    const endUs = this.toUs(range.end);
    const at = this.sorted.filter((r) => r.start_us <= endUs - 50_000).pop();
    if (!at) return;
    const now = performance.now();
    const quiet = (e: unknown): void => {
      if (!isAbort(e)) this.fail(e);
    };
    if (this.cont?.id === at.id) {
      if (at.open || this.cont.bytes < at.bytes) {
        if (now - this.lastReread < POLL_MS) return;
        this.lastReread = now;
        void this.load(at, this.cont.bytes).then((n) => {
          if (n > 0) return undefined;
          // Nothing more in a closed file: done with it, whatever the index said.
          if (!at.open && this.cont?.id === at.id) this.cont.bytes = Math.max(this.cont.bytes, at.bytes);
          // Nothing new: perhaps the file was closed and the next one begun.
          if (performance.now() - this.lastList > POLL_MS) return this.list(at.start_us, at.start_us + 3_600e6);
          return undefined;
        }, quiet).catch(() => undefined);
        return;
      }
    } else if (endUs < at.end_us - GAP_US) {
      void this.load(at, 0).catch(quiet);
      return;
    }
    const next = this.sorted.find((r) => r.start_us > at.start_us);
    if (!next) {
      if (now - this.lastList > 2 * POLL_MS) void this.list(endUs - 60e6, endUs + 3_600e6).catch(() => undefined);
      return;
    }
    if (this.buffered(next.start_us + 50_000) || mimeOf(next) !== this.mime) return;
    void this.load(next, 0).catch(quiet);
  }

  /** Drops what is long behind or far ahead of the playhead (memory; the browser's quota). */
  private trim(): void {
    this.lastTrim = performance.now();
    const t = this.video.currentTime;
    const ranges = this.video.buffered;
    if (ranges.length === 0) return;
    const first = ranges.start(0);
    const last = ranges.end(ranges.length - 1);
    const job = (async (): Promise<void> => {
      if (t - KEEP_BEHIND_S > first + 1) await this.remove(first, t - KEEP_BEHIND_S);
      if (last > t + KEEP_AHEAD_S + 1) await this.remove(t + KEEP_AHEAD_S, last);
    })()
      .catch(() => undefined)
      .finally(() => {
        if (this.busy === job) this.busy = null;
      });
    this.busy = job;
  }
}
