// The alarm sound: a tone pattern per priority, repeating while any alert is
// new (unacknowledged). Browsers and WebKit refuse audio.play() until the
// user has interacted with the page; every refusal shows a persistent red
// banner that enables the sound on click, and the next key or click
// anywhere tries again too.

import type { Priority } from "./api";

const SAMPLE_RATE = 8_000;

/** Beeps (frequency Hz, count) and the length of one repetition (s), per priority. */
const PATTERNS: Record<Priority, { hz: number; beeps: number; period: number }> = {
  high: { hz: 880, beeps: 3, period: 1.2 },
  medium: { hz: 660, beeps: 2, period: 2.0 },
  low: { hz: 520, beeps: 1, period: 3.0 },
};

/** One repetition of the pattern as a 16-bit mono WAV data URL. */
function patternWav(priority: Priority): string {
  const { hz, beeps, period } = PATTERNS[priority];
  const samples = Math.round(period * SAMPLE_RATE);
  const beep = 0.15 * SAMPLE_RATE;
  const gap = 0.1 * SAMPLE_RATE;
  const data = new DataView(new ArrayBuffer(44 + samples * 2));
  const text = (at: number, s: string): void => [...s].forEach((c, i) => data.setUint8(at + i, c.charCodeAt(0)));
  text(0, "RIFF");
  data.setUint32(4, 36 + samples * 2, true);
  text(8, "WAVEfmt ");
  data.setUint32(16, 16, true);
  data.setUint16(20, 1, true);
  data.setUint16(22, 1, true);
  data.setUint32(24, SAMPLE_RATE, true);
  data.setUint32(28, SAMPLE_RATE * 2, true);
  data.setUint16(32, 2, true);
  data.setUint16(34, 16, true);
  text(36, "data");
  data.setUint32(40, samples * 2, true);
  for (let i = 0; i < samples; i++) {
    const k = Math.floor(i / (beep + gap));
    const inBeep = k < beeps && i % (beep + gap) < beep;
    const v = inBeep ? Math.sin((2 * Math.PI * hz * i) / SAMPLE_RATE) * 0.5 : 0;
    data.setInt16(44 + i * 2, Math.round(v * 32767), true);
  }
  let binary = "";
  const bytes = new Uint8Array(data.buffer);
  for (const b of bytes) binary += String.fromCharCode(b);
  return `data:audio/wav;base64,${btoa(binary)}`;
}

export class AlarmSound {
  readonly audio = new Audio();
  private priority: Priority | null = null;
  private blocked = false;
  private attempts = 0;

  constructor(private readonly banner: HTMLButtonElement) {
    this.audio.loop = true;
    this.audio.dataset["testid"] = "alarm-audio";
    this.banner.hidden = true;
    this.banner.addEventListener("click", () => this.retry());
    const retryOnGesture = (): void => {
      if (this.blocked) this.retry();
    };
    document.addEventListener("pointerdown", retryOnGesture, true);
    document.addEventListener("keydown", retryOnGesture, true);
  }

  /** Plays the pattern of the highest priority among new alerts; `null` stops. */
  set(priority: Priority | null): void {
    if (priority === this.priority) return;
    this.priority = priority;
    if (priority === null) {
      this.audio.pause();
      this.setBlocked(false);
      return;
    }
    this.audio.src = patternWav(priority);
    this.play();
  }

  get playing(): boolean {
    return !this.audio.paused;
  }

  private retry(): void {
    if (this.priority !== null) this.play();
    else this.setBlocked(false);
  }

  private play(): void {
    // Only the latest attempt speaks: a refusal from before a click must not
    // bring the banner back over a sound that is playing now.
    const attempt = ++this.attempts;
    this.audio.play().then(
      () => {
        if (attempt === this.attempts) this.setBlocked(false);
      },
      (err: unknown) => {
        if (attempt !== this.attempts || !this.audio.paused) return;
        // Superseded by a newer src (AbortError) is not a block.
        if (err instanceof DOMException && err.name === "AbortError") return;
        if (this.priority !== null) this.setBlocked(true);
      },
    );
  }

  private setBlocked(blocked: boolean): void {
    this.blocked = blocked;
    this.banner.hidden = !blocked;
    document.body.dataset["sound"] = blocked ? "blocked" : this.priority ? "playing" : "idle";
  }
}
