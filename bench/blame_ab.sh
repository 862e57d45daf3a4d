#!/usr/bin/env bash
# Two builds of labforge against `git blame` on one fixture, nothing kept: each round restarts
# both builds with their kept answers removed, times the tree root until complete (a request
# every 100 ms) and each file's blame until complete, then `git blame` of each file; rounds
# alternate the builds, so drift on a shared machine hits all alike. Prints medians.
#   bench/blame_ab.sh OLD_BINARY NEW_BINARY KIND ROUNDS FILE...
#   (KIND_REPO=PATH reuses a fixture made before, e.g. LONG_REPO for `long`)
source "$(dirname "$0")/lib.sh"
OLD=$(realpath "$1") NEW=$(realpath "$2") KIND=$3 ROUNDS=$4
shift 4
FILES=("$@")
need_pkg curl
mkdir -p "$REPOS" "$BENCH"
reuse=${KIND_REPO:-}
[ -n "$reuse" ] && [ ! -e "$REPOS/$KIND.git" ] && ln -s "$(realpath "$reuse")" "$REPOS/$KIND.git"
make_repos "$KIND"
"$SHARED/bench/peers" up "$REPOS" "$PEERS_PORT" >/dev/null
declare -A PID
stop_both() {
  for p in "${PID[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  "$SHARED/bench/peers" down >/dev/null 2>&1 || true
}
trap stop_both EXIT
# One labforge per build (lib.sh's globals set per server), started afresh with nothing kept.
restart() {
  local name=$1 bin=$2 http=$3
  [ -n "${PID[$name]:-}" ] && { kill "${PID[$name]}" 2>/dev/null; wait "${PID[$name]}" 2>/dev/null || true; }
  LF=$bin LF_DATA=$BENCH/ab-$name LF_HTTP=$http LF_SSH=$((http + 1))
  rm -rf "$LF_DATA/repos/bench/$KIND.git/labforge"
  start_labforge
  import_repos "$KIND"
  PID[$name]=$LF_PID
  LF_PID=
}
until_complete() {
  local url=$1 marker=$2 interval=$3 t0 t n=0 worst=0 took
  t0=$(now_ms)
  while :; do
    t=$(now_ms)
    curl -s "$url" >"$BENCH/page.html"
    took=$(($(now_ms) - t)); n=$((n + 1)); ((took > worst)) && worst=$took
    grep -q "$marker" "$BENCH/page.html" || break
    (($(now_ms) - t0 > 300000)) && { echo "(gave up after 300 s)" >&2; break; }
    sleep "$interval"
  done
  echo "$(($(now_ms) - t0)) $n $worst"
}
declare -A T
for round in $(seq "$ROUNDS"); do
  for build in old new; do
    if [ $build = old ]; then restart old "$OLD" 18780; port=18780; else restart new "$NEW" 18790; port=18790; fi
    u="http://127.0.0.1:$port/bench/$KIND"
    read -r r n w < <(until_complete "$u/tree/main/" "being looked up" 0.1)
    T[$build.tree]+="$r/$n/$w "
    for f in "${FILES[@]}"; do
      read -r r _ _ < <(until_complete "$u/blame/main/$f" "still being traced" 0.05)
      T[$build.$f]+="$r "
    done
  done
  for f in "${FILES[@]}"; do
    t0=$(now_ms); git -C "$REPOS/$KIND.git" blame main -- "$f" >/dev/null; T[git.$f]+="$(($(now_ms) - t0)) "
  done
  echo "round $round; load $(cut -d' ' -f1-3 /proc/loadavg)"
done
echo "tree root complete ms/requests/slowest ms: old ${T[old.tree]} new ${T[new.tree]}"
for f in "${FILES[@]}"; do
  o=$(median ${T[old.$f]}) n=$(median ${T[new.$f]}) g=$(median ${T[git.$f]})
  echo "blame $f: old ${T[old.$f]}(median $o) new ${T[new.$f]}(median $n) git ${T[git.$f]}(median $g); new/git $(ratio "$n" "$g"), old/git $(ratio "$o" "$g")"
done
