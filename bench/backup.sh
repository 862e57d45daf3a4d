#!/usr/bin/env bash
# Backup of the `medium` fixture while serve runs, against the anchor run by hand on the same
# data: `git bundle create --all` of the repository plus `pg_dump` (custom format) of the
# database. Then the cost of restoring the backup into an empty folder.
#   bench/backup.sh [ROUNDS]   (median of ROUNDS, default 3)
source "$(dirname "$0")/lib.sh"
ROUNDS=${1:-3}
build
make_repos medium
mkdir -p "$BENCH"
trap stop_all EXIT
import_repos medium
start_labforge

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
SOCK=$LF_DATA/pg/run
now() { date +%s.%N; }
secs() { python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.3f}')" "$1" "$2"; }
size() { stat -c %s "$1"; }

declare -a lf_tar lf_zst anchor
for _ in $(seq "$ROUNDS"); do
  rm -f "$BENCH"/b.tar "$BENCH"/b.tar.zst "$BENCH"/a.bundle "$BENCH"/a.pgdump
  t0=$(now); lf_env "$LF" backup "$BENCH/b.tar" 2>/dev/null; t1=$(now)
  lf_tar+=("$(secs "$t0" "$t1")")
  t0=$(now); lf_env "$LF" backup "$BENCH/b.tar.zst" 2>/dev/null; t1=$(now)
  lf_zst+=("$(secs "$t0" "$t1")")
  t0=$(now)
  git -C "$LF_DATA/repos/bench/medium.git" bundle create -q "$BENCH/a.bundle" --all
  "$PG_BIN/pg_dump" -h "$SOCK" -U labforge -d labforge --format=custom -f "$BENCH/a.pgdump"
  t1=$(now)
  anchor+=("$(secs "$t0" "$t1")")
done
lt=$(median "${lf_tar[@]}"); lz=$(median "${lf_zst[@]}"); an=$(median "${anchor[@]}")
anchor_bytes=$(( $(size "$BENCH/a.bundle") + $(size "$BENCH/a.pgdump") ))
echo "backup of medium (median of $ROUNDS), serve running:"
echo "  labforge backup .tar      ${lt}s  $(size "$BENCH/b.tar") bytes   time ratio $(ratio "$lt" "$an")  size ratio $(ratio "$(size "$BENCH/b.tar")" "$anchor_bytes")"
echo "  labforge backup .tar.zst  ${lz}s  $(size "$BENCH/b.tar.zst") bytes   time ratio $(ratio "$lz" "$an")  size ratio $(ratio "$(size "$BENCH/b.tar.zst")" "$anchor_bytes")"
echo "  anchor bundle --all + pg_dump  ${an}s  $anchor_bytes bytes"

stop_all
restored=$BENCH/restored
rm -rf "$restored"
t0=$(now)
env -u DATABASE_URL LABFORGE_DATA_DIR="$restored" "$LF" restore "$BENCH/b.tar.zst" 2>/dev/null
t1=$(now)
echo "restore of the .tar.zst into an empty folder (initdb, pg_restore, unbundle): $(secs "$t0" "$t1")s"
git -C "$restored/repos/bench/medium.git" fsck --no-dangling >/dev/null && echo "  git fsck of the restored medium: clean"
rm -rf "$restored"
