#!/usr/bin/env bash
# Installs kharness under PREFIX, to run from any directory with no
# checkout at hand:
#
#   PREFIX/bin/kharness
#   PREFIX/lib/kharness/kharness-guest   the static guest; kharness finds it
#                                        there, beside its own bin/
#
# It builds the release binaries first, as ci/setup.sh does (cargo does
# nothing when they are fresh), and installs no packages: ci/setup.sh, or
# `kharness doctor`, says what a run needs on the machine.
#
#   ci/install.sh ~/.local && ~/.local/bin/kharness doctor
set -euo pipefail
if [ $# -ne 1 ] || [ -z "$1" ]; then
  printf 'usage: ci/install.sh PREFIX   (e.g. ~/.local or /usr/local)\n' >&2
  exit 2
fi
prefix=$(realpath -m -- "$1")
cd "$(dirname "$0")/.."
. ci/lib.sh

build_kharness
target=${CARGO_TARGET_DIR:-target}
install -D -m 0755 "$target/release/kharness" "$prefix/bin/kharness"
install -D -m 0755 "$target/x86_64-unknown-linux-gnu/release/kharness-guest" \
  "$prefix/lib/kharness/kharness-guest"
printf 'install: %s/bin/kharness and %s/lib/kharness/kharness-guest\n' "$prefix" "$prefix" >&2
