//! `kharness config show`: every effective setting and where it came from.

use clap::CommandFactory;
use clap::parser::ValueSource;

use super::PROJECT_FILE;
use super::error::ConfigError;
use super::keys::{KEYS, Key, Ty};
use super::load::{
    Env, Layers, Level, Origin, all_optional, apply, has_arg, load, selection, validate, why,
};

/// A value as TOML would write it.
pub(super) fn shown(ty: Ty, raw: &str) -> String {
    match ty {
        Ty::Int | Ty::Float | Ty::Duration if raw.parse::<f64>().is_ok() => raw.to_owned(),
        _ => toml::Value::String(raw.to_owned()).to_string(),
    }
}

/// `kharness config show [COMMAND ARGS...]`: every key's effective value
/// and where it came from, as TOML with the origin in a comment. With a
/// command line, the values that command would run with (its flags
/// included); without, every key from the environment and files.
pub fn show<T: CommandFactory>(
    command_line: &[String],
    outer: &Layers,
) -> Result<String, ConfigError> {
    let cmd = T::command();
    let mut layers = outer.clone();
    let mut argv: Vec<String> = vec!["kharness".into()];
    argv.extend(command_line.iter().cloned());
    if !command_line.is_empty() {
        let m = all_optional(cmd.clone())
            .try_get_matches_from(&argv)
            .map_err(|e| ConfigError::ShowCommandLine { why: why(&e) })?;
        // The command line's own --config / --profile win over those
        // `config show` itself was given.
        let (config, profile) = selection(&m, true);
        if config.is_some() || profile.is_some() {
            let profile = profile.or_else(|| match &outer.profile_origin {
                Origin::Flag(_) | Origin::Env(_) => {
                    Some((outer.profile.clone(), outer.profile_origin.clone()))
                }
                _ => None,
            });
            let config = config.or_else(|| outer.config_flag.clone());
            layers = load(config.as_deref(), profile, &Env::from_process())?;
        }
    }
    validate(&cmd, &layers)?;
    let full = all_optional(apply(cmd.clone(), &layers));
    let mut rows: Vec<(Key, Option<Vec<String>>, Origin)> = Vec::new();
    let commands: Vec<Vec<String>> = if command_line.is_empty() {
        cmd.get_subcommands()
            .filter(|s| KEYS.iter().any(|k| has_arg(s, k.arg)))
            .map(|s| vec!["kharness".to_owned(), s.get_name().to_owned()])
            .collect()
    } else {
        vec![argv]
    };
    for argv in commands {
        let m = full
            .clone()
            .try_get_matches_from(&argv)
            .map_err(|e| ConfigError::ShowCommandLine { why: why(&e) })?;
        let Some((name, sm)) = m.subcommand() else {
            continue;
        };
        let Some(sub) = full.find_subcommand(name) else {
            continue;
        };
        for k in KEYS {
            if rows.iter().any(|(r, _, _)| r.name == k.name) {
                continue;
            }
            let Some(arg) = sub.get_arguments().find(|a| a.get_id() == k.arg) else {
                continue;
            };
            let vals = sm.get_raw(k.arg).map(|r| {
                r.map(|v| v.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
            });
            let origin = match sm.value_source(k.arg) {
                Some(ValueSource::CommandLine) => Origin::Flag(match arg.get_long() {
                    Some(l) => format!("--{l}"),
                    None => format!("<{}>", k.arg.to_uppercase()),
                }),
                Some(ValueSource::EnvVariable) => Origin::Env(
                    arg.get_env()
                        .map(|e| e.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                ),
                _ => layers
                    .values
                    .get(k.name)
                    .map_or(Origin::Default, |v| v.origin.clone()),
            };
            rows.push((*k, vals, origin));
        }
    }
    rows.sort_by_key(|(k, _, _)| KEYS.iter().position(|x| x.name == k.name));
    Ok(render(&layers, &rows))
}

fn render(layers: &Layers, rows: &[(Key, Option<Vec<String>>, Origin)]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# profile: {} ({})",
        layers.profile, layers.profile_origin
    );
    if !layers.files.iter().any(|(l, _, _)| *l == Level::Project) {
        let _ = writeln!(s, "# project file: none ({PROJECT_FILE} not found)");
    }
    for (level, path, exists) in &layers.files {
        let note = if *exists { "" } else { " (none)" };
        let _ = writeln!(s, "# {level} file: {}{note}", path.display());
    }
    let lines: Vec<(String, String)> = rows
        .iter()
        .map(|(k, vals, origin)| {
            let text = match vals {
                None => format!("# {} is not set", k.name),
                Some(v) if k.list => format!(
                    "{} = [{}]",
                    k.name,
                    v.iter()
                        .map(|x| shown(k.ty, x))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Some(v) => format!(
                    "{} = {}",
                    k.name,
                    shown(k.ty, v.first().map_or("", |x| x.as_str()))
                ),
            };
            (text, origin.to_string())
        })
        .collect();
    let w = lines
        .iter()
        .map(|(t, _)| t.chars().count())
        .max()
        .unwrap_or(0);
    for (text, origin) in lines {
        let pad = w - text.chars().count();
        let _ = writeln!(s, "{text}{}  # {origin}", " ".repeat(pad));
    }
    s
}
