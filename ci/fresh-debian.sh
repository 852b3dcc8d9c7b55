#!/usr/bin/env bash
# Both README commands (or only the first) in a Debian 12 made from
# nothing with debootstrap: no package of this machine's, no Python but
# Debian's, no cache; only the host's Rust toolchain is lent, read-only
# (a newcomer has rustup). Prints the wall time of every phase.
#
#   ci/fresh-debian.sh            # debootstrap, then the first command
#   ci/fresh-debian.sh --both     # then ci/test.sh as well (30+ minutes)
#   ROOT=/var/tmp/deb12 ci/fresh-debian.sh   # where the system goes (removed after)
#
# Needs root and Debian's debootstrap (installed if missing). The new
# system uses this machine's apt sources (deb.debian.org and its security
# suite: Debian's kernels come from there) and a clone of this checkout's
# HEAD, as a user with sudo would have it under /home.
set -euo pipefail
cd "$(dirname "$0")/.."
. ci/lib.sh

both=0
[ "${1:-}" = --both ] && both=1
[ "$(id -u)" = 0 ] || { echo "fresh-debian: run as root" >&2; exit 2; }
repo=$PWD
root=${ROOT:-$(mktemp -d /var/tmp/kharness-deb12.XXXXXX)}
# mktemp makes it 0700: the system's root must be 0755 for its users.
mkdir -p "$root"
chmod 0755 "$root"
sysroot=$(rustc --print sysroot)
user=kh-fresh
log() { printf 'fresh-debian: %s\n' "$*" >&2; }
mounts=()
cleanup() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -l "${mounts[$i]}" 2>/dev/null || true; done
  # Never remove through a mount that is still there (the toolchain!).
  if grep -q " $root/" /proc/self/mounts; then
    log "left $root in place: something is still mounted under it"
  else
    rm -rf --one-file-system "$root"
  fi
}
trap cleanup EXIT
bind() { # bind SRC DEST [ro]
  mkdir -p "$2"
  mount --bind "$1" "$2"
  mounts+=("$2")
  if [ "${3:-}" = ro ]; then mount -o remount,bind,ro "$2"; fi
}
phase_start=$(date +%s)
phase() {
  local now
  now=$(date +%s)
  log "$1: $((now - phase_start)) s (load $(cut -d' ' -f1 /proc/loadavg))"
  phase_start=$now
}
total_start=$phase_start

apt_install_missing debootstrap >/dev/null
mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
debootstrap --variant=minbase bookworm "$root" "${mirror:-http://deb.debian.org/debian}" >"$root.debootstrap.log" 2>&1 ||
  { tail -n 20 "$root.debootstrap.log" >&2; exit 3; }
rm -f "$root.debootstrap.log"
phase "debootstrap bookworm (minbase)"

cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/"
: >"$root/etc/apt/sources.list"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# The CAs this machine's network needs (a proxy's, say) go along, as any
# machine on that network has them.
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
fi
if [ -f /etc/pip.conf ]; then cp /etc/pip.conf "$root/etc/pip.conf"; fi
bind /proc "$root/proc"
bind /sys "$root/sys"
bind /dev "$root/dev"
bind /dev/pts "$root/dev/pts"
bind "$sysroot" "$root/opt/rust" ro
chroot "$root" /bin/bash -c "
  set -e
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q sudo git ca-certificates gcc libc6-dev make >/dev/null
  update-ca-certificates >/dev/null
  useradd --create-home --shell /bin/bash $user
  echo '$user ALL=(ALL) NOPASSWD: ALL' >/etc/sudoers.d/$user
"
git clone --quiet --no-hardlinks "$repo" "$root/home/$user/kharness"
chroot "$root" chown -R "$user:" "/home/$user"
phase "what a newcomer has first (sudo, git, a C compiler for crates), a clone"

as_user() {
  chroot "$root" /bin/su - "$user" -c "cd ~/kharness && env -i HOME=/home/$user USER=$user TERM=dumb CI='${CI:-}' PATH=/opt/rust/bin:/usr/sbin:/usr/bin:/sbin:/bin bash -c '$1'"
}
as_user 'ci/setup.sh' >"$root/../kharness-fresh-setup.log" 2>&1 ||
  { tail -n 40 "$root/../kharness-fresh-setup.log" >&2; exit 1; }
phase "ci/setup.sh"
as_user 'target/release/kharness run' >"$root/../kharness-fresh-run.log" 2>&1 ||
  { tail -n 40 "$root/../kharness-fresh-run.log" >&2; exit 1; }
tail -n 2 "$root/../kharness-fresh-run.log" >&2
phase "target/release/kharness run"
if [ "$both" = 1 ]; then
  as_user 'ci/test.sh' >"$root/../kharness-fresh-test.log" 2>&1 ||
    { tail -n 40 "$root/../kharness-fresh-test.log" >&2; exit 1; }
  phase "ci/test.sh"
fi
log "total: $(($(date +%s) - total_start)) s; logs in $(dirname "$root")/kharness-fresh-*.log"
