#!/usr/bin/env bash
# Web pages against cgit (uncached and cached) from ../shared/bench/peers, same run:
#  medium:
#  - tree root, log, commit and blob pages of `medium`: p50 latency at concurrency 1 and
#    requests per second at concurrency 4 (wrk);
#  - the tree page with its last-commit column on `medium` (332 entries, 12,000 commits) and on
#    `wide/hosts` (5,000 files): first request after a start (cold) and warm;
#  - blame of the 2,000-line file of `deep` (3,000 commits) against `git blame`.
#  long (80,000 commits, ~400 root entries, hot files; LONG_REPO=PATH reuses one made before):
#  - tree root complete after a start with nothing kept, and at an old tag never visited;
#  - warm tree root, a folder and the log of Makefile against cgit;
#  - the first page of Makefile's log against `git log -- Makefile`;
#  - blame of Makefile, README.md and inventory.yaml against `git blame`;
#  - the same pages right after a restart (kept answers, nothing recomputed);
#  - labforge's RSS after browsing 1,000 pages of the long history.
#   bench/web.sh [SECONDS] [medium] [long]      (both parts by default)
source "$(dirname "$0")/lib.sh"
SECS=${1:-5}
shift || true
PARTS=("$@")
((${#PARTS[@]})) || PARTS=(medium long)
KINDS=()
for part in "${PARTS[@]}"; do
  case $part in
    medium) KINDS+=(medium wide deep) ;;
    long) KINDS+=(long) ;;
    *) echo "unknown part $part (medium, long)" >&2; exit 2 ;;
  esac
done
setup "${KINDS[@]}"
LF_BASE="http://127.0.0.1:$LF_HTTP/bench"
CG="http://127.0.0.1:$PEERS_PORT/cgit"
CGC="http://127.0.0.1:$PEERS_PORT/cgitc"
ms() { curl -s -o /dev/null -w '%{time_total}' "$1" | awk '{printf "%.0f", $1 * 1000}'; }
# Stops the bench unless URL answers 200 (a 404 page has no "still computing" notice either).
must_serve() {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' "$1")
  [ "$code" = 200 ] || { echo "$1 answered $code, not 200" >&2; exit 1; }
}
p50() { wrk -t1 -c1 -d"${SECS}s" --latency "$1" | awk '/^ +50%/ {print $2}'; }
rps() { wrk -t2 -c4 -d"${SECS}s" "$1" | awk '/Requests\/sec/ {print $2}'; }
row() { printf '%-22s p50(c=1) %-9s req/s(c=4) %s\n' "$1" "$(p50 "$2")" "$(rps "$2")"; }

medium_part() {
  echo "# last-commit tree pages"
  for target in "medium:" "wide:hosts"; do
    repo=${target%%:*} dir=${target#*:}
    url="$LF_BASE/$repo/tree/main/$dir"
    first=$(ms "$url")
    read -r r n _ < <(until_complete "$url" "being looked up")
    must_serve "$url"
    echo "$repo/$dir: first ever request ${first} ms, complete ${r} ms after it ($n requests), warm $(ms "$url") ms"
  done
  # A restart: the answers labforge kept on disk (computed after pushes and at start) serve the
  # very first request.
  stop_all; "$SHARED/bench/peers" up "$REPOS" "$PEERS_PORT" >/dev/null; start_labforge
  echo "medium/ first request after a restart: $(ms "$LF_BASE/medium/tree/main/") ms (kept on disk)"

  HEAD=$(git -C "$REPOS/medium.git" rev-parse main)
  FILE=allow-1672.py
  echo "# medium: labforge vs cgit vs cgit with cache (wrk ${SECS}s each)"
  for page in "tree root|tree/main|tree/|tree/" \
              "log|commits/main|log/|log/" \
              "commit|commit/$HEAD|commit/?id=$HEAD|commit/?id=$HEAD" \
              "blob|blob/main/$FILE|tree/$FILE|tree/$FILE"; do
    IFS='|' read -r name lf cg cgc <<<"$page"
    echo "## $name"
    row "labforge" "$LF_BASE/medium/$lf"
    row "cgit" "$CG/medium/$cg"
    row "cgit cached" "$CGC/medium/$cgc"
  done

  echo "# blame of deep's inventory.yaml (2,000 lines, 3,000 commits)"
  read -r lf_ms n _ < <(until_complete "$LF_BASE/deep/blame/main/inventory.yaml" "still being traced")
  g=$(time_ms git -C "$REPOS/deep.git" blame main -- inventory.yaml)
  echo "labforge: ${lf_ms} ms ($n requests)   git blame: ${g} ms   ratio $(ratio "$lf_ms" "$g")"
}

# Requests URL until its page no longer says MARKER (the answer is still being computed);
# prints "MS_SINCE_FIRST_REQUEST REQUESTS SLOWEST_REQUEST_MS".
until_complete() {
  local url=$1 marker=$2 t0 t n=0 worst=0 took
  t0=$(now_ms)
  while :; do
    t=$(now_ms)
    curl -s "$url" >"$BENCH/page.html"
    took=$(($(now_ms) - t)); n=$((n + 1)); ((took > worst)) && worst=$took
    grep -q "$marker" "$BENCH/page.html" || break
    (($(now_ms) - t0 > 300000)) && { echo "(gave up after 300 s)" >&2; break; }
    sleep 0.05
  done
  echo "$(($(now_ms) - t0)) $n $worst"
}

# Wall time of a command in milliseconds.
time_ms() { local t0; t0=$(now_ms); "$@" >/dev/null 2>&1; echo $(($(now_ms) - t0)); }

long_part() {
  local L="$LF_BASE/long" repo="$LF_DATA/repos/bench/long.git" src="$REPOS/long.git"
  local folder tag r lf cg
  folder=$(git -C "$src" ls-tree main | awk '$2 == "tree" && !f {print $4; f = 1}')
  tag=$(git -C "$src" tag --sort=-creatordate | sed -n 2p)
  echo "# long: $(git -C "$src" rev-list --count main) commits, $(git -C "$src" ls-tree main | wc -l) root entries"

  echo "## tree root, nothing kept: from a start (labforge begins the root at start), and at tag $tag (never visited)"
  stop_labforge
  rm -rf "$repo/labforge"
  start_labforge
  read -r r n worst < <(until_complete "$L/tree/main/" "being looked up")
  must_serve "$L/tree/main/"
  echo "main: complete ${r} ms after the first request ($n requests, slowest ${worst} ms); goal <= 1000 ms"
  read -r r n worst < <(until_complete "$L/tree/$tag/" "being looked up")
  echo "$tag: complete ${r} ms after the first request ($n requests, slowest ${worst} ms)"

  echo "## blame, nothing kept: from the first request until the page is complete, against git blame"
  for f in Makefile README.md inventory.yaml; do
    read -r r n worst < <(until_complete "$L/blame/main/$f" "still being traced")
    g=$(time_ms git -C "$src" blame main -- "$f")
    echo "$f: labforge ${r} ms ($n requests), git blame ${g} ms, ratio $(ratio "$r" "$g"); again (kept) $(ms "$L/blame/main/$f") ms"
  done

  echo "## warm pages: labforge vs cgit vs cgit with cache (wrk ${SECS}s each)"
  until_complete "$L/tree/main/$folder" "being looked up" >/dev/null
  for page in "tree root|tree/main/|tree/|tree/" \
              "folder $folder/|tree/main/$folder|tree/$folder|tree/$folder" \
              "log of Makefile|commits/main/Makefile|log/Makefile|log/Makefile"; do
    IFS='|' read -r name lf cg cgc <<<"$page"
    echo "### $name"
    curl -s -o /dev/null "$L/$lf"
    lfp=$(p50 "$L/$lf")
    cgp=$(p50 "$CG/long/$cg")
    printf '%-22s p50(c=1) %-9s req/s(c=4) %s\n' labforge "$lfp" "$(rps "$L/$lf")"
    printf '%-22s p50(c=1) %-9s req/s(c=4) %s\n' cgit "$cgp" "$(rps "$CG/long/$cg")"
    row "cgit cached" "$CGC/long/$cgc"
    echo "p50 ratio labforge/cgit $(ratio "$(to_ms "$lfp")" "$(to_ms "$cgp")") (goal <= 1 and labforge <= 10 ms)"
  done

  echo "## after a restart (answers kept on disk, nothing recomputed): first request each"
  stop_labforge
  start_labforge
  for page in tree/main/ "tree/main/$folder" blame/main/Makefile blame/main/README.md blame/main/inventory.yaml; do
    t=$(ms "$L/$page")
    curl -s "$L/$page" | grep -q "being looked up\|still being traced" && state="INCOMPLETE" || state=complete
    echo "$page: ${t} ms, $state"
  done
  lf=$(ms "$L/commits/main/Makefile")
  g50=$(time_ms git -C "$src" log -50 --format=%H main -- Makefile)
  gall=$(time_ms git -C "$src" log --format=%H main -- Makefile)
  echo "commits/main/Makefile (first page, not kept): ${lf} ms; git log -50 --format=%H -- Makefile ${g50} ms (ratio $(ratio "$lf" "$g50")); whole git log -- Makefile ${gall} ms"

  echo "## memory: RSS after browsing 1,000 pages of the long history (goal < 150 MiB)"
  local before peak
  before=$(rss_kib "$LF_PID")
  {
    for i in $(seq 300); do echo "$L/commits/main?page=$i"; done
    for i in $(seq 94); do echo "$L/commits/main/Makefile?page=$i"; done
    # (awk reads its input to the end: `head` would stop git with SIGPIPE under pipefail)
    git -C "$src" ls-tree -r -d --name-only main | awk -v p="$L/tree/main/" 'NR <= 150 {print p $0}'
    git -C "$src" ls-tree -r --name-only main | awk -v p="$L/blob/main/" 'NR % 19 == 0 && ++n <= 200 {print p $0}'
    git -C "$src" rev-list main | awk -v p="$L/commit/" 'NR % 389 == 0 && ++n <= 206 {print p $0}'
    git -C "$src" ls-tree -r --name-only main | awk -v p="$L/blame/main/" 'NR % 83 == 0 && ++n <= 50 {print p $0}'
  } >"$BENCH/pages.txt"
  browse() { while read -r url; do curl -s -o /dev/null "$url"; done <"$BENCH/pages.txt"; }
  peak=$(peak_rss_during "$LF_PID" browse)
  echo "$(wc -l <"$BENCH/pages.txt") pages: RSS before $((before / 1024)) MiB, peak $((peak / 1024)) MiB, after $(($(rss_kib "$LF_PID") / 1024)) MiB"
}

for part in "${PARTS[@]}"; do
  "${part}_part"
done
