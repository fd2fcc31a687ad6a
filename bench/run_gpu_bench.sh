#!/usr/bin/env bash
# The GPU benchmark run, for a host with a CUDA device (sm_80 or newer):
#   1. builds fls with FLS_CUDA=ON (Release) in $FLS_GPU_BUILD_DIR (default build-gpu);
#   2. runs the `gpu` tests (ctest -L gpu); any failure or skip stops the run
#      (a skip on a GPU host means the tests found no device);
#   3. runs fls_cuda_bandwidth: device-to-device copy, pinned host<->device
#      copies, and the matrix kernel alone on device-resident data;
#   4. runs `fls bench codec --json` for backends cuda and isal (isal-raw,
#      raw ISA-L ec_encode_data, comes with every shape). The cuda rows are
#      end to end: staging into pinned memory, host-to-device copy, kernel,
#      device-to-host copy and unstaging into the caller's buffers.
# Every result is one JSON line in OUTPUT (default bench-results/gpu.jsonl).
# At the end it prints the kernel's data rate against the device copy
# bandwidth and the end-to-end rate against pinned host-to-device bandwidth.
#
# Usage: bench/run_gpu_bench.sh [OUTPUT.jsonl]
# Environment: FLS_GPU_BUILD_DIR, JOBS (build parallelism, default nproc),
#              FLS_BENCH_ARGS (extra arguments for `fls bench codec`).
# Needs: cmake, a C++20 compiler, nvcc, the Debian packages of
# scripts/install-deps.sh, python3 (for the JSON bookkeeping).
set -euo pipefail

cd "$(dirname "$0")/.."
out=${1:-bench-results/gpu.jsonl}
build=${FLS_GPU_BUILD_DIR:-build-gpu}
jobs=${JOBS:-$(nproc)}
read -r -a bench_args <<<"${FLS_BENCH_ARGS:-}"

die() {
  echo "run_gpu_bench: $*" >&2
  exit 1
}
command -v python3 >/dev/null || die "python3 is needed to write and summarise the JSON"

mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== build ($build, FLS_CUDA=ON, Release)"
start=$(date +%s)
cmake -S . -B "$build" -DFLS_CUDA=ON -DCMAKE_BUILD_TYPE=Release >"$tmp/configure.log" ||
  { cat "$tmp/configure.log"; die "cmake configure failed"; }
cmake --build "$build" -j "$jobs" || die "build failed"
build_seconds=$(($(date +%s) - start))

# Without a usable device every number below would be missing: stop here.
"$build/fls" version --json >"$tmp/version.json"
python3 - "$tmp/version.json" <<'EOF' || exit 1
import json, sys
v = json.load(open(sys.argv[1]))
cuda = next((b for b in v["backends"] if b["name"] == "cuda"), None)
if cuda is None or not cuda["usable"]:
    why = cuda["detail"] if cuda else "fls has no cuda backend entry"
    sys.exit("run_gpu_bench: the cuda backend is not usable here: " + why)
print("== device: " + cuda["detail"])
EOF

echo "== gpu tests (ctest -L gpu)"
set +e
(cd "$build" && ctest -L gpu --output-on-failure --output-junit "$tmp/gpu-tests.xml")
ctest_rc=$?
set -e
# A skipped gpu test on a GPU host means the device did not answer the tests:
# treat it like a failure.
python3 - "$tmp/gpu-tests.xml" "$ctest_rc" "$tmp/gpu-tests.json" <<'EOF2' || exit 1
import json, sys
import xml.etree.ElementTree as ET
junit, rc, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
cases = []
try:
    root = ET.parse(junit).getroot()
except (OSError, ET.ParseError) as e:
    sys.exit(f"run_gpu_bench: no ctest JUnit report ({e}); ctest exit status {rc}")
for case in root.iter("testcase"):
    status = case.get("status") or "run"
    if status == "fail" or case.find("failure") is not None or case.find("error") is not None:
        status = "failed"
    elif case.find("skipped") is not None or status in ("notrun", "disabled"):
        status = "skipped"
    else:
        status = "passed"
    cases.append({"name": case.get("name"), "status": status})
count = lambda s: sum(c["status"] == s for c in cases)
summary = {"source": "ctest -L gpu", "test": "gpu_tests", "ctest_rc": rc, "tests": len(cases),
           "passed": count("passed"), "failed": count("failed"), "skipped": count("skipped"),
           "cases": cases}
json.dump(summary, open(out, "w"))
if rc != 0 or not cases or summary["failed"] or summary["skipped"]:
    sys.exit(f"run_gpu_bench: gpu tests: {summary['passed']} passed, {summary['failed']} failed, "
             f"{summary['skipped']} skipped (ctest exit status {rc}); stopping")
EOF2

echo "== fls_cuda_bandwidth"
"$build/fls_cuda_bandwidth" >"$tmp/bandwidth.jsonl" || die "fls_cuda_bandwidth failed"
cat "$tmp/bandwidth.jsonl"

echo "== fls bench codec --backend cuda,isal --json"
"$build/fls" bench codec --backend cuda,isal --json "${bench_args[@]}" >"$tmp/codec.jsonl" ||
  die "fls bench codec failed"

python3 - "$out" "$tmp" "$build_seconds" <<'EOF'
import datetime, json, os, platform, socket, subprocess, sys

out, tmp, build_seconds = sys.argv[1], sys.argv[2], int(sys.argv[3])

def lines(path):
    return [json.loads(l) for l in open(path) if l.strip()]

def cpu_model():
    try:
        for l in open("/proc/cpuinfo"):
            if l.startswith("model name"):
                return l.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()

def git_commit():
    try:
        return subprocess.check_output(["git", "rev-parse", "HEAD"], text=True).strip()
    except Exception:
        return None

records = [{
    "source": "run_gpu_bench", "test": "host",
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "hostname": socket.gethostname(), "cpu": cpu_model(), "cpus": os.cpu_count(),
    "git_commit": git_commit(), "build_seconds": build_seconds,
    "fls": json.load(open(os.path.join(tmp, "version.json"))),
}]

suite = json.load(open(os.path.join(tmp, "gpu-tests.json")))
records.append(suite)

bandwidth = lines(os.path.join(tmp, "bandwidth.jsonl"))
records += bandwidth
codec = lines(os.path.join(tmp, "codec.jsonl"))
for r in codec:
    r["source"] = "fls bench codec"
    # cuda rows time CudaBackend end to end, transfers included.
    r["includes_transfers"] = r["backend"] == "cuda"
records += codec

with open(out, "w") as f:
    for r in records:
        f.write(json.dumps(r) + "\n")

def one(test):
    return next((r for r in bandwidth if r.get("test") == test), None)

device, d2d, h2d = one("device"), one("d2d_copy"), one("h2d_pinned")
print()
print(f"results: {out} ({len(records)} JSON lines)")
print(f"device: {device['name']} (sm_{device['sm']}, {device['sms']} SMs)")
print(f"gpu tests: {suite['passed']} of {suite['tests']} passed")
print(f"device-to-device copy: {d2d['copy_gbps']:.1f} GB/s copied "
      f"({d2d['traffic_gbps']:.1f} GB/s read + written)")
print(f"pinned host-to-device: {h2d['gbps']:.1f} GB/s")
print()
print("Kernel only, device-resident (data rate = k x block bytes/s, GB = 1e9 B):")
print(f"{'op':<12} {'k+m':>6} {'lost':>4} {'block':>9} {'path':>14} {'data GB/s':>10} "
      f"{'traffic GB/s':>12} {'vs D2D copy':>11}")
for r in bandwidth:
    if r.get("test") != "kernel":
        continue
    shape = f"{r['k']}+{r['m']}"
    print(f"{r['op']:<12} {shape:>6} {r['lost']:>4} {r['block_bytes']:>9} "
          f"{r['path']:>14} {r['data_gbps']:>10.1f} {r['traffic_gbps']:>12.1f} "
          f"{r['vs_copy']:>10.0%}")
print("  vs D2D copy = (bytes the kernel reads and writes per second) / "
      "(bytes the copy reads and writes per second)")
print()
print("End to end through the cuda backend (pinned staging + H2D + kernel + D2H), "
      "against pinned H2D and against isal/isal-raw on the same buffers:")
print(f"{'op':<12} {'k+m':>6} {'lost':>4} {'block':>9} {'threads':>7} {'cuda GB/s':>10} "
      f"{'vs H2D':>7} {'isal GB/s':>10} {'isal-raw':>9}")
def peer(r, backend):
    for p in codec:
        if (p["backend"] == backend and p["op"] == r["op"] and p["k"] == r["k"]
                and p["m"] == r["m"] and p["lost"] == r["lost"]
                and p["block_bytes"] == r["block_bytes"]
                and (backend == "isal-raw" or p["threads"] == r["threads"])):
            return p["data_gbps"]
    return None
for r in codec:
    if r["backend"] != "cuda":
        continue
    isal, raw = peer(r, "isal"), peer(r, "isal-raw")
    shape = f"{r['k']}+{r['m']}"
    print(f"{r['op']:<12} {shape:>6} {r['lost']:>4} {r['block_bytes']:>9} "
          f"{r['threads']:>7} {r['data_gbps']:>10.2f} {r['data_gbps'] / h2d['gbps']:>6.0%} "
          f"{isal if isal is not None else float('nan'):>10.2f} "
          f"{raw if raw is not None and r['op'] == 'encode' else float('nan'):>9.2f}")
print("  vs H2D = cuda end-to-end data rate / pinned host-to-device bandwidth")
EOF
