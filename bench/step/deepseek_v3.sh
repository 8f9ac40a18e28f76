#!/usr/bin/env bash
# One DeepSeek-V3 step on 256 H100s (issue 15's performance target: <= 30 s), timed with
# /usr/bin/time, for one or more switchsim binaries run alternately (A/B on a loaded box), and
# the step's JSON compared between them (wall-time fields aside).
#   bench/step/deepseek_v3.sh RUNS BINARY [BINARY ...] [-- extra simulate flags]
# Default flags: --model deepseek-v3 --mesh dgx-h100-32 --layout dp=32,ep=32,mp=8 (the dp/ep/mp
# layout that fits 80 GB: dense parts split 8 ways inside a node, 8 experts per device).
set -euo pipefail
runs=${1:?runs}; shift
bins=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do bins+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
flags=("$@")
[ ${#flags[@]} -eq 0 ] && flags=(--layout dp=32,ep=32,mp=8)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for r in $(seq 1 "$runs"); do
  for b in "${!bins[@]}"; do
    /usr/bin/time -f "bin$b run$r: %e s wall, %U s user, %S s sys, %M KiB max RSS" \
      "${bins[$b]}" simulate --model deepseek-v3 --mesh dgx-h100-32 "${flags[@]}" --no-progress --json \
      --out "$out/bin$b.json" 2>&1 | tail -1
  done
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ ${#bins[@]} -gt 1 ]; then
  python3 - "$out" "${#bins[@]}" <<'PY'
import json, sys
d, n = sys.argv[1], int(sys.argv[2])
def load(i):
    j = json.load(open(f"{d}/bin{i}.json"))
    j.pop("provenance", None)
    return j
a = load(0)
for i in range(1, n):
    print(f"bin{i} JSON {'identical to' if load(i) == a else 'DIFFERS from'} bin0 (provenance aside)")
PY
fi
python3 -c "import json,sys; j=json.load(open('$out/bin0.json')); print('step_time_s', j['step_time_s'], 'micro_batches', j['micro_batches'], 'fits_memory', j['fits_memory'])"
