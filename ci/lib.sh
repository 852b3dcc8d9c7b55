# shellcheck shell=bash
# Sourced by ci/setup.sh, ci/install.sh and ci/test-deps.sh: what they
# install and build with.
#
# apt_install_missing PKG...: installs (as root, or through sudo) only the
# Debian packages not yet installed.
#
# build_kharness: builds the release kharness and the static guest into
# ${CARGO_TARGET_DIR:-target} (cargo does nothing when they are fresh).
#
# Python tools go into virtual environments of kharness's own, never into
# the system's Python.
#
# Debian 12 marks its Python externally managed (PEP 668): a bare
# `pip install` fails with "externally-managed-environment". Each
# environment is made with Debian's own /usr/bin/python3 (package
# python3-venv), not whatever python3 comes first on PATH, so a pyenv or
# conda Python that happens to be there neither hides that failure nor
# becomes something the environment depends on.
#
# Where: ${XDG_DATA_HOME:-$HOME/.local/share}/kharness/venv (virtme-ng; the
# kharness binary looks for vng there after PATH) and .../kharness/test-venv
# (the report validators the tests use).

venv_dir() {
  local base=${XDG_DATA_HOME:-$HOME/.local/share}/kharness
  case "$1" in
    kharness) printf '%s/venv\n' "$base" ;;
    test) printf '%s/test-venv\n' "$base" ;;
    *) printf 'venv_dir: unknown environment %s\n' "$1" >&2; return 2 ;;
  esac
}

# The interpreter environments are made with: Debian's, where there is one.
venv_python() {
  if [ -x /usr/bin/python3 ]; then
    printf '/usr/bin/python3\n'
  else
    command -v python3
  fi
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install_missing() {
  local missing=() p
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$p")
    fi
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    printf '%s: installing %s\n' "$(basename "$0" .sh)" "${missing[*]}" >&2
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  else
    printf '%s: apt packages present: %s\n' "$(basename "$0" .sh)" "$*" >&2
  fi
}

# venv_install NAME PACKAGE...: makes the environment if it is missing (or
# broken: a python that no longer runs) and pip-installs the packages into it.
venv_install() {
  local name=$1
  shift
  local dir py
  dir=$(venv_dir "$name")
  py=$(venv_python)
  if ! "$dir/bin/python" -c 'import sys' >/dev/null 2>&1; then
    printf '%s: making the Python environment %s with %s\n' "$(basename "$0" .sh)" "$dir" "$py" >&2
    rm -rf "$dir"
    mkdir -p "$(dirname "$dir")"
    if ! "$py" -m venv "$dir"; then
      printf '%s: %s -m venv failed; on Debian install python3-venv\n' "$(basename "$0" .sh)" "$py" >&2
      return 3
    fi
  fi
  printf '%s: installing %s into %s\n' "$(basename "$0" .sh)" "$*" "$dir" >&2
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
}

# The static guest: glibc with +crt-static (the musl target may not be
# installed), so it runs as PID 1 of an initramfs and in any guest.
build_kharness() {
  local me
  me=$(basename "$0" .sh)
  printf '%s: building kharness (release)\n' "$me" >&2
  cargo build --release --locked -p kharness --quiet
  printf '%s: building kharness-guest (static)\n' "$me" >&2
  RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release --locked -p kharness-guest --target x86_64-unknown-linux-gnu --quiet
}
