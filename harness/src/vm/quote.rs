//! Quoting for the one place a shell sees our text: vng's `--exec` string,
//! which the guest runs with `sh -c`.

use std::borrow::Cow;

/// Quotes one word for a POSIX shell. Plain words stay as they are; anything
/// else is single-quoted, with embedded quotes closed, escaped and reopened.
pub fn sh_quote(s: &str) -> Cow<'_, str> {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=+,@%".contains(c));
    if plain {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(format!("'{}'", s.replace('\'', r"'\''")))
    }
}

/// Quotes and joins words into one shell command line.
pub fn sh_join<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| sh_quote(w.as_ref()).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// An argv as a person would type it (for `--dry-run`, command.sh and
/// recipes): every word quoted where it needs to be.
pub fn display_argv(argv: &[std::ffi::OsString]) -> String {
    argv.iter()
        .map(|a| sh_quote(&a.to_string_lossy()).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A process for an argv (program first), with no shell in between.
pub fn command_of(argv: &[std::ffi::OsString]) -> std::process::Command {
    let mut cmd = std::process::Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    cmd
}

/// Whether a host path can be handed to vng's `--rwdir` as is: vng splits
/// that value at `=` and QEMU splits its options at `,`, so only a
/// conservative character set passes.
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
    use std::process::Command;

    #[test]
    fn hostile_words_survive_a_real_shell() {
        let words = [
            "plain",
            "with space",
            "it's",
            "$(touch /tmp/kharness-pwned)",
            "a;b",
            "new\nline",
            "`id`",
            "ünïcödé",
            "",
            "back\\slash",
            "\"dq\"",
            "*",
        ];
        let script = format!("printf '%s\\0' {}", sh_join(&words));
        let out = Command::new("sh").arg("-c").arg(&script).output().unwrap();
        assert!(out.status.success());
        let got: Vec<String> = out
            .stdout
            .split(|&b| b == 0)
            .filter(|_| true)
            .map(|s| String::from_utf8(s.to_vec()).unwrap())
            .collect();
        let mut expect: Vec<String> = words.iter().map(|s| s.to_string()).collect();
        expect.push(String::new()); // after the last NUL
        assert_eq!(got, expect);
        assert!(!std::path::Path::new("/tmp/kharness-pwned").exists());
    }

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
