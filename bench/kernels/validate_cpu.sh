#!/usr/bin/env bash
# bench/kernels/validate_cpu.sh [SWITCHSIM] [OUTDIR] [RUNS]
#
# The CPU accuracy benchmark of issue 4 in one command: calibrate a CPU
# profile on this machine, then validate it RUNS times (default 3) on the
# held-out shapes, printing per run the MAPE, the median |error|, the error
# of every case, the 1-minute load average before it, and the drop check.
# Target: median |error| <= 10% and MAPE <= 15%. Takes about 1-2 minutes on
# the 2-core dev box. Files go to OUTDIR (default: a new temporary directory):
#   cpu-profile.json, validate-1.json ... validate-RUNS.json
# BLAS_THREADS=N (environment) calibrates with --blas-threads N (default: the
# CLI's, 1); validate takes the profile's.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
switchsim=${1:-$root/build/cli/switchsim}
out=${2:-$(mktemp -d /tmp/validate-cpu.XXXXXX)}
runs=${3:-3}
[ -x "$switchsim" ] || { echo "validate_cpu: $switchsim is not an executable (build first, or pass its path)" >&2; exit 2; }
mkdir -p "$out"
load() { cut -d' ' -f1 /proc/loadavg; }

echo "validate_cpu: $(date -u +%FT%TZ), $(nproc) CPUs, switchsim $switchsim, files in $out"
echo "calibrate: load $(load)"
start=$(date +%s)
blas=()
[ -n "${BLAS_THREADS:-}" ] && blas=(--blas-threads "$BLAS_THREADS")
"$switchsim" calibrate --backend cpu "${blas[@]}" --out "$out/cpu-profile.json" >/dev/null
echo "calibrate: $(( $(date +%s) - start )) s, load after $(load), OpenBLAS threads $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["device"].get("blas_threads", "default"))' "$out/cpu-profile.json")"

for i in $(seq 1 "$runs"); do
  before=$(load)
  "$switchsim" validate --backend cpu --profile "$out/cpu-profile.json" --json --out "$out/validate-$i.json" >/dev/null
  python3 - "$out/validate-$i.json" "$i" "$before" "$(load)" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("run %s: load %s -> %s  MAPE %.1f%%  median |error| %.1f%%  drops match: %s" % (
    sys.argv[2], sys.argv[3], sys.argv[4], 100 * r["mape"], 100 * r["median_abs_error"],
    all(d["match"] for d in r["drop_check"])))
for c in r["cases"]:
    s = c["shape"]
    print("    %-10s T=%-5d d=%-3d E=%-3d k=%d %-5s predicted %9.3e s measured %9.3e s  error %+6.1f%%" % (
        c["kernel"], s["tokens"], s["d_model"], s["experts"], s["top_k"], s["activation"],
        c["predicted_s"], c["measured_s"], 100 * c["error"]))
PY
done
python3 - "$out" "$runs" <<'PY'
import json, sys, statistics
runs = [json.load(open("%s/validate-%d.json" % (sys.argv[1], i))) for i in range(1, int(sys.argv[2]) + 1)]
kernels = sorted({c["kernel"] for r in runs for c in r["cases"]})
print("per kernel, over all runs: MAPE / median |error|")
for k in kernels:
    e = [abs(c["error"]) for r in runs for c in r["cases"] if c["kernel"] == k]
    print("    %-10s %5.1f%% / %5.1f%%" % (k, 100 * sum(e) / len(e), 100 * statistics.median(e)))
print("summary: MAPE %s; median |error| %s" % (
    ", ".join("%.1f%%" % (100 * r["mape"]) for r in runs),
    ", ".join("%.1f%%" % (100 * r["median_abs_error"]) for r in runs)))
PY
