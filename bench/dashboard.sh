#!/usr/bin/env bash
# The signed-in dashboard with 50 repositories and 20 deploys (half of them failing, their main
# two commits past the last good run): p50 latency over HTTP (wrk, one connection) against a
# release build with its own managed PostgreSQL, beside the anonymous front page and one
# repository's summary. Goal: dashboard p50 ≤ 20 ms.
#   bench/dashboard.sh [SECONDS]
# Ports and folder default to this bench's own (BENCH_DIR, LF_HTTP, LF_SSH to override).
export BENCH_DIR=${BENCH_DIR:-/tmp/labforge-bench-dashboard}
export LF_HTTP=${LF_HTTP:-24300} LF_SSH=${LF_SSH:-24302}
source "$(dirname "$0")/lib.sh"
SECS=${1:-5}
need_pkg curl wrk git
build
mkdir -p "$BENCH"
CONF=$BENCH/conf
mkdir -p "$CONF"
# Deploys fail while $CONF/fail exists.
printf '#!/bin/sh\n[ -e %s/fail ] && exit 1\nexit 0\n' "$CONF" >"$CONF/deploy.sh"
chmod +x "$CONF/deploy.sh"
: >"$CONF/labforge.toml"
for i in $(seq -w 1 20); do
  printf '[[deploy]]\nname = "d%s"\nrepo = "bench/r%s"\nbranch = "main"\nrun = "deploy.sh"\n\n' "$i" "$i" >>"$CONF/labforge.toml"
done
export LF_EXTRA_ENV="LABFORGE_CONFIG=$CONF/labforge.toml"
trap stop_all EXIT
start_labforge
BASE="http://127.0.0.1:$LF_HTTP"
echo "$PASSWORD" | lf_env "$LF" admin user create bench --email bench@lab.test --password-stdin >/dev/null 2>&1 || true
# 50 repositories, each pushed three commits; deploys d01..d20 run on r01..r20.
push() { # REPO N: N more commits to bench/REPO's main
  local dir=$BENCH/work/$1
  [ -d "$dir" ] || git init -q -b main "$dir"
  for _ in $(seq "$2"); do
    date +%s%N >>"$dir/hosts"
    git -C "$dir" add -A
    git -C "$dir" -c user.name=Bench -c user.email=bench@lab.test commit -qm "Update hosts $(wc -l <"$dir/hosts")"
  done
  git -C "$dir" push -q "http://bench:$PASSWORD@127.0.0.1:$LF_HTTP/bench/$1.git" main 2>/dev/null
}
settle() { # until no run of the 20 deploys is queued or running (at most 2 minutes)
  for _ in $(seq 240); do
    local busy=0
    for i in $(seq -w 1 20); do
      curl -fs "$BASE/bench/r$i/deploys" | grep -q 'class="status-queued"\|class="status-running"' && busy=1 && break
    done
    [ "$busy" = 0 ] && return 0
    sleep 0.5
  done
  echo "deploys did not settle" >&2; exit 1
}
if [ ! -e "$BENCH/pushed" ]; then
  rm -f "$CONF/fail"
  for i in $(seq -w 1 50); do
    lf_env "$LF" admin repo create "bench/r$i" --public --description "host group $i" >/dev/null 2>&1 || true
    push "r$i" 3
  done
  settle
  touch "$CONF/fail"
  for i in $(seq -w 1 2 20); do push "r$i" 2; done
  settle
  touch "$BENCH/pushed"
fi
# Sign in as a browser does: the form's cookie and CSRF token, then the session cookie.
JAR=$BENCH/cookies
rm -f "$JAR"
csrf=$(curl -fs -c "$JAR" "$BASE/login" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -n 1)
curl -fs -b "$JAR" -c "$JAR" -o /dev/null --data-urlencode "username=bench" --data-urlencode "password=$PASSWORD" \
  --data-urlencode "csrf=$csrf" --data-urlencode "next=/" "$BASE/login"
SESSION=$(awk '$6 == "labforge_session" {print $7}' "$JAR")
[ -n "$SESSION" ] || { echo "sign-in failed" >&2; exit 1; }
COOKIE="Cookie: labforge_session=$SESSION"
curl -fs -H "$COOKIE" "$BASE/" | grep -q "2 commits ahead of the last good deploy" \
  || { echo "the dashboard does not show the failing deploys" >&2; exit 1; }
echo "# $(curl -fs -H "$COOKIE" "$BASE/" | grep -c 'class="deploy"') deploys, $(curl -fs -H "$COOKIE" "$BASE/" | grep -c '<tr>') repositories on the dashboard"
p50() { wrk -t1 -c1 -d"${SECS}s" --latency "$@" | awk '/^ +50%/ {p=$2} /Requests\/sec/ {r=$2} END {print p, "(" r " req/s)"}'; }
printf '%-36s p50(c=1) %s\n' "dashboard (signed in)" "$(p50 -H "$COOKIE" "$BASE/")"
printf '%-36s p50(c=1) %s\n' "front page (anonymous)" "$(p50 "$BASE/")"
printf '%-36s p50(c=1) %s\n' "summary of a failing deploy's repo" "$(p50 "$BASE/bench/r01")"
printf '%-36s p50(c=1) %s\n' "filtered list (?q=r0)" "$(p50 -H "$COOKIE" "$BASE/?q=r0")"
