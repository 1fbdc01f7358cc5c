// Typed client for the Peregrine REST + WebSocket API (same origin, cookie auth).

export type CameraState = "connecting" | "live" | "stale" | "reconnecting" | "error" | "disabled";

export interface Health {
  version: string;
  uptime_s: number;
  cameras: number;
  /** Desktop window only: whether native notifications could be shown. */
  notifications?: { ok: boolean; message: string };
  /** `service`: the recording service (records with no window open); `standalone`: records while this console runs. */
  mode?: "service" | "standalone";
}

export interface Camera {
  id: number;
  name: string;
  url: string;
  sub_url: string | null;
  username: string | null;
  has_password: boolean;
  detect_fps: number;
  enabled: boolean;
  state: CameraState;
  /** A sentence explaining the state; empty when live. */
  message: string;
  fps: number;
  bitrate_kbps: number;
  width: number | null;
  height: number | null;
  /** RFC 3339 timestamp, or null before the first frame. */
  last_frame_at: string | null;
  /** When the next connection attempt starts (reconnecting / error), RFC 3339. */
  retry_at: string | null;
  /** Classes kept for this camera; null keeps all. */
  classes: string[] | null;
  min_score: number;
  /** Present when the camera has a sub stream: the health of the stream detection runs on. */
  detect_stream?: { state: CameraState; message: string; fps: number; width: number | null; height: number | null };
  record_mode: RecordMode;
  pre_roll_s: number;
  post_roll_s: number;
  /** Days of video kept; null: the installation's setting. */
  retain_days: number | null;
  /** This camera's cap on disk in bytes; null: none of its own. */
  max_bytes: number | null;
  /** How recording is going; null while the camera is disabled. */
  recording: RecordingHealth | null;
}

/** "events": only around detections, with pre- and post-roll. */
export type RecordMode = "off" | "continuous" | "events";

export interface RecordingHealth {
  state: "off" | "starting" | "recording" | "waiting" | "error";
  /** A sentence when something is wrong (a full disk), empty otherwise. */
  message: string;
  last_written_at: string | null;
}

/** Normalised box (0..1), top-left origin, relative to the frame. */
export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** One object found in a frame, as carried by a `detections` event. */
export interface FrameDetection {
  class: string;
  score: number;
  box: Box;
  track_id: number | null;
}

/** A stored detection, as returned by `GET /api/v1/detections`. */
export interface Detection extends FrameDetection {
  id: number;
  camera_id: number;
  media_time: string;
}

export interface DetectionsEvent {
  type: "detections";
  camera_id: number;
  media_time: string;
  /** The frame's UTC time in µs: matches the live video's frame times. */
  media_time_us: number;
  detections: FrameDetection[];
}

export interface CameraEvent {
  type: "camera";
  camera: Camera;
}

export type AlertState = "new" | "acknowledged" | "closed";
export type Priority = "low" | "medium" | "high";

/** An alert in the alarm queue. */
export interface Alert {
  id: number;
  camera_id: number;
  rule_id: number | null;
  rule_name: string;
  priority: Priority;
  media_time: string;
  media_time_us: number;
  track_id: number | null;
  class: string;
  score: number;
  zone: string;
  box: Box | null;
  /** Which rule, class, score, zone, track and when, as a sentence. */
  explanation: string;
  state: AlertState;
  false_alarm: boolean;
  note: string;
  updated_at: string;
  snapshot_url: string | null;
}

export interface AlertHistoryEntry {
  at: string;
  actor: string;
  state: AlertState;
  false_alarm: boolean;
  note: string;
}

export interface AlertDetail extends Alert {
  history: AlertHistoryEntry[];
}

export interface AlertList {
  alerts: Alert[];
  counts: { new: number; acknowledged: number };
}

export interface AlertEvent {
  type: "alert";
  alert: Alert;
}

export type ServerEvent = DetectionsEvent | CameraEvent | AlertEvent;

export interface DetectionQuery {
  camera?: number;
  class?: string;
  from?: string;
  to?: string;
  limit?: number;
}

/** Error body used by every non-2xx API response. */
export interface ApiErrorBody {
  code: string;
  message: string;
  field?: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field: string | undefined;

  constructor(status: number, body: ApiErrorBody) {
    super(body.message);
    this.name = "ApiError";
    this.status = status;
    this.code = body.code;
    this.field = body.field;
  }
}

/** Thrown on HTTP 401: the session cookie is missing or expired. */
export class SessionExpiredError extends ApiError {
  constructor(body: ApiErrorBody) {
    super(401, body);
    this.name = "SessionExpiredError";
  }
}

export const SESSION_EXPIRED_MESSAGE =
  "Session expired: reopen Peregrine from the link printed at start or from the app";

const API = "/api/v1";

function isErrorBody(value: unknown): value is ApiErrorBody {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { code?: unknown }).code === "string" &&
    typeof (value as { message?: unknown }).message === "string"
  );
}

async function errorFrom(res: Response): Promise<ApiError> {
  let body: ApiErrorBody = { code: "http_" + res.status, message: `${res.status} ${res.statusText}`.trim() };
  try {
    const parsed: unknown = await res.json();
    if (isErrorBody(parsed)) body = parsed;
  } catch {
    // Not JSON: keep the generic body.
  }
  return res.status === 401 ? new SessionExpiredError(body) : new ApiError(res.status, body);
}

async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const init: RequestInit = { credentials: "same-origin", headers: { Accept: "application/json" } };
  if (signal) init.signal = signal;
  const res = await fetch(API + path, init);
  if (!res.ok) throw await errorFrom(res);
  return (await res.json()) as T;
}

async function sendJson<T>(method: string, path: string, body: unknown, signal?: AbortSignal): Promise<T> {
  const init: RequestInit = {
    method,
    credentials: "same-origin",
    headers: { Accept: "application/json", "Content-Type": "application/json" },
    body: JSON.stringify(body),
  };
  if (signal) init.signal = signal;
  const res = await fetch(API + path, init);
  if (!res.ok) throw await errorFrom(res);
  return (await res.json()) as T;
}

/** What the operator types to add a camera; the password is sent once and never read back. */
export interface CameraInput {
  name: string;
  url: string;
  /** The camera's sub stream, for detection; null: detect on the main stream. */
  sub_url?: string | null;
  username?: string;
  password?: string;
  detect_fps?: number;
  /** Classes to keep; null keeps all. */
  classes?: string[] | null;
  min_score?: number;
  record_mode?: RecordMode;
  pre_roll_s?: number;
  post_roll_s?: number;
  retain_days?: number | null;
}

export interface StreamInfo {
  codec: string;
  profile: string | null;
  width: number;
  height: number;
  fps: number | null;
  audio: boolean;
}

export type ConnectionReport = { ok: true; stream: StreamInfo } | { ok: false; code: string; message: string };

/** Fields to change; `null` clears an optional one (username, password). */
/** What an ONVIF camera says about itself and its streams. */
export interface OnvifReport {
  device: { manufacturer: string; model: string; firmware: string; serial: string };
  profiles: { token: string; name: string; encoding: string; width: number | null; height: number | null; fps: number | null; stream_uri: string }[];
}

/** A camera that answered WS-Discovery (`POST /api/v1/onvif/discover`). */
export interface FoundCamera {
  host: string;
  port: number;
  xaddr: string;
  endpoint: string;
  manufacturer: string | null;
  model: string | null;
  name: string | null;
}

export function onvifDiscover(): Promise<{ cameras: FoundCamera[]; waited_ms: number }> {
  return sendJson<{ cameras: FoundCamera[]; waited_ms: number }>("POST", "/onvif/discover", {});
}

export function onvifProbe(input: { host: string; port?: number; username?: string; password?: string }): Promise<OnvifReport> {
  return sendJson<OnvifReport>("POST", "/onvif/probe", input);
}

export type CameraPatch = Partial<Omit<CameraInput, "username" | "password">> & {
  username?: string | null;
  password?: string | null;
  enabled?: boolean;
};

export function updateCamera(id: number, patch: CameraPatch): Promise<Camera> {
  return sendJson<Camera>("PATCH", `/cameras/${id}`, patch);
}

export async function deleteCamera(id: number): Promise<void> {
  const res = await fetch(`${API}/cameras/${id}`, { method: "DELETE", credentials: "same-origin" });
  if (!res.ok) throw await errorFrom(res);
}

export type ZoneKind = "zone" | "line" | "mask" | "privacy";

/** An area, a line (two points, crossed "in" from its left to its right) or a mask; points in 0..1. */
export interface Zone {
  id: number;
  camera_id: number;
  name: string;
  kind: ZoneKind;
  points: [number, number][];
}

export type Trigger =
  | { type: "enter" | "exit"; zone_id: number }
  | { type: "loiter"; zone_id: number; seconds: number }
  | { type: "cross"; line_id: number; direction: "in" | "out" | "both" }
  | { type: "count"; zone_id: number; at_least: number }
  | { type: "offline"; seconds: number };

export interface Schedule {
  days: string[];
  start: string;
  end: string;
}

export interface Rule {
  id: number;
  camera_id: number;
  template: string | null;
  name: string;
  enabled: boolean;
  priority: Priority;
  classes: string[];
  trigger: Trigger;
  schedule: Schedule | null;
  cooldown_s: number;
}

export interface RuleTemplate {
  id: string;
  name: string;
  description: string;
  /** What the owner picks for it; null: the whole camera. */
  needs: "zone" | "line" | null;
  rule: Rule;
}

async function deletePath(path: string): Promise<void> {
  const res = await fetch(API + path, { method: "DELETE", credentials: "same-origin" });
  if (!res.ok) throw await errorFrom(res);
}

export const listZones = (cameraId: number): Promise<Zone[]> => getJson<Zone[]>(`/cameras/${cameraId}/zones`);
export const createZone = (cameraId: number, zone: Pick<Zone, "name" | "kind" | "points">): Promise<Zone> =>
  sendJson<Zone>("POST", `/cameras/${cameraId}/zones`, zone);
export const deleteZone = (id: number): Promise<void> => deletePath(`/zones/${id}`);
export const listRules = (cameraId: number): Promise<Rule[]> => getJson<Rule[]>(`/cameras/${cameraId}/rules`);
export const createRuleFromTemplate = (cameraId: number, template: string, zoneId: number | null): Promise<Rule> =>
  sendJson<Rule>("POST", `/cameras/${cameraId}/rules`, zoneId === null ? { template } : { template, zone_id: zoneId });
export const updateRule = (id: number, patch: Partial<Omit<Rule, "id" | "camera_id" | "template">>): Promise<Rule> =>
  sendJson<Rule>("PATCH", `/rules/${id}`, patch);
export const deleteRule = (id: number): Promise<void> => deletePath(`/rules/${id}`);
/** A false alarm learnt from the operator: repeats (same rule, class, place and look) are kept quiet. */
export interface Exclusion {
  id: number;
  camera_id: number;
  alert_id: number | null;
  rule_id: number | null;
  class: string;
  box: Box;
  colours: string[];
  created_at: string;
  suppressed: number;
  last_suppressed_at: string | null;
}

export const listExclusions = (cameraId: number): Promise<Exclusion[]> => getJson<Exclusion[]>(`/cameras/${cameraId}/exclusions`);
export const deleteExclusion = (id: number): Promise<void> => deletePath(`/exclusions/${id}`);
export const listTemplates = (): Promise<RuleTemplate[]> => getJson<RuleTemplate[]>("/rule-templates");

export function createCamera(input: CameraInput): Promise<Camera> {
  return sendJson<Camera>("POST", "/cameras", input);
}

/** Connects as the camera would be and reports what the stream holds, or what is wrong. */
export function testConnection(
  input: Pick<CameraInput, "url" | "username" | "password"> & { camera_id?: number },
): Promise<ConnectionReport> {
  return sendJson<ConnectionReport>("POST", "/cameras/test", input);
}

export function getHealth(signal?: AbortSignal): Promise<Health> {
  return getJson<Health>("/health", signal);
}

export function listCameras(signal?: AbortSignal): Promise<Camera[]> {
  return getJson<Camera[]>("/cameras", signal);
}

/** Detections, newest first. */
export function listDetections(query: DetectionQuery = {}, signal?: AbortSignal): Promise<Detection[]> {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== "") params.set(key, String(value));
  }
  const qs = params.toString();
  return getJson<Detection[]>("/detections" + (qs ? "?" + qs : ""), signal);
}

/** URL of the latest decoded frame; `ts` defeats caches. */
export function listAlerts(states: readonly AlertState[], limit = 200, signal?: AbortSignal): Promise<AlertList> {
  const params = new URLSearchParams({ state: states.join(","), limit: String(limit) });
  return getJson<AlertList>(`/alerts?${params.toString()}`, signal);
}

export function getAlert(id: number): Promise<AlertDetail> {
  return getJson<AlertDetail>(`/alerts/${id}`);
}

export interface AlertPatch {
  state?: AlertState;
  note?: string;
  false_alarm?: boolean;
}

export function updateAlert(id: number, patch: AlertPatch): Promise<AlertDetail> {
  return sendJson<AlertDetail>("PATCH", `/alerts/${id}`, patch);
}

export function snapshotUrl(cameraId: number, ts: number = Date.now()): string {
  return `${API}/cameras/${encodeURIComponent(String(cameraId))}/snapshot.jpg?ts=${ts}`;
}

export function eventsUrl(loc: Location = window.location): string {
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${loc.host}${API}/events`;
}

function isServerEvent(value: unknown): value is ServerEvent {
  if (typeof value !== "object" || value === null) return false;
  const v = value as { type?: unknown; camera?: unknown; camera_id?: unknown; detections?: unknown; alert?: unknown };
  if (v.type === "camera") return typeof v.camera === "object" && v.camera !== null;
  if (v.type === "alert") return typeof v.alert === "object" && v.alert !== null && typeof (v.alert as { id?: unknown }).id === "number";
  if (v.type === "detections") return typeof v.camera_id === "number" && Array.isArray(v.detections);
  return false;
}

export type StreamStatus = "connecting" | "open" | "closed";

export interface EventStreamHandlers {
  onEvent(event: ServerEvent): void;
  /** Called on every successful (re)connection; `reconnect` is false the first time. */
  onOpen?(reconnect: boolean): void;
  onStatus?(status: StreamStatus): void;
}

/**
 * WebSocket subscription to `/api/v1/events` that reconnects with
 * exponential backoff (0.5 s doubling to 15 s, with jitter).
 */
export class EventStream {
  private ws: WebSocket | null = null;
  private timer: number | undefined;
  private attempt = 0;
  private opened = false;
  private stopped = false;

  constructor(
    private readonly handlers: EventStreamHandlers,
    private readonly url: string = eventsUrl(),
  ) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    window.clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = null;
      ws.close();
    }
    this.handlers.onStatus?.("closed");
  }

  private connect(): void {
    if (this.stopped) return;
    this.handlers.onStatus?.("connecting");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.handlers.onStatus?.("open");
      this.handlers.onOpen?.(this.opened);
      this.opened = true;
    };
    ws.onmessage = (msg: MessageEvent<unknown>) => {
      if (typeof msg.data !== "string") return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(msg.data);
      } catch {
        return;
      }
      if (isServerEvent(parsed)) this.handlers.onEvent(parsed);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      this.handlers.onStatus?.("closed");
      const base = Math.min(15_000, 500 * 2 ** this.attempt);
      this.attempt += 1;
      this.timer = window.setTimeout(() => this.connect(), base * (0.75 + Math.random() * 0.5));
    };
  }
}

// ---- Recordings and evidence (times are UTC µs, "media_time") ------------

/** One recorded segment file: fragmented MP4 whose fragment times are UTC µs. */
export interface Recording {
  id: number;
  camera_id: number;
  start_us: number;
  end_us: number;
  start: string;
  end: string;
  bytes: number;
  codec: string;
  width: number;
  height: number;
  /** Still being written: playable up to end_us, and growing. */
  open: boolean;
  /** `/api/v1/recordings/{id}/video.mp4`, with HTTP Range. */
  url: string;
}

export interface Bookmark {
  id: number;
  camera_id: number;
  media_time: number;
  note: string;
  created_by: string;
  created_at: number;
}

/** A range kept from retention, until `until_us` (null: until unlocked). */
export interface EvidenceLock {
  id: number;
  camera_id: number;
  start_us: number;
  end_us: number;
  reason: string;
  until_us: number | null;
  created_by: string;
  created_at: number;
}

/** Everything the playback timeline draws for one camera over a range. */
export interface Timeline {
  camera_id: number;
  from_us: number;
  to_us: number;
  bucket_us: number;
  recordings: [number, number][];
  /** Detections per bucket: [bucket start µs, count]; empty buckets left out. */
  density: [number, number][];
  alerts: { id: number; media_time: number; priority: Priority; rule_name: string; state: AlertState }[];
  bookmarks: Bookmark[];
  locks: EvidenceLock[];
  recording: RecordingHealth | null;
}

export interface ExportStatus {
  id: number;
  state: "running" | "done" | "failed" | "cancelled";
  /** 0..1 of the video bytes copied. */
  progress: number;
  /** The export's folder on the server's disk. */
  path: string;
  message: string;
  files: number;
  bytes: number;
}

export interface VerifyReport {
  intact: boolean;
  signature: string;
  public_key: string | null;
  altered: string[];
  missing: string[];
  unlisted: string[];
  files: number;
  /** "Intact: …" or "NOT intact: …", for the user. */
  message: string;
}

const range = (fromUs: number, toUs: number): string => `from_us=${Math.round(fromUs)}&to_us=${Math.round(toUs)}`;

export const listRecordings = (cameraId: number, fromUs: number, toUs: number, signal?: AbortSignal): Promise<Recording[]> =>
  getJson<{ recordings: Recording[] }>(`/cameras/${cameraId}/recordings?${range(fromUs, toUs)}`, signal).then((r) => r.recordings);
export const getTimeline = (cameraId: number, fromUs: number, toUs: number, buckets: number, signal?: AbortSignal): Promise<Timeline> =>
  getJson<Timeline>(`/cameras/${cameraId}/timeline?${range(fromUs, toUs)}&buckets=${buckets}`, signal);
export const createBookmark = (cameraId: number, mediaTimeUs: number, note: string): Promise<Bookmark> =>
  sendJson<Bookmark>("POST", "/bookmarks", { camera_id: cameraId, media_time: Math.round(mediaTimeUs), note });
export const deleteBookmark = (id: number): Promise<void> => deletePath(`/bookmarks/${id}`);
export const createLock = (lock: Pick<EvidenceLock, "camera_id" | "start_us" | "end_us" | "reason" | "until_us">): Promise<EvidenceLock> =>
  sendJson<EvidenceLock>("POST", "/evidence-locks", lock);
export const deleteLock = (id: number): Promise<void> => deletePath(`/evidence-locks/${id}`);
export const startExport = (request: { cameras: number[]; from_us: number; to_us: number; note: string; folder?: string }): Promise<ExportStatus> =>
  sendJson<ExportStatus>("POST", "/exports", request);
export const getExport = (id: number): Promise<ExportStatus> => getJson<ExportStatus>(`/exports/${id}`);
export const cancelExport = (id: number): Promise<ExportStatus> => sendJson<ExportStatus>("DELETE", `/exports/${id}`, undefined);
export const verifyExport = (path: string): Promise<VerifyReport> => sendJson<VerifyReport>("POST", "/exports/verify", { path });

/**
 * A segment's bytes from `fromByte` on: a growing (open) segment is read
 * again from where the last read stopped. Null: nothing new yet (416).
 */
export async function fetchRecording(url: string, fromByte: number, signal?: AbortSignal): Promise<Response | null> {
  const init: RequestInit = { credentials: "same-origin" };
  if (fromByte > 0) init.headers = { Range: `bytes=${fromByte}-` };
  if (signal) init.signal = signal;
  const res = await fetch(url, init);
  if (res.status === 416) return null;
  if (!res.ok) throw await errorFrom(res);
  return res;
}

// ---- Search in plain words -------------------------------------------------

export type Direction = "in" | "out" | "left" | "right" | "up" | "down" | "stationary";

/** What a search asks for; empty lists and null mean "any". Sent back as is once edited. */
export interface SearchFilter {
  classes: string[];
  colors: string[];
  /** Camera ids. */
  cameras: number[];
  /** Zone or line names, as drawn. */
  zones: string[];
  /** RFC 3339, UTC. */
  from: string | null;
  to: string | null;
  /** Local "HH:MM"; end may be "24:00", and an end before the start wraps midnight. */
  time_of_day: { start: string; end: string } | null;
  min_count: number | null;
  min_dwell_s: number | null;
  direction: Direction | null;
  alerts_only: boolean;
}

export type ChipKind = "class" | "color" | "camera" | "zone" | "time" | "time_of_day" | "count" | "dwell" | "direction" | "alerts";

/** One term the sentence was understood as. */
export interface SearchChip {
  kind: ChipKind;
  label: string;
  /** The words it came from. */
  words: string;
  /** 1: from the tables; below 1: a semantic guess. */
  confidence: number;
}

/** An object's track, or a moment when several stood together (counts). */
export interface SearchResult {
  kind: "track" | "moment";
  track_id: number | null;
  camera_id: number;
  camera_name: string;
  class: string;
  /** UTC µs. */
  first_seen: number;
  last_seen: number;
  start: string;
  duration_s: number;
  best_score: number;
  colours: string[];
  upper_colours: string[];
  lower_colours: string[];
  direction: string | null;
  /** Moments: the most objects together. */
  count: number | null;
  alert_ids: number[];
  thumbnail_url: string | null;
}

export interface SearchParsed {
  filter: SearchFilter;
  chips: SearchChip[];
  /** Words neither understood nor ignorable: shown, never dropped. */
  unknown_words: string[];
}

export interface SearchAnswer extends SearchParsed {
  results: SearchResult[];
  next_cursor: string | null;
  took_ms: number;
}

/** A sentence (`q`), or a filter run as is (`q` then only goes to the audit log). */
export interface SearchRequest {
  q?: string;
  filter?: SearchFilter;
  limit?: number;
  cursor?: string;
}

export const parseSearch = (q: string, signal?: AbortSignal): Promise<SearchParsed> =>
  getJson<SearchParsed>(`/search/parse?q=${encodeURIComponent(q)}`, signal);
export const search = (request: SearchRequest, signal?: AbortSignal): Promise<SearchAnswer> =>
  sendJson<SearchAnswer>("POST", "/search", request, signal);

// ---- Settings: this machine, recording, the signing key, search audit ------

export interface MachineSpeed {
  cores: number;
  /** Frames of the bundled footage decoded per second on one core. */
  decode_fps: number;
  width: number;
  height: number;
  inference_ms_1_thread: number;
  inference_ms_2_threads: number | null;
}

export interface MachineRecommendation {
  detector_threads: number;
  detect_fps: number;
  max_cameras: number;
  /** [detections per second per camera, cameras served], fastest rate first. */
  cameras_at_fps: [number, number][];
  summary: string;
}

/** The last "Measure this machine", and whether more cameras are enabled than it handles. */
export type MachineReport =
  | { measured: false }
  | {
      measured: true;
      measured_at: string;
      speed: MachineSpeed;
      recommendation: MachineRecommendation;
      cameras_enabled: number;
      warning: string | null;
    };

/** How long video is kept, for every camera without a setting of its own. */
export interface RecordingSettings {
  retain_days: number;
  /** All cameras together; null: no cap but the free-space floor. */
  max_total_bytes: number | null;
  min_free_bytes: number;
}

export interface RecordingSettingsView extends RecordingSettings {
  folder: string;
  used_bytes: number;
  free_bytes: number | null;
}

export interface SearchAuditEntry {
  at: string;
  actor: string;
  query: string;
}

export const getMachine = (signal?: AbortSignal): Promise<MachineReport> => getJson<MachineReport>("/machine", signal);
/** Takes `seconds` (3–60) to answer: it decodes and detects for that long. */
export const measureMachine = (seconds: number): Promise<MachineReport> =>
  sendJson<MachineReport>("POST", `/machine/measure?seconds=${seconds}`, undefined);
export const getRecordingSettings = (): Promise<RecordingSettingsView> => getJson<RecordingSettingsView>("/settings/recording");
export const saveRecordingSettings = (settings: RecordingSettings): Promise<RecordingSettingsView> =>
  sendJson<RecordingSettingsView>("PUT", "/settings/recording", settings);
/** This installation's Ed25519 public key (base64): exports are signed with it. */
export const getEvidenceKey = (): Promise<string> => getJson<{ public_key: string }>("/evidence/key").then((r) => r.public_key);
/** Who searched for what, newest first. */
export const listSearchAudit = (): Promise<SearchAuditEntry[]> => getJson<SearchAuditEntry[]>("/search/audit");
