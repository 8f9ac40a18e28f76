#!/bin/sh
# The same sweep serially and under `mpirun -n 3 --oversubscribe`: results.jsonl identical.
# Exit 77 (CTest: skipped) with a message where MPI is not compiled in or mpirun is absent.
# Usage: mpi_sweep_test.sh SWITCHSIM SPEC HAVE_MPI
set -eu
bin=$1 spec=$2 have_mpi=$3
case "$have_mpi" in ON|1|TRUE|YES) ;; *) echo "skipped: this build has no MPI (install libopenmpi-dev, reconfigure)"; exit 77;; esac
command -v mpirun >/dev/null 2>&1 || { echo "skipped: mpirun not found (install openmpi-bin)"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$bin" sweep "$spec" --out "$dir/serial" --threads 1 --json >/dev/null
root=""
[ "$(id -u)" -eq 0 ] && root="--allow-run-as-root"
# Open MPI does not free all its allocations at MPI_Finalize: a sanitizer build's leak checker
# (scripts/sanitize) would report them. The same sweep code runs leak-checked without MPI
# (test_sweep_cli), so leak checking is off for the MPI run only.
ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=0" \
  mpirun -n 3 --oversubscribe $root "$bin" sweep "$spec" --out "$dir/mpi" --json > "$dir/mpi.out"
grep -q '"ranks": 3' "$dir/mpi.out" || { echo "mpirun did not give 3 ranks:"; cat "$dir/mpi.out"; exit 1; }
cmp "$dir/serial/results.jsonl" "$dir/mpi/results.jsonl"
cmp "$dir/serial/results.csv" "$dir/mpi/results.csv"
echo "mpirun -n 3: results identical to the serial run ($(wc -l < "$dir/mpi/results.jsonl") points)"
