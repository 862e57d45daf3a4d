#!/usr/bin/env bash
# Web pages against cgit (uncached and cached) from ../shared/bench/peers, same run:
#  - tree root, log, commit and blob pages of `medium`: p50 latency at concurrency 1 and
#    requests per second at concurrency 4 (wrk);
#  - the tree page with its last-commit column on `medium` (332 entries, 12,000 commits) and on
#    `wide/hosts` (5,000 files): first request after a start (cold) and warm;
#  - blame of the 2,000-line file of `deep` (3,000 commits) against `git blame`.
#   bench/web.sh [SECONDS]
source "$(dirname "$0")/lib.sh"
SECS=${1:-5}
setup medium wide deep
LF_BASE="http://127.0.0.1:$LF_HTTP/bench"
CG="http://127.0.0.1:$PEERS_PORT/cgit"
CGC="http://127.0.0.1:$PEERS_PORT/cgitc"
ms() { curl -s -o /dev/null -w '%{time_total}' "$1" | awk '{printf "%.0f", $1 * 1000}'; }
p50() { wrk -t1 -c1 -d"${SECS}s" --latency "$1" | awk '/^ +50%/ {print $2}'; }
rps() { wrk -t2 -c4 -d"${SECS}s" "$1" | awk '/Requests\/sec/ {print $2}'; }
row() { printf '%-22s p50(c=1) %-9s req/s(c=4) %s\n' "$1" "$(p50 "$2")" "$(rps "$2")"; }

echo "# last-commit tree pages"
for target in "medium:" "wide:hosts"; do
  repo=${target%%:*} dir=${target#*:}
  url="$LF_BASE/$repo/tree/main/$dir"
  first=$(ms "$url")
  sleep 4   # the background pass finishes what the first request did not
  echo "$repo/$dir: first ever request ${first} ms (answers within its 200 ms budget, rest in background), warm $(ms "$url") ms"
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
lf_ms=$(ms "$LF_BASE/deep/blame/main/inventory.yaml")
t0=$(date +%s%N); git -C "$REPOS/deep.git" blame main -- inventory.yaml >/dev/null; t1=$(date +%s%N)
echo "labforge: ${lf_ms} ms   git blame: $(( (t1 - t0) / 1000000 )) ms"
curl -s "$LF_BASE/deep/blame/main/inventory.yaml" | grep -q "not traced within the time limit" \
  && echo "(labforge gave up within its 3 s budget and said so on the page)" || true
