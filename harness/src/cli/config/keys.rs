//! The key table: every setting kharness.toml may hold, and the clap
//! argument each one supplies.

/// What a key's value is in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// A string, passed on as is.
    Str,
    Int,
    /// A number; integers are taken too.
    Float,
    /// A path; a relative one is taken relative to the file's directory.
    Path,
    /// A program or kernel release, or a path when it holds a `/` (then
    /// relative to the file's directory, like [`Ty::Path`]).
    NameOrPath,
    /// A duration string (`"90s"`, `"2m"`) or a whole number of seconds.
    Duration,
}

/// A configurable setting: its name in kharness.toml, the clap argument
/// (the field name in cli.rs) it supplies, and its type. The argument's
/// flag, environment variable, default and checks all come from clap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub name: &'static str,
    pub arg: &'static str,
    pub ty: Ty,
    /// An array of `ty` (for a repeatable flag).
    pub list: bool,
}

const fn one(name: &'static str, arg: &'static str, ty: Ty) -> Key {
    Key {
        name,
        arg,
        ty,
        list: false,
    }
}

const fn list(name: &'static str, arg: &'static str, ty: Ty) -> Key {
    Key {
        name,
        arg,
        ty,
        list: true,
    }
}

/// Every setting kharness.toml may hold, in the order `config show` lists
/// them. Adding one is adding a line (a unit test checks each names a real
/// argument).
pub const KEYS: &[Key] = &[
    list("kernels", "kernels", Ty::NameOrPath),
    one("series", "series", Ty::Path),
    one("tree", "tree", Ty::Path),
    list("fragments", "fragments", Ty::Path),
    list("debug", "debug", Ty::NameOrPath),
    one("build-jobs", "build_jobs", Ty::Int),
    list("filters", "filters", Ty::Str),
    one("backend", "backend", Ty::Str),
    one("accel", "accel", Ty::Str),
    one("perf-mode", "perf_mode", Ty::Str),
    one("timeout", "timeout", Ty::Str),
    one("test-timeout", "test_timeout", Ty::Duration),
    one("reps", "reps", Ty::Int),
    one("boots", "boots", Ty::Int),
    one("max-boots", "max_boots", Ty::Int),
    one("retries", "retries", Ty::Int),
    one("threshold", "threshold", Ty::Float),
    one("memory", "memory", Ty::Str),
    one("cpus", "cpus", Ty::Int),
    one("jobs", "jobs", Ty::Int),
    one("out", "out", Ty::Path),
    one("guest", "guest", Ty::Path),
    one("vng", "vng", Ty::NameOrPath),
    one("qemu", "qemu", Ty::NameOrPath),
];

pub(super) fn key_named(name: &str) -> Option<Key> {
    KEYS.iter().find(|k| k.name == name).copied()
}

/// `; did you mean `x`?` for the closest of `names`, when close enough.
pub(super) fn did_you_mean<'a>(word: &str, names: impl Iterator<Item = &'a str>) -> String {
    let normal = word.replace('_', "-");
    names
        .map(|n| (strsim::jaro_winkler(&normal, n), n))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, n)| format!("; did you mean `{n}`?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::super::load::find_arg;
    use super::*;

    #[test]
    fn every_key_names_a_real_argument() {
        let cmd = crate::cli::Cli::command();
        for k in KEYS {
            let arg = find_arg(&cmd, k.arg).unwrap_or_else(|| panic!("{} has no argument", k.name));
            let repeatable = matches!(arg.get_action(), clap::ArgAction::Append);
            assert_eq!(repeatable, k.list, "{}: list must match the flag", k.name);
        }
    }
}
