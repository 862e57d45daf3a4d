#!/bin/sh
# deploy-ansible.sh: run the pushed repository's Ansible playbook against its inventory.
#
# Runs, in the pushed commit's files (so the repository's ansible.cfg, roles/, group_vars/
# and host_vars/ apply):
#   ansible-playbook -i INVENTORY PLAYBOOK [OPTION...]
# with colours off (ANSIBLE_NOCOLOR=1, ANSIBLE_FORCE_COLOR=0) and unbuffered output, so the
# deploy's log and `git push -o deploy=wait` show each task as it ends.
#
# Usage:   deploy-ansible.sh [PLAYBOOK] [OPTION...]
#   PLAYBOOK   the playbook, relative to the repository; default ANSIBLE_PLAYBOOK, else site.yml.
#              The first argument is PLAYBOOK unless it starts with '-'.
#   OPTION...  passed to ansible-playbook: --limit dns, --tags zones, -e key=value, --check,
#              --diff, -i other-inventory (then no inventory is looked for).
#
# The inventory: ANSIBLE_INVENTORY (Ansible's own variable) when set, or an inventory in the
# repository's ansible.cfg; otherwise the first of inventory, inventory.ini, inventory.yml,
# inventory.yaml, hosts, hosts.ini, hosts.yml, hosts.yaml (a file or a folder) in the repository.
# With none of these the deploy fails rather than play against no host and call it success.
#
# Environment (from the deploy's `env`, or `secret_env` for values logs show as [redacted]):
#   ANSIBLE_PLAYBOOK  the playbook when no argument names it.
#   Ansible's own variables pass through: ANSIBLE_INVENTORY, ANSIBLE_VAULT_PASSWORD_FILE,
#   ANSIBLE_PRIVATE_KEY_FILE, ANSIBLE_REMOTE_USER, ANSIBLE_HOST_KEY_CHECKING, ...
# Playbooks can read the push with lookup('env', 'LABFORGE_NEW') (and LABFORGE_REF, ...).
# ssh runs as labforge's user, with its HOME (~/.ssh/config, known_hosts, keys).
#
# Exit status: 0 done; 2 no playbook or no inventory; 127 ansible-playbook is not installed;
# else ansible-playbook's own (2 a host failed, 4 a host was unreachable, ...).
#
# In labforge's config file (a relative `run` is relative to the config file's folder):
#   [[deploy]]
#   name = "lab"
#   repo = "lab/ansible"
#   branch = "main"
#   run = "hooks/deploy-ansible.sh"
#   args = ["site.yml", "--limit", "dns"]
#   timeout = "30m"
#   env = { ANSIBLE_VAULT_PASSWORD_FILE = "/etc/labforge/vault-pass" }
set -eu

say() { printf 'deploy-ansible: %s\n' "$*"; }
fail() {
	code=$1
	shift
	printf 'deploy-ansible: error: %s\n' "$*" >&2
	exit "$code"
}

if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
	playbook=$1
	shift
else
	playbook=${ANSIBLE_PLAYBOOK:-site.yml}
fi
[ -f "$playbook" ] || fail 2 "the pushed commit has no playbook '$playbook'; name it as the first argument or in ANSIBLE_PLAYBOOK"

# An inventory the caller already chose: Ansible's variable, an -i option, or ansible.cfg.
chosen=
[ -n "${ANSIBLE_INVENTORY:-}" ] && chosen=ANSIBLE_INVENTORY
for arg in "$@"; do
	case $arg in
	-i | -i?* | --inventory | --inventory=* | --inventory-file | --inventory-file=*) chosen=option ;;
	esac
done
if [ -z "$chosen" ] && [ -f ansible.cfg ] && grep -Eq '^[[:space:]]*inventory[[:space:]]*[=:]' ansible.cfg; then
	chosen=ansible.cfg
fi
if [ -z "$chosen" ]; then
	for name in inventory inventory.ini inventory.yml inventory.yaml hosts hosts.ini hosts.yml hosts.yaml; do
		if [ -e "$name" ]; then
			chosen=$name
			set -- -i "$name" "$@"
			break
		fi
	done
fi
[ -n "$chosen" ] || fail 2 "no inventory: the pushed commit has none of inventory, inventory.ini, inventory.yml, inventory.yaml, hosts, hosts.ini, hosts.yml, hosts.yaml, nor an inventory in ansible.cfg; add one, pass -i, or set ANSIBLE_INVENTORY"

command -v ansible-playbook >/dev/null 2>&1 ||
	fail 127 "ansible-playbook is not installed here (PATH=$PATH); install ansible-core (Debian package) or ansible"

ANSIBLE_NOCOLOR=1
ANSIBLE_FORCE_COLOR=0
PYTHONUNBUFFERED=1
export ANSIBLE_NOCOLOR ANSIBLE_FORCE_COLOR PYTHONUNBUFFERED

say "$(printf '%s %s %.10s' "${LABFORGE_REPO:-}" "${LABFORGE_REF:-}" "${LABFORGE_NEW:-}"): ansible-playbook $* $playbook (inventory: $chosen)"
status=0
ansible-playbook "$@" -- "$playbook" || status=$?
[ "$status" = 0 ] || fail "$status" "ansible-playbook failed with exit status $status"
say "done"
