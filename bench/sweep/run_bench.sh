#!/bin/sh
# Speed-up of `switchsim sweep` with 2 threads and 2 MPI ranks over 1, on the 50
# cheap points of bench/sweep/sweep_50.json, and the MPI layer's cost per point
# on points that fail at once (bad layout: no simulation). Runs alternate so that
# a changing machine load hits every variant alike; prints each run's wall and
# CPU seconds, then the medians.
# Usage: bench/sweep/run_bench.sh [REPS]   (from the repository root, after a build)
set -eu
reps=${1:-3}
bin=build/cli/switchsim
spec=bench/sweep/sweep_50.json
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=""
[ "$(id -u)" -eq 0 ] && root="--allow-run-as-root"
run() {  # name command...
  name=$1; shift
  rm -rf "$tmp/out"
  /usr/bin/time -f "%e %U %S" -o "$tmp/t" "$@" --out "$tmp/out" --json >/dev/null
  echo "$name $(cat "$tmp/t")" | tee -a "$tmp/all"
}
# Fast points for the per-point overhead: 2000 points that fail at once (dp=3 on 16 GPUs).
cat > "$tmp/fast.json" <<'J'
{"schema_version": 1, "base": {"model": "switch-base", "mesh": "dgx-h100-2", "layout": "dp=3,ep=3"},
 "axes": {"seed": [0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19],
          "batch_tokens": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,79,80,81,82,83,84,85,86,87,88,89,90,91,92,93,94,95,96,97,98,99,100]}}
J
i=0
while [ $i -lt "$reps" ]; do
  run threads1 $bin sweep $spec --threads 1
  run threads2 $bin sweep $spec --threads 2
  run mpi1 mpirun -n 1 $root $bin sweep $spec
  run mpi2 mpirun -n 2 $root $bin sweep $spec
  run fast_threads1 $bin sweep "$tmp/fast.json" --threads 1
  run fast_mpi2 mpirun -n 2 $root $bin sweep "$tmp/fast.json"
  i=$((i + 1))
done
echo "medians (wall s, user s, sys s):"
for name in threads1 threads2 mpi1 mpi2 fast_threads1 fast_mpi2; do
  for col in 2 3 4; do
    grep "^$name " "$tmp/all" | cut -d' ' -f$col | sort -n | awk '{a[NR]=$1} END {printf "%s ", (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'
  done | sed "s/^/$name /"
  echo
done
