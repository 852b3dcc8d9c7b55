//! Debug kernels: the runtime checkers syzbot and 0-day build their test
//! kernels with (KASAN, lockdep, UBSAN, KFENCE), each a config fragment of
//! `images/debug/` merged after the built-in one. With a checker on, a
//! bug that userspace never sees (a use-after-free, a lock released
//! twice) is printed on the console and becomes a complaint charged to the
//! test that ran.
//!
//! The fragments are built into the binary so an installed kharness needs
//! no checkout; [`materialise`] writes one out as a file, so a run's recipe
//! copies it like any `--fragment` and a `repro` rebuilds the same kernel.

use std::path::{Path, PathBuf};

/// Every checker `--debug` names, with its fragment.
pub const CHECKERS: &[(&str, &str)] = &[
    ("kasan", include_str!("../../../images/debug/kasan.config")),
    (
        "lockdep",
        include_str!("../../../images/debug/lockdep.config"),
    ),
    ("ubsan", include_str!("../../../images/debug/ubsan.config")),
    (
        "kfence",
        include_str!("../../../images/debug/kfence.config"),
    ),
];

/// One word of `--debug`: a checker kharness ships, or a fragment file of
/// the user's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DebugChoice {
    Checker(&'static str),
    File(PathBuf),
}

impl DebugChoice {
    /// A checker's name as `--debug` takes it, else a path: a word with a
    /// `/` or ending in `.config`. Anything else is a misspelt checker.
    pub fn parse(word: &str) -> Result<Self, String> {
        let word = word.trim();
        if let Some((name, _)) = CHECKERS.iter().find(|(n, _)| n.eq_ignore_ascii_case(word)) {
            return Ok(DebugChoice::Checker(name));
        }
        if word.contains('/') || word.ends_with(".config") {
            return Ok(DebugChoice::File(PathBuf::from(word)));
        }
        Err(format!(
            "unknown checker {word:?}: expected {} (comma-separated), or a config fragment \
             file (a path with a `/` or ending in .config)",
            names().join(", ")
        ))
    }

    /// How reports and messages name it: `kasan`, or the file's path.
    pub fn name(&self) -> String {
        match self {
            DebugChoice::Checker(n) => (*n).to_owned(),
            DebugChoice::File(p) => p.display().to_string(),
        }
    }
}

impl std::fmt::Display for DebugChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// The checkers' names, in `--debug`'s order.
pub fn names() -> Vec<&'static str> {
    CHECKERS.iter().map(|(n, _)| *n).collect()
}

/// The fragment file for `choice`: the user's file as given, or the
/// checker's embedded text written to `dir/debug-<name>.config` (rewritten
/// only when it differs, so its timestamp says when it last changed).
pub fn materialise(choice: &DebugChoice, dir: &Path) -> std::io::Result<PathBuf> {
    let name = match choice {
        DebugChoice::File(p) => return Ok(p.clone()),
        DebugChoice::Checker(n) => *n,
    };
    let text = CHECKERS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .expect("a Checker holds a name of CHECKERS");
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("debug-{name}.config"));
    if std::fs::read(&path).ok().as_deref() != Some(text.as_bytes()) {
        crate::support::fs::write_atomic(&path, text.as_bytes())?;
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::build::kconfig;

    #[test]
    fn every_checker_fragment_parses_and_turns_its_checker_on() {
        for (name, text) in CHECKERS {
            let lines = kconfig::parse(text).unwrap_or_else(|b| panic!("{name}: {b:?}"));
            let on = |opt: &str| {
                lines
                    .iter()
                    .any(|l| l.name == opt && l.value == kconfig::OptionValue::Set("y".into()))
            };
            let main = match *name {
                "kasan" => "KASAN",
                "lockdep" => "PROVE_LOCKING",
                "ubsan" => "UBSAN",
                "kfence" => "KFENCE",
                other => panic!("a new checker {other}: name the option it turns on"),
            };
            assert!(on(main), "{name} must set CONFIG_{main}=y");
        }
    }

    #[test]
    fn words_are_checkers_or_files_and_a_typo_is_refused() {
        assert_eq!(
            DebugChoice::parse("KASAN"),
            Ok(DebugChoice::Checker("kasan"))
        );
        assert_eq!(
            DebugChoice::parse("images/debug.config"),
            Ok(DebugChoice::File("images/debug.config".into()))
        );
        assert_eq!(
            DebugChoice::parse("mine.config"),
            Ok(DebugChoice::File("mine.config".into()))
        );
        let err = DebugChoice::parse("kasn").unwrap_err();
        assert!(
            err.starts_with("unknown checker \"kasn\": expected kasan, lockdep, ubsan, kfence"),
            "{err}"
        );
    }

    #[test]
    fn a_checker_is_written_once_and_a_file_is_taken_as_given() {
        let d = tempfile::tempdir().unwrap();
        let p = materialise(&DebugChoice::Checker("kasan"), d.path()).unwrap();
        assert_eq!(p, d.path().join("debug-kasan.config"));
        assert_eq!(std::fs::read_to_string(&p).unwrap(), CHECKERS[0].1);
        let again = materialise(&DebugChoice::Checker("kasan"), d.path()).unwrap();
        assert_eq!(again, p);
        let own = DebugChoice::File("/x/y.config".into());
        assert_eq!(
            materialise(&own, d.path()).unwrap(),
            PathBuf::from("/x/y.config")
        );
    }
}
