#!/bin/sh
# check-ansible.sh: refuse a push whose playbooks fail `ansible-playbook --syntax-check`.
#
# Checks the named playbooks (default: site.yml) of the pushed commit, with the repository's
# inventory when it has one (inventory, inventory.ini/.yml/.yaml, hosts, hosts.ini/.yml/.yaml,
# or one named in ansible.cfg), roles and collections from the commit. Nothing is run against
# any host: a syntax check parses playbooks, roles and variables only.
#
# Usage:   check-ansible.sh [PLAYBOOK...] [-- ANSIBLE_PLAYBOOK_OPTION...]
# Exit status: 0 every playbook passes; 1 some do not; 2 a named playbook is missing; 127
# ansible-playbook is missing (Debian: ansible-core).
#
#   [[check]]
#   name = "ansible"
#   repo = "lab/ansible"
#   branch = "main"
#   run = "hooks/check-ansible.sh"
#   args = ["site.yml", "dns.yml"]
#   timeout = "2m"
set -eu

fail() {
	code=$1
	shift
	printf 'check-ansible: error: %s\n' "$*"
	exit "$code"
}

command -v ansible-playbook >/dev/null 2>&1 ||
	fail 127 "ansible-playbook is not installed here (PATH=$PATH); install ansible-core (Debian)"

playbooks=
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	playbooks="$playbooks $1"
	shift
done
[ "${1:-}" = -- ] && shift
[ -n "$playbooks" ] || playbooks=site.yml

inventory=
if [ -f ansible.cfg ] && grep -Eq '^[[:space:]]*inventory[[:space:]]*[=:]' ansible.cfg; then
	inventory=ansible.cfg
else
	for name in inventory inventory.ini inventory.yml inventory.yaml hosts hosts.ini hosts.yml hosts.yaml; do
		if [ -e "$name" ]; then
			inventory=$name
			set -- -i "$name" "$@"
			break
		fi
	done
fi

ANSIBLE_NOCOLOR=1
ANSIBLE_FORCE_COLOR=0
ANSIBLE_RETRY_FILES_ENABLED=0
ANSIBLE_LOCAL_TEMP=${TMPDIR:-/tmp}/ansible-local
ANSIBLE_HOME=${TMPDIR:-/tmp}/ansible-home
PYTHONUNBUFFERED=1
export ANSIBLE_NOCOLOR ANSIBLE_FORCE_COLOR ANSIBLE_RETRY_FILES_ENABLED ANSIBLE_LOCAL_TEMP ANSIBLE_HOME PYTHONUNBUFFERED

bad=0
for playbook in $playbooks; do
	[ -f "$playbook" ] || fail 2 "the pushed commit has no playbook '$playbook'"
	printf 'check-ansible: %s (inventory: %s)\n' "$playbook" "${inventory:-none}"
	ansible-playbook --syntax-check "$@" -- "$playbook" 2>&1 || bad=$((bad + 1))
done
[ "$bad" = 0 ] || fail 1 "$bad playbook(s) fail the syntax check"
printf 'check-ansible: the syntax check passed\n'
