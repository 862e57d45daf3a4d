# Shared by the bench scripts: build labforge, make the synthetic repos, start the anchors and a
# labforge that serves the very same bare repositories. Source it; it cleans up on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
BENCH=${BENCH_DIR:-/tmp/labforge-bench}
REPOS=$BENCH/repos
LF_DATA=$BENCH/labforge
# Overridable so two benches can run side by side (each with its own BENCH_DIR and ports).
PEERS_PORT=${PEERS_PORT:-18080}
LF_HTTP=${LF_HTTP:-18480}
LF_SSH=${LF_SSH:-18482}
export PEERS_STATE=${PEERS_STATE:-$BENCH/peers}
# LF_BIN: a labforge binary built elsewhere (then `build` leaves it alone), to compare builds.
LF=${LF_BIN:-$ROOT/target/release/labforge}
PASSWORD=bench-password

need_pkg() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if ((${#missing[@]})); then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

build() { [ -n "${LF_BIN:-}" ] || (cd "$ROOT" && cargo build --release --quiet); }

# LONG_REPO: an already made `long` (mkrepo.py long takes ~5 minutes), used read-only.
make_repos() {
  mkdir -p "$REPOS"
  for kind in "$@"; do
    if [ "$kind" = long ] && [ -n "${LONG_REPO:-}" ] && [ ! -e "$REPOS/long.git" ]; then
      ln -s "$(realpath "$LONG_REPO")" "$REPOS/long.git"
    fi
    [ -d "$REPOS/$kind.git" ] || python3 "$SHARED/bench/mkrepo.py" "$kind" "$REPOS/$kind.git" >/dev/null
  done
}

lf_env() {
  env -u DATABASE_URL ${LF_EXTRA_ENV:-} LABFORGE_DATA_DIR="$LF_DATA" LABFORGE_HTTP_ADDR="127.0.0.1:$LF_HTTP" \
    LABFORGE_SSH_ADDR="127.0.0.1:$LF_SSH" LABFORGE_UPKEEP_DELAY_SECS=3600 "$@"
}

LF_PID=
start_labforge() {
  # `env` execs labforge, so $! is labforge's own pid (RSS is measured on it).
  env -u DATABASE_URL ${LF_EXTRA_ENV:-} LABFORGE_DATA_DIR="$LF_DATA" LABFORGE_HTTP_ADDR="127.0.0.1:$LF_HTTP" \
    LABFORGE_SSH_ADDR="127.0.0.1:$LF_SSH" LABFORGE_UPKEEP_DELAY_SECS=3600 "$LF" serve >"$BENCH/labforge.log" 2>&1 &
  LF_PID=$!
  for _ in $(seq 600); do
    curl -fs "http://127.0.0.1:$LF_HTTP/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "labforge did not start; see $BENCH/labforge.log" >&2
  exit 1
}

stop_labforge() {
  [ -n "$LF_PID" ] && kill "$LF_PID" 2>/dev/null && wait "$LF_PID" 2>/dev/null || true
  LF_PID=
}

stop_all() {
  stop_labforge
  "$SHARED/bench/peers" down >/dev/null 2>&1 || true
}

# User `bench` (the anchors' SSH client key is also bench's key) owning public copies of the repos.
import_repos() {
  echo "$PASSWORD" | lf_env "$LF" admin user create bench --email bench@lab.test --password-stdin 2>/dev/null || true
  lf_env "$LF" admin key add bench --title peers <"$PEERS_STATE/client_key.pub" >/dev/null 2>&1 || true
  for kind in "$@"; do
    lf_env "$LF" admin repo create --public "bench/$kind" >/dev/null 2>&1 || true
    # Replace the empty repository the first time only, so what labforge kept on disk survives.
    if [ ! -e "$LF_DATA/repos/bench/$kind.git/labforge-bench-copy" ]; then
      rm -rf "$LF_DATA/repos/bench/$kind.git"
      # Hard links where possible: packs are never written in place, and `long` is 680 MiB.
      cp -al "$(realpath "$REPOS/$kind.git")" "$LF_DATA/repos/bench/$kind.git" 2>/dev/null \
        || cp -a "$(realpath "$REPOS/$kind.git")" "$LF_DATA/repos/bench/$kind.git"
      touch "$LF_DATA/repos/bench/$kind.git/labforge-bench-copy"
    fi
  done
}

setup() {
  need_pkg curl wrk
  build
  make_repos "$@"
  mkdir -p "$BENCH"
  "$SHARED/bench/peers" up "$REPOS" "$PEERS_PORT" >/dev/null
  trap stop_all EXIT
  # `serve` makes a fresh data folder; the admin commands then work beside it.
  start_labforge
  import_repos "$@"
}

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# Runs a command (its output to $BENCH/cmd.out) while sampling a process's RSS; prints the peak.
peak_rss_during() {
  local pid=$1; shift
  local peak=0 sampler
  ( while :; do rss_kib "$pid"; sleep 0.05; done ) >"$BENCH/rss.samples" 2>/dev/null &
  sampler=$!
  "$@" >"$BENCH/cmd.out"
  kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
  peak=$(sort -n "$BENCH/rss.samples" | tail -n 1)
  echo "${peak:-0}"
}

# aggregate MiB/s from packload's line
mibps() { sed -n 's/.*aggregate=\([0-9.]*\)MiB\/s.*/\1/p'; }
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}' if b else 'n/a')" "$1" "$2"; }

# Median aggregate MiB/s of TRIALS packload runs per server, alternating servers between trials
# so drift on a shared machine hits both alike. Prints "A_MEDIAN B_MEDIAN".
alternate_mibps() {
  local a_url=$1 b_url=$2 c=$3 rounds=$4 trials=${TRIALS:-3} as=() bs=()
  for _ in $(seq "$trials"); do
    as+=("$(python3 "$LOAD" "$a_url" --concurrency "$c" --rounds "$rounds" | mibps)")
    bs+=("$(python3 "$LOAD" "$b_url" --concurrency "$c" --rounds "$rounds" | mibps)")
  done
  echo "$(median "${as[@]}") $(median "${bs[@]}")"
}
# wrk's latency ("850.00us", "12.3ms", "1.2s") in milliseconds.
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /[0-9]s$/ && v !~ /ms$/) n *= 1000; printf "%.2f", n }'; }
now_ms() { date +%s%3N; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
