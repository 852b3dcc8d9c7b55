//! `kharness.toml`: settings from files, layered under the command line.
//!
//! Where a setting comes from, highest first: its flag, its `KHARNESS_*`
//! environment variable, the project file, the user file, the built-in
//! default. The project file is `--config FILE` or the first `kharness.toml`
//! found in the current directory or its parents; the user file is
//! `$XDG_CONFIG_HOME/kharness/config.toml` (else
//! `~/.config/kharness/config.toml`).
//!
//! Settings live in profiles, `[profile.NAME]`; a profile inherits
//! `[profile.default]` of the same file. The profile is `--profile NAME`,
//! else `$KHARNESS_PROFILE`, else `ci` when `$CI` is set (as GitHub Actions
//! and GitLab CI set it), else `default`.
//!
//! clap stays the one parser of values: a file's value becomes the default
//! of the argument it configures, so clap's own precedence (flag, then
//! environment, then default) does the layering, and the value is checked
//! by the same parser as the flag. Each key is one line of [`KEYS`].

mod error;
mod keys;
mod load;
mod show;

pub use error::{ConfigError, Place};
pub use keys::{KEYS, Key, Ty};
pub use load::{Env, Failure, Layers, Level, Origin, Selection, ci_says_yes, load, parse};
pub use show::show;

/// The project file's name.
pub const PROJECT_FILE: &str = "kharness.toml";
