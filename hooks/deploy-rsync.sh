#!/bin/sh
# deploy-rsync.sh: copy the pushed commit to a folder, here or on another machine.
#
# labforge runs a deploy in a folder holding exactly the pushed commit's files; this script makes TARGET a mirror
# of that export with rsync (over ssh when TARGET is remote). Only files whose content changed are
# written, and they are put in place together at the end (--delay-updates), so a service reading
# the folder does not see half of a push.
#
# Usage:   deploy-rsync.sh [TARGET] [RSYNC_OPTION...]
#   TARGET   an absolute local folder (/srv/dns, created if missing) or a remote one
#            (host:/srv/dns, user@host:/srv/dns, rsync://host/module/path). The first argument is
#            TARGET unless it starts with '-'; otherwise TARGET comes from RSYNC_TARGET.
#   RSYNC_OPTION...  passed to rsync before this script's own filters, so --exclude=PATTERN
#            (also keeps PATTERN from being deleted), --include, --chmod=..., --dry-run work.
#
# Environment (from the deploy's `env`, or `secret_env` for values logs show as [redacted]):
#   RSYNC_TARGET  TARGET when no argument gives it.
#   RSYNC_DELETE  1 (the default): files in TARGET that the commit does not have are deleted, so
#                 a file removed from the repository disappears from the server. 0: nothing is
#                 deleted. With deletion on, TARGET may not be '/' or a remote home folder
#                 (host:, host:~, host:.). A relative TARGET is always refused.
#   RSYNC_RSH     how to reach a remote TARGET; default `ssh -o BatchMode=yes` (never prompts).
#                 E.g. "ssh -i /etc/labforge/deploy_key -o StrictHostKeyChecking=accept-new".
#                 ssh runs as labforge's user, with its HOME (~/.ssh/config, known_hosts).
#
# Not copied: .gitignore, .gitattributes, .gitmodules, .gitkeep (git's own files; no use on a
# server). Files get the commit's permission bits less group/other write (--chmod=go-w).
#
# Exit status: 0 done; 2 no or unsafe TARGET; 127 rsync is not installed; else rsync's own.
#
# In labforge's config file (a relative `run` is relative to the config file's folder):
#   [[deploy]]
#   name = "dns"
#   repo = "lab/dns"
#   branch = "main"
#   run = "hooks/deploy-rsync.sh"
#   args = ["ns1.lab:/etc/bind/zones", "--exclude=*.jnl"]
#   env = { RSYNC_RSH = "ssh -i /etc/labforge/deploy_key" }
set -eu

say() { printf 'deploy-rsync: %s\n' "$*"; }
fail() {
	code=$1
	shift
	printf 'deploy-rsync: error: %s\n' "$*" >&2
	exit "$code"
}

if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
	target=$1
	shift
else
	target=${RSYNC_TARGET:-}
fi
[ -n "$target" ] || fail 2 "no target: pass it as the first argument (args = [\"/srv/site\"]) or set RSYNC_TARGET"

delete=${RSYNC_DELETE:-1}
case $delete in
0 | 1) ;;
*) fail 2 "RSYNC_DELETE must be 0 or 1, not '$delete'" ;;
esac

# rsync's own rule: a colon before the first slash makes the target remote.
case $target in
/*) remote=0 path=$target ;;
*:*) remote=1 path=${target#*:} ;;
*) fail 2 "target '$target' is relative; a deploy runs in labforge's working folder, so give an absolute folder or host:/folder" ;;
esac

if [ "$delete" = 1 ]; then
	# What --delete would empty by a slip of the config: the root, or the remote user's home.
	trimmed=$path
	while [ "${trimmed%/}" != "$trimmed" ]; do trimmed=${trimmed%/}; done
	case $trimmed in
	"" | "~" | "." | ":" | "::") fail 2 "refusing to mirror (and delete) into '$target'; name a folder of its own, or set RSYNC_DELETE=0" ;;
	esac
fi

command -v rsync >/dev/null 2>&1 || fail 127 "rsync is not installed here (PATH=$PATH); install the rsync package (it is also needed on a remote target)"

if [ "$remote" = 0 ]; then
	mkdir -p -- "$target" || fail 2 "cannot create the target folder '$target'"
fi
RSYNC_RSH=${RSYNC_RSH:-ssh -o BatchMode=yes}
export RSYNC_RSH

if [ "$delete" = 1 ]; then deleting=on; else deleting=off; fi
say "$(printf '%s %s %.10s' "${LABFORGE_REPO:-}" "${LABFORGE_REF:-}" "${LABFORGE_NEW:-}") -> $target (delete: $deleting)"

set -- --recursive --links --perms --chmod=go-w --checksum --delay-updates --itemize-changes "$@"
if [ "$delete" = 1 ]; then
	set -- "$@" --delete --delete-delay
fi
set -- "$@" --exclude=.gitignore --exclude=.gitattributes --exclude=.gitmodules --exclude=.gitkeep

status=0
rsync "$@" ./ "${target%/}/" || status=$?
if [ "$status" != 0 ]; then
	fail "$status" "rsync to '$target' failed with exit status $status"
fi
say "done"
