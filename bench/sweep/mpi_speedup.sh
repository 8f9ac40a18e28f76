#!/bin/sh
# The speed-up of `mpirun -n 2` over `mpirun -n 1` on `switchsim sweep`, end to end
# (issue 17's target: >= 1.8x on a sweep of >= 50 points on a 2-core machine).
#
# Runs the 50-point sweep bench/sweep/sweep_50.json REPS times with 1 and with 2
# ranks, alternating (so a changing machine load hits both alike), and prints per
# run the wall seconds, the user CPU seconds of all ranks (/usr/bin/time per rank)
# and the 1-minute load average before it; then the medians and the ratio of the
# median wall times (the speed-up), and the ratio of the CPU seconds (1 rank /
# 2 ranks: the work the second rank adds). Measure on a quiet machine: on a loaded
# one the wall clock measures the scheduler, and the script says so (load > cores).
#
# Usage (from the repository root, after a build with MPI):
#   bench/sweep/mpi_speedup.sh [REPS]          (default 3)
#   SPEC=other.json bench/sweep/mpi_speedup.sh (any sweep spec of >= 50 points)
set -eu
reps=${1:-3}
bin=$(pwd)/build/cli/switchsim
spec=${SPEC:-bench/sweep/sweep_50.json}
[ -x "$bin" ] || { echo "mpi_speedup.sh: build first ($bin missing)" >&2; exit 2; }
command -v mpirun >/dev/null || { echo "mpi_speedup.sh: mpirun not found (openmpi-bin)" >&2; exit 2; }
"$bin" sweep --help | grep -q "MPI: compiled in" || { echo "mpi_speedup.sh: switchsim built without MPI" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "mpi_speedup.sh: /usr/bin/time missing (apt install time)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mpi="mpirun --bind-to none"
[ "$(id -u)" -eq 0 ] && mpi="$mpi --allow-run-as-root"
cores=$(nproc)

run() {  # ranks
  rm -rf "$tmp/out" "$tmp"/t.*
  load=$(cut -d' ' -f1 /proc/loadavg)
  start=$(date +%s.%N)
  $mpi -n "$1" sh -c "/usr/bin/time -f '%U' -o $tmp/t.\$OMPI_COMM_WORLD_RANK $bin sweep $spec --out $tmp/out --json" \
    >"$tmp/summary.json"
  end=$(date +%s.%N)
  user=$(cat "$tmp"/t.* | awk '{u += $1} END {printf "%.2f", u}')
  wall=$(echo "$end - $start" | bc)
  echo "ranks=$1 wall_s=$wall user_s=$user load1=$load" | tee -a "$tmp/all"
}

median() {  # ranks field
  grep "^ranks=$1 " "$tmp/all" | tr ' ' '\n' | grep "^$2=" | cut -d= -f2 | sort -n |
    awk '{a[NR]=$1} END {printf "%.3f", (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'
}

echo "spec $spec; $cores cores; $(date -u '+%Y-%m-%d %H:%M UTC')"
i=0
while [ "$i" -lt "$reps" ]; do
  run 1
  run 2
  i=$((i + 1))
done
points=$(tr -d ' \n' <"$tmp/summary.json" | sed -n 's/.*"points":\([0-9]*\).*/\1/p')
echo "$points points per sweep"
w1=$(median 1 wall_s); w2=$(median 2 wall_s)
u1=$(median 1 user_s); u2=$(median 2 user_s)
l1=$(median 1 load1); l2=$(median 2 load1)
echo "median of $reps: 1 rank wall ${w1} s user ${u1} s (load ${l1}); 2 ranks wall ${w2} s user ${u2} s (load ${l2})"
echo "speed-up (wall, 1 rank / 2 ranks): $(echo "scale=3; $w1 / $w2" | bc)x"
echo "CPU ratio (user, 2 ranks / 1 rank): $(echo "scale=3; $u2 / $u1" | bc)"
# With 2 idle cores and dynamic balancing the 2-rank run takes about half its CPU seconds.
echo "idle-machine estimate (2 x 1-rank user / 2-rank user): $(echo "scale=3; 2 * $u1 / $u2" | bc)x"
if [ "$(echo "$l1 > $cores || $l2 > $cores" | bc)" -eq 1 ]; then
  echo "WARNING: load average above $cores cores: the wall times measure the machine's load, not the sweep"
fi
