#!/usr/bin/env bash
# Smart HTTP: clone throughput of `medium` (server side, via packload.py) at concurrency 1 and 4,
# info/refs requests per second, and labforge's resident memory idle and under load, against
# `git http-backend` behind nginx from ../shared/bench/peers, in the same run.
#   bench/http.sh [ROUNDS]
source "$(dirname "$0")/lib.sh"
ROUNDS=${1:-5}
setup medium
LF_URL="http://bench:$PASSWORD@127.0.0.1:$LF_HTTP/bench/medium.git"
HB_URL="http://127.0.0.1:$PEERS_PORT/git/medium.git"
LOAD="$SHARED/bench/packload.py"

idle=$(rss_kib "$LF_PID")
python3 "$LOAD" "$HB_URL" --rounds 1 >/dev/null; python3 "$LOAD" "$LF_URL" --rounds 1 >/dev/null  # warm caches
echo "# clone of medium over smart HTTP (server side): median of ${TRIALS:-3} alternating trials of $ROUNDS rounds"
for c in 1 4; do
  read -r hb lf < <(alternate_mibps "$HB_URL" "$LF_URL" "$c" "$ROUNDS")
  echo "c=$c  http-backend ${hb} MiB/s  labforge ${lf} MiB/s  ratio $(ratio "$lf" "$hb")x"
done
peak=$(peak_rss_during "$LF_PID" python3 "$LOAD" "$LF_URL" --concurrency 4 --rounds "$ROUNDS")
echo "# info/refs requests per second (wrk, 2 threads, 16 connections, 10 s, anonymous)"
wrk_rps() { wrk -t2 -c16 -d10s "$1" | awk '/Requests\/sec/ {print $2}'; }
hb_rps=$(wrk_rps "$HB_URL/info/refs?service=git-upload-pack")
lf_rps=$(wrk_rps "http://127.0.0.1:$LF_HTTP/bench/medium.git/info/refs?service=git-upload-pack")
echo "http-backend: $hb_rps req/s"
echo "labforge:     $lf_rps req/s"
echo "ratio:        $(ratio "$lf_rps" "$hb_rps")x http-backend"
echo "# labforge resident memory (its own process; git children not included)"
echo "idle:              $((idle / 1024)) MiB ($idle KiB)"
echo "peak during c=4:   $((peak / 1024)) MiB ($peak KiB)"
