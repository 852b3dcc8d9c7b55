#!/usr/bin/env bash
# Installs what kharness needs (only what is missing) and builds it.
# Safe to run again: a second run installs nothing and takes seconds.
#
#   apt:  qemu-system-x86 busybox-static and Debian's prebuilt 6.1 and 6.12 kernels;
#         Debian's 6.12 source and what building it needs (ccache, bison, flex, ...);
#         python3-venv; file and kmod, which virtme-ng runs (file(1) on the
#         kernel image, depmod and modprobe) and a minimal Debian lacks
#   pip:  virtme-ng, into a virtual environment of kharness's own (ci/lib.sh),
#         made with Debian's /usr/bin/python3: Debian 12's Python refuses
#         `pip install` outside one (PEP 668), and kharness finds vng there
#         without any change to PATH
#   cargo: the kharness host binary and the static kharness-guest binary
#
# Run it as root or as a user with sudo: only apt-get and the unpacking of
# the kernel source under /usr/src need root; everything else goes to the
# user's own directories and to target/ here.
set -euo pipefail
cd "$(dirname "$0")/.."
. ci/lib.sh

APT_PACKAGES=(
  qemu-system-x86
  busybox-static
  linux-image-6.1.0-56-amd64-unsigned
  linux-image-6.12.107+deb12-amd64-unsigned
  linux-image-6.12.117+deb12-amd64-unsigned
  linux-source-6.12
  bc bison flex cpio ccache libelf-dev libssl-dev xz-utils
  python3-venv
  file kmod
)
VIRTME_NG="virtme-ng==1.42"

log() { printf 'setup: %s\n' "$*" >&2; }

apt_install_missing "${APT_PACKAGES[@]}"

# A vng already on PATH (the user's own virtme-ng) is used as it is, as
# kharness does; otherwise virtme-ng goes into kharness's environment.
if vng=$(command -v vng 2>/dev/null); then
  log "virtme-ng on PATH: $vng"
else
  vng=$(venv_dir kharness)/bin/vng
  if [ ! -x "$vng" ]; then
    venv_install kharness "$VIRTME_NG"
  fi
  log "virtme-ng in kharness's environment: $vng"
fi
log "$("$vng" --version 2>&1 | head -n1)"

# Debian ships the source as a tarball; series runs want it unpacked.
src_dir=/usr/src/linux-source-6.12
if [ ! -f "$src_dir/Makefile" ]; then
  log "unpacking $src_dir.tar.xz"
  as_root tar -C /usr/src -xJf /usr/src/linux-source-6.12.tar.xz
else
  log "kernel source present: $src_dir"
fi

build_kharness
log "ready: target/release/kharness run"
