#!/usr/bin/env bash
# The issue tracker on a repository with 100,000 issues and 300,000 comments (bench/gen_issues.py):
# p50 latency over HTTP (wrk, one connection) of the issue list, label-filtered lists and
# searches, against a release build with its own managed PostgreSQL. Goal: p50 under 50 ms.
#   bench/issues.sh [SECONDS] [ISSUES] [COMMENTS]
source "$(dirname "$0")/lib.sh"
SECS=${1:-5}
ISSUES=${2:-100000}
COMMENTS=${3:-300000}
need_pkg curl wrk
build
mkdir -p "$BENCH"
trap stop_all EXIT
start_labforge
echo "$PASSWORD" | lf_env "$LF" admin user create bench --email bench@lab.test --password-stdin >/dev/null 2>&1 || true
lf_env "$LF" admin repo create bench/tracker --description "issue bench" >/dev/null 2>&1 || true
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h "$LF_DATA/pg/run" -U labforge -d labforge)
have=$("${PSQL[@]}" -tA -c "SELECT count(*) FROM issues i JOIN repositories r ON r.id = i.repo_id WHERE r.name = 'tracker'")
if [ "$have" = 0 ]; then
  t0=$(date +%s)
  python3 "$ROOT/bench/gen_issues.py" --owner bench --repo tracker --issues "$ISSUES" --comments "$COMMENTS" | "${PSQL[@]}"
  echo "generated $ISSUES issues and $COMMENTS comments in $(( $(date +%s) - t0 )) s"
fi
"${PSQL[@]}" -tA -c "SELECT count(*) || ' issues, ' || sum(comment_count) || ' comments, ' || sum((state = 'open')::int) || ' open' FROM issues"

BASE="http://127.0.0.1:$LF_HTTP/bench/tracker"
p50() { wrk -t1 -c1 -d"${SECS}s" --latency "$1" | awk '/^ +50%/ {p=$2} /Requests\/sec/ {r=$2} END {print p, "(" r " req/s)"}'; }
row() {
  local code; code=$(curl -s -o /dev/null -w '%{http_code}' "$2")
  [ "$code" = 200 ] || { echo "$1: HTTP $code from $2" >&2; exit 1; }
  printf '%-44s p50(c=1) %s\n' "$1" "$(p50 "$2")"
}
echo "# issue pages on bench/tracker (wrk ${SECS}s each, one connection)"
row "list (open, newest first)"                "$BASE/issues"
row "list, page 40"                           "$BASE/issues?page=40"
row "label=bug (1 in 6, all open)"            "$BASE/issues?label=bug"
row "label=needs-hardware (1 in 200)"         "$BASE/issues?label=needs-hardware"
row "label=wontfix&state=closed"              "$BASE/issues?label=wontfix&state=closed"
row "label=bug,dns (both)"                    "$BASE/issues?label=bug,dns"
row "search 'certificate expired'"            "$BASE/issues?q=certificate+expired"
row "search 'wireguard' (common)"             "$BASE/issues?q=wireguard"
row "search 'host1234' (rare)"                "$BASE/issues?q=host1234"
row "search 'zzzz' (no match)"                "$BASE/issues?q=zzzz"
row "one issue with its timeline"             "$BASE/issues/50000"
row "API list, 30 issues"                     "http://127.0.0.1:$LF_HTTP/api/v1/repos/bench/tracker/issues"
