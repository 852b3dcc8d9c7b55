//! What only vng needs beyond shell quoting ([`crate::support::quote`]).

/// A process for an argv (program first), with no shell in between.
pub fn command_of(argv: &[std::ffi::OsString]) -> std::process::Command {
    let mut cmd = std::process::Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    cmd
}

/// Whether a host path can be handed to vng inside a QEMU option as is:
/// vng joins `--qemu-opts` into a host shell command and QEMU splits its
/// options at `,`, so only a conservative character set passes.
pub fn is_vng_safe_path(p: &std::path::Path) -> bool {
    p.to_str().is_some_and(|s| {
        s.starts_with('/')
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-./+".contains(c))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vng_safe_paths() {
        assert!(is_vng_safe_path(
            "/tmp/kharness-runs/20261122T035300Z/k1".as_ref()
        ));
        assert!(!is_vng_safe_path("/tmp/a=b".as_ref()));
        assert!(!is_vng_safe_path("/tmp/a,b".as_ref()));
        assert!(!is_vng_safe_path("/tmp/a b".as_ref()));
        assert!(!is_vng_safe_path("relative".as_ref()));
    }
}
