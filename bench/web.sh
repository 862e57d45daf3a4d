#!/usr/bin/env bash
# Tree pages: labforge's tree (every entry with its last commit) against cgit's tree page
# (names only), uncached and cached, on `medium` (330 root entries, 12,000 commits) and `wide`
# (5,000 files in one folder). The first labforge request after a start is timed alone (cold:
# the one history pass), then wrk measures warm requests per second and latency.
#   bench/web.sh [SECONDS]
source "$(dirname "$0")/lib.sh"
SECS=${1:-10}
setup medium wide
wrk_line() { wrk -t2 -c4 -d"${SECS}s" --latency "$1" | awk '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} END {printf "%8s req/s  p50 %-8s p99 %s", rps, p50, p99}'; }
cold_ms() { curl -s -o /dev/null -w '%{time_total}' "$1" | awk '{printf "%.0f ms", $1 * 1000}'; }
# medium: the root (332 entries, 12,000 commits); wide: its one big folder (5,000 files).
for target in "medium:" "wide:hosts"; do
  repo=${target%%:*} dir=${target#*:}
  lf="http://127.0.0.1:$LF_HTTP/bench/$repo/tree/main/$dir"
  echo "# tree page of $repo/$dir"
  echo "labforge first request after start: $(cold_ms "$lf") (answers what it found within 400 ms)"
  sleep 3  # let the background pass finish
  echo "labforge second request:            $(cold_ms "$lf")"
  echo "labforge      $(wrk_line "$lf")"
  echo "cgit          $(wrk_line "http://127.0.0.1:$PEERS_PORT/cgit/$repo/tree/$dir")"
  echo "cgit cached   $(wrk_line "http://127.0.0.1:$PEERS_PORT/cgitc/$repo/tree/$dir")"
done
