#!/bin/sh
# deploy-compose.sh: bring a Docker Compose stack up to the pushed commit.
#
# Puts the pushed commit's files into a stable folder, COMPOSE_DIR, and runs
#   docker compose pull --quiet && docker compose up -d [UP_OPTION...]
# there. A folder of its own rather than labforge's working folder (which is reset to each
# commit, anything else in it removed), because compose names the project after its folder
# and resolves the stack's relative paths (bind mounts such as ./data, env_file, build
# contexts) from it: they must stay put from one deploy to the next.
#
# Nothing is deleted from COMPOSE_DIR: it may also hold what does not belong in git (a .env with
# secrets, a ./data volume). A file removed from the repository stays there until removed by hand.
#
# Nothing is written through a link either: the commit is first copied into a fresh staging
# folder inside COMPOSE_DIR, then each file is renamed into place (rename(2) replaces a file or a
# symbolic link at its name, never what a link points to), and a link where the commit has a
# folder is replaced by a real folder. So a commit that made `f` a link to a host file, followed
# by one where `f` is a file, replaces the link and leaves the host file alone. Folders already
# there are kept (their inodes too), so a running container's bind mount of a folder sees the
# new files. A single-file bind mount keeps the old file until its container is recreated
# (compose only recreates containers whose definition or image changed): mount its folder, or
# pass --force-recreate. A folder in COMPOSE_DIR where the commit has a file stops the deploy
# before anything is changed (move it away by hand).
#
# Usage:   deploy-compose.sh [COMPOSE_DIR] [UP_OPTION...]
#   COMPOSE_DIR  the absolute folder to run the stack in (created if missing). The first argument
#                is COMPOSE_DIR unless it starts with '-'; otherwise it comes from COMPOSE_DIR.
#   UP_OPTION... added to `up -d`: --remove-orphans, --build, --force-recreate, a service name.
#
# Environment (from the deploy's `env`, or `secret_env` for values logs show as [redacted]):
#   COMPOSE_DIR      as above.
#   COMPOSE_PROJECT  the project name (-p); default: compose's own, the folder's name.
#   COMPOSE_SOURCE   the repository folder that holds the stack, e.g. stacks/web; default: all.
#   COMPOSE_FILE     compose's own variable: the file(s) to use, ':'-separated, relative to
#                    COMPOSE_DIR; default compose.yaml (or compose.yml, docker-compose.y[a]ml).
#                    COMPOSE_PROFILES, DOCKER_HOST, DOCKER_CONTEXT and the like pass through too.
#   DOCKER           the docker program; default `docker` on labforge's fixed PATH
#                    (/usr/local/bin:/usr/bin:/bin). Without the compose plugin, docker-compose
#                    (the standalone command) is used when installed.
# labforge's user needs access to the Docker daemon (the docker group, or a DOCKER_HOST).
#
# Exit status: 0 done; 2 no COMPOSE_DIR, no compose file, or the commit's files cannot be put in
# place (a folder where the commit has a file, a file name with a newline); 127 docker or
# compose is missing;
# else the status of the docker command that failed (1 when the daemon cannot be reached).
#
# In labforge's config file (a relative `run` is relative to the config file's folder):
#   [[deploy]]
#   name = "web"
#   repo = "lab/web-stack"
#   branch = "main"
#   run = "hooks/deploy-compose.sh"
#   args = ["/srv/web", "--remove-orphans"]
#   env = { COMPOSE_PROJECT = "web" }
set -eu

say() { printf 'deploy-compose: %s\n' "$*"; }
fail() {
	code=$1
	shift
	printf 'deploy-compose: error: %s\n' "$*" >&2
	exit "$code"
}

if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
	dir=$1
	shift
else
	dir=${COMPOSE_DIR:-}
fi
[ -n "$dir" ] || fail 2 "no stack folder: pass it as the first argument (args = [\"/srv/web\"]) or set COMPOSE_DIR"
case $dir in
/*) ;;
*) fail 2 "COMPOSE_DIR '$dir' is relative; a deploy runs in labforge's working folder, so give an absolute folder" ;;
esac

source=${COMPOSE_SOURCE:-.}
[ -d "$source" ] || fail 2 "COMPOSE_SOURCE '$source' is not a folder of the pushed commit"
if [ -z "${COMPOSE_FILE:-}" ]; then
	found=
	for name in compose.yaml compose.yml docker-compose.yaml docker-compose.yml; do
		if [ -f "$source/$name" ]; then
			found=$name
			break
		fi
	done
	[ -n "$found" ] || fail 2 "the pushed commit has no compose.yaml, compose.yml, docker-compose.yaml or docker-compose.yml in '$source'; set COMPOSE_SOURCE or COMPOSE_FILE"
fi

DOCKER=${DOCKER:-docker}
if ! command -v "$DOCKER" >/dev/null 2>&1; then
	case $DOCKER in
	*/*) where="'$DOCKER' is not an executable program" ;;
	*) where="'$DOCKER' is not on PATH=$PATH" ;;
	esac
	fail 127 "docker not found: $where; install Docker Engine with its compose plugin, or set DOCKER=/path/to/docker"
fi
if "$DOCKER" compose version >/dev/null 2>&1; then
	compose() {
		if [ -n "${COMPOSE_PROJECT:-}" ]; then
			set -- -p "$COMPOSE_PROJECT" "$@"
		fi
		say "docker compose $*"
		"$DOCKER" compose "$@"
	}
elif command -v docker-compose >/dev/null 2>&1; then
	compose() {
		if [ -n "${COMPOSE_PROJECT:-}" ]; then
			set -- -p "$COMPOSE_PROJECT" "$@"
		fi
		say "docker-compose $*"
		docker-compose "$@"
	}
else
	fail 127 "docker compose is not available: '$DOCKER compose version' failed and there is no docker-compose; install the compose plugin (Debian: docker-compose)"
fi

# Before touching the stack's folder: a daemon that cannot be reached fails the deploy here.
status=0
out=$("$DOCKER" info 2>&1 >/dev/null) || status=$?
if [ "$status" != 0 ]; then
	printf '%s\n' "$out" >&2
	fail "$status" "cannot reach the Docker daemon (is it running, and may labforge's user use it?)"
fi

say "$(printf '%s %s %.10s' "${LABFORGE_REPO:-}" "${LABFORGE_REF:-}" "${LABFORGE_NEW:-}") -> $dir"
mkdir -p -- "$dir" || fail 2 "cannot create the stack folder '$dir'"
# Staged inside COMPOSE_DIR: writable wherever the stack is, and on its file system, so every
# move below is a rename. The copy cannot write through a link: the folder is new and ours.
# One a run killed in the middle left behind goes first (runs of one deploy never overlap).
rm -rf -- "${dir%/}"/.deploy-compose-stage.*
stage=$(mktemp -d "${dir%/}/.deploy-compose-stage.XXXXXX") || fail 2 "cannot create a staging folder in '$dir'"
trap 'rm -rf -- "$stage"' EXIT
trap 'exit 143' HUP INT TERM
cp -R -p -- "$source/." "$stage/" || fail 2 "copying the commit into '$stage' failed"
cd -- "$stage"
# One name a line below; git allows a newline in a name, a compose stack has no use for one.
newline='
'
if find . -name "*$newline*" | grep -q .; then
	fail 2 "the commit has a file name with a newline; nothing was changed in '$dir'"
fi
entries=$(find . -mindepth 1 | sed 's#^\./##')

# True when no folder above $1 in the stack is a link (those are replaced, not followed).
no_link_above() {
	rest=$1
	while [ "${rest%/*}" != "$rest" ]; do
		rest=${rest%/*}
		[ ! -L "$dir/$rest" ] || return 1
	done
}

# First every conflict, so a refused deploy changes nothing: a real folder in the stack where
# the commit has a file or a link.
while IFS= read -r path; do
	[ -n "$path" ] || continue
	if [ -d "$path" ] && [ ! -L "$path" ]; then continue; fi
	there=$dir/$path
	if [ -d "$there" ] && [ ! -L "$there" ] && no_link_above "$path"; then
		fail 2 "'$path' is a folder in '$dir' but not in the commit; move it away by hand (nothing was changed)"
	fi
done <<EOF
$entries
EOF

# Then in place, parents first (find lists a folder before what it holds): a folder of the
# commit becomes a real folder in the stack (a link or file in its way is removed, never
# followed); a file or link is renamed over whatever has its name (mv -T: never into a folder
# a link names).
while IFS= read -r path; do
	[ -n "$path" ] || continue
	there=$dir/$path
	if [ -d "$path" ] && [ ! -L "$path" ]; then
		if [ -L "$there" ] || { [ -e "$there" ] && [ ! -d "$there" ]; }; then
			rm -f -- "$there" || fail 2 "cannot replace '$there' by a folder"
		fi
		[ -d "$there" ] || mkdir -- "$there" || fail 2 "cannot create the folder '$there'"
	else
		mv -f -T -- "$path" "$there" || fail 2 "cannot put '$path' in place in '$dir'"
	fi
done <<EOF
$entries
EOF
cd -- "$dir"
rm -rf -- "$stage"

status=0
compose pull --quiet || status=$?
[ "$status" = 0 ] || fail "$status" "pulling the images failed (exit status $status); no container was changed"
compose up -d "$@" || status=$?
[ "$status" = 0 ] || fail "$status" "docker compose up failed (exit status $status)"
say "done"
