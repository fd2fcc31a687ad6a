"""fls_client: a Python client of the fls job service (pyzmq).

The wire protocol is specified in docs/PROTOCOL.md. Each call sends one
request on a DEALER socket:

    [b""] [b"FLS-CLIENT/1"] [VERB] [JSON body]

and waits for the reply [b""] [b"FLS-CLIENT/1"] [b"OK" | b"ERROR"] [JSON].
On a timeout the socket is closed and reopened ("lazy pirate"), so a late
reply is never mistaken for the answer to the next request.

Before a request is sent its size is checked against the service's
max_message_bytes (learned from PING once per Client): a larger request
would be refused (too_large), and one with a frame above 4 x that limit
would get no reply at all (libzmq drops the connection), so the client
raises ServiceError("too_large") itself instead of timing out.

Paths given to submit_archive / submit_restore are made absolute with
os.path.abspath (so ".." is applied to the spelling here, never by the
service, which refuses it).

    from fls_client import Client
    with Client("tcp://127.0.0.1:5555") as c:
        job = c.submit_archive(["/data/photos"])
        print(c.wait(job)["state"])

A Client is not thread-safe: use one per thread.
"""

import json
import os
import time

import zmq

PROTOCOL = b"FLS-CLIENT/1"
FINISHED = ("done", "failed", "cancelled")


class ServiceError(Exception):
    """The service answered ERROR; .code is the error code (docs/PROTOCOL.md)."""

    def __init__(self, code, message):
        super().__init__("%s: %s" % (code, message))
        self.code = code
        self.message = message


class Timeout(Exception):
    """No reply within the timeout (service down, or CurveZMQ keys refused)."""


class Client:
    def __init__(self, endpoint="tcp://127.0.0.1:5555", timeout_ms=10000,
                 server_key=None, public_key=None, secret_key=None):
        """server_key/public_key/secret_key: Z85 CurveZMQ keys when the
        service runs with security.curve (see `fls keygen`)."""
        self.endpoint = endpoint
        self.timeout_ms = timeout_ms
        self._curve = (server_key, public_key, secret_key)
        self._ctx = zmq.Context.instance()
        self._sock = None
        self.max_message_bytes = None  # from the first PING

    def _connect(self):
        s = self._ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        server_key, public_key, secret_key = self._curve
        if server_key:
            if not (public_key and secret_key):
                public_key, secret_key = zmq.curve_keypair()
            s.curve_serverkey = _b(server_key)
            s.curve_publickey = _b(public_key)
            s.curve_secretkey = _b(secret_key)
        s.connect(self.endpoint)
        self._sock = s

    def close(self):
        if self._sock is not None:
            self._sock.close(0)
            self._sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def call(self, verb, body=None, timeout_ms=None):
        """Sends one request; returns the reply body (a dict) or raises
        ServiceError / Timeout."""
        frames = [b"", PROTOCOL, verb.encode(), json.dumps(body or {}).encode()]
        if verb != "PING":
            if self.max_message_bytes is None:
                self.max_message_bytes = self.ping()["max_message_bytes"]
            size = sum(len(f) for f in frames)
            if size > self.max_message_bytes:
                raise ServiceError("too_large",
                                   "request of %d bytes not sent: the service's "
                                   "max_message_bytes is %d" % (size, self.max_message_bytes))
        if self._sock is None:
            self._connect()
        self._sock.send_multipart(frames)
        timeout = self.timeout_ms if timeout_ms is None else timeout_ms
        if not self._sock.poll(timeout, zmq.POLLIN):
            self.close()
            raise Timeout("no reply from %s within %d ms" % (self.endpoint, timeout))
        frames = self._sock.recv_multipart()
        if len(frames) != 4 or frames[0] != b"" or frames[1] != PROTOCOL:
            raise ServiceError("bad_reply", "malformed reply: %r" % frames[:3])
        reply = json.loads(frames[3])
        if frames[2] == b"OK":
            return reply
        raise ServiceError(reply.get("code", "?"), reply.get("message", ""))

    # One method per verb.
    def ping(self):
        reply = self.call("PING")
        self.max_message_bytes = reply["max_message_bytes"]
        return reply

    def stats(self):
        return self.call("STATS")

    def submit(self, body):
        return self.call("SUBMIT", body)["job_id"]

    def submit_archive(self, paths, name_prefix=None, k=None, m=None):
        body = {"kind": "archive", "paths": [os.path.abspath(p) for p in paths]}
        if name_prefix:
            body["name_prefix"] = name_prefix
        if k:
            body["k"] = k
        if m:
            body["m"] = m
        return self.submit(body)

    def submit_restore(self, objects, output):
        return self.submit({"kind": "restore", "objects": list(objects),
                            "output": os.path.abspath(output)})

    def submit_verify(self, objects=None, deep=False):
        body = {"kind": "verify", "deep": deep}
        if objects:
            body["objects"] = list(objects)
        return self.submit(body)

    def submit_repair(self, objects=None, deep=None, sweep=None):
        """No objects: a sweep of everything; sweep: {"verify_only", "deep",
        "rate_bytes_per_s"} (PROTOCOL.md)."""
        body = {"kind": "repair"}
        if objects:
            body["objects"] = list(objects)
        if deep is not None:
            body["deep"] = bool(deep)
        if sweep:
            body["sweep"] = dict(sweep)
        return self.submit(body)

    def submit_stats(self):
        return self.submit({"kind": "stats"})

    def status(self, job_id, files=False, wait_ms=0):
        """The job; with wait_ms the service holds its reply until the job
        ends or wait_ms (at most 30000) have passed."""
        body = {"job_id": job_id, "files": files}
        if wait_ms:
            body["wait_ms"] = wait_ms
        timeout = self.timeout_ms + wait_ms
        return self.call("STATUS", body, timeout_ms=timeout)

    def list(self, state=None, limit=100):
        body = {"limit": limit}
        if state:
            body["state"] = state
        return self.call("LIST", body)["jobs"]

    def cancel(self, job_id):
        return self.call("CANCEL", {"job_id": job_id})

    def close_job(self, job_id):
        return self.call("CLOSE", {"job_id": job_id})

    def wait(self, job_id, timeout_s=600, poll_s=0.05, files=False):
        """Returns the job once it is done, failed or cancelled. Each STATUS
        asks the service to hold its reply until the job ends (wait_ms), so
        the end is seen at once; a service that answers at once (one older
        than wait_ms) is polled every poll_s."""
        deadline = time.monotonic() + timeout_s
        while True:
            left_ms = int((deadline - time.monotonic()) * 1000)
            wait_ms = max(0, min(2000, left_ms))
            asked = time.monotonic()
            st = self.status(job_id, files=files, wait_ms=wait_ms)
            if st["state"] in FINISHED:
                return st
            if time.monotonic() > deadline:
                raise Timeout("job %d still %s after %s s" % (job_id, st["state"], timeout_s))
            if time.monotonic() - asked < wait_ms / 2000.0:
                time.sleep(poll_s)


def source_path(path):
    """The source path the service gives an archive item (PROTOCOL.md,
    SUBMIT): the resolved path (no symbolic link is accepted below a root,
    so resolving only changes the spelling of the root)."""
    return os.path.realpath(path)


def object_name(path, name_prefix=""):
    """The object name the service gives an archived file (see PROTOCOL.md)."""
    return name_prefix + source_path(path).lstrip("/")


def _b(s):
    return s.encode() if isinstance(s, str) else s


def subscribe(endpoint="tcp://127.0.0.1:5557"):
    """A SUB socket on the progress events; recv_event(sock) reads one."""
    s = zmq.Context.instance().socket(zmq.SUB)
    s.setsockopt(zmq.SUBSCRIBE, b"FLS-EVENT/1")
    s.connect(endpoint)
    return s


def recv_event(sock, timeout_ms=1000, job_id=None):
    """(topic, body) of the next event (of job `job_id` only, when given),
    or None after timeout_ms. ZeroMQ filters on the first frame only, so
    the topic "job.<id>" is matched here."""
    deadline = time.monotonic() + timeout_ms / 1000.0
    while True:
        left = int(max(0, deadline - time.monotonic()) * 1000)
        if not sock.poll(left, zmq.POLLIN):
            return None
        frames = sock.recv_multipart()
        if len(frames) != 3 or frames[0] != b"FLS-EVENT/1":
            continue
        topic = frames[1].decode()
        if job_id is None or topic == "job.%d" % job_id:
            return topic, json.loads(frames[2])
