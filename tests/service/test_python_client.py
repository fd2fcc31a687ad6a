#!/usr/bin/env python3
"""CTest: the Python client (service/python/fls_client.py) and its example
against a real `fls serve` on loopback. Usage: test_python_client.py FLS_BINARY

A client written from docs/PROTOCOL.md alone must need nothing more: before
anything runs, every protocol name the client, its example and this test use
(verbs, body and reply fields, states, error codes: string keys of dicts,
subscripts and .get() calls, and strings compared against) must appear in the
document, between backquotes."""
import ast
import json
import os
import re
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


# Names in these files that are not protocol: Python, YAML config and
# command-line spellings the test uses to start the service.
NOT_PROTOCOL = {"__main__"}


def protocol_names(path, function=None):
    """String keys and compared-against strings used in `path` (in its
    function `function` only, when given)."""
    tree = ast.parse(open(path).read(), path)
    if function:
        tree = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function)
    names = set()

    def add(node):
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bytes):
                v = v.decode(errors="replace")
            if isinstance(v, str) and v:
                names.add(v)

    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for k in node.keys:
                if k is not None:
                    add(k)
        elif isinstance(node, ast.Subscript):
            add(node.slice)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("get", "call") and node.args:
                add(node.args[0])
        elif isinstance(node, ast.Compare):
            for c in [node.left] + node.comparators:
                add(c)
                if isinstance(c, (ast.Tuple, ast.List, ast.Set)):
                    for e in c.elts:
                        add(e)
    return names - NOT_PROTOCOL


def documented_names():
    """Every identifier-like token inside backquotes in docs/PROTOCOL.md."""
    doc = open(os.path.join(HERE, "..", "..", "docs", "PROTOCOL.md")).read()
    out = set()
    for span in re.findall(r"`([^`]+)`", doc):
        out.update(re.findall(r"[A-Za-z_][A-Za-z0-9_./-]*", span))
        out.add(span)
    return out


def check_protocol_is_documented():
    documented = documented_names()
    files = [(os.path.join(PYDIR, "fls_client.py"), None),
             (os.path.join(PYDIR, "example.py"), None),
             (os.path.abspath(__file__), "main")]
    missing = {}
    for f, function in files:
        for name in sorted(protocol_names(f, function)):
            if name not in documented:
                missing.setdefault(os.path.basename(f), []).append(name)
    check(not missing, "names used but not in docs/PROTOCOL.md: %s" % missing)
    used = set()
    for f, function in files:
        used |= protocol_names(f, function)
    check(len(used) > 50, "the name scan found only %d names" % len(used))
    print("protocol names used by the client, example and test, all in PROTOCOL.md: %d"
          % len(used))
    # FINISHED lists the end states; every verb has a method.
    check(set(fls_client.FINISHED) <= documented, "end states")


def main():
    check_protocol_is_documented()
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
        # Archive items are named by their source path; results as documented.
        check(st["kind"] == "archive", st["kind"])
        by_name = {i["name"]: i for i in st["items"]}
        check(set(by_name) == {fls_client.source_path(f) for f in files}, json.dumps(st))
        for f in files:
            r = by_name[fls_client.source_path(f)]["result"]
            check(r["object"] == fls_client.object_name(f), json.dumps(r))
            check(r["size"] == os.path.getsize(f), json.dumps(r))
            check(len(r["sha256"]) == 64 and r["backend"], json.dumps(r))
            check(("pack" in r and "offset" in r) or "targets_tolerated" in r, json.dumps(r))
        rs = c.status(jobs[0]["job_id"], files=True)
        check(rs["kind"] == "restore", rs["kind"])
        for item in rs["items"]:
            r = item["result"]
            check(r["sha256_checked"] is True and r["problems"] == [] and
                  r["output"] == os.path.join(os.path.abspath(os.path.join(out, "ex")),
                                              item["name"]) and
                  r["bytes"] == item["bytes"] and r["stripes_reconstructed"] == 0,
                  json.dumps(item))
        # Refusals and their codes.
        refusals = [
            (lambda: c.submit_archive(["/etc/passwd"]), "path_rejected"),
            (lambda: c.submit_archive([os.path.join(src, "missing")]), "not_found"),
            (lambda: c.submit_archive([os.path.join(src, "link")]), "path_rejected"),
            (lambda: c.submit_archive(files, name_prefix="/abs"), "bad_request"),
            (lambda: c.submit_restore(["../x"], os.path.join(out, "r")), "path_rejected"),
            (lambda: c.status(424242), "not_found"),
            (lambda: c.cancel(jobs[0]["job_id"]), "conflict"),
            (lambda: c.call("FROB"), "unknown_verb"),
            (lambda: c.submit({"kind": "frob"}), "bad_request"),
            (lambda: c.submit({"paths": files}), "bad_request"),
            (lambda: c.submit_archive(["/x" * 600000]), "too_large"),  # by the client
        ]
        os.symlink(files[1], os.path.join(src, "link"))
        for n, (call, code) in enumerate(refusals):
            try:
                call()
                raise AssertionError("refusal %d was accepted" % n)
            except fls_client.ServiceError as e:
                check(e.code == code, "refusal %d: %s: %s" % (n, e.code, e.message))
        v = c.wait(c.submit_verify(deep=True), files=True)
        check(v["state"] == "done" and v["items_done"] == v["items_total"] >= 1, json.dumps(v))
        for item in v["items"]:
            check(item["result"]["health"] == "healthy" and item["result"]["deep"] is True,
                  json.dumps(item))
        st = c.wait(c.submit_stats(), files=True)
        check(st["state"] == "done" and st["items"][0]["name"] == "store", json.dumps(st))
        check(st["items"][0]["result"]["objects"] >= 1, json.dumps(st))
        s = c.stats()
        check(s["jobs"]["done"] == 4 and s["workers"] == 2, json.dumps(s))
        check(c.ping()["max_message_bytes"] == 1048576, "PING limits")
        c.close_job(jobs[0]["job_id"])
        check(len(c.list()) == 3, "CLOSE forgot the job")
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
