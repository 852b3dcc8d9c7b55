//! Whether vng can share the host root through virtiofsd here, or will
//! fall back to 9p after waiting for a daemon that never starts.
//!
//! virtme-ng (1.42, `run.py` `VirtioFS._get_virtiofsd_path`) takes the
//! first virtiofsd of its list whose `--version` succeeds and starts it
//! with the flags of the Rust daemon (`--shared-dir`, `--sandbox none`).
//! QEMU 7.2's C daemon, Debian 12's `/usr/lib/qemu/virtiofsd`, answers
//! `--version` when run as root but refuses those flags; vng then polls
//! for its pid file for 3.1 s and falls back to 9p: 3.1 s of every boot
//! here, bare vng included. Asking vng for 9p at once (`--force-9p`) gives
//! the same VM (`vng --dry-run` with and without it: the same QEMU command
//! line) without the wait.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// virtme-ng's fixed places for virtiofsd, after its guest tools (pip
/// installs of virtme-ng ship none there) and PATH, in its order.
const FIXED_PATHS: [&str; 4] = [
    "/usr/libexec/virtiofsd",
    "/usr/lib/virtiofsd/virtiofsd",
    "/usr/lib/virtiofsd",
    "/usr/lib/qemu/virtiofsd",
];

/// A flag vng passes that only the Rust daemon knows.
const RUST_DAEMON_FLAG: &str = "--shared-dir";

/// Whether vng will share the host root over 9p whatever kharness asks:
/// the virtiofsd it would pick (the first of `candidates` for which
/// `answers_version` holds) is absent or cannot start with vng's flags
/// (`starts_with_vng_flags` false). With no virtiofsd at all vng uses 9p
/// without waiting; asking for it changes nothing then.
pub fn falls_back_to_9p(
    candidates: &[PathBuf],
    answers_version: impl Fn(&Path) -> bool,
    starts_with_vng_flags: impl Fn(&Path) -> bool,
) -> bool {
    candidates
        .iter()
        .find(|p| answers_version(p))
        .is_none_or(|p| !starts_with_vng_flags(p))
}

/// The virtiofsd programs vng would try, in its order: a `virtiofsd` on
/// PATH (with `vng_dir`, the directory kharness puts first on vng's PATH,
/// ahead of it; `vng` as a bare name has none), then the fixed places;
/// executables only.
fn candidates(vng_dir: Option<&Path>) -> Vec<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let mut v: Vec<PathBuf> = vng_dir
        .filter(|d| d.is_absolute())
        .map(|d| d.join("virtiofsd"))
        .into_iter()
        .collect();
    v.extend(crate::support::paths::which("virtiofsd"));
    v.extend(FIXED_PATHS.iter().map(PathBuf::from));
    v.retain(|p| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    });
    v
}

fn answers_version(p: &Path) -> bool {
    Command::new(p)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn knows_vng_flags(p: &Path) -> bool {
    Command::new(p)
        .arg("--help")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| {
            let text = [o.stdout, o.stderr].concat();
            String::from_utf8_lossy(&text).contains(RUST_DAEMON_FLAG)
        })
}

/// [`falls_back_to_9p`] for this host, asked once per process (two
/// short runs of the daemon it finds, a few milliseconds).
pub fn vng_uses_9p(vng_dir: Option<&Path>) -> bool {
    static VERDICT: OnceLock<bool> = OnceLock::new();
    *VERDICT
        .get_or_init(|| falls_back_to_9p(&candidates(vng_dir), answers_version, knows_vng_flags))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(names: &[&str]) -> Vec<PathBuf> {
        names.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn vng_falls_back_when_the_daemon_it_picks_is_the_c_one() {
        let c = |p: &Path| p.ends_with("qemu/virtiofsd");
        let every = |_: &Path| true;
        // Debian 12: only QEMU's C daemon, which answers --version as root.
        assert!(falls_back_to_9p(
            &paths(&["/usr/lib/qemu/virtiofsd"]),
            every,
            |p| !c(p)
        ));
        // The Rust daemon ahead of it in vng's order: virtiofs works.
        assert!(!falls_back_to_9p(
            &paths(&["/usr/libexec/virtiofsd", "/usr/lib/qemu/virtiofsd"]),
            every,
            |p| !c(p)
        ));
        // vng takes the first that answers --version, even when a working
        // one comes later: it still falls back.
        assert!(falls_back_to_9p(
            &paths(&["/usr/lib/qemu/virtiofsd", "/usr/libexec/virtiofsd"]),
            every,
            |p| !c(p)
        ));
        // One that does not answer --version (the C daemon as a user) is
        // skipped, as vng skips it.
        assert!(!falls_back_to_9p(
            &paths(&["/usr/lib/qemu/virtiofsd", "/usr/libexec/virtiofsd"]),
            |p| !c(p),
            |p| !c(p)
        ));
        // None at all: 9p.
        assert!(falls_back_to_9p(&[], every, every));
    }
}
