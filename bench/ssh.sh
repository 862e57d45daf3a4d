#!/usr/bin/env bash
# SSH: clone throughput of `medium` (server side, via packload.py) at concurrency 1 and 4, and
# the latency of a full `git clone` of `small`, against OpenSSH sshd + git-upload-pack from
# ../shared/bench/peers, in the same run, with the same client key.
#   bench/ssh.sh [ROUNDS] [SMALL_CLONES]
source "$(dirname "$0")/lib.sh"
ROUNDS=${1:-5}
SMALL=${2:-20}
setup medium small
KEY=$PEERS_STATE/client_key
export PACKLOAD_SSH="ssh -i $KEY -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
LF_URL="ssh://git@127.0.0.1:$LF_SSH/bench/medium.git"
OS_URL="ssh://root@127.0.0.1:$((PEERS_PORT + 2))$REPOS/medium.git"
LOAD="$SHARED/bench/packload.py"
python3 "$LOAD" "$OS_URL" >/dev/null; python3 "$LOAD" "$LF_URL" >/dev/null  # warm caches
echo "# clone of medium over SSH (server side): median of ${TRIALS:-3} alternating trials of $ROUNDS rounds"
for c in 1 4; do
  read -r os lf < <(alternate_mibps "$OS_URL" "$LF_URL" "$c" "$ROUNDS")
  echo "c=$c  openssh ${os} MiB/s  labforge ${lf} MiB/s  ratio $(ratio "$lf" "$os")x"
done
echo "# full 'git clone' of small, $SMALL times each, median wall time"
clone_ms() {
  local url=$1 dir=$BENCH/small-clone t0 t1 times=()
  for _ in $(seq "$SMALL"); do
    rm -rf "$dir"
    t0=$(date +%s%N)
    GIT_SSH_COMMAND="$PACKLOAD_SSH" git clone -q "$url" "$dir"
    t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
os_ms=$(clone_ms "ssh://root@127.0.0.1:$((PEERS_PORT + 2))$REPOS/small.git")
lf_ms=$(clone_ms "ssh://git@127.0.0.1:$LF_SSH/bench/small.git")
echo "openssh:  ${os_ms} ms"
echo "labforge: ${lf_ms} ms"
echo "ratio:    $(ratio "$lf_ms" "$os_ms")x OpenSSH's latency (lower is better)"
