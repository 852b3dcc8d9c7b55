#!/usr/bin/env bash
# The README's first command as newcomers run it, each from a fresh clone
# of this checkout's HEAD (commit first: uncommitted changes are not in it):
#
#   tmp   as root, a clone under /tmp, PATH only Debian's own directories
#         and the Rust toolchain (no pyenv, no venv ahead of /usr/bin/python3),
#         an empty XDG_DATA_HOME (so virtme-ng is installed anew, through
#         Debian's Python, PEP 668 and all);
#   home  as a normal user with sudo, a clone under /home/<user>, the same
#         PATH; busybox-static is removed first, so that user's setup must
#         install a package through sudo.
#
# Each runs `ci/setup.sh && target/release/kharness run` with no flag and
# must exit 0; then nothing the guest wrote beside its binary (vng's
# overlay covers /home and /tmp in the guest) may exist on the host, and
# for the user the message about the kvm group must have been shown.
#
# Needs root (it makes the user, installs sudo, bind-mounts the toolchain
# read-only for that user). Prints each scenario's wall time.
#
#   ci/test-newcomer.sh [tmp] [home]     (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
. ci/lib.sh

log() { printf 'newcomer: %s\n' "$*" >&2; }
die() {
  log "FAIL: $*"
  exit 1
}

[ "$(id -u)" = 0 ] || die "run as root: it creates a user and bind-mounts the toolchain"
repo=$PWD
scenarios=("$@")
[ "${#scenarios[@]}" -gt 0 ] || scenarios=(tmp home)

sysroot=$(rustc --print sysroot)
[ -x "$sysroot/bin/cargo" ] || die "no cargo in the toolchain $sysroot"
debian_path=/usr/sbin:/usr/bin:/sbin:/bin
user=kh-newcomer
work=$(mktemp -d /tmp/kharness-newcomer.XXXXXX)
rust_mnt=/opt/kharness-newcomer-rust
cleanup() {
  if mountpoint -q "$rust_mnt" 2>/dev/null; then umount "$rust_mnt" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A clone of HEAD at $1, with the build cache of this checkout copied in
# (a fresh clone would otherwise spend minutes compiling dependencies that
# have nothing to do with where it lives; the workspace's own crates are
# rebuilt at the new path all the same).
fresh_clone() {
  local dest=$1
  git clone --quiet --no-hardlinks "$repo" "$dest"
  if [ -d "$repo/target" ]; then
    mkdir -p "$dest/target"
    for d in release x86_64-unknown-linux-gnu; do
      if [ -d "$repo/target/$d" ]; then
        cp -a --reflink=auto "$repo/target/$d" "$dest/target/"
      fi
    done
  fi
}

# Nothing the guest left in its overlay beside the binary reached the host.
check_no_probe() {
  local clone=$1 found
  found=$(find "$clone/target" -name '.kharness-overlay-probe' -o -name '.kharness-ro-probe-*' 2>/dev/null | head -n1)
  [ -z "$found" ] || die "the guest wrote $found on the host"
}

scenario_tmp() {
  local clone=$work/tmp/kharness start
  mkdir -p "$work/tmp/data"
  fresh_clone "$clone"
  start=$(date +%s)
  log "tmp: as root in $clone, PATH=$sysroot/bin:$debian_path, XDG_DATA_HOME empty"
  if ! (cd "$clone" && env -i HOME="$HOME" USER=root TERM=dumb CI="${CI:-}" \
    PATH="$sysroot/bin:$debian_path" XDG_DATA_HOME="$work/tmp/data" \
    bash -c 'ci/setup.sh && target/release/kharness run' >"$work/tmp/out.log" 2>"$work/tmp/err.log"); then
    tail -n 40 "$work/tmp/err.log" "$work/tmp/out.log" >&2
    die "tmp: the README's first command failed"
  fi
  grep -q "virtme-ng in kharness's environment: $work/tmp/data/kharness/venv/bin/vng" "$work/tmp/err.log" ||
    die "tmp: setup did not install virtme-ng into kharness's environment"
  check_no_probe "$clone"
  tail -n 3 "$work/tmp/out.log" >&2
  log "tmp: passed in $(($(date +%s) - start)) s (after a clone with the build cache copied in)"
}

scenario_home() {
  local home=/home/$user clone start
  clone=$home/kharness
  if ! id "$user" >/dev/null 2>&1; then
    useradd --create-home --shell /bin/bash "$user"
  fi
  apt_install_missing sudo >/dev/null
  printf '%s ALL=(ALL) NOPASSWD: ALL\n' "$user" >/etc/sudoers.d/kh-newcomer
  chmod 0440 /etc/sudoers.d/kh-newcomer
  # The toolchain lives under /root (mode 0700): give the user a read-only
  # view of it, as if it had its own rustup.
  mkdir -p "$rust_mnt"
  mount --bind "$sysroot" "$rust_mnt"
  mount -o remount,bind,ro "$rust_mnt"
  # A fresh clone, but the build cache this user's own earlier runs made is
  # kept (root's is no use here: cargo rebuilds every dependency for another
  # CARGO_HOME); on a new machine the user builds everything.
  local kept=$home/.cache/kharness-newcomer-target
  rm -rf "$home/.local/share/kharness" "$home/.cache/kharness"
  if [ -d "$clone/target" ]; then
    rm -rf "$kept"
    mkdir -p "$home/.cache"
    mv "$clone/target" "$kept"
  fi
  rm -rf "$clone"
  git clone --quiet --no-hardlinks "$repo" "$clone"
  if [ -d "$kept" ]; then mv "$kept" "$clone/target"; fi
  if [ -d "$HOME/.cargo/registry" ] && [ ! -d "$home/.cargo/registry" ]; then
    mkdir -p "$home/.cargo"
    cp -a "$HOME/.cargo/registry" "$home/.cargo/"
  fi
  chown -R "$user:" "$home"
  # Something for the user's setup to install through sudo.
  DEBIAN_FRONTEND=noninteractive apt-get remove -y -q busybox-static >/dev/null
  start=$(date +%s)
  log "home: as $user (sudo, not in group kvm) in $clone, PATH=$rust_mnt/bin:$debian_path"
  if ! su - "$user" -c "cd '$clone' && env -i HOME='$home' USER='$user' LOGNAME='$user' TERM=dumb CI='${CI:-}' PATH='$rust_mnt/bin:$debian_path' bash -c 'ci/setup.sh && target/release/kharness run'" \
    >"$work/home-out.log" 2>"$work/home-err.log"; then
    tail -n 40 "$work/home-err.log" "$work/home-out.log" >&2
    die "home: the README's first command failed"
  fi
  dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' ||
    die "home: setup did not install busybox-static through sudo"
  grep -q "virtme-ng in kharness's environment: $home/.local/share/kharness/venv/bin/vng" "$work/home-err.log" ||
    die "home: setup did not install virtme-ng into the user's kharness environment"
  if [ -e /dev/kvm ] && ! su "$user" -c 'test -r /dev/kvm -a -w /dev/kvm'; then
    grep -q 'usermod -aG kvm' "$work/home-err.log" ||
      die "home: /dev/kvm is not usable for $user, and kharness did not say how to fix it"
  fi
  check_no_probe "$clone"
  tail -n 3 "$work/home-out.log" >&2
  log "home: passed in $(($(date +%s) - start)) s"
}

for s in "${scenarios[@]}"; do
  case "$s" in
    tmp) scenario_tmp ;;
    home) scenario_home ;;
    *) die "unknown scenario $s (tmp, home)" ;;
  esac
done
log "all passed: ${scenarios[*]}"
