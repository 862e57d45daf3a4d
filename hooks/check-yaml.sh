#!/bin/sh
# check-yaml.sh: refuse a push with a YAML file that does not parse.
#
# Checks every .yml and .yaml file the push changes (LABFORGE_CHANGED_FILES; removed files are
# skipped), or every one in the commit with --all or when run by hand. Each document of each
# file must parse (PyYAML's safe loader); tags such as Ansible's !vault or CloudFormation's
# !Ref are accepted as plain values, since this checks syntax, not meaning.
#
# Usage:   check-yaml.sh [--all]
# Exit status: 0 every file parses; 1 some do not (each is named with line and column);
# 127 python3 or its yaml module is missing (Debian: python3-yaml).
#
#   [[check]]
#   name = "yaml"
#   repo = "lab/*"
#   branch = "main"
#   paths = ["**/*.yml", "**/*.yaml", "*.yml", "*.yaml"]
#   run = "hooks/check-yaml.sh"
set -eu

fail() {
	code=$1
	shift
	printf 'check-yaml: error: %s\n' "$*"
	exit "$code"
}

command -v python3 >/dev/null 2>&1 || fail 127 "python3 is not installed here (PATH=$PATH)"
python3 -c 'import yaml' 2>/dev/null ||
	fail 127 "python3 has no yaml module; install PyYAML (Debian: python3-yaml)"

list=$(mktemp "${TMPDIR:-/tmp}/check-yaml.XXXXXX")
if [ "${1:-}" = --all ] || [ -z "${LABFORGE_CHANGED_FILES:-}" ]; then
	find . -type f \( -name '*.yml' -o -name '*.yaml' \) | sed 's#^\./##' | sort >"$list"
else
	grep -E '\.ya?ml$' "$LABFORGE_CHANGED_FILES" >"$list" || true
fi

status=0
python3 - "$list" <<'PY' || status=$?
import os, sys, yaml

class Loader(yaml.SafeLoader):
    pass

def any_tag(loader, suffix, node):
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_scalar(node)

Loader.add_multi_constructor("!", any_tag)
Loader.add_multi_constructor("tag:", any_tag)

checked = bad = 0
for path in open(sys.argv[1], encoding="utf-8").read().splitlines():
    if not path or not os.path.isfile(path):
        continue  # removed by the push
    checked += 1
    try:
        with open(path, "rb") as f:
            for _ in yaml.load_all(f, Loader=Loader):
                pass
    except yaml.YAMLError as e:
        bad += 1
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
        problem = getattr(e, "problem", None) or str(e)
        print(f"check-yaml: {where}: {problem}")
    except (OSError, UnicodeDecodeError) as e:
        bad += 1
        print(f"check-yaml: {path}: {e}")
if bad:
    print(f"check-yaml: error: {bad} of {checked} YAML files do not parse")
    sys.exit(1)
print(f"check-yaml: {checked} YAML file{' parses' if checked == 1 else 's parse'}")
PY
rm -f "$list"
exit "$status"
