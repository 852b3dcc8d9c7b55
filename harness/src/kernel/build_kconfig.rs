//! Kconfig files as data: reading `.config` files and fragments, merging
//! fragments onto a base, and checking which requested options kconfig
//! dropped (and, from the tree's Kconfig files, why).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The value of one option: `# CONFIG_X is not set` (or `=n`) is `Off`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionValue {
    Off,
    /// The text after `=`, as written (`y`, `m`, `64`, `"string"`).
    Set(String),
}

impl OptionValue {
    fn from_text(v: &str) -> Self {
        if v == "n" {
            OptionValue::Off
        } else {
            OptionValue::Set(v.to_owned())
        }
    }

    /// The `.config` line that gives `name` this value.
    pub fn config_line(&self, name: &str) -> String {
        match self {
            OptionValue::Off => format!("# CONFIG_{name} is not set"),
            OptionValue::Set(v) => format!("CONFIG_{name}={v}"),
        }
    }
}

/// One line of a config file that names an option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigLine {
    /// Without the `CONFIG_` prefix.
    pub name: String,
    pub value: OptionValue,
    /// 1-based line number in the file it came from.
    pub line: usize,
}

/// A line that is neither an option, a comment nor blank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub line: usize,
    pub text: String,
}

/// Parses `.config` or fragment text. Comments other than
/// `# CONFIG_X is not set` and blank lines are skipped; anything else that
/// is not `CONFIG_X=value` is an error, so a typo in a fragment is caught
/// instead of being ignored by kconfig.
pub fn parse(text: &str) -> Result<Vec<ConfigLine>, BadLine> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let t = raw.trim();
        if t.is_empty() {
            continue;
        }
        if let Some(comment) = t.strip_prefix('#') {
            if let Some(name) = comment
                .trim()
                .strip_prefix("CONFIG_")
                .and_then(|r| r.strip_suffix(" is not set"))
                .filter(|n| is_symbol(n))
            {
                out.push(ConfigLine {
                    name: name.to_owned(),
                    value: OptionValue::Off,
                    line,
                });
            }
            continue;
        }
        let parsed = t
            .strip_prefix("CONFIG_")
            .and_then(|r| r.split_once('='))
            .filter(|(n, v)| is_symbol(n) && !v.is_empty());
        match parsed {
            Some((name, value)) => out.push(ConfigLine {
                name: name.to_owned(),
                value: OptionValue::from_text(value),
                line,
            }),
            None => {
                return Err(BadLine {
                    line,
                    text: raw.to_owned(),
                });
            }
        }
    }
    Ok(out)
}

fn is_symbol(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// The options of a final `.config`, by name.
pub fn to_map(lines: &[ConfigLine]) -> BTreeMap<String, OptionValue> {
    lines
        .iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect()
}

/// What the fragments ask for: the last word on each option, and where it
/// was said.
#[derive(Debug, Clone, Default)]
pub struct Requests {
    by_name: BTreeMap<String, Request>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub value: OptionValue,
    /// The fragment (as shown to people) and line that set it last.
    pub origin: String,
    pub line: usize,
}

impl Requests {
    /// Adds one fragment; later fragments override earlier ones, as they
    /// do for kconfig.
    pub fn add(&mut self, origin: &str, lines: &[ConfigLine]) {
        for l in lines {
            self.by_name.insert(
                l.name.clone(),
                Request {
                    value: l.value.clone(),
                    origin: origin.to_owned(),
                    line: l.line,
                },
            );
        }
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// The text to append to a base `.config` so that kconfig (which lets
    /// the last assignment win) takes every request.
    pub fn as_config_text(&self) -> String {
        let mut s = String::from("\n# kharness fragments\n");
        for (name, r) in &self.by_name {
            s.push_str(&r.value.config_line(name));
            s.push('\n');
        }
        s
    }

    /// Every request the final config does not honour.
    pub fn unmet(&self, fin: &BTreeMap<String, OptionValue>) -> Vec<Dropped> {
        let mut out = Vec::new();
        for (name, r) in &self.by_name {
            let got = fin.get(name);
            let ok = match (&r.value, got) {
                (OptionValue::Off, None | Some(OptionValue::Off)) => true,
                (want, Some(have)) => want == have,
                (OptionValue::Set(_), None) => false,
            };
            if !ok {
                out.push(Dropped {
                    name: name.clone(),
                    wanted: r.value.clone(),
                    got: got.cloned(),
                    origin: r.origin.clone(),
                    line: r.line,
                    why: None,
                });
            }
        }
        out
    }
}

/// A requested option the final `.config` does not have as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub name: String,
    pub wanted: OptionValue,
    /// `None`: not in `.config` at all (no such symbol, or its menu is off).
    pub got: Option<OptionValue>,
    pub origin: String,
    pub line: usize,
    /// What the tree's Kconfig files say about it, when looked up.
    pub why: Option<String>,
}

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let got = match &self.got {
            None => "absent from .config".to_owned(),
            Some(v) => v.config_line(&self.name),
        };
        let wanted = self.wanted.config_line(&self.name);
        write!(f, "{wanted} ({}:{}): got {got}", self.origin, self.line)?;
        if let Some(why) = &self.why {
            write!(f, "; {why}")?;
        }
        Ok(())
    }
}

/// Where a symbol is defined and what it depends on, from the Kconfig files
/// under `source`, with the dependencies that are off in `fin` named.
/// Only called when something was dropped, so walking the tree is fine.
pub fn explain(source: &Path, fin: &BTreeMap<String, OptionValue>, name: &str) -> String {
    let mut found: Vec<(PathBuf, usize, Vec<String>)> = Vec::new();
    let mut stack = vec![source.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            let p = e.path();
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() && e.file_name().to_string_lossy().starts_with("Kconfig") {
                if let Ok(text) = std::fs::read_to_string(&p) {
                    for (line, conds) in definitions(&text, name) {
                        let rel = p.strip_prefix(source).unwrap_or(&p).to_path_buf();
                        found.push((rel, line, conds));
                    }
                }
            }
        }
    }
    if found.is_empty() {
        return format!("no `config {name}` in this tree's Kconfig files (renamed or removed?)");
    }
    found.sort();
    let mut parts = Vec::new();
    for (path, line, conds) in found {
        let mut s = format!("defined at {}:{line}", path.display());
        if !conds.is_empty() {
            s.push_str(&format!("; needs {}", conds.join(" and ")));
            let against = blockers(&conds, fin);
            if !against.is_empty() {
                s.push_str(&format!(" (here {})", against.join(", ")));
            }
        }
        parts.push(s);
    }
    parts.join("; ")
}

/// For each `config NAME`/`menuconfig NAME` entry in one Kconfig file: its
/// line and the conditions on it (enclosing `if` blocks of that file,
/// `depends on`, and `if` on its prompt).
fn definitions(text: &str, name: &str) -> Vec<(usize, Vec<String>)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut ifs: Vec<String> = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim();
        if let Some(c) = t.strip_prefix("if ") {
            ifs.push(strip_comment(c).to_owned());
            continue;
        }
        if t == "endif" || t.starts_with("endif ") || t.starts_with("endif#") {
            ifs.pop();
            continue;
        }
        let head = t
            .strip_prefix("config ")
            .or_else(|| t.strip_prefix("menuconfig "));
        if head.map(str::trim) != Some(name) {
            continue;
        }
        let mut conds = ifs.clone();
        for body in &lines[i + 1..] {
            let bt = body.trim();
            // The entry ends at the next unindented line.
            if !bt.is_empty() && !body.starts_with([' ', '\t']) {
                break;
            }
            if let Some(d) = bt.strip_prefix("depends on ") {
                conds.push(strip_comment(d).to_owned());
            } else if let Some(c) = prompt_condition(bt) {
                conds.push(c);
            }
        }
        out.push((i + 1, conds));
    }
    out
}

fn strip_comment(s: &str) -> &str {
    s.split('#').next().unwrap_or("").trim()
}

/// `bool "text" if COND` -> `COND`.
fn prompt_condition(t: &str) -> Option<String> {
    let rest = ["bool ", "tristate ", "prompt ", "int ", "hex ", "string "]
        .iter()
        .find_map(|k| t.strip_prefix(k))?;
    let rest = rest.trim_start().strip_prefix('"')?;
    let (_, after) = rest.split_once('"')?;
    after
        .trim()
        .strip_prefix("if ")
        .map(|c| c.trim().to_owned())
}

/// The symbols in `conds` whose value in `fin` works against them: a plain
/// `X` that is off, a `!X` that is on. Approximate for `||` expressions, but
/// it names the usual culprit.
fn blockers(conds: &[String], fin: &BTreeMap<String, OptionValue>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in conds {
        let bytes = c.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            if i == start {
                i += 1;
                continue;
            }
            let word = &c[start..i];
            if !is_symbol(word) || word.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let negated = c[..start].trim_end().ends_with('!');
            let on = matches!(fin.get(word), Some(OptionValue::Set(v)) if v == "y" || v == "m");
            let note = match (negated, on) {
                (false, false) => format!("{word} is off"),
                (true, true) => format!("{word} is on"),
                _ => continue,
            };
            if !out.contains(&note) {
                out.push(note);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_values_comments_and_unset() {
        let text = "#\n# Automatically generated\nCONFIG_A=y\n# CONFIG_B is not set\n\
                    CONFIG_C=\"quoted = text\"\nCONFIG_D=0x10\nCONFIG_E=n\n  # a comment\n";
        let lines = parse(text).unwrap();
        let got: Vec<(&str, OptionValue, usize)> = lines
            .iter()
            .map(|l| (l.name.as_str(), l.value.clone(), l.line))
            .collect();
        assert_eq!(
            got,
            [
                ("A", OptionValue::Set("y".into()), 3),
                ("B", OptionValue::Off, 4),
                ("C", OptionValue::Set("\"quoted = text\"".into()), 5),
                ("D", OptionValue::Set("0x10".into()), 6),
                ("E", OptionValue::Off, 7),
            ]
        );
    }

    #[test]
    fn rejects_lines_kconfig_would_ignore() {
        for bad in ["CONFIG_A", "A=y", "CONFIG_a=y", "CONFIG_A=", "CONFIG_=y"] {
            let err = parse(&format!("CONFIG_OK=y\n{bad}\n")).unwrap_err();
            assert_eq!(err.line, 2, "{bad}");
            assert_eq!(err.text, bad);
        }
    }

    #[test]
    fn later_fragments_win_and_merge_text_has_every_request() {
        let mut r = Requests::default();
        r.add("a.config", &parse("CONFIG_X=y\nCONFIG_Y=y\n").unwrap());
        r.add("b.config", &parse("# CONFIG_X is not set\n").unwrap());
        assert_eq!(r.len(), 2);
        let text = r.as_config_text();
        assert!(text.contains("# CONFIG_X is not set\n"), "{text}");
        assert!(text.contains("CONFIG_Y=y\n"), "{text}");
        let fin = to_map(&parse("CONFIG_Y=y\n").unwrap());
        assert!(r.unmet(&fin).is_empty());
    }

    #[test]
    fn unmet_names_dropped_forced_and_changed_options() {
        let mut r = Requests::default();
        r.add(
            "images/k.config",
            &parse("CONFIG_GONE=y\nCONFIG_OFF=y\n# CONFIG_FORCED is not set\nCONFIG_N=64\nCONFIG_OK=y\n")
                .unwrap(),
        );
        let fin = to_map(
            &parse("# CONFIG_OFF is not set\nCONFIG_FORCED=y\nCONFIG_N=32\nCONFIG_OK=y\n").unwrap(),
        );
        let unmet = r.unmet(&fin);
        let shown: Vec<String> = unmet.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            shown,
            [
                "# CONFIG_FORCED is not set (images/k.config:3): got CONFIG_FORCED=y",
                "CONFIG_GONE=y (images/k.config:1): got absent from .config",
                "CONFIG_N=64 (images/k.config:4): got CONFIG_N=32",
                "CONFIG_OFF=y (images/k.config:2): got # CONFIG_OFF is not set",
            ]
        );
    }

    #[test]
    fn explain_finds_definition_and_names_off_dependencies() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("fs/x")).unwrap();
        std::fs::write(
            dir.path().join("fs/x/Kconfig"),
            "config OTHER\n\tbool\n\nif BLK # a comment\nconfig WANTED\n\tbool \"wanted\" if EXPERT\n\
             \tdepends on NET && !SMALL\n\thelp\n\t  text\n\nendif # BLK\nconfig AFTER\n\tdepends on NOPE\n",
        )
        .unwrap();
        let fin =
            to_map(&parse("CONFIG_NET=y\n# CONFIG_EXPERT is not set\nCONFIG_SMALL=y\n").unwrap());
        assert_eq!(
            explain(dir.path(), &fin, "WANTED"),
            "defined at fs/x/Kconfig:5; needs BLK and EXPERT and NET && !SMALL (here BLK is off, EXPERT is off, SMALL is on)"
        );
        assert_eq!(
            explain(dir.path(), &fin, "AFTER"),
            "defined at fs/x/Kconfig:12; needs NOPE (here NOPE is off)"
        );
        assert_eq!(
            explain(dir.path(), &fin, "BASE_FULL"),
            "no `config BASE_FULL` in this tree's Kconfig files (renamed or removed?)"
        );
    }
}
