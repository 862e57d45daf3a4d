#!/usr/bin/env bash
# The property tests of every parser of outside input, with a million cases each instead of the
# 10,000 `cargo test` runs: names, SSH exec lines, hook lines, pkt-lines, ref/path resolution,
# `next` after sign-in, webhook address classes, config, markdown. Release build; takes a while.
#   bench/fuzz.sh            # 1,000,000 cases each
#   CASES=100000 bench/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cases=${CASES:-1000000}
tests=(
  next_is_always_a_same_site_path
  any_list_text_parses_or_is_refused
  classes_follow_the_carried_address
  parsed_names_are_one_safe_component
  repo_paths_are_two_names_and_print_back
  tree_paths_have_no_dot_segments
  hook_lines_parse_only_into_ids_and_refs
  pkt_lines_frame_any_text
  exec_lines_parse_strictly
  any_file_and_environment_load_or_fail_cleanly
  resolution_takes_a_prefix_of_the_url_as_the_ref
  any_text_renders_safely_and_in_bounded_time
)
start=$(date +%s)
LABFORGE_FUZZ_CASES=$cases cargo test --release --lib -- --test-threads 2 "${tests[@]}"
echo "fuzz: ${#tests[@]} properties x $cases cases in $(( $(date +%s) - start )) s"
