#!/usr/bin/env bash
# Highlighting's cost: blob, commit and tree pages of `medium` for two labforge binaries (say,
# built before and after a change), alternated in one run: warm p50 at c=1 and req/s at c=4
# (wrk), then first views (nothing memoised) of 34 blobs and 40 commits; cgit for reference.
#   bench/highlight.sh BASE_BIN NEW_BIN [SECONDS] [ROUNDS]
source "$(dirname "$0")/lib.sh"
BASE_BIN=$1 NEW_BIN=$2 SECS=${3:-5} ROUNDS=${4:-2}
build() { :; }
# Ports of our own: other worktrees may run bench/ with the defaults at the same time.
PEERS_PORT=18180 LF_HTTP=18580 LF_SSH=18582
LF=$NEW_BIN
setup medium
HEAD=$(git -C "$REPOS/medium.git" rev-parse main)
LF_BASE="http://127.0.0.1:$LF_HTTP/bench/medium"
p50() { wrk -t1 -c1 -d"${SECS}s" --latency "$1" | awk '/^ +50%/ {print $2}'; }
rps() { wrk -t2 -c4 -d"${SECS}s" "$1" | awk '/Requests\/sec/ {print $2}'; }
ms() { curl -s -o /dev/null -w '%{time_total}\n' "$1" | awk '{printf "%.2f\n", $1 * 1000}'; }
med() { sort -g | awk '{a[NR]=$1} END {printf "median %s ms, max %s ms", a[int((NR+1)/2)], a[NR]}'; }
restart_with() {
  kill "$LF_PID"; wait "$LF_PID" 2>/dev/null || true
  for _ in $(seq 100); do [ -e "$LF_DATA/pg/data/postmaster.pid" ] || break; sleep 0.1; done
  LF=$1; start_labforge
}
mapfile -t FILES < <(git -C "$REPOS/medium.git" ls-tree --name-only main | grep -E '\.(py|yaml|sh|conf|toml|json)$' | head -40)
mapfile -t COMMITS < <(git -C "$REPOS/medium.git" rev-list --skip=100 --max-count=40 main)
for round in $(seq "$ROUNDS"); do
  for which in base new; do
    if [ "$which" = base ]; then restart_with "$BASE_BIN"; else restart_with "$NEW_BIN"; fi
    # First views; one page of each language first, so compiling its grammar is not counted.
    for f in "${FILES[@]:0:6}"; do ms "$LF_BASE/blob/main/$f" >/dev/null; done
    echo "round $round $which first views: blob $(for f in "${FILES[@]:6}"; do ms "$LF_BASE/blob/main/$f"; done | med); commit $(for c in "${COMMITS[@]}"; do ms "$LF_BASE/commit/$c"; done | med)"
    for page in "blob|blob/main/allow-1672.py" "commit|commit/$HEAD" "tree|tree/main"; do
      IFS='|' read -r name path <<<"$page"
      curl -s -o /dev/null "$LF_BASE/$path"
      printf 'round %s %-4s %-6s p50(c=1) %-9s req/s(c=4) %s\n' "$round" "$which" "$name" \
        "$(p50 "$LF_BASE/$path")" "$(rps "$LF_BASE/$path")"
    done
  done
done
CG="http://127.0.0.1:$PEERS_PORT/cgit/medium"
printf 'cgit blob   p50(c=1) %-9s req/s(c=4) %s\n' "$(p50 "$CG/tree/allow-1672.py")" "$(rps "$CG/tree/allow-1672.py")"
printf 'cgit commit p50(c=1) %-9s req/s(c=4) %s\n' "$(p50 "$CG/commit/?id=$HEAD")" "$(rps "$CG/commit/?id=$HEAD")"
