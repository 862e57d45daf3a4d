#!/bin/sh
# deploy-compose.sh: bring a Docker Compose stack up to the pushed commit.
#
# Copies the pushed commit's files into a stable folder, COMPOSE_DIR, and runs
#   docker compose pull --quiet && docker compose up -d [UP_OPTION...]
# there. A folder of its own rather than labforge's working folder (which is reset to each
# commit, anything else in it removed), because compose names the project after its folder
# and resolves the stack's relative paths (bind mounts such as ./data, env_file, build
# contexts) from it: they must stay put from one deploy to the next.
#
# Nothing is deleted from COMPOSE_DIR: it may also hold what does not belong in git (a .env with
# secrets, a ./data volume). A file removed from the repository stays there until removed by hand.
# Files are overwritten in place, so a single-file bind mount sees the new content; compose only
# recreates containers whose definition or image changed, so a service that reads such a file
# once at start needs its own reload (or pass --force-recreate).
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
# Exit status: 0 done; 2 no COMPOSE_DIR or no compose file; 127 docker or compose is missing;
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
cp -R -p -- "$source/." "$dir/" || fail 2 "copying the commit into '$dir' failed"
cd -- "$dir"

status=0
compose pull --quiet || status=$?
[ "$status" = 0 ] || fail "$status" "pulling the images failed (exit status $status); no container was changed"
compose up -d "$@" || status=$?
[ "$status" = 0 ] || fail "$status" "docker compose up failed (exit status $status)"
say "done"
