#!/bin/sh
# `switchsim sweep` with 1 and 2 MPI ranks (and 1 and 2 threads) on the 50 cheap
# points of bench/sweep/sweep_50.json, and on 2000 points that fail at once (no
# simulation: the cost of the sweep machinery per point). Variants alternate so
# that a changing machine load hits each alike. Each process is timed by
# /usr/bin/time (wall s, user s, sys s); under mpirun one line per rank.
#
# On a shared, loaded machine the wall clock measures the scheduler's share, not
# the sweep: compare the CPU seconds. The 2-rank speed-up on an idle 2-core
# machine is bounded by (CPU of the 1-rank run) / (CPU of the busiest rank of the
# 2-rank run): the busiest rank's CPU is its wall time when it has a core.
# Usage: [VARIANTS="mpi1 mpi2"] bench/sweep/run_bench.sh [REPS]   (from the repository root, after a build)
set -eu
reps=${1:-3}
bin=$(pwd)/build/cli/switchsim
spec=bench/sweep/sweep_50.json
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mpi="mpirun --bind-to none"
[ "$(id -u)" -eq 0 ] && mpi="$mpi --allow-run-as-root"
cat > "$tmp/fast.json" <<'J'
{"schema_version": 1, "base": {"model": "switch-base", "mesh": "dgx-h100-2", "layout": "dp=3,ep=3"},
 "axes": {"seed": [0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19],
          "batch_tokens": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,79,80,81,82,83,84,85,86,87,88,89,90,91,92,93,94,95,96,97,98,99,100]}}
J
variants=${VARIANTS:-threads1 threads2 mpi1 mpi2 fast_threads1 fast_mpi2}
run() {  # name launcher... (the sweep's arguments follow the launcher)
  name=$1; shift
  case " $variants " in *" $name "*) ;; *) return 0;; esac
  rm -rf "$tmp/out" "$tmp"/t.*
  start=$(date +%s.%N)
  "$@" --json >/dev/null
  end=$(date +%s.%N)
  cpu=$(cat "$tmp"/t.* | awk '{u += $1 + $2; if ($1 + $2 > m) m = $1 + $2} END {printf "%.2f %.2f", u, m}')
  echo "$name $(echo "$end - $start" | bc) $cpu" | tee -a "$tmp/all"   # wall, total CPU, busiest process CPU
}
timed='/usr/bin/time -f "%U %S" -o'
i=0
while [ $i -lt "$reps" ]; do
  run threads1 sh -c "$timed $tmp/t.0 $bin sweep $spec --out $tmp/out --threads 1 \"\$@\"" sh
  run threads2 sh -c "$timed $tmp/t.0 $bin sweep $spec --out $tmp/out --threads 2 \"\$@\"" sh
  run mpi1 $mpi -n 1 sh -c "$timed $tmp/t.\$OMPI_COMM_WORLD_RANK $bin sweep $spec --out $tmp/out \"\$@\"" sh
  run mpi2 $mpi -n 2 sh -c "$timed $tmp/t.\$OMPI_COMM_WORLD_RANK $bin sweep $spec --out $tmp/out \"\$@\"" sh
  run fast_threads1 sh -c "$timed $tmp/t.0 $bin sweep $tmp/fast.json --out $tmp/out --threads 1 \"\$@\"" sh
  run fast_mpi2 $mpi -n 2 sh -c "$timed $tmp/t.\$OMPI_COMM_WORLD_RANK $bin sweep $tmp/fast.json --out $tmp/out \"\$@\"" sh
  i=$((i + 1))
done
echo "medians: wall s, CPU s of all processes, CPU s of the busiest process"
for name in $variants; do
  printf "%s" "$name"
  for col in 2 3 4; do
    grep "^$name " "$tmp/all" | cut -d' ' -f$col | sort -n | awk '{a[NR]=$1} END {printf " %s", (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'
  done
  echo
done
