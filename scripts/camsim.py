#!/usr/bin/python3
"""camsim — serve an H.264 (or H.265) MP4 looped in real time as N live RTSP cameras.

Needs Debian's GStreamer Python bindings (python3-gi, gir1.2-gst-rtsp-server-1.0,
gstreamer1.0-plugins-{base,good,bad}); run it with /usr/bin/python3.

Design
------
Every camera (and every --extra-path) has its own always-running *producer*
pipeline, started at launch and independent of clients:

    filesrc ! qtdemux ! h264parse ! video/x-h264,stream-format=avc,alignment=au
            ! appsink sync=true

The appsink syncs to the system clock, so frames come out in real time (no
decoding, no re-encode).  At EOS a pad probe on h264parse's src pad drops the
EOS, seeks back to 0 from the main loop, swallows the resulting FLUSH events
and adds the played duration to the pad offset (`pad.set_offset`), so the
running time of the looped stream keeps increasing by exactly one frame
duration per frame.  Camera N starts (N-1)*offset-step into the clip (first
start only; every loop goes back to 0).

Each RTSP path is a SHARED live media (suspend mode NONE):

    appsrc is-live=true format=time ! rtph264pay name=pay0 pt=96 config-interval=1

The producer pushes every frame into the appsrc of the current media of its
path, timestamped in that media's running time, so all clients of a path see
the same live position and a late client joins mid-stream, as with a real
camera.  The media is created when the first client connects and torn down
when the last one leaves; the producer (the "camera") keeps running anyway.
A fresh media always starts with a keyframe; a client joining an already
running media gets the frames from the current one on (at most one GOP until
the next IDR, SPS/PPS are repeated before every IDR).

An H.265 file (by its first video stream, as ffprobe reports it) goes through
h265parse (stream-format=hvc1) and rtph265pay instead.

--plain-loop: RTP time jumps back at every loop (to the RTP time at which the
media started), for testing timestamp discontinuities.
"""

import argparse
import os
import signal
import subprocess
import sys
import threading

try:
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtsp", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtsp, GstRtspServer
except (ImportError, ValueError) as exc:  # pragma: no cover - environment problem
    sys.stderr.write(
        "camsim: error: GStreamer Python bindings not available (%s); "
        "install python3-gi gir1.2-gst-rtsp-server-1.0 and run with /usr/bin/python3\n" % exc
    )
    sys.exit(2)


def log(msg):
    sys.stderr.write("camsim: %s\n" % msg)
    sys.stderr.flush()


def out(msg):
    sys.stdout.write("camsim: %s\n" % msg)
    sys.stdout.flush()


def fail(msg, code=2):
    sys.stderr.write("camsim: error: %s\n" % msg)
    sys.stderr.flush()
    sys.exit(code)


def fmt_t(ns):
    return "%.3fs" % (ns / Gst.SECOND)


class Attachment:
    """One media's appsrc fed by a producer, with its timestamp mapping."""

    def __init__(self, appsrc):
        self.appsrc = appsrc
        self.first_rt = None  # producer running time of the first pushed frame
        self.media_rt0 = None  # media running time assigned to that frame
        self.dead = False


class Producer:
    """A looping real-time H.264/H.265 source: one simulated camera."""

    def __init__(self, name, path, start_offset_ns, plain_loop):
        self.name = name
        self.path = path
        self.codec = video_codec(path)
        self.start_offset = start_offset_ns
        self.plain_loop = plain_loop
        self.lock = threading.Lock()
        self.attachments = []
        self.caps = None
        self.duration = None
        self.loops = 0
        self.error = None

        # probe state (streaming thread + main loop, guarded by self.lock)
        self.looping = False  # between EOS and the first buffer after the loop seek
        self.seg_start = 0
        self.last_end = None  # end (pts+duration) of the last buffer, stream time
        self.last_dur = None
        self.pad_offset = 0
        self.loop_starts = []  # producer running times at which loops began (plain-loop)

        self.pipeline = Gst.parse_launch(
            "filesrc name=src ! qtdemux name=demux "
            "demux.video_0 ! queue max-size-buffers=0 max-size-bytes=0 max-size-time=2000000000 "
            + ("! h265parse name=parse ! video/x-h265,stream-format=hvc1,alignment=au "
               if self.codec == "h265" else
               "! h264parse name=parse ! video/x-h264,stream-format=avc,alignment=au ")
            + "! appsink name=sink sync=true emit-signals=true max-buffers=4 drop=false"
        )
        self.pipeline.set_name("producer-" + name)
        self.pipeline.get_by_name("src").set_property("location", path)
        self.parse = self.pipeline.get_by_name("parse")
        self.sink = self.pipeline.get_by_name("sink")
        self.sink.connect("new-sample", self._on_sample)
        self.pad = self.parse.get_static_pad("src")

    # ---------------------------------------------------------------- startup
    def preroll(self):
        """Preroll, read caps/duration, seek to the start offset. Raises on error."""
        bus = self.pipeline.get_bus()
        self.pipeline.set_state(Gst.State.PAUSED)
        ret, _, _ = self.pipeline.get_state(10 * Gst.SECOND)
        if ret == Gst.StateChangeReturn.FAILURE:
            msg = bus.pop_filtered(Gst.MessageType.ERROR)
            detail = msg.parse_error()[0].message if msg else "unknown error"
            raise RuntimeError(
                "%s: cannot play %s: %s (camsim needs an MP4 with an H.264 video track)"
                % (self.name, self.path, detail)
            )
        if ret != Gst.StateChangeReturn.SUCCESS:
            raise RuntimeError("%s: timed out prerolling %s" % (self.name, self.path))
        caps = self.pad.get_current_caps()
        if caps is None:
            raise RuntimeError("%s: no H.264 video in %s" % (self.name, self.path))
        self.caps = caps
        ok, dur = self.pipeline.query_duration(Gst.Format.TIME)
        if not ok or dur <= 0:
            raise RuntimeError("%s: cannot determine the duration of %s" % (self.name, self.path))
        self.duration = dur
        if self.start_offset:
            self.start_offset %= dur
        if self.start_offset:
            if not self.parse.seek_simple(
                Gst.Format.TIME, Gst.SeekFlags.FLUSH | Gst.SeekFlags.KEY_UNIT, self.start_offset
            ):
                raise RuntimeError("%s: initial seek to %s failed" % (self.name, fmt_t(self.start_offset)))
            self.pipeline.get_state(10 * Gst.SECOND)
        ev = self.pad.get_sticky_event(Gst.EventType.SEGMENT, 0)
        if ev is not None:
            # a KEY_UNIT seek snaps to the keyframe before the offset
            self.seg_start = ev.parse_segment().start
            self.start_offset = self.seg_start
        self.pad.add_probe(
            Gst.PadProbeType.BUFFER | Gst.PadProbeType.EVENT_DOWNSTREAM | Gst.PadProbeType.EVENT_FLUSH,
            self._probe,
        )
        bus.add_signal_watch()
        bus.connect("message", self._on_bus)

    def play(self):
        self.pipeline.set_state(Gst.State.PLAYING)

    def stop(self):
        self.pipeline.set_state(Gst.State.NULL)

    def _on_bus(self, _bus, msg):
        if msg.type == Gst.MessageType.ERROR:
            err, dbg = msg.parse_error()
            self.error = "%s: %s (%s)" % (self.name, err.message, dbg)
            log("error: " + self.error)
            if self.on_fatal:
                self.on_fatal(self.error)
        elif msg.type == Gst.MessageType.WARNING:
            w, _ = msg.parse_warning()
            log("%s: warning: %s" % (self.name, w.message))

    on_fatal = None

    # ---------------------------------------------------------------- looping
    def _probe(self, pad, info):
        t = info.type
        if t & Gst.PadProbeType.BUFFER:
            buf = info.get_buffer()
            if buf.pts != Gst.CLOCK_TIME_NONE:
                with self.lock:
                    dur = buf.duration if buf.duration != Gst.CLOCK_TIME_NONE else self.last_dur
                    if dur is None:
                        dur = 0
                    self.last_dur = dur
                    self.last_end = buf.pts + dur
                    self.looping = False
            return Gst.PadProbeReturn.OK
        ev = info.get_event()
        if ev is None:
            return Gst.PadProbeReturn.OK
        et = ev.type
        if et == Gst.EventType.EOS:
            with self.lock:
                if self.looping:
                    return Gst.PadProbeReturn.DROP  # empty loop?! avoid busy looping
                self.looping = True
            # Seek from a separate thread: not from this streaming thread
            # (deadlock) and not from the main loop, which rtsp-server may
            # block while a DESCRIBE waits for a media to preroll.
            threading.Thread(target=self._loop, name="loop-" + self.name, daemon=True).start()
            return Gst.PadProbeReturn.DROP
        if et in (Gst.EventType.FLUSH_START, Gst.EventType.FLUSH_STOP):
            with self.lock:
                if self.looping:
                    return Gst.PadProbeReturn.DROP
            return Gst.PadProbeReturn.OK
        if et == Gst.EventType.SEGMENT:
            seg = ev.parse_segment()
            with self.lock:
                self.seg_start = seg.start
        return Gst.PadProbeReturn.OK

    def _loop(self):
        """Runs (in its own thread) after the EOS was dropped; seek back to 0."""
        with self.lock:
            # running time of the end of the last frame, without the pad offset
            played = (self.last_end or self.seg_start) - self.seg_start
            self.pad_offset += played
            self.loops += 1
            self.loop_starts.append(self.pad_offset)
            del self.loop_starts[:-4]
        # The offset only affects the producer's own running time (pacing);
        # what the clients see is decided in _on_sample.
        self.pad.set_offset(self.pad_offset)
        if not self.parse.seek_simple(Gst.Format.TIME, Gst.SeekFlags.FLUSH | Gst.SeekFlags.KEY_UNIT, 0):
            log("%s: loop seek failed" % self.name)
        else:
            log("%s: loop %d (offset %s)" % (self.name, self.loops, fmt_t(self.pad_offset)))

    # ------------------------------------------------------------- delivery
    def attach(self, appsrc):
        appsrc.set_property("caps", self.caps)
        a = Attachment(appsrc)
        with self.lock:
            self.attachments.append(a)
        return a

    def detach(self, att):
        with self.lock:
            att.dead = True
            if att in self.attachments:
                self.attachments.remove(att)

    def _on_sample(self, sink):
        sample = sink.emit("pull-sample")
        if sample is None:
            return Gst.FlowReturn.EOS
        buf = sample.get_buffer()
        seg = sample.get_segment()
        rt = seg.to_running_time(Gst.Format.TIME, buf.pts)
        if rt == Gst.CLOCK_TIME_NONE or rt < 0:
            return Gst.FlowReturn.OK
        with self.lock:
            atts = list(self.attachments)
            loop_start = 0
            for ls in self.loop_starts:
                if ls <= rt:
                    loop_start = ls
        keyframe = not buf.has_flags(Gst.BufferFlags.DELTA_UNIT)
        for a in atts:
            if a.dead:
                continue
            src = a.appsrc
            if a.first_rt is None:
                # start a media with a keyframe, once its pipeline is PLAYING
                if not keyframe:
                    continue
                _, cur, _ = src.get_state(0)
                clock = src.get_clock()
                if cur != Gst.State.PLAYING or clock is None:
                    continue
                a.first_rt = rt
                a.media_rt0 = clock.get_time() - src.get_base_time()
            if self.plain_loop:
                ts = a.media_rt0 + rt - max(a.first_rt, loop_start)
            else:
                ts = a.media_rt0 + rt - a.first_rt
            b = buf.copy()  # shallow copy (shares memory), timestamps are ours
            b.pts = ts
            b.dts = ts
            ret = src.emit("push-buffer", b)
            if ret != Gst.FlowReturn.OK:
                self.detach(a)
        return Gst.FlowReturn.OK


MEDIA_LAUNCH = (
    "( appsrc name=src is-live=true format=time do-timestamp=false "
    "max-bytes=16000000 leaky-type=downstream "
    "! %s name=pay0 pt=96 config-interval=1 )"
)


def video_codec(path):
    """'h264' or 'h265': the file's first video stream, as ffprobe reports it."""
    try:
        out = subprocess.run(
            ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=codec_name",
             "-of", "csv=p=0", path],
            capture_output=True, text=True, timeout=20, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise RuntimeError("cannot read the codec of %s with ffprobe: %s" % (path, exc))
    return "h265" if out == "hevc" else "h264"


class CamFactory(GstRtspServer.RTSPMediaFactory):
    def __init__(self, producer):
        super().__init__()
        self.producer = producer
        self.set_launch(MEDIA_LAUNCH % ("rtph265pay" if producer.codec == "h265" else "rtph264pay"))
        self.set_shared(True)
        self.set_suspend_mode(GstRtspServer.RTSPSuspendMode.NONE)
        self.set_eos_shutdown(False)
        self.connect("media-configure", self._on_media_configure)

    def _on_media_configure(self, _factory, media):
        appsrc = media.get_element().get_by_name_recurse_up("src")
        att = self.producer.attach(appsrc)
        log("%s: new media" % self.producer.name)

        def unprepared(_m):
            self.producer.detach(att)
            log("%s: media closed" % self.producer.name)

        media.connect("unprepared", unprepared)


def parse_kv(value, what, sep):
    if sep not in value:
        raise argparse.ArgumentTypeError("%s must look like %s" % (what, "NAME%sVALUE" % sep))
    k, v = value.split(sep, 1)
    k = k.strip().strip("/")
    if not k:
        raise argparse.ArgumentTypeError("empty name in %r" % value)
    return k, v


def auth_arg(value):
    path, cred = parse_kv(value, "--auth", "=")
    if ":" not in cred:
        raise argparse.ArgumentTypeError("--auth must look like PATH=USER:PASS")
    user, pw = cred.split(":", 1)
    if not user:
        raise argparse.ArgumentTypeError("empty user in --auth %r" % value)
    return path, user, pw


def extra_arg(value):
    return parse_kv(value, "--extra-path", "=")


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="camsim", description="Serve an H.264 MP4 looped in real time as N live RTSP cameras."
    )
    ap.add_argument("--footage", required=True, help="H.264 MP4 to serve (no re-encode)")
    ap.add_argument("--cameras", type=int, default=4, help="number of cameras /cam1../camN (default 4)")
    ap.add_argument("--port", type=int, default=8554, help="RTSP port (default 8554)")
    ap.add_argument("--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    ap.add_argument(
        "--plain-loop",
        action="store_true",
        help="loop with a plain seek so RTP time jumps back at every loop (default: continuous timestamps)",
    )
    ap.add_argument(
        "--auth",
        action="append",
        type=auth_arg,
        default=[],
        metavar="PATH=USER:PASS",
        help="protect a mount path, e.g. cam2=admin:secret (repeatable)",
    )
    ap.add_argument("--auth-method", choices=("basic", "digest"), default="basic")
    ap.add_argument(
        "--offset-step",
        type=float,
        default=None,
        metavar="SECONDS",
        help="camN starts (N-1)*step seconds into the clip (default clip_duration/N)",
    )
    ap.add_argument(
        "--extra-path",
        action="append",
        type=extra_arg,
        default=[],
        metavar="NAME=FILE",
        help="also serve FILE at /NAME (repeatable)",
    )
    args = ap.parse_args(argv)

    if args.cameras < 0:
        fail("--cameras must be >= 0")
    if not (0 <= args.port <= 65535):
        fail("--port out of range")
    for p in [args.footage] + [f for _, f in args.extra_path]:
        if not os.path.isfile(p):
            fail("footage file not found: %s" % p)
        if not os.access(p, os.R_OK):
            fail("footage file not readable: %s" % p)

    Gst.init(None)
    loop = GLib.MainLoop()
    state = {"rc": 0}

    def fatal(msg):
        state["rc"] = 1
        loop.quit()

    # ---------------------------------------------------------------- producers
    paths = []  # (mount name, producer)
    try:
        first = None
        for i in range(args.cameras):
            prod = Producer("cam%d" % (i + 1), args.footage, 0, args.plain_loop)
            if first is None:
                prod.preroll()
                first = prod
                dur = prod.duration
                step = args.offset_step * Gst.SECOND if args.offset_step is not None else dur // max(1, args.cameras)
                step = int(step)
            else:
                prod.start_offset = int(i * step)
                prod.preroll()
            paths.append((prod.name, prod))
        for name, f in args.extra_path:
            if name in [n for n, _ in paths]:
                fail("duplicate path /%s" % name)
            prod = Producer(name, f, 0, args.plain_loop)
            prod.preroll()
            paths.append((name, prod))
    except RuntimeError as exc:
        for _, p in paths:
            p.stop()
        fail(str(exc))
    except GLib.Error as exc:
        fail("cannot build pipeline: %s" % exc.message)
    if not paths:
        fail("nothing to serve (--cameras 0 and no --extra-path)")
    names = [n for n, _ in paths]
    for p, _, _ in args.auth:
        if p not in names:
            fail("--auth for unknown path /%s (paths: %s)" % (p, ", ".join(names)))

    # ---------------------------------------------------------------- server
    server = GstRtspServer.RTSPServer()
    server.set_address(args.bind)
    server.set_service(str(args.port))
    # handle clients in their own threads: a DESCRIBE that waits for a media
    # to preroll (up to one GOP, for a keyframe) must not block the others
    server.get_thread_pool().set_max_threads(max(8, 2 * len(paths) + 4))
    mounts = server.get_mount_points()

    protected = {}
    for p, user, pw in args.auth:
        protected.setdefault(p, []).append((user, pw))
    if protected:
        auth = GstRtspServer.RTSPAuth()
        method = (
            GstRtsp.RTSPAuthMethod.DIGEST if args.auth_method == "digest" else GstRtsp.RTSPAuthMethod.BASIC
        )
        auth.set_supported_methods(method)
        anon = GstRtspServer.RTSPToken()
        anon.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "anonymous")
        auth.set_default_token(anon)
        seen = set()
        for p, creds in protected.items():
            for user, pw in creds:
                if user in seen:
                    continue
                seen.add(user)
                tok = GstRtspServer.RTSPToken()
                tok.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user:" + user)
                if args.auth_method == "digest":
                    auth.add_digest(user, pw, tok)
                else:
                    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, pw), tok)
        server.set_auth(auth)
        # a user with different passwords for different paths is not supported
        for p, creds in protected.items():
            users = {}
            for user, pw in creds:
                if users.setdefault(user, pw) != pw:
                    fail("user %s given with two different passwords" % user)

    all_roles = ["anonymous"] + ["user:" + u for c in protected.values() for u, _ in c]

    def permissions(allowed):
        # Every role may *access* every path (a role without access gets 404);
        # only the allowed roles may *construct* the media (others get 401
        # with a WWW-Authenticate challenge, as from a real camera).
        perms = GstRtspServer.RTSPPermissions()
        for role in all_roles:
            perms.add_permission_for_role(role, GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS, True)
            perms.add_permission_for_role(role, GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, role in allowed)
        return perms

    for name, prod in paths:
        fac = CamFactory(prod)
        if protected:
            if name in protected:
                fac.set_permissions(permissions(["user:" + u for u, _ in protected[name]]))
            else:
                fac.set_permissions(permissions(all_roles))
        mounts.add_factory("/" + name, fac)
        prod.on_fatal = fatal

    if server.attach(None) == 0:
        for _, p in paths:
            p.stop()
        fail("cannot listen on %s:%d (port in use or address not available)" % (args.bind, args.port))

    for _, p in paths:
        p.play()

    host = args.bind
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = "[%s]" % host
    port = server.get_bound_port()
    for name, prod in paths:
        extra = " (offset %s of %s%s)" % (
            fmt_t(prod.start_offset),
            fmt_t(prod.duration),
            ", auth " + args.auth_method if name in protected else "",
        )
        log("%s: %s%s" % (name, prod.path, extra))
        out("serving rtsp://%s:%d/%s" % (host, port, name))
    out("ready")

    def on_signal(signame):
        log("%s received, exiting" % signame)
        loop.quit()
        return GLib.SOURCE_REMOVE

    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, on_signal, "SIGTERM")
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, on_signal, "SIGINT")
    try:
        loop.run()
    finally:
        for _, p in paths:
            p.stop()
    return state["rc"]


if __name__ == "__main__":
    sys.exit(main())
