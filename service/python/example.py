#!/usr/bin/env python3
"""Archive files through a running `fls serve`, wait, restore them, compare.

    python3 service/python/example.py [--endpoint tcp://127.0.0.1:5555] \
        --output .fls-data/restored/example FILE...

The files must lie under one of the service's source roots and --output under
one of its output roots (config/fls.yaml: the checkout and .fls-data/restored).
"""
import argparse
import filecmp
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fls_client import Client, object_name  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--endpoint", default="tcp://127.0.0.1:5555")
    ap.add_argument("--output", required=True)
    ap.add_argument("--server-key")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    with Client(a.endpoint, server_key=a.server_key) as c:
        print("service:", c.ping())
        job = c.submit_archive(a.files)
        st = c.wait(job)
        print("archive job %d: %s, %d/%d items" % (job, st["state"], st["items_done"],
                                                   st["items_total"]))
        if st["state"] != "done":
            print("error:", st["error"])
            return 1
        names = [object_name(f) for f in a.files]
        job = c.submit_restore(names, a.output)
        st = c.wait(job)
        print("restore job %d: %s" % (job, st["state"]))
        if st["state"] != "done":
            print("error:", st["error"])
            return 1
        out = os.path.abspath(a.output)
        for f, n in zip(a.files, names):
            same = filecmp.cmp(f, os.path.join(out, n), shallow=False)
            print("%s: %s" % (f, "identical" if same else "DIFFERENT"))
            if not same:
                return 1
        print("stats:", c.stats())
    return 0


if __name__ == "__main__":
    sys.exit(main())
