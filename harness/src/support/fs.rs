//! Files written whole or not at all, and copies that stop on Ctrl-C.

use std::io::{Read, Write};
use std::path::Path;

/// Writes `bytes` to `path` through a temporary file in the same directory
/// and a rename, syncing before the rename, so a crash or Ctrl-C never
/// leaves half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".kharness-tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// What [`interrupted_error`] carries, so it can be told apart.
#[derive(Debug)]
struct Stopped;

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Stopped {}

/// The error long file work returns once the user asked kharness to stop
/// (SIGINT/SIGTERM); [`is_interrupted_error`] tells it, and callers map it
/// to exit 130/143. Not of kind `Interrupted`: `write_all` and `io::copy`
/// retry that kind forever.
pub fn interrupted_error() -> std::io::Error {
    std::io::Error::other(Stopped)
}

/// Whether `e` is [`interrupted_error`]'s, or wraps it (as tar does).
pub fn is_interrupted_error(e: &std::io::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = e.get_ref().map(|i| i as _);
    while let Some(c) = cause {
        if c.is::<Stopped>() {
            return true;
        }
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return is_interrupted_error(io);
        }
        cause = c.source();
    }
    false
}

/// `Err(interrupted_error())` once the user asked kharness to stop.
pub fn check_interrupt() -> std::io::Result<()> {
    match crate::support::process::interrupted() {
        true => Err(interrupted_error()),
        false => Ok(()),
    }
}

/// Copies a file in 1 MiB pieces, checking for Ctrl-C between them (a
/// kernel image or a guest binary is large enough to notice), and keeps
/// the source's permissions. On an interrupt the partial copy is removed.
pub fn copy_file(from: &Path, to: &Path) -> std::io::Result<u64> {
    let mut src = std::fs::File::open(from)?;
    let mut dst = std::fs::File::create(to)?;
    let copied = (|| {
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            check_interrupt()?;
            let n = match src.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            dst.write_all(&buf[..n])?;
            total += n as u64;
        }
        dst.set_permissions(src.metadata()?.permissions())?;
        Ok(total)
    })();
    if copied.is_err() {
        drop(dst);
        let _ = std::fs::remove_file(to);
    }
    copied
}

/// A writer that fails with [`interrupted_error`] once the user asked
/// kharness to stop, so a long encoder (a bundle's tar.gz) stops at its
/// next write.
pub struct StopOnInterrupt<W>(pub W);

impl<W: Write> Write for StopOnInterrupt<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        check_interrupt()?;
        self.0.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_files() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(
            std::fs::read_dir(d.path()).unwrap().count(),
            1,
            "no temp file left behind"
        );
    }

    #[test]
    fn the_interrupt_error_is_told_through_wrappers() {
        assert!(is_interrupted_error(&interrupted_error()));
        let wrapped = std::io::Error::other(interrupted_error());
        assert!(is_interrupted_error(&wrapped));
        let other = std::io::Error::new(std::io::ErrorKind::Interrupted, "EINTR");
        assert!(!is_interrupted_error(&other));
        // Not the kind `write_all` retries forever.
        assert_ne!(interrupted_error().kind(), std::io::ErrorKind::Interrupted);
    }

    #[test]
    fn copy_file_copies_bytes_and_mode() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&a, &bytes).unwrap();
        std::fs::set_permissions(&a, std::fs::Permissions::from_mode(0o750)).unwrap();
        assert_eq!(copy_file(&a, &b).unwrap(), bytes.len() as u64);
        assert_eq!(std::fs::read(&b).unwrap(), bytes);
        let mode = std::fs::metadata(&b).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o750);
    }
}
