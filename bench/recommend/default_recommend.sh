#!/usr/bin/env bash
# bench/recommend/default_recommend.sh [SWITCHSIM] [RUNS] [BASELINE]
#
# Issue 14's "default recommend <= 2 s" in one command: runs `switchsim recommend --json` (the
# default: Switch-Base on tpuv3-4x4, 4 capacity factors + dropless, 4 seeds, the search on the
# isolated network and the re-rank of the best 5 on the shared one) RUNS times (default 5) and
# prints per run the wall and user+sys seconds and the 1-minute load average before it, then the
# median wall. With BASELINE (another switchsim binary, e.g. one built from an older commit; set
# SWITCHSIM_BASELINE_DATA to its data/ folder if the catalog format changed since), the two run
# alternately and the medians of both are printed: compare them, not one number against a
# target, when the machine is not quiet.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
switchsim=${1:-$root/build/cli/switchsim}
runs=${2:-5}
baseline=${3:-}
[ -x "$switchsim" ] || { echo "default_recommend: $switchsim is not an executable (build first)" >&2; exit 2; }
[ -z "$baseline" ] || [ -x "$baseline" ] || { echo "default_recommend: baseline $baseline is not an executable" >&2; exit 2; }
load() { cut -d' ' -f1 /proc/loadavg; }
median() { sort -g | awk '{v[NR]=$1} END{print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }

one() {  # one run of binary $1 with data folder $2 (empty: its own); prints "wall cpu"
  local t
  t=$( { SWITCHSIM_DATA_DIR=${2:-} /usr/bin/time -f "%e %U %S" "$1" recommend --json >/dev/null; } 2>&1 | tail -1)
  awk '{printf "%.2f %.2f\n", $1, $2 + $3}' <<<"$t"
}

echo "default_recommend: $(date -u +%FT%TZ), $(nproc) CPUs, $switchsim${baseline:+ vs baseline $baseline}"
walls=()
base_walls=()
for i in $(seq 1 "$runs"); do
  before=$(load)
  read -r wall cpu < <(one "$switchsim" "")
  walls+=("$wall")
  line="run $i: load $before  wall $wall s  cpu $cpu s"
  if [ -n "$baseline" ]; then
    read -r bwall bcpu < <(one "$baseline" "${SWITCHSIM_BASELINE_DATA:-}")
    base_walls+=("$bwall")
    line+="  | baseline wall $bwall s  cpu $bcpu s"
  fi
  echo "$line"
done
echo "median wall: $(printf '%s\n' "${walls[@]}" | median) s (target <= 2 s on a quiet 2-core machine)"
[ -z "$baseline" ] || echo "baseline median wall: $(printf '%s\n' "${base_walls[@]}" | median) s"
