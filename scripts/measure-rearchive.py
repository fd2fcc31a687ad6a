#!/usr/bin/env python3
"""Measures what re-archiving already-archived files costs the job service
(docs/PROTOCOL.md, "Re-archiving"): a real `fls serve` with the default
store shape (k = 10, m = 4, 14 target directories, 1 MiB small-file
threshold), on loopback, in a temporary directory.

    scripts/measure-rearchive.py build/fls [--small 1000] [--large 20] [--extra 200]

Steps: archive SMALL files of 4 KiB (packed) and LARGE files of 1.5 MiB
(an object each); archive the same paths again (every item comes back
already_archived); archive EXTRA more large files so that the store holds
more objects; archive the first paths again. Prints one line per step:
files, objects in the store, seconds (client wall time, submit to done).
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "service",
                                "python"))
import fls_client  # noqa: E402


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def timed_archive(c, paths):
    t0 = time.monotonic()
    st = c.wait(c.submit_archive(paths), timeout_s=3600, poll_s=0.05, files=True)
    seconds = time.monotonic() - t0
    if st["state"] != "done":
        raise SystemExit("archive job %s: %s" % (st["state"], st["error"]))
    again = sum(1 for i in st["items"] if i["result"].get("already_archived"))
    return seconds, again, len(st["items"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("fls")
    ap.add_argument("--small", type=int, default=1000)
    ap.add_argument("--large", type=int, default=20)
    ap.add_argument("--extra", type=int, default=200)
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="fls-rearchive-")
    ports = [free_port() for _ in range(3)]
    targets = "\n".join("    - {path: %s/t%02d, domain: d%02d}" % (d, i, i) for i in range(14))
    with open(os.path.join(d, "fls.yaml"), "w") as f:
        f.write("""service:
  client_endpoint: tcp://127.0.0.1:%d
  worker_endpoint: tcp://127.0.0.1:%d
  event_endpoint: tcp://127.0.0.1:%d
  journal: %s/journal.sqlite
store:
  targets:
%s
roots:
  source: [%s/src]
  output: [%s/out]
""" % (ports[0], ports[1], ports[2], d, targets, d, d))
    src = os.path.join(d, "src")
    small = [os.path.join(src, "small", "s%05d" % i) for i in range(a.small)]
    large = [os.path.join(src, "large", "l%05d" % i) for i in range(a.large)]
    extra = [os.path.join(src, "extra", "e%05d" % i) for i in range(a.extra)]
    for group, size in ((small, 4096), (large, 1536 << 10), (extra, 1536 << 10)):
        os.makedirs(os.path.dirname(group[0]) if group else src, exist_ok=True)
        for p in group:
            with open(p, "wb") as f:
                f.write(os.urandom(size))
    log = open(os.path.join(d, "serve.log"), "w")
    proc = subprocess.Popen([a.fls, "serve", "--config", os.path.join(d, "fls.yaml")],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        c = fls_client.Client("tcp://127.0.0.1:%d" % ports[0], timeout_ms=500)
        for _ in range(100):
            try:
                c.ping()
                break
            except fls_client.Timeout:
                pass
        c.timeout_ms = 60000

        def objects():
            st = c.wait(c.submit_stats(), files=True)
            return st["items"][0]["result"]["objects"]

        print("step, files, objects in store before, seconds, already_archived")
        for label, paths in (("first archive, small", small), ("first archive, large", large)):
            n = objects()
            s, again, total = timed_archive(c, paths)
            print("%s, %d, %d, %.2f, %d" % (label, total, n, s, again))
        for label, paths in (("re-archive, small", small), ("re-archive, large", large)):
            n = objects()
            s, again, total = timed_archive(c, paths)
            print("%s, %d, %d, %.2f, %d" % (label, total, n, s, again))
        if extra:
            timed_archive(c, extra)
            for label, paths in (("re-archive, small", small), ("re-archive, large", large)):
                n = objects()
                s, again, total = timed_archive(c, paths)
                print("%s, %d, %d, %.2f, %d" % (label, total, n, s, again))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
