#!/bin/sh
# check-compose.sh: refuse a push with a compose file `docker compose config` refuses.
#
# Checks each compose file the push changes (LABFORGE_CHANGED_FILES; removed files are skipped),
# or every one in the commit with --all or when run by hand: compose.yaml, compose.yml,
# docker-compose.yaml, docker-compose.yml, and compose.*.y*ml / docker-compose.*.y*ml overrides
# (each checked on its own, in its folder, so relative env_file and build paths resolve).
# `docker compose config -q` needs no Docker engine, only the client with its compose plugin
# (or the old docker-compose). Where neither is installed the check says so and passes: it
# cannot judge, and refusing every push for a missing tool would stop all work.
#
# Usage:   check-compose.sh [--all]
# Exit status: 0 every file is valid (or no compose tool: skipped, with a message); 1 some are
# not.
#
#   [[check]]
#   name = "compose"
#   repo = "lab/stacks"
#   branch = "main"
#   run = "hooks/check-compose.sh"
set -eu

fail() {
	code=$1
	shift
	printf 'check-compose: error: %s\n' "$*"
	exit "$code"
}

if docker compose version >/dev/null 2>&1; then
	compose="docker compose"
elif docker-compose version >/dev/null 2>&1; then
	compose=docker-compose
else
	printf 'check-compose: skipped: neither `docker compose` (the compose plugin) nor docker-compose is installed here, so the compose files were NOT checked\n'
	exit 0
fi

list=$(mktemp "${TMPDIR:-/tmp}/check-compose.XXXXXX")
if [ "${1:-}" = --all ] || [ -z "${LABFORGE_CHANGED_FILES:-}" ]; then
	find . -type f | sed 's#^\./##' | sort >"$list"
else
	cp "$LABFORGE_CHANGED_FILES" "$list"
fi

checked=0 bad=0
while IFS= read -r path; do
	case ${path##*/} in
	compose.yaml | compose.yml | docker-compose.yaml | docker-compose.yml) ;;
	compose.*.yaml | compose.*.yml | docker-compose.*.yaml | docker-compose.*.yml) ;;
	*) continue ;;
	esac
	[ -f "$path" ] || continue # removed by the push
	checked=$((checked + 1))
	dir=$(dirname "$path")
	out=$(cd "$dir" && $compose -f "${path##*/}" config -q 2>&1) && ok=1 || ok=
	if [ -n "$out" ]; then
		printf '%s\n' "$out" | while IFS= read -r line; do
			printf 'check-compose: %s: %s\n' "$path" "$line"
		done
	fi
	if [ -n "$ok" ]; then
		printf 'check-compose: %s: valid\n' "$path"
	else
		bad=$((bad + 1))
	fi
done <"$list"
rm -f "$list"
[ "$bad" = 0 ] || fail 1 "$bad of $checked compose files are not valid"
printf 'check-compose: %s compose file%s checked\n' "$checked" "$([ "$checked" = 1 ] && echo "" || echo s)"
