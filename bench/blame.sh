#!/usr/bin/env bash
# The two history pages alone, through the web server: the tree page of `medium` (last-commit
# column) on its first ever request and warm, and blame of `deep`'s inventory.yaml against
# `git blame`, alternated, TRIALS times (medians).
#   bench/blame.sh [TRIALS]
source "$(dirname "$0")/lib.sh"
TRIALS=${1:-5}
setup medium deep
LF_BASE="http://127.0.0.1:$LF_HTTP/bench"
ms() { curl -s -o /dev/null -w '%{time_total}' "$1" | awk '{printf "%.0f", $1 * 1000}'; }
# labforge warms the default branch's root at start; the root at main's parent commit has
# nothing computed, so its first request is a first-ever visit (after the start-up pass is done).
sleep 5
PARENT=$(git -C "$REPOS/medium.git" rev-parse main~1)
echo "medium/ at main~1: first ever request $(ms "$LF_BASE/medium/tree/$PARENT/") ms"
curl -s "$LF_BASE/medium/tree/$PARENT/" | grep -q "being looked up" \
  && echo "  (answered at once with what was found; the rest in the background)" || true
sleep 3
echo "medium/ at main~1: warm $(ms "$LF_BASE/medium/tree/$PARENT/") ms"
lf=() gb=()
for _ in $(seq "$TRIALS"); do
  lf+=("$(ms "$LF_BASE/deep/blame/main/inventory.yaml")")
  t0=$(date +%s%N); git -C "$REPOS/deep.git" blame main -- inventory.yaml >/dev/null; t1=$(date +%s%N)
  gb+=("$(( (t1 - t0) / 1000000 ))")
done
echo "blame deep/inventory.yaml: labforge ${lf[*]} ms (median $(median "${lf[@]}")), git blame ${gb[*]} ms (median $(median "${gb[@]}"))"
