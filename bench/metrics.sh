#!/usr/bin/env bash
# /metrics (issue 26): what a scrape costs, and whether counting costs a page anything.
#  - the tree page of `medium` with metrics off, then on, then off and on again (alternating, so
#    drift on a shared machine hits both alike): p50 at concurrency 1 and req/s at concurrency 4;
#  - a scrape after that traffic (every family populated): median and p95 of 200 scrapes.
#   bench/metrics.sh [SECONDS]
source "$(dirname "$0")/lib.sh"
SECS=${1:-5}
setup medium
URL="http://127.0.0.1:$LF_HTTP/bench/medium/tree/main/"
p50() { wrk -t1 -c1 -d"${SECS}s" --latency "$1" | awk '/^ +50%/ {print $2}'; }
rps() { wrk -t2 -c4 -d"${SECS}s" "$1" | awk '/Requests\/sec/ {print $2}'; }
with_metrics() {
  stop_labforge
  LF_EXTRA_ENV="LABFORGE_METRICS_ENABLED=$1" start_labforge
  curl -fs -o /dev/null "$URL" # warm the page's answers
}
echo "# tree page of medium, metrics off vs on (wrk ${SECS}s each)"
for round in 1 2; do
  for on in false true; do
    with_metrics "$on"
    printf 'round %s metrics=%-5s p50(c=1) %-9s req/s(c=4) %s\n' "$round" "$on" "$(p50 "$URL")" "$(rps "$URL")"
  done
done
echo "# one scrape after that traffic (200 scrapes)"
for _ in $(seq 200); do
  curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$LF_HTTP/metrics"
done | sort -n | awk '{a[NR]=$1} END {printf "median %.2f ms  p95 %.2f ms\n", a[int(NR/2)]*1000, a[int(NR*0.95)]*1000}'
printf 'scrape size: %s bytes\n' "$(curl -s "http://127.0.0.1:$LF_HTTP/metrics" | wc -c)"
