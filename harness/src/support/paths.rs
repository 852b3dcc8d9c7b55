//! Where kharness keeps things on the host, and where programs are.

use std::path::{Path, PathBuf};

/// `$KHARNESS_CACHE_DIR`, else `$XDG_CACHE_HOME/kharness`, else
/// `~/.cache/kharness`; `None` without any of them.
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("KHARNESS_CACHE_DIR") {
        return Some(d.into());
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(d).join("kharness"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/kharness"))
}

/// An executable file named `name` on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// A program as given (a path with a `/`) or looked up on PATH.
pub fn resolve_program(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 || program.is_absolute() {
        return program.is_file().then(|| program.to_owned());
    }
    program.to_str().and_then(which)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sh_is_on_path_and_a_directory_is_no_program() {
        assert!(which("sh").is_some());
        assert!(which("kharness-no-such-program").is_none());
        assert!(resolve_program(Path::new("/bin/sh")).is_some());
        assert!(resolve_program(Path::new("/tmp")).is_none());
    }
}
