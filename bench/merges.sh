#!/usr/bin/env bash
# The `merges` fixture (60,000 commits, topic branches merged back, a rename halfway), labforge
# against its anchors in the same run, rounds alternating so drift on a shared machine hits all:
#  - tree root complete after a start with nothing kept, requested every 100 ms from the first
#    request (how many requests, the slowest);
#  - blame complete of README.md, Makefile, inventory/hosts.yaml, nothing kept, against
#    `git blame` of the same file, alternated file by file;
#  - the first page of Makefile's log (not kept) against `git log -50 --format=%H -- Makefile`,
#    and the followed log of inventory/hosts.yaml against `git log --follow -50`;
#  - warm tree root and Makefile's log: p50 against uncached cgit (wrk);
#  - labforge's RSS after browsing 1,000 pages of the history.
#   bench/merges.sh [ROUNDS] [SECONDS]      MERGES_REPO=PATH reuses a `merges` made before
source "$(dirname "$0")/lib.sh"
ROUNDS=${1:-3}
SECS=${2:-5}
if [ -n "${MERGES_REPO:-}" ] && [ ! -e "$REPOS/merges.git" ]; then
  mkdir -p "$REPOS"; ln -s "$(realpath "$MERGES_REPO")" "$REPOS/merges.git"
fi
setup merges
L="http://127.0.0.1:$LF_HTTP/bench/merges"
CG="http://127.0.0.1:$PEERS_PORT/cgit/merges"
repo="$LF_DATA/repos/bench/merges.git" src="$REPOS/merges.git"
ms() { curl -s -o /dev/null -w '%{time_total}' "$1" | awk '{printf "%.0f", $1 * 1000}'; }
time_ms() { local t0; t0=$(now_ms); "$@" >/dev/null 2>&1; echo $(($(now_ms) - t0)); }
p50() { wrk -t1 -c1 -d"${SECS}s" --latency "$1" | awk '/^ +50%/ {print $2}'; }
load() { awk '{print $1, $2, $3}' /proc/loadavg; }
# Requests URL every INTERVAL seconds until its page no longer says MARKER; prints
# "MS_SINCE_FIRST_REQUEST REQUESTS SLOWEST_REQUEST_MS".
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
echo "# merges: $(git -C "$src" rev-list --count main) commits ($(git -C "$src" rev-list --merges --count main) merges), $(git -C "$src" ls-tree main | wc -l) root entries; load $(load)"
FILES=(README.md Makefile inventory/hosts.yaml)
declare -A LFB GB
TREE=() LOG=() GLOG=() FLOG=() GFLOG=()
for round in $(seq "$ROUNDS"); do
  # Nothing kept: labforge starts afresh (it begins the root's last commits at start).
  stop_labforge
  rm -rf "$repo/labforge"
  start_labforge
  read -r r n worst < <(until_complete "$L/tree/main/" "being looked up" 0.1)
  TREE+=("$r ms ($n requests, slowest $worst ms)")
  LOG+=("$(ms "$L/commits/main/Makefile")")
  GLOG+=("$(time_ms git -C "$src" log -50 --format=%H main -- Makefile)")
  FLOG+=("$(ms "$L/commits/main/inventory/hosts.yaml?follow=1")")
  GFLOG+=("$(time_ms git -C "$src" log --follow -50 --format=%H main -- inventory/hosts.yaml)")
  for f in "${FILES[@]}"; do
    read -r r _ _ < <(until_complete "$L/blame/main/$f" "still being traced" 0.05)
    LFB[$f]+="$r "
    GB[$f]+="$(time_ms git -C "$src" blame main -- "$f") "
  done
  echo "round $round done; load $(load)"
done
echo "## tree root, nothing kept, from a start (goal: complete <= 1000 ms, no request > 50 ms)"
printf '  %s\n' "${TREE[@]}"
echo "## blame complete, nothing kept (goal: <= 0.7x git blame)"
for f in "${FILES[@]}"; do
  l=$(median ${LFB[$f]}) g=$(median ${GB[$f]})
  echo "$f: labforge ${LFB[$f]}ms (median $l), git blame ${GB[$f]}ms (median $g), ratio $(ratio "$l" "$g")"
done
echo "## first page of a path log, not kept (goal: <= git log -50)"
echo "commits/main/Makefile: labforge ${LOG[*]} ms (median $(median "${LOG[@]}")); git log -50 --format=%H -- Makefile ${GLOG[*]} ms (median $(median "${GLOG[@]}"))"
echo "commits/main/inventory/hosts.yaml?follow=1: labforge ${FLOG[*]} ms (median $(median "${FLOG[@]}")); git log --follow -50 ${GFLOG[*]} ms (median $(median "${GFLOG[@]}"))"

echo "## warm pages: labforge vs uncached cgit (wrk ${SECS}s each, alternating)"
for page in "tree root|tree/main/|tree/" "log of Makefile|commits/main/Makefile|log/Makefile"; do
  IFS='|' read -r name lf cg <<<"$page"
  curl -s -o /dev/null "$L/$lf"
  lfs=() cgs=()
  for _ in $(seq "$ROUNDS"); do
    lfs+=("$(to_ms "$(p50 "$L/$lf")")"); cgs+=("$(to_ms "$(p50 "$CG/$cg")")")
  done
  echo "$name: labforge p50 ${lfs[*]} ms (median $(median "${lfs[@]}")), cgit ${cgs[*]} ms (median $(median "${cgs[@]}"))"
done

echo "## memory: RSS after browsing 1,000 pages (goal < 150 MiB)"
{
  for i in $(seq 300); do echo "$L/commits/main?page=$i"; done
  for i in $(seq 94); do echo "$L/commits/main/Makefile?page=$i"; done
  git -C "$src" ls-tree -r -d --name-only main | awk -v p="$L/tree/main/" 'NR <= 150 {print p $0}'
  git -C "$src" ls-tree -r --name-only main | awk -v p="$L/blob/main/" 'NR % 13 == 0 && ++n <= 200 {print p $0}'
  git -C "$src" rev-list main | awk -v p="$L/commit/" 'NR % 289 == 0 && ++n <= 206 {print p $0}'
  git -C "$src" ls-tree -r --name-only main | awk -v p="$L/blame/main/" 'NR % 59 == 0 && ++n <= 50 {print p $0}'
} >"$BENCH/pages.txt"
before=$(rss_kib "$LF_PID")
browse() { while read -r url; do curl -s -o /dev/null "$url"; done <"$BENCH/pages.txt"; }
peak=$(peak_rss_during "$LF_PID" browse)
echo "$(wc -l <"$BENCH/pages.txt") pages: RSS before $((before / 1024)) MiB, peak $((peak / 1024)) MiB, after $(($(rss_kib "$LF_PID") / 1024)) MiB; load $(load)"
