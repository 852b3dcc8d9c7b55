#!/usr/bin/env bash
# The project's test command: README's second command, and what .ci/run
# calls. Installs what is missing (ci/setup.sh), checks style and lints,
# runs the guest suite natively, the README's first command from fresh
# clones as newcomers would (ci/test-newcomer.sh), then every test
# including those that boot real kernels in QEMU through virtme-ng, with
# cargo-nextest (ci/test-deps.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*" >&2; }

step "setup"
ci/setup.sh

step "test dependencies (cargo-nextest, report validators)"
ci/test-deps.sh

# The tests find the report validators (python3 with kcidb-io and
# xmlschema, actionlint, check-jsonschema) in the test environment.
. ci/lib.sh
PATH="$(venv_dir test)/bin:$PATH"
export PATH

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked --quiet -- -D warnings

step "guest suite, natively on the host kernel ($(uname -r))"
# A failure here is a failure, unless it is a real bug of this host kernel
# listed with its reason in ci/host-kernel-bugs.tsv.
native=$(mktemp -d)
target/x86_64-unknown-linux-gnu/release/kharness-guest run --results "$native/records.jsonl" ||
  true
python3 ci/native-check.py "$native/records.jsonl" ci/host-kernel-bugs.tsv
rm -rf "$native"

step "the README's first command as newcomers run it (ci/test-newcomer.sh)"
# It adds a user and removes and reinstalls a package: under CI, or when
# asked for, not by surprise on a developer's own machine.
if [ "${CI:-false}" != false ] || [ "${KHARNESS_TEST_NEWCOMER:-0}" = 1 ]; then
  if [ "$(id -u)" = 0 ]; then
    ci/test-newcomer.sh
  else
    sudo ci/test-newcomer.sh
  fi
else
  printf 'not run: it adds the user kh-newcomer; run it with CI=true or KHARNESS_TEST_NEWCOMER=1\n' >&2
fi

step "doc tests"
# nextest does not run doc tests; cargo test does, before nextest so that
# nextest's summary stays the last line.
cargo test --workspace --locked --doc

step "cargo nextest (unit, CLI, and VM tests)"
# .config/nextest.toml: tests that boot VMs or build kernels run one at a
# time in its `vm` group, everything else in parallel beside them; a test
# over its time limit is stopped. JUnit: target/nextest/ci/junit.xml.
#
# One test is left to those who ask for it: debug_kernel.rs builds a
# KASAN/lockdep/UBSAN/KFENCE kernel from scratch, about 25 minutes on two
# cores, which would take CI past its budget on a fresh machine.
# KHARNESS_TEST_DEBUG_KERNEL=1 runs it; ci/bench-debug.sh shows the same
# catch with its costs.
select=()
if [ "${KHARNESS_TEST_DEBUG_KERNEL:-0}" != 1 ]; then
  select=(-E 'not binary_id(kharness::debug_kernel)')
  printf 'not run: debug_kernel (a debug kernel built from scratch, ~25 min); run it with KHARNESS_TEST_DEBUG_KERNEL=1\n' >&2
fi
cargo nextest run --workspace --locked --profile ci --run-ignored all "${select[@]}"
