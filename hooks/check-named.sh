#!/bin/sh
# check-named.sh: refuse a push with a DNS zone file that named-checkzone rejects.
#
# Checks each zone file the push changes (LABFORGE_CHANGED_FILES; removed files are skipped),
# or every one in the commit with --all or when run by hand. A zone file is one named *.zone,
# *.db or db.* (BIND's habits). Its zone is the file's first $ORIGIN, else its name without
# db. and .zone/.db: zones/lab.local.zone and zones/db.lab.local are both lab.local.
#
# Usage:   check-named.sh [--all] [NAMED_CHECKZONE_OPTION...]
#   Options go to named-checkzone, e.g. -k fail -n fail -i full (see named-checkzone(1)).
# Exit status: 0 every zone loads (or there was none to check, which it says); 1 some do not;
# 127 named-checkzone is missing (Debian: bind9-utils).
#
#   [[check]]
#   name = "zones"
#   repo = "lab/dns"
#   branch = "main"
#   paths = ["zones/**"]
#   run = "hooks/check-named.sh"
#   args = ["-k", "fail"]
set -eu

fail() {
	code=$1
	shift
	printf 'check-named: error: %s\n' "$*"
	exit "$code"
}

command -v named-checkzone >/dev/null 2>&1 ||
	fail 127 "named-checkzone is not installed here (PATH=$PATH); install bind9-utils (Debian)"

all=
if [ "${1:-}" = --all ]; then
	all=1
	shift
fi
list=$(mktemp "${TMPDIR:-/tmp}/check-named.XXXXXX")
if [ -n "$all" ] || [ -z "${LABFORGE_CHANGED_FILES:-}" ]; then
	find . -type f | sed 's#^\./##' | sort >"$list"
else
	cp "$LABFORGE_CHANGED_FILES" "$list"
fi

checked=0 bad=0
while IFS= read -r path; do
	base=${path##*/}
	case $base in
	*.zone | *.db | db.*) ;;
	*) continue ;;
	esac
	[ -f "$path" ] || continue # removed by the push
	zone=$(sed -n 's/^\$ORIGIN[[:space:]]\{1,\}\([^[:space:];]*\).*/\1/p' "$path" | head -n 1)
	if [ -z "$zone" ]; then
		zone=${base#db.}
		zone=${zone%.zone}
		zone=${zone%.db}
	fi
	zone=${zone%.}
	checked=$((checked + 1))
	out=$(named-checkzone "$@" "$zone" "$path" 2>&1) && ok=1 || ok=
	printf '%s\n' "$out" | while IFS= read -r line; do
		printf 'check-named: %s: %s\n' "$path" "$line"
	done
	[ -n "$ok" ] || bad=$((bad + 1))
done <"$list"
rm -f "$list"
if [ "$bad" -gt 0 ]; then
	fail 1 "$bad of $checked zone files do not load"
fi
if [ "$checked" = 0 ]; then
	# Passing is right (nothing is broken), but "0 zone files load" would read as a check done.
	if [ -n "$all" ] || [ -z "${LABFORGE_CHANGED_FILES:-}" ]; then
		where="in the commit"
	else
		where="among the files this push changes"
	fi
	printf 'check-named: no zone file (*.zone, *.db, db.*) %s; nothing was checked\n' "$where"
elif [ "$checked" = 1 ]; then
	printf 'check-named: 1 zone file loads\n'
else
	printf 'check-named: %s zone files load\n' "$checked"
fi
