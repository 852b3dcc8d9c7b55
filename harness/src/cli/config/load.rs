//! Reading the files into [`Layers`], and laying them under clap: the
//! files' values become the defaults of the arguments they configure.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{Arg, ArgMatches, Command, CommandFactory, FromArgMatches};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::PROJECT_FILE;
use super::error::{ConfigError, Place};
use super::keys::{KEYS, Key, Ty, did_you_mean, key_named};
use super::show::shown;
use crate::error::Error;
use crate::support::text::one_line;

/// Which file and profile to read; flattened into the top-level CLI.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Selection {
    /// Read FILE as the project config instead of the kharness.toml found
    /// in the current directory or its parents.
    #[arg(long, global = true, env = "KHARNESS_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The settings profile ([profile.NAME] in kharness.toml); default:
    /// `ci` when $CI is set, else `default`.
    #[arg(long, global = true, env = "KHARNESS_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,
}

const CONFIG_ARG: &str = "config";
const PROFILE_ARG: &str = "profile";

/// Where an effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Default,
    File {
        level: Level,
        path: PathBuf,
        line: usize,
        profile: String,
    },
    Env(String),
    Flag(String),
    /// `$CI` is set (for the profile only).
    Ci,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File {
                level,
                path,
                line,
                profile,
            } => write!(f, "{level} {}:{line} [profile.{profile}]", path.display()),
            Origin::Env(v) => write!(f, "env {v}"),
            Origin::Flag(v) => write!(f, "flag {v}"),
            Origin::Ci => f.write_str("env CI"),
        }
    }
}

/// Project or user file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Project,
    User,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Project => "project",
            Level::User => "user",
        })
    }
}

/// A line and column in a file, both from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Loc {
    line: usize,
    col: usize,
}

impl Loc {
    fn of(self, path: &Path) -> Place {
        Place {
            path: path.to_owned(),
            line: self.line,
            col: self.col,
        }
    }
}

/// A key's value from a file: each element with where it stands.
#[derive(Debug, Clone)]
pub(super) struct FileValue {
    key: Key,
    items: Vec<(String, Loc)>,
    path: PathBuf,
    pub(super) origin: Origin,
}

/// The settings the files give for the selected profile.
#[derive(Debug, Clone)]
pub struct Layers {
    pub profile: String,
    pub profile_origin: Origin,
    /// The project file (found or given) and the user file looked for,
    /// each with whether it exists.
    pub files: Vec<(Level, PathBuf, bool)>,
    /// Unknown keys and the like: worth saying, not worth stopping for.
    pub warnings: Vec<String>,
    pub(super) values: BTreeMap<&'static str, FileValue>,
    /// The `--config` this was loaded with.
    pub(super) config_flag: Option<PathBuf>,
}

impl Layers {
    /// A line saying which profile and files are in effect; none when no
    /// file was read.
    pub fn note(&self) -> Option<String> {
        let read: Vec<String> = self
            .files
            .iter()
            .filter(|(_, _, exists)| *exists)
            .map(|(_, p, _)| p.display().to_string())
            .collect();
        // Without a file no profile changes anything (only `default` and
        // `ci` may be named then), and a run under CI=true would gain a
        // line before every one-line error.
        if read.is_empty() {
            return None;
        }
        Some(format!(
            "profile {} ({}); {}",
            self.profile,
            self.profile_origin,
            read.join(", ")
        ))
    }
}

/// Why parsing the command line stopped.
#[derive(Debug)]
pub enum Failure {
    /// clap's: bad flags, or `--help` / `--version` to print.
    Clap(clap::Error),
    /// A config file is broken, or the profile does not exist.
    Config(Error),
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure::Config(e.into())
    }
}

/// Parses `argv` with the config files' values under the flags and
/// environment variables.
pub fn parse<T: CommandFactory + FromArgMatches>(
    argv: &[OsString],
) -> Result<(T, Layers), Failure> {
    let cmd = T::command();
    // First pass: which file and profile. A required argument the files
    // may supply must not stop it; clap's own errors (and --help) come
    // from the untouched definition.
    let first = match cmd.clone().try_get_matches_from(argv) {
        Ok(m) => m,
        Err(e) if e.kind() == clap::error::ErrorKind::MissingRequiredArgument => {
            relaxed(cmd.clone())
                .try_get_matches_from(argv)
                .map_err(Failure::Clap)?
        }
        Err(e) => return Err(Failure::Clap(e)),
    };
    let (config, profile) = selection(&first, false);
    let layers = load(config.as_deref(), profile, &Env::from_process())?;
    validate(&cmd, &layers)?;
    let m = apply(cmd, &layers)
        .try_get_matches_from(argv)
        .map_err(Failure::Clap)?;
    let t = T::from_arg_matches(&m).map_err(Failure::Clap)?;
    Ok((t, layers))
}

/// The environment that decides which files and profile: read once, so
/// tests can pass their own.
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub cwd: Option<PathBuf>,
    pub xdg_config_home: Option<PathBuf>,
    pub home: Option<PathBuf>,
    pub ci: Option<String>,
}

impl Env {
    pub fn from_process() -> Self {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        Env {
            cwd: std::env::current_dir().ok(),
            xdg_config_home: var("XDG_CONFIG_HOME").map(PathBuf::from),
            home: var("HOME").map(PathBuf::from),
            ci: var("CI").map(|v| v.to_string_lossy().into_owned()),
        }
    }

    /// `$XDG_CONFIG_HOME/kharness/config.toml`, else
    /// `~/.config/kharness/config.toml`.
    pub fn user_file(&self) -> Option<PathBuf> {
        let base = match (&self.xdg_config_home, &self.home) {
            (Some(x), _) => x.clone(),
            (None, Some(h)) => h.join(".config"),
            (None, None) => return None,
        };
        Some(base.join("kharness").join("config.toml"))
    }

    /// The first kharness.toml in the current directory or its parents.
    pub fn project_file(&self) -> Option<PathBuf> {
        let cwd = self.cwd.as_deref()?;
        cwd.ancestors()
            .map(|d| d.join(PROJECT_FILE))
            .find(|p| p.is_file())
    }

    fn ci(&self) -> bool {
        self.ci.as_deref().is_some_and(ci_says_yes)
    }
}

/// Whether a value of `$CI` means "this is CI": anything but empty,
/// `false` or `0`.
pub fn ci_says_yes(v: &str) -> bool {
    !v.is_empty() && v != "false" && v != "0"
}

/// The `--config` and `--profile` the command line (or their environment
/// variables) gave, the latter with where it came from.
/// With `flags_only`, what the environment says is left out.
pub(super) fn selection(
    m: &ArgMatches,
    flags_only: bool,
) -> (Option<PathBuf>, Option<(String, Origin)>) {
    // Global arguments can stand before or after the subcommand: the
    // deepest explicit one wins.
    let mut chain = vec![m];
    let mut cur = m;
    while let Some((_, sub)) = cur.subcommand() {
        chain.push(sub);
        cur = sub;
    }
    let mut config = None;
    let mut profile = None;
    for m in chain {
        let given = |id: &str| !flags_only || m.value_source(id) == Some(ValueSource::CommandLine);
        if let Ok(Some(p)) = m.try_get_one::<PathBuf>(CONFIG_ARG)
            && given(CONFIG_ARG)
        {
            config = Some(p.clone());
        }
        if let Ok(Some(p)) = m.try_get_one::<String>(PROFILE_ARG)
            && given(PROFILE_ARG)
        {
            let origin = match m.value_source(PROFILE_ARG) {
                Some(ValueSource::EnvVariable) => Origin::Env("KHARNESS_PROFILE".into()),
                _ => Origin::Flag("--profile".into()),
            };
            profile = Some((p.clone(), origin));
        }
    }
    (config, profile)
}

/// Reads the project and user files for the profile.
pub fn load(
    config: Option<&Path>,
    profile: Option<(String, Origin)>,
    env: &Env,
) -> Result<Layers, ConfigError> {
    let project = match config {
        Some(p) if !p.is_file() => {
            return Err(ConfigError::NoSuchFile { path: p.to_owned() });
        }
        Some(p) => Some(p.to_owned()),
        None => env.project_file(),
    };
    let mut files = Vec::new();
    let mut parsed = Vec::new();
    let mut warnings = Vec::new();
    if let Some(p) = project {
        parsed.push((
            Level::Project,
            read_file(&p, Level::Project, &mut warnings)?,
        ));
        files.push((Level::Project, p, true));
    }
    if let Some(u) = env.user_file() {
        let exists = u.is_file();
        if exists {
            parsed.push((Level::User, read_file(&u, Level::User, &mut warnings)?));
        }
        files.push((Level::User, u, exists));
    }
    let (profile, profile_origin) = match profile {
        Some(p) => p,
        None if env.ci() => ("ci".to_owned(), Origin::Ci),
        None => ("default".to_owned(), Origin::Default),
    };
    let mut known: Vec<&str> = vec!["ci", "default"];
    for (_, f) in &parsed {
        known.extend(f.profiles.keys().map(|s| s.as_str()));
    }
    known.sort_unstable();
    known.dedup();
    if !known.contains(&profile.as_str()) {
        let from = match &profile_origin {
            Origin::Env(v) | Origin::Flag(v) => Some(v.clone()),
            _ => None,
        };
        return Err(ConfigError::UnknownProfile {
            profile,
            from,
            known: known.iter().map(|s| s.to_string()).collect(),
        });
    }
    // Highest first: project [profile.NAME], project [profile.default],
    // user [profile.NAME], user [profile.default].
    let mut values: BTreeMap<&'static str, FileValue> = BTreeMap::new();
    for (_, f) in &parsed {
        for name in [profile.as_str(), "default"] {
            for v in f.profiles.get(name).into_iter().flat_map(|p| p.values()) {
                values.entry(v.key.name).or_insert_with(|| v.clone());
            }
        }
    }
    Ok(Layers {
        profile,
        profile_origin,
        files,
        warnings,
        values,
        config_flag: config.map(Path::to_owned),
    })
}

/// One file: profile name -> key -> value.
struct ParsedFile {
    profiles: BTreeMap<String, BTreeMap<&'static str, FileValue>>,
}

fn read_file(
    path: &Path,
    level: Level,
    warnings: &mut Vec<String>,
) -> Result<ParsedFile, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
        path: path.to_owned(),
        source,
    })?;
    parse_text(&text, path, level, warnings)
}

/// Parses one file's text; `path` names it in messages and anchors its
/// relative paths.
fn parse_text(
    text: &str,
    path: &Path,
    level: Level,
    warnings: &mut Vec<String>,
) -> Result<ParsedFile, ConfigError> {
    let at = |span: std::ops::Range<usize>| locate(text, span.start);
    // The parser reports some errors out of order (an unclosed string after
    // what follows it): the first in the file is the one to fix.
    let (root, errors) = DeTable::parse_recoverable(text);
    if let Some(e) = errors
        .iter()
        .min_by_key(|e| e.span().map_or(0, |s| s.start))
    {
        let loc = e.span().map_or(Loc { line: 1, col: 1 }, at);
        return Err(ConfigError::InvalidToml {
            at: loc.of(path),
            why: one_line(e.message()),
        });
    }
    let mut profiles = BTreeMap::new();
    let mut warn = |loc: Loc, msg: String| {
        warnings.push(format!(
            "{}:{}:{}: {msg}",
            path.display(),
            loc.line,
            loc.col
        ));
    };
    for (k, v) in root.get_ref() {
        if k.get_ref() != "profile" {
            let hint = if key_named(k.get_ref()).is_some() {
                "; settings go in a profile, e.g. under [profile.default]".to_owned()
            } else {
                did_you_mean(k.get_ref(), ["profile"].into_iter())
            };
            warn(at(k.span()), format!("unknown key `{}`{hint}", k.get_ref()));
            continue;
        }
        let DeValue::Table(table) = v.get_ref() else {
            return Err(ConfigError::ProfilesNotTable {
                at: at(v.span()).of(path),
                found: v.get_ref().type_str(),
            });
        };
        for (pname, pval) in table {
            let DeValue::Table(settings) = pval.get_ref() else {
                return Err(ConfigError::ProfileNotTable {
                    at: at(pval.span()).of(path),
                    name: pname.get_ref().to_string(),
                    found: pval.get_ref().type_str(),
                });
            };
            let mut out = BTreeMap::new();
            for (key, val) in settings {
                let Some(def) = key_named(key.get_ref()) else {
                    warn(
                        at(key.span()),
                        format!(
                            "unknown key `{}` in [profile.{}]{}",
                            key.get_ref(),
                            pname.get_ref(),
                            did_you_mean(key.get_ref(), KEYS.iter().map(|k| k.name))
                        ),
                    );
                    continue;
                };
                let items = convert(def, val, path, &at)?;
                out.insert(
                    def.name,
                    FileValue {
                        key: def,
                        items,
                        path: path.to_owned(),
                        origin: Origin::File {
                            level,
                            path: path.to_owned(),
                            line: at(key.span()).line,
                            profile: pname.get_ref().to_string(),
                        },
                    },
                );
            }
            profiles.insert(pname.get_ref().to_string(), out);
        }
    }
    Ok(ParsedFile { profiles })
}

/// A value of the file at `path` as the strings clap takes, each with its
/// place.
fn convert(
    key: Key,
    val: &Spanned<DeValue<'_>>,
    path: &Path,
    at: &dyn Fn(std::ops::Range<usize>) -> Loc,
) -> Result<Vec<(String, Loc)>, ConfigError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let what = match (key.ty, key.list) {
        (Ty::Str, false) => "a string",
        (Ty::Int, false) => "an integer",
        (Ty::Float, false) => "a number",
        (Ty::Path | Ty::NameOrPath, false) => "a string (a path)",
        (Ty::Duration, false) => "a duration (\"90s\", \"2m\") or a number of seconds",
        (Ty::Str, true) => "an array of strings",
        (Ty::Int, true) => "an array of integers",
        (Ty::Float, true) => "an array of numbers",
        (Ty::Path | Ty::NameOrPath, true) => "an array of strings (paths)",
        (Ty::Duration, true) => "an array of durations",
    };
    let wrong = |v: &Spanned<DeValue<'_>>| ConfigError::WrongType {
        at: at(v.span()).of(path),
        key: key.name,
        expected: what,
        found: v.get_ref().type_str(),
    };
    let scalar = |v: &Spanned<DeValue<'_>>| -> Result<(String, Loc), ConfigError> {
        let loc = at(v.span());
        let s = match (key.ty, v.get_ref()) {
            (Ty::Str | Ty::Duration, DeValue::String(s)) => s.to_string(),
            (Ty::Path, DeValue::String(s)) => resolve(dir, s, true),
            (Ty::NameOrPath, DeValue::String(s)) => resolve(dir, s, s.contains('/')),
            (Ty::Int | Ty::Float | Ty::Duration, DeValue::Integer(i)) => {
                i64::from_str_radix(i.as_str(), i.radix())
                    .map_err(|why| ConfigError::BadInteger {
                        at: loc.of(path),
                        key: key.name,
                        why,
                    })?
                    .to_string()
            }
            (Ty::Float, DeValue::Float(f)) => f.as_str().to_owned(),
            _ => return Err(wrong(v)),
        };
        Ok((s, loc))
    };
    match (key.list, val.get_ref()) {
        (true, DeValue::Array(a)) => a.iter().map(scalar).collect(),
        (true, _) => Err(wrong(val)),
        (false, _) => scalar(val).map(|x| vec![x]),
    }
}

fn resolve(dir: &Path, s: &str, is_path: bool) -> String {
    let p = Path::new(s);
    if is_path && p.is_relative() && !s.is_empty() {
        dir.join(p).to_string_lossy().into_owned()
    } else {
        s.to_owned()
    }
}

/// Line and column (in characters, from 1) of a byte offset.
fn locate(text: &str, offset: usize) -> Loc {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Loc { line, col }
}

/// The first argument with this id in any subcommand.
pub(super) fn find_arg<'a>(cmd: &'a Command, id: &str) -> Option<&'a Arg> {
    cmd.get_subcommands()
        .flat_map(|s| s.get_arguments())
        .find(|a| a.get_id() == id)
}

pub(super) fn has_arg(cmd: &Command, id: &str) -> bool {
    cmd.get_arguments().any(|a| a.get_id() == id)
}

/// Every configurable argument made optional: the files may supply it.
fn relaxed(cmd: Command) -> Command {
    KEYS.iter().fold(cmd, |cmd, k| {
        cmd.mut_subcommands(|s| {
            if has_arg(&s, k.arg) {
                s.mut_arg(k.arg, |a| a.required(false))
            } else {
                s
            }
        })
    })
}

/// Nothing required at all: `config show` looks at a command line that
/// need not be complete.
pub(super) fn all_optional(cmd: Command) -> Command {
    cmd.mut_subcommands(|s| s.mut_args(|a| a.required(false)))
}

/// The files' values as the defaults of their arguments.
pub(super) fn apply(cmd: Command, layers: &Layers) -> Command {
    layers.values.values().fold(cmd, |cmd, v| {
        cmd.mut_subcommands(|s| {
            if has_arg(&s, v.key.arg) {
                let vals: Vec<String> = v.items.iter().map(|(s, _)| s.clone()).collect();
                s.mut_arg(v.key.arg, |a| a.required(false).default_values(vals))
            } else {
                s
            }
        })
    })
}

/// Checks every file value with the parser of the flag it stands for, so a
/// bad value is reported at its place in the file.
pub(super) fn validate(cmd: &Command, layers: &Layers) -> Result<(), ConfigError> {
    for v in layers.values.values() {
        let Some(arg) = find_arg(cmd, v.key.arg) else {
            continue;
        };
        for (value, loc) in &v.items {
            let argv = match arg.get_long() {
                Some(l) => format!("--{l}={value}"),
                None => value.clone(),
            };
            let probe = Command::new("kharness.toml")
                .no_binary_name(true)
                .arg(arg.clone().required(false).global(false));
            if let Err(e) = probe.try_get_matches_from([argv]) {
                return Err(ConfigError::InvalidValue {
                    at: loc.of(&v.path),
                    key: v.key.name,
                    value: shown(v.key.ty, value),
                    why: why(&e),
                });
            }
        }
    }
    Ok(())
}

/// clap's reason, without its framing.
pub(super) fn why(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    if let Some(ContextValue::Strings(valid)) = e.get(ContextKind::ValidValue) {
        return format!("expected one of {}", valid.join(", "));
    }
    if let Some(src) = std::error::Error::source(e) {
        return one_line(&src.to_string());
    }
    let text = e.to_string();
    one_line(
        text.lines()
            .next()
            .unwrap_or("")
            .trim_start_matches("error: "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> (Result<ParsedFile, ConfigError>, Vec<String>) {
        let mut w = Vec::new();
        let r = parse_text(text, Path::new("/p/kharness.toml"), Level::Project, &mut w);
        (r, w)
    }

    #[test]
    fn lines_and_columns_count_from_one() {
        let t = "a = 1\nbb = 'é x'\n";
        assert_eq!(locate(t, 0), Loc { line: 1, col: 1 });
        assert_eq!(locate(t, 6), Loc { line: 2, col: 1 });
        assert_eq!(locate(t, t.find('x').unwrap()), Loc { line: 2, col: 9 });
    }

    #[test]
    fn values_become_clap_strings_with_paths_resolved() {
        let (r, w) = parse_str(
            "[profile.default]\nout = 'runs'\nvng = 'vng'\nqemu = 'bin/qemu'\nkernels = ['6.1.0-56-amd64', 'k/bzImage']\nthreshold = 5\nreps = 0x10\n",
        );
        assert!(w.is_empty(), "{w:?}");
        let p = r.unwrap();
        let d = &p.profiles["default"];
        let vals = |k: &str| -> Vec<String> { d[k].items.iter().map(|(s, _)| s.clone()).collect() };
        assert_eq!(vals("out"), ["/p/runs"]);
        assert_eq!(vals("vng"), ["vng"]);
        assert_eq!(vals("qemu"), ["/p/bin/qemu"]);
        assert_eq!(vals("kernels"), ["6.1.0-56-amd64", "/p/k/bzImage"]);
        assert_eq!(vals("threshold"), ["5"]);
        assert_eq!(vals("reps"), ["16"]);
        assert_eq!(d["reps"].items[0].1, Loc { line: 7, col: 8 });
    }

    #[test]
    fn wrong_types_name_the_place_and_the_type() {
        let (r, _) = parse_str("[profile.ci]\nreps = '5'\n");
        let e = r.err().unwrap();
        let ConfigError::WrongType { at, key, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(
            (at.path.as_path(), at.line, at.col, *key),
            (Path::new("/p/kharness.toml"), 2, 8, "reps")
        );
        assert_eq!(
            e.to_string(),
            "/p/kharness.toml:2:8: `reps` must be an integer, not string"
        );
        let (r, _) = parse_str("[profile.ci]\nfilters = 'splice.*'\n");
        assert!(
            r.err()
                .unwrap()
                .to_string()
                .ends_with("`filters` must be an array of strings, not string")
        );
    }

    #[test]
    fn unknown_keys_warn_with_a_suggestion() {
        let (r, w) =
            parse_str("[profile.default]\ntimout = '5m'\nperf_mode = 'wallclock'\nzzz = 1\n");
        assert!(r.is_ok());
        assert_eq!(
            w,
            [
                "/p/kharness.toml:3:1: unknown key `perf_mode` in [profile.default]; did you mean `perf-mode`?",
                "/p/kharness.toml:2:1: unknown key `timout` in [profile.default]; did you mean `timeout`?",
                "/p/kharness.toml:4:1: unknown key `zzz` in [profile.default]",
            ]
        );
        let (_, w) = parse_str("reps = 3\n");
        assert_eq!(
            w,
            [
                "/p/kharness.toml:1:1: unknown key `reps`; settings go in a profile, e.g. under [profile.default]"
            ]
        );
    }
}
