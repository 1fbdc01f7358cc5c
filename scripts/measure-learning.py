#!/usr/bin/env python3
"""Measures learning from false alarms on the looping demo footage.

Runs `peregrine demo` with one camera (its demo rules, cooldowns set to 0 so
every firing shows), marks alerts of the first loop of the footage as false
alarms (every one, or every Nth with --mark-every N, leaving the others as
true alarms), then counts over the next loops, a "repeat" being the same
rule within 1.5 s of the same point of the loop: repeats of marked alerts
suppressed, and raised anyway; repeats of unmarked (true) alerts suppressed
(wrongly) and raised; other firings suppressed. Prints one JSON object.

    python3 scripts/measure-learning.py [--loops 4] [--mark-every N] [--bin PATH]
"""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

LOOP_S = 79.5  # the demo footage's length: the simulator loops it
SAME_POINT_S = 1.5


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    def __init__(self, base, token):
        self.base, self.token = base, token

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as r:
            text = r.read()
            return json.loads(text) if text else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loops", type=int, default=4)
    ap.add_argument("--mark-every", type=int, default=1)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/peregrine/target"))
    ap.add_argument("--bin", default=os.path.join(target, "debug", "peregrine"))
    args = ap.parse_args()

    data_dir = tempfile.mkdtemp(prefix="peregrine-learning-")
    demo = subprocess.Popen(
        [args.bin, "demo", "--cameras", "1", "--port", "0", "--rtsp-port", str(free_port()), "--data-dir", data_dir],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    suppressed = []
    def read_logs():
        for line in demo.stderr:
            if "alert suppressed" in line:
                rule = re.search(r"rule=(\d+)", line)
                t = re.search(r"media_time_us=(\d+)", line)
                if rule and t:
                    suppressed.append((int(rule.group(1)), int(t.group(1))))
    threading.Thread(target=read_logs, daemon=True).start()
    try:
        url = None
        for line in demo.stdout:
            m = re.search(r"(http://127\.0\.0\.1:\d+)/\?t=(\S+)", line)
            if m:
                url = m
                break
        if not url:
            sys.exit("the demo did not print its link")
        api = Api(url.group(1), url.group(2))
        camera = api.call("GET", "/api/v1/cameras")[0]["id"]
        for rule in api.call("GET", f"/api/v1/cameras/{camera}/rules"):
            api.call("PATCH", f"/api/v1/rules/{rule['id']}", {"cooldown_s": 0})
        while api.call("GET", f"/api/v1/cameras/{camera}")["state"] != "live":
            time.sleep(0.2)
        t0 = time.time() * 1e6
        marked, kept, seen = [], [], {}
        while time.time() * 1e6 < t0 + (args.loops * LOOP_S + 3) * 1e6:
            for a in api.call("GET", "/api/v1/alerts?limit=1000")["alerts"]:
                if a["id"] in seen or a["class"] == "camera":
                    continue
                seen[a["id"]] = a
                if a["media_time_us"] < t0 + LOOP_S * 1e6:
                    if (len(marked) + len(kept)) % args.mark_every == 0:
                        api.call("PATCH", f"/api/v1/alerts/{a['id']}", {"false_alarm": True, "state": "closed"})
                        marked.append((a["rule_id"], a["media_time_us"]))
                    else:
                        kept.append((a["rule_id"], a["media_time_us"]))
            time.sleep(1)

        def repeats(of, rule, t):
            return any(
                rule == r and any(abs((t - m) / 1e6 - k * LOOP_S) <= SAME_POINT_S for k in range(1, args.loops))
                for r, m in of
            )
        later = [(a["rule_id"], a["media_time_us"]) for a in seen.values() if a["media_time_us"] >= t0 + LOOP_S * 1e6]
        report = {
            "loops": args.loops,
            "marked_in_loop_1": len(marked),
            "left_true_in_loop_1": len(kept),
            "marked_repeats_suppressed": sum(1 for r, t in suppressed if repeats(marked, r, t)),
            "marked_repeats_raised_anyway": sum(1 for r, t in later if repeats(marked, r, t)),
            "true_repeats_suppressed_wrongly": sum(1 for r, t in suppressed if repeats(kept, r, t) and not repeats(marked, r, t)),
            "true_repeats_raised": sum(1 for r, t in later if repeats(kept, r, t)),
            "other_suppressed": sum(1 for r, t in suppressed if not repeats(marked, r, t) and not repeats(kept, r, t)),
            "other_raised": sum(1 for r, t in later if not repeats(marked, r, t) and not repeats(kept, r, t)),
            "exclusions": len(api.call("GET", f"/api/v1/cameras/{camera}/exclusions")),
        }
        print(json.dumps(report))
    finally:
        os.killpg(demo.pid, signal.SIGTERM)
        demo.wait(timeout=10)


if __name__ == "__main__":
    main()
