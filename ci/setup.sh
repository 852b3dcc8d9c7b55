#!/usr/bin/env bash
# Installs what kharness needs (only what is missing) and builds it.
# Safe to run again: a second run installs nothing and takes seconds.
#
#   apt:  qemu-system-x86 busybox-static and Debian's prebuilt 6.1 and 6.12 kernels;
#         Debian's 6.12 source and what building it needs (ccache, bison, flex, ...)
#   pip:  virtme-ng
#   cargo: the kharness host binary and the static kharness-guest binary
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  qemu-system-x86
  busybox-static
  linux-image-6.1.0-56-amd64-unsigned
  linux-image-6.12.107+deb12-amd64-unsigned
  linux-source-6.12
  bc bison flex cpio ccache libelf-dev libssl-dev xz-utils
)
VIRTME_NG="virtme-ng==1.42"

log() { printf 'setup: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
else
  log "apt packages present"
fi

if ! command -v vng >/dev/null 2>&1; then
  log "installing $VIRTME_NG"
  python3 -m pip install --quiet --disable-pip-version-check "$VIRTME_NG"
  hash -r
fi
if ! command -v vng >/dev/null 2>&1; then
  log "vng is installed but not on PATH; add $(python3 -m site --user-base)/bin to PATH"
  exit 3
fi
log "$(vng --version 2>&1 | head -n1)"

# Debian ships the source as a tarball; series runs want it unpacked.
src_dir=/usr/src/linux-source-6.12
if [ ! -f "$src_dir/Makefile" ]; then
  log "unpacking $src_dir.tar.xz"
  as_root tar -C /usr/src -xJf /usr/src/linux-source-6.12.tar.xz
else
  log "kernel source present: $src_dir"
fi

log "building kharness (release)"
cargo build --release --locked -p kharness --quiet
log "building kharness-guest (static)"
RUSTFLAGS="-C target-feature=+crt-static" \
  cargo build --release --locked -p kharness-guest --target x86_64-unknown-linux-gnu --quiet
log "ready: target/release/kharness run"
