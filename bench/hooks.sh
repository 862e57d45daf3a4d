#!/usr/bin/env bash
# Push hooks: what labforge's pre-receive/post-receive add to a push, and how soon a deploy starts.
#   bench/hooks.sh [PUSHES]        (default 50 timed pushes per variant)
# In one run, alternating the variants push by push (the order rotates every round), each push
# one small new commit (one changed file) to `main`:
#   file        `git push` of `small` to a plain bare repository, local transport: the floor
#   backend     smart HTTP to `git http-backend` (nginx + fcgiwrap, ../shared/bench/peers), no hooks
#   lf-bare     labforge smart HTTP to a copy of `small` whose hook shims were removed after start
#   lf-hooks    labforge smart HTTP to `small` with the shims (policy, push recorded): the normal case
#   lf-deploy   labforge smart HTTP to a copy of `small` (600 files) with a [[deploy]]
#   lf-tiny     the same to a one-file repository with a [[deploy]]: the delay with no tree to speak of
#   lf-check    labforge smart HTTP to a copy of `small` with one trivial [[check]] (`/usr/bin/true`,
#               sandboxed when bwrap is installed): the tree (600 files) is written and the check
#               run in pre-receive; compared with lf-hooks, the same push without checks
# In the two deploy repositories the installed shims are run by a wrapper that stamps when each
# hook started and ended; the deploy script's first act is to stamp the time it started.
# Prints p50/p90 per variant, "hooks add" (lf-hooks - lf-bare), the hooks' own time, the deploy
# start delays and where they go (from the run's rows), "a check adds" (lf-check - lf-hooks, by
# percentile and as the median of per-round differences), and the machine's load during the run.
# Runs beside other benches with its own folder and ports, e.g.
#   BENCH_DIR=/tmp/labforge-bench-hooks PEERS_PORT=18280 LF_HTTP=18680 LF_SSH=18682 bench/hooks.sh
source "$(dirname "$0")/lib.sh"
PUSHES=${1:-50}
WARMUP=3
export LC_ALL=C # $EPOCHREALTIME with a dot
VARIANTS=(file backend lf-bare lf-hooks lf-deploy lf-tiny lf-check)

mkdir -p "$BENCH"
STAMPS=$BENCH/deploy-started.tsv # RUN_ID TIME
cat >"$BENCH/deploy-stamp.sh" <<'SH'
#!/bin/bash
echo "$LABFORGE_DEPLOY_ID $EPOCHREALTIME" >>"$1"
SH
chmod +x "$BENCH/deploy-stamp.sh"
deploy_toml() {
  printf '[[deploy]]\nname = "%s"\nrepo = "bench/%s"\nbranch = "main"\nrun = "%s"\nargs = ["%s"]\ntimeout = "1m"\n\n' \
    "$1" "$2" "$BENCH/deploy-stamp.sh" "$STAMPS"
}
check_toml() {
  printf '[[check]]\nname = "trivial"\nrepo = "bench/checked"\nbranch = "main"\nrun = "/usr/bin/true"\n\n'
}
{ deploy_toml stamp deployed; deploy_toml tiny tiny; check_toml; } >"$BENCH/labforge.toml"
export LF_EXTRA_ENV="LABFORGE_CONFIG=$BENCH/labforge.toml"

# A copy of a bare repository as bench/NAME, made before labforge starts (shims go in at start).
import_copy() {
  local src=$1 name=$2
  lf_env "$LF" admin repo create "bench/$name" >/dev/null 2>&1 || true
  if [ ! -e "$LF_DATA/repos/bench/$name.git/labforge-bench-copy" ]; then
    rm -rf "$LF_DATA/repos/bench/$name.git"
    cp -a "$src" "$LF_DATA/repos/bench/$name.git"
    touch "$LF_DATA/repos/bench/$name.git/labforge-bench-copy"
  fi
}
make_tiny() {
  [ -d "$BENCH/tiny.git" ] && return
  local t=$BENCH/tiny-work
  rm -rf "$t" && git init -q -b main "$t" && echo "tiny" >"$t/README"
  git -C "$t" add README && git -C "$t" -c user.name=Bench -c user.email=bench@lab.test commit -qm tiny
  git clone -q --bare "$t" "$BENCH/tiny.git" && rm -rf "$t"
}

need_pkg curl
build
make_repos small
make_tiny
"$SHARED/bench/peers" up "$REPOS" "$PEERS_PORT" >/dev/null
BARE_HOOKS=$LF_DATA/repos/bench/bare.git/hooks
restore_hooks() { mv "$BENCH"/bare-hooks-saved/* "$BARE_HOOKS"/ 2>/dev/null || true; }
trap 'restore_hooks; stop_all' EXIT
import_repos small
import_copy "$REPOS/small.git" bare
import_copy "$REPOS/small.git" deployed
import_copy "$BENCH/tiny.git" tiny
import_copy "$REPOS/small.git" checked
git -C "$REPOS/small.git" config http.receivepack true # http-backend takes anonymous pushes
rm -rf "$BENCH/floor.git" && cp -a "$REPOS/small.git" "$BENCH/floor.git"
start_labforge

# lf-bare: no hooks at all (put back on exit, and rewritten anyway at labforge's next start).
mkdir -p "$BENCH/bare-hooks-saved"
mv "$BARE_HOOKS"/pre-receive "$BARE_HOOKS"/post-receive "$BENCH/bare-hooks-saved/"
# Deploy repositories: the installed shim, run by a wrapper that stamps its start and end.
wrap_hooks() {
  local dir=$LF_DATA/repos/bench/$1.git/hooks hook
  for hook in pre-receive post-receive; do
    grep -q "hook $hook" "$dir/$hook" || { echo "unexpected shim $dir/$hook" >&2; exit 1; }
    mv "$dir/$hook" "$dir/$hook.shim"
    cat >"$dir/$hook" <<SH
#!/bin/bash
start=\$EPOCHREALTIME
"$dir/$hook.shim"; rc=\$?
echo "$hook \$start \$EPOCHREALTIME" >>"$BENCH/hook-times-$1.tsv"
exit \$rc
SH
    chmod +x "$dir/$hook"
  done
  : >"$BENCH/hook-times-$1.tsv"
}
wrap_hooks deployed
wrap_hooks tiny
: >"$STAMPS"

# Client side: no user or system git config; one working clone per variant.
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=$BENCH/client.gitconfig GIT_TERMINAL_PROMPT=0
printf '[user]\n\tname = Bench\n\temail = bench@lab.test\n' >"$GIT_CONFIG_GLOBAL"
LFU="http://bench:$PASSWORD@127.0.0.1:$LF_HTTP/bench"
declare -A URL=(
  [file]="file://$BENCH/floor.git"
  [backend]="http://127.0.0.1:$PEERS_PORT/git/small.git"
  [lf-bare]="$LFU/bare.git"
  [lf-hooks]="$LFU/small.git"
  [lf-deploy]="$LFU/deployed.git"
  [lf-tiny]="$LFU/tiny.git"
  [lf-check]="$LFU/checked.git"
)
declare -A DEPLOY=([lf-deploy]=stamp [lf-tiny]=tiny)
declare -A REPO=([lf-deploy]=deployed [lf-tiny]=tiny)
WORK=$BENCH/work
rm -rf "$WORK" && mkdir -p "$WORK"
for v in "${VARIANTS[@]}"; do git clone -q "${URL[$v]}" "$WORK/$v"; done

SAMPLES=$BENCH/samples.tsv       # VARIANT ROUND START END MS
DEPLOY_PUSHES=$BENCH/deploys.tsv # VARIANT RUN_ID PUSH_START PUSH_END HOOK_LINE_COUNT
n_commit=0
push_once() { # push_once VARIANT ROUND TIMED(1/0)
  local v=$1 w=$WORK/$1 t0 t1 id
  n_commit=$((n_commit + 1))
  echo "push $n_commit" >"$w/bench-push.txt"
  git -C "$w" add bench-push.txt && git -C "$w" commit -q -m "bench push $n_commit"
  t0=$EPOCHREALTIME
  git -C "$w" push -q origin HEAD:main 2>"$BENCH/push.err" || { cat "$BENCH/push.err" >&2; exit 1; }
  t1=$EPOCHREALTIME
  if [ "$v" = lf-check ] && ! grep -q "check trivial passed" "$BENCH/push.err"; then
    echo "the check did not run:" >&2
    cat "$BENCH/push.err" >&2
    exit 1
  fi
  if [ -n "${DEPLOY[$v]:-}" ]; then
    id=$(sed -n "s/.*deploy ${DEPLOY[$v]} #\([0-9]*\) queued.*/\1/p" "$BENCH/push.err")
    [ -n "$id" ] || { echo "no deploy queued:" >&2; cat "$BENCH/push.err" >&2; exit 1; }
    # Wait for the run to start and end, so the next one never queues behind it.
    for _ in $(seq 1000); do grep -q "^$id " "$STAMPS" && break; sleep 0.01; done
    grep -q "^$id " "$STAMPS" || { echo "deploy #$id did not start" >&2; exit 1; }
    sleep 0.3
    if [ "$3" = 1 ]; then
      echo "$v $id $t0 $t1 $(wc -l <"$BENCH/hook-times-${REPO[$v]}.tsv")" >>"$DEPLOY_PUSHES"
    fi
  fi
  if [ "$3" = 1 ]; then
    echo "$v $2 $t0 $t1 $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", (b-a)*1000}')" >>"$SAMPLES"
  fi
  sleep 0.1 # let background work of this push (page warming) finish before the next one
}

cpu_busy() { awk '/^cpu / {print $2+$3+$4+$6+$7+$8, $5}' /proc/stat; }
for r in $(seq "$WARMUP"); do for v in "${VARIANTS[@]}"; do push_once "$v" "w$r" 0; done; done
: >"$SAMPLES"
: >"$DEPLOY_PUSHES"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
read -r busy0 idle0 < <(cpu_busy)
(while :; do
  cut -d' ' -f1 /proc/loadavg
  sleep 5
done) >"$BENCH/load.samples" &
sampler=$!
n=${#VARIANTS[@]}
for r in $(seq "$PUSHES"); do
  for k in $(seq 0 $((n - 1))); do push_once "${VARIANTS[$(((r + k) % n))]}" "$r" 1; done
done
kill "$sampler"
wait "$sampler" 2>/dev/null || true
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
read -r busy1 idle1 < <(cpu_busy)

# Each run's row: started_at is the worker's claim (now(), the claiming transaction's start).
psql -h "$LF_DATA/pg/run" -U labforge -d labforge -AtF' ' -c \
  "SELECT id, status, extract(epoch FROM started_at) FROM deploy_runs ORDER BY id" \
  >"$BENCH/deploy-runs.tsv"

echo "# push of one small commit to main, $PUSHES timed pushes per variant, alternating (ms)"
python3 - "$BENCH" <<'PY'
import sys
bench = sys.argv[1]
def pct(xs, p):
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)
def row(name, xs, width=44):
    print(f"{name:{width}} p50 {pct(xs, 50):7.1f}   p90 {pct(xs, 90):7.1f}")

by = {}
for line in open(f"{bench}/samples.tsv"):
    v, _, _, _, ms = line.split()
    by.setdefault(v, []).append(float(ms))
for v in ("file", "backend", "lf-bare", "lf-hooks", "lf-deploy", "lf-tiny", "lf-check"):
    xs = by[v]
    print(f"{v:10} p50 {pct(xs, 50):7.1f}   p90 {pct(xs, 90):7.1f}   min {min(xs):6.1f}   n={len(xs)}")
add50 = pct(by["lf-hooks"], 50) - pct(by["lf-bare"], 50)
add90 = pct(by["lf-hooks"], 90) - pct(by["lf-bare"], 90)
print(f"hooks add (lf-hooks - lf-bare): p50 {add50:+.1f} ms, p90 {add90:+.1f} ms")
print(f"labforge with hooks - http-backend: p50 {pct(by['lf-hooks'], 50) - pct(by['backend'], 50):+.1f} ms")

started = {int(a): float(b) for a, b in (l.split() for l in open(f"{bench}/deploy-started.tsv"))}
runs = {int(l.split()[0]): l.split() for l in open(f"{bench}/deploy-runs.tsv")}
pushes = [l.split() for l in open(f"{bench}/deploys.tsv")]
hook_sum = []
for v, repo in (("lf-deploy", "deployed"), ("lf-tiny", "tiny")):
    times = [l.split() for l in open(f"{bench}/hook-times-{repo}.tsv")]
    d_hook, d_ret, d_start, d_claim, d_spawn, pre, post = [], [], [], [], [], [], []
    for _, rid, t0, t1, count in (p for p in pushes if p[0] == v):
        rid, count = int(rid), int(count)
        (h1, p0, p1), (h2, q0, q1) = times[count - 2], times[count - 1]
        assert (h1, h2) == ("pre-receive", "post-receive"), (h1, h2)
        s, r = started[rid], runs[rid]
        assert r[1] == "succeeded", r
        claim = float(r[2])
        pre.append((float(p1) - float(p0)) * 1000)
        post.append((float(q1) - float(q0)) * 1000)
        d_hook.append((s - float(q1)) * 1000)
        d_ret.append((s - float(t1)) * 1000)
        d_start.append((s - float(t0)) * 1000)
        d_claim.append((claim - float(q0)) * 1000)
        d_spawn.append((s - claim) * 1000)
    hook_sum += [a + b for a, b in zip(pre, post)]
    print(f"# {v}: deploy start delay, {len(d_hook)} pushes (ms; negative: the deploy started first)")
    row("end of post-receive -> deploy started", d_hook)
    row("git push returned -> deploy started", d_ret)
    row("git push started -> deploy started", d_start)
    print(f"  goal (p50 <= 100 ms after receive-pack): {'met' if pct(d_hook, 50) <= 100 else 'NOT met'}")
    row("  where: post-receive started -> run claimed", d_claim)
    row("         claimed -> script started (folder)", d_spawn)
    row("  hooks' own time: pre-receive", pre)
    row("                   post-receive (queues it)", post)
rounds = {}
for line in open(f"{bench}/samples.tsv"):
    v, r, _, _, ms = line.split()
    rounds.setdefault(r, {})[v] = float(ms)
paired = [x["lf-check"] - x["lf-hooks"] for x in rounds.values() if "lf-check" in x and "lf-hooks" in x]
chk50 = pct(by["lf-check"], 50) - pct(by["lf-hooks"], 50)
print(f"a check adds (lf-check - lf-hooks): p50 {chk50:+.1f} ms, "
      f"p90 {pct(by['lf-check'], 90) - pct(by['lf-hooks'], 90):+.1f} ms; "
      f"median of the per-round differences {pct(paired, 50):+.1f} ms")
print(f"goal: a trivial check adds <= 40 ms (p50, 600-file tree written): "
      f"{'met' if chk50 <= 40 else 'NOT met'} ({chk50:+.1f})")
print("# hooks' own time per push (pre + post, both deploy repositories), ms")
row("pre-receive + post-receive", hook_sum)
print(f"goal: hooks add <= 30 ms per push: end to end {'met' if add50 <= 30 else 'NOT met'} "
      f"({add50:+.1f}), hooks' own time {'met' if pct(hook_sum, 50) <= 30 else 'NOT met'} "
      f"({pct(hook_sum, 50):.1f})")
PY
loads=$(sort -g "$BENCH/load.samples" | awk '{a[NR]=$1} END {printf "min %s, median %s, max %s", a[1], a[int((NR+1)/2)], a[NR]}')
echo "# machine: $(nproc) cores; load average at start $load_start, at end $load_end; 1-min load during the run $loads"
awk -v b="$((busy1 - busy0))" -v i="$((idle1 - idle0))" 'BEGIN {printf "# CPU busy during the run (all processes): %.0f %%\n", 100*b/(b+i)}'
