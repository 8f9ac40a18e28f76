#!/usr/bin/env bash
# bench/kernels/validate_step_cpu.sh [SWITCHSIM] [OUTDIR] [RUNS] [PROFILE]
#
# Issue 18 item 4's benchmark in one command: calibrate a CPU profile on this machine (unless
# PROFILE is given), then run `validate --step --backend cpu` RUNS times (default 3), printing per
# run the step-time error (wall and CPU time), the per-phase errors, the wall time of the run and the
# 1-minute load average before and after it; then the median over the runs. Target (issue 18):
# |step error| <= 15%, <= 60 s per run. Files go to OUTDIR (default: a new temporary directory):
#   cpu-profile.json, step-1.json ... step-RUNS.json
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
switchsim=${1:-$root/build/cli/switchsim}
out=${2:-$(mktemp -d /tmp/validate-step-cpu.XXXXXX)}
runs=${3:-3}
profile=${4:-}
[ -x "$switchsim" ] || { echo "validate_step_cpu: $switchsim is not an executable (build first, or pass its path)" >&2; exit 2; }
mkdir -p "$out"
load() { cut -d' ' -f1 /proc/loadavg; }

echo "validate_step_cpu: $(date -u +%FT%TZ), $(nproc) CPUs, switchsim $switchsim, files in $out"
if [ -z "$profile" ]; then
  profile=$out/cpu-profile.json
  echo "calibrate: load $(load)"
  start=$(date +%s)
  "$switchsim" calibrate --backend cpu --out "$profile" >/dev/null
  echo "calibrate: $(( $(date +%s) - start )) s, load after $(load)"
fi

for i in $(seq 1 "$runs"); do
  before=$(load)
  start=$(date +%s.%N)
  "$switchsim" validate --step --backend cpu --profile "$profile" --json --out "$out/step-$i.json" >/dev/null
  wall=$(python3 -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$start" "$(date +%s.%N)")
  python3 - "$out/step-$i.json" "$i" "$before" "$(load)" "$wall" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
m, p, e = r["measured"], r["predicted"], r["errors"]
print("run %s: load %s -> %s, %s s: step predicted %.2f ms, measured %.2f ms wall (error %+.1f%%), %.2f ms CPU (error %+.1f%%), %.2f ms sum of op medians (error %+.1f%%)" % (
    sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], 1e3 * p["step_s"], 1e3 * m["step"]["median_s"],
    100 * e["step"], 1e3 * m["step_cpu_time"]["median_s"], 100 * e["step_cpu_time"],
    1e3 * m["step_op_medians_s"], 100 * e["step_op_medians"]))
print("    phases: " + ", ".join("%s %+.1f%%" % (k, 100 * v) for k, v in e["phases"].items()))
print("    categories: " + ", ".join("%s %+.1f%%" % (k, 100 * v) for k, v in e["categories"].items()))
PY
done
python3 - "$out" "$runs" <<'PY'
import json, sys, statistics
runs = [json.load(open("%s/step-%d.json" % (sys.argv[1], i))) for i in range(1, int(sys.argv[2]) + 1)]
med = lambda xs: statistics.median(xs)
print("median over %d runs: step error %+.1f%% (wall), %+.1f%% (CPU time), %+.1f%% (sum of op medians); forward %+.1f%%, backward %+.1f%%, optimizer %+.1f%%" % (
    len(runs), 100 * med([r["errors"]["step"] for r in runs]), 100 * med([r["errors"]["step_cpu_time"] for r in runs]),
    100 * med([r["errors"]["step_op_medians"] for r in runs]),
    100 * med([r["errors"]["phases"]["forward"] for r in runs]), 100 * med([r["errors"]["phases"]["backward"] for r in runs]),
    100 * med([r["errors"]["phases"]["optimizer"] for r in runs])))
PY
