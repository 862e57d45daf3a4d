#!/usr/bin/env bash
# Two builds of labforge side by side, with cgit, on the same `medium` repository: the tree
# root, log, commit and blob pages, ROUNDS rounds of `wrk -t1 -c1 -d SECONDS` alternating the
# three servers so drift on a shared machine hits all alike. Prints each page's median p50 with
# every round beside it. Each labforge has its own data folder, database and ports.
#   bench/ab.sh OLD_BINARY [NEW_BINARY] [ROUNDS] [SECONDS]
# NEW_BINARY defaults to this checkout's release build.
source "$(dirname "$0")/lib.sh"
OLD=$(realpath "${1:?usage: bench/ab.sh OLD_BINARY [NEW_BINARY] [ROUNDS] [SECONDS]}")
NEW=$(realpath "${2:-$ROOT/target/release/labforge}")
ROUNDS=${3:-5}
SECS=${4:-4}
need_pkg curl wrk
make_repos medium
mkdir -p "$BENCH"
"$SHARED/bench/peers" up "$REPOS" "$PEERS_PORT" >/dev/null

# One labforge per build: LF, LF_DATA and the ports are lib.sh's globals, set per server.
declare -A PID PORT
serve() {
  local name=$1 bin=$2 http=$3
  LF=$bin LF_DATA=$BENCH/ab-$name LF_HTTP=$http LF_SSH=$((http + 1))
  import_repos medium
  start_labforge
  PID[$name]=$LF_PID PORT[$name]=$http
  LF_PID=
}
stop_both() {
  for p in "${PID[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  "$SHARED/bench/peers" down >/dev/null 2>&1 || true
}
trap stop_both EXIT
serve old "$OLD" 18580
serve new "$NEW" 18590

HEAD=$(git -C "$REPOS/medium.git" rev-parse main)
FILE=allow-1672.py
p50_ms() {
  wrk -t1 -c1 -d"${SECS}s" --latency "$1" | awk '/^ +50%/ {
    v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else { sub(/s$/, "", v); v *= 1000 }
    printf "%.2f", v }'
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

# Complete the last-commit answers first, so both serve the finished page.
for name in old new; do
  until ! curl -s "http://127.0.0.1:${PORT[$name]}/bench/medium/tree/main/" | grep -q "being looked up"; do sleep 0.2; done
done

printf '| page | new | old | cgit | new/old |\n|---|---|---|---|---|\n'
for page in "tree root|tree/main|tree/" "log|commits/main|log/" \
            "commit|commit/$HEAD|commit/?id=$HEAD" "blob|blob/main/$FILE|tree/$FILE"; do
  IFS='|' read -r label lf cg <<<"$page"
  declare -A runs=([old]="" [new]="" [cgit]="")
  for _ in $(seq "$ROUNDS"); do
    for s in old new cgit; do
      if [ "$s" = cgit ]; then url="http://127.0.0.1:$PEERS_PORT/cgit/medium/$cg"
      else url="http://127.0.0.1:${PORT[$s]}/bench/medium/$lf"; fi
      runs[$s]+="$(p50_ms "$url") "
    done
  done
  n=$(echo "${runs[new]}" | median) o=$(echo "${runs[old]}" | median) c=$(echo "${runs[cgit]}" | median)
  range() { echo "$1" | tr ' ' '\n' | grep -v '^$' | sort -g | sed -n '1p;$p' | paste -sd-; }
  printf '| %s | %s ms (%s) | %s ms (%s) | %s ms | %s |\n' "$label" "$n" "$(range "${runs[new]}")" \
    "$o" "$(range "${runs[old]}")" "$c" "$(ratio "$n" "$o")"
done
