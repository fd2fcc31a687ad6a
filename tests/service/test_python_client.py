#!/usr/bin/env python3
"""CTest: the Python client (service/python/fls_client.py) and its example
against a real `fls serve` on loopback. Usage: test_python_client.py FLS_BINARY"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYDIR = os.path.join(HERE, "..", "..", "service", "python")
sys.path.insert(0, PYDIR)
import fls_client  # noqa: E402


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def main():
    fls = sys.argv[1]
    d = tempfile.mkdtemp(prefix="fls-py-")
    ports = [free_port() for _ in range(3)]
    src, out = os.path.join(d, "src"), os.path.join(d, "out")
    os.makedirs(src)
    targets = "\n".join("    - {path: %s/t%d, domain: d%d}" % (d, i, i) for i in range(6))
    with open(os.path.join(d, "fls.yaml"), "w") as f:
        f.write("""service:
  client_endpoint: tcp://127.0.0.1:%d
  worker_endpoint: tcp://127.0.0.1:%d
  event_endpoint: tcp://127.0.0.1:%d
  in_process_workers: 2
  heartbeat_ms: 200
  journal: %s/journal.sqlite
store:
  targets:
%s
  k: 4
  m: 2
  stripe: 64K
roots:
  source: [%s]
  output: [%s]
""" % (ports[0], ports[1], ports[2], d, targets, src, out))
    log = open(os.path.join(d, "serve.log"), "w")
    proc = subprocess.Popen([fls, "serve", "--config", os.path.join(d, "fls.yaml")],
                            stdout=log, stderr=subprocess.STDOUT)
    ok = False
    try:
        ep = "tcp://127.0.0.1:%d" % ports[0]
        c = fls_client.Client(ep, timeout_ms=500)
        for _ in range(100):
            try:
                c.ping()
                break
            except fls_client.Timeout:
                pass
        else:
            raise AssertionError("service did not answer PING")
        c.timeout_ms = 10000
        events = fls_client.subscribe("tcp://127.0.0.1:%d" % ports[2])
        time.sleep(0.3)  # let the SUB connect before events flow
        files = []
        for i, size in enumerate([0, 1, 1000, 200000]):
            p = os.path.join(src, "f%d" % i)
            with open(p, "wb") as f:
                f.write(os.urandom(size))
            files.append(p)
        # The example: archive, wait, restore, compare.
        r = subprocess.run([sys.executable, os.path.join(PYDIR, "example.py"), "--endpoint", ep,
                            "--output", os.path.join(out, "ex")] + files,
                           capture_output=True, text=True, timeout=120)
        print(r.stdout, r.stderr)
        check(r.returncode == 0, "example.py failed")
        check(r.stdout.count("identical") == len(files), "example did not restore every file")
        # Progress events arrived for the example's jobs.
        seen = set()
        while True:
            ev = fls_client.recv_event(events, 500)
            if ev is None:
                break
            seen.add(ev[1]["state"])
        check({"queued", "running", "done"} <= seen, "events seen: %s" % seen)
        # The API directly: status with files, list, errors, cancel on a finished job.
        jobs = c.list()
        check(len(jobs) == 2 and all(j["state"] == "done" for j in jobs), json.dumps(jobs))
        st = c.status(jobs[-1]["job_id"], files=True)
        check(len(st["items"]) == len(files), "items listed")
        try:
            c.submit_archive(["/etc/passwd"])
            raise AssertionError("a path outside the roots was accepted")
        except fls_client.ServiceError as e:
            check(e.code == "path_rejected", e.code)
        try:
            c.cancel(jobs[0]["job_id"])
            raise AssertionError("cancel of a finished job accepted")
        except fls_client.ServiceError as e:
            check(e.code == "conflict", e.code)
        try:
            c.call("FROB")
            raise AssertionError("unknown verb accepted")
        except fls_client.ServiceError as e:
            check(e.code == "unknown_verb", e.code)
        v = c.wait(c.submit_verify(deep=True))
        check(v["state"] == "done" and v["items_done"] == v["items_total"] >= 1, json.dumps(v))
        s = c.stats()
        check(s["jobs"]["done"] == 3 and s["workers"] == 2, json.dumps(s))
        c.close_job(jobs[0]["job_id"])
        check(len(c.list()) == 2, "CLOSE forgot the job")
        c.close()
        ok = True
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = "killed"
        log.close()
        if not ok or rc != 0:
            print(open(os.path.join(d, "serve.log")).read()[-5000:])
            print("service exit:", rc)
        else:
            shutil.rmtree(d, ignore_errors=True)
    if rc != 0:
        raise AssertionError("fls serve exited %s on SIGTERM" % rc)
    print("python client: all checks passed")


if __name__ == "__main__":
    main()
