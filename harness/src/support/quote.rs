//! Shell quoting: the one way kharness renders a command for a person
//! (`--dry-run`, command.sh, recipes, logs) and for the one place a shell
//! sees our text, vng's `--exec` string (the guest runs it with `sh -c`).

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

/// An argv as a person would type it (for `--dry-run`, command.sh,
/// recipes and error messages): every word quoted where it needs to be.
pub fn display_argv<I, S>(argv: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    argv.into_iter()
        .map(|a| sh_quote(&a.as_ref().to_string_lossy()).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
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
    fn commands_render_like_argvs() {
        assert_eq!(
            display_argv(["make", "O=/tmp/b", "CC=ccache gcc", "-j2"]),
            "make O=/tmp/b 'CC=ccache gcc' -j2"
        );
    }
}
