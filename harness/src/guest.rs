//! The guest binary on the host side: find it (installed beside kharness,
//! in the checkout it was built in, or given), build it only when asked,
//! check it is static, and read its catalogue.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use kharness_record::TestInfo;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ExitCode, Result};

/// Why the guest binary could not be found, built or listed.
#[derive(Debug, thiserror::Error)]
pub enum GuestError {
    #[error("cannot find own executable: {0}")]
    OwnExe(std::io::Error),
    #[error(
        "no kharness-guest binary found (looked for {}); install kharness with `ci/install.sh PREFIX`, \
         run ci/setup.sh in a kharness checkout (or pass --rebuild-guest there), or pass --guest PATH",
        looked.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    NotFound { looked: Vec<PathBuf> },
    #[error(
        "--rebuild-guest needs the kharness sources, and none are at {}",
        looked.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" or ")
    )]
    NoSources { looked: Vec<PathBuf> },
    #[error("--rebuild-guest needs cargo, and it is not on PATH")]
    NoCargo,
    #[error("failed to run cargo: {0}")]
    CargoSpawn(std::io::Error),
    #[error("building the guest failed ({status}): {command}\n{log_tail}")]
    BuildFailed {
        status: std::process::ExitStatus,
        command: String,
        log_tail: String,
    },
    #[error("failed to run {} list: {source}", guest.display())]
    ListSpawn {
        guest: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "no test matches filter {}; `kharness list` shows the catalogue",
        quoted(filters)
    )]
    NoMatch { filters: Vec<String> },
    #[error("{} list failed ({status}): {stderr_tail}", guest.display())]
    ListFailed {
        guest: PathBuf,
        status: std::process::ExitStatus,
        stderr_tail: String,
    },
    #[error("guest catalogue line is not valid JSON ({why}): {line}")]
    BadCatalogue {
        why: serde_json::Error,
        line: String,
    },
}

impl crate::error::OpError for GuestError {
    /// A filter that selects nothing is the user's; the rest is the
    /// machine's.
    fn exit_code(&self) -> ExitCode {
        match self {
            GuestError::NoMatch { .. } => ExitCode::Usage,
            _ => ExitCode::Infra,
        }
    }
}

fn quoted(filters: &[String]) -> String {
    filters
        .iter()
        .map(|f| format!("'{f}'"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The target the guest is built for: glibc with `+crt-static`, the one
/// static option on machines without the musl target.
pub const GUEST_TARGET: &str = "x86_64-unknown-linux-gnu";
pub const GUEST_RUSTFLAGS: &str = "-C target-feature=+crt-static";
/// The guest's file name wherever it lives.
pub const GUEST_NAME: &str = "kharness-guest";

/// The guest binary a run uses.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GuestBinary {
    pub path: PathBuf,
    pub sha256: String,
    /// How it was built, when kharness built it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_command: Option<String>,
}

/// Which guest binary to use: a fresh build when asked for, else the one
/// given, else the first of [`candidates`] that exists.
#[derive(Debug, Clone, Copy, Default)]
pub struct Want<'a> {
    /// `--guest` (or `KHARNESS_GUEST`, or `guest` in kharness.toml).
    pub given: Option<&'a Path>,
    /// `--rebuild-guest`: run cargo in the kharness sources first.
    pub rebuild: bool,
}

/// The rule that chose a guest binary (what `kharness doctor` says).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// `--guest`, `KHARNESS_GUEST` or `guest` in kharness.toml.
    Given,
    /// `--rebuild-guest`: cargo built it in these kharness sources.
    Rebuilt { sources: PathBuf },
    /// `PREFIX/lib/kharness/kharness-guest` for `PREFIX/bin/kharness`.
    Installed,
    /// `target/x86_64-unknown-linux-gnu/release/kharness-guest` for
    /// `target/{release,debug}/kharness` (what ci/setup.sh builds).
    Checkout,
    /// In the same directory as kharness (CI artifacts copied together).
    Beside,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Given => f.write_str("given by --guest, KHARNESS_GUEST or `guest` in kharness.toml"),
            Rule::Rebuilt { sources } => {
                write!(f, "built from {} (--rebuild-guest)", sources.display())
            }
            Rule::Installed => f.write_str("installed with kharness: PREFIX/lib/kharness beside PREFIX/bin"),
            Rule::Checkout => f.write_str(
                "the checkout's static build, target/x86_64-unknown-linux-gnu/release beside kharness's target/<profile>",
            ),
            Rule::Beside => f.write_str("in the directory of the kharness binary"),
        }
    }
}

/// A guest binary and the rule that found it.
#[derive(Debug, Clone)]
pub struct Found {
    pub guest: GuestBinary,
    pub rule: Rule,
}

/// The places a kharness in `exe_dir` looks for its guest, in order.
pub fn candidates(exe_dir: &Path) -> Vec<(Rule, PathBuf)> {
    let parent = exe_dir.parent().unwrap_or(exe_dir);
    vec![
        (
            Rule::Installed,
            parent.join("lib").join("kharness").join(GUEST_NAME),
        ),
        (
            Rule::Checkout,
            parent.join(GUEST_TARGET).join("release").join(GUEST_NAME),
        ),
        (Rule::Beside, exe_dir.join(GUEST_NAME)),
    ]
}

/// The kharness sources a `--rebuild-guest` builds: the checkout holding
/// the running binary (`target/<profile>/kharness`), else the workspace it
/// was compiled from, when either is still there.
fn sources(exe_dir: &Path) -> std::result::Result<PathBuf, Vec<PathBuf>> {
    let mut looked = Vec::new();
    let beside = exe_dir.parent().and_then(Path::parent).map(Path::to_owned);
    let compiled = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_owned);
    for ws in beside.into_iter().chain(compiled) {
        if ws.join("Cargo.toml").is_file() && ws.join("guest-tests/Cargo.toml").is_file() {
            return Ok(ws);
        }
        if !looked.contains(&ws) {
            looked.push(ws);
        }
    }
    Err(looked)
}

/// The running binary's directory.
fn exe_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().map_err(GuestError::OwnExe)?;
    Ok(exe.parent().unwrap_or(Path::new(".")).to_owned())
}

/// The sources `--rebuild-guest` would build in, when they and cargo are
/// there.
pub fn rebuild_sources() -> Result<PathBuf> {
    let ws = sources(&exe_dir()?).map_err(|looked| GuestError::NoSources { looked })?;
    if crate::support::paths::which("cargo").is_none() {
        return Err(GuestError::NoCargo.into());
    }
    Ok(ws)
}

/// The argv that builds the static guest, and the environment it needs.
pub fn build_command() -> (Vec<String>, [(&'static str, &'static str); 1]) {
    (
        [
            "cargo",
            "build",
            "--release",
            "--locked",
            "-p",
            "kharness-guest",
            "--target",
            GUEST_TARGET,
        ]
        .map(String::from)
        .to_vec(),
        [("RUSTFLAGS", GUEST_RUSTFLAGS)],
    )
}

/// The guest binary `want` asks for; see [`find`].
pub fn locate(want: Want<'_>, quiet: bool) -> Result<GuestBinary> {
    find(want, quiet).map(|f| f.guest)
}

/// Finds the guest binary: with `rebuild`, builds it with cargo in the
/// kharness sources; else the one given; else the first of [`candidates`]
/// beside the running binary. Never runs cargo unless asked.
pub fn find(want: Want<'_>, quiet: bool) -> Result<Found> {
    let found = |guest, rule| Found { guest, rule };
    if want.rebuild {
        let ws = rebuild_sources()?;
        return build_in(&ws, quiet).map(|g| found(g, Rule::Rebuilt { sources: ws }));
    }
    if let Some(p) = want.given {
        return describe(p, None).map(|g| found(g, Rule::Given));
    }
    let cands = candidates(&exe_dir()?);
    for (rule, path) in &cands {
        if path.is_file() {
            return describe(path, None).map(|g| found(g, rule.clone()));
        }
    }
    Err(GuestError::NotFound {
        looked: cands.into_iter().map(|(_, p)| p).collect(),
    }
    .into())
}

fn build_in(ws: &Path, quiet: bool) -> Result<GuestBinary> {
    let (argv, env) = build_command();
    if !quiet {
        eprintln!("kharness: building the guest binary (static, {GUEST_TARGET})");
    }
    let log = tempfile::NamedTempFile::new()
        .map_err(|e| Error::io("failed to create", std::env::temp_dir(), e))?;
    let stderr = log
        .reopen()
        .map_err(|e| Error::io("failed to open", log.path(), e))?;
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]).envs(env).current_dir(ws);
    // Supervised: Ctrl-C stops cargo and its compilers with it.
    let sup = crate::support::process::supervise(
        &mut cmd,
        std::process::Stdio::null(),
        stderr,
        crate::support::process::Stop {
            limit: None,
            cancel: Some(crate::support::process::interrupt_flag()),
        },
        || {},
    )
    .map_err(GuestError::CargoSpawn)?;
    if sup.interrupted {
        return Err(Error::Interrupted);
    }
    let status = sup.status;
    if !status.success() {
        let text = std::fs::read_to_string(log.path()).unwrap_or_default();
        return Err(GuestError::BuildFailed {
            status,
            command: crate::support::quote::sh_join(&argv),
            log_tail: tail(&text, 20),
        }
        .into());
    }
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| ws.join("target"));
    let path = target_dir
        .join(GUEST_TARGET)
        .join("release")
        .join("kharness-guest");
    let cmd = format!(
        "RUSTFLAGS='{GUEST_RUSTFLAGS}' {}",
        crate::support::quote::sh_join(&argv)
    );
    describe(&path, Some(cmd))
}

fn describe(path: &Path, build_command: Option<String>) -> Result<GuestBinary> {
    let bad = |why: String| Error::BadInput {
        path: path.to_owned(),
        why,
    };
    let mut f =
        std::fs::File::open(path).map_err(|e| bad(format!("cannot open guest binary: {e}")))?;
    let mut head = Vec::new();
    (&mut f)
        .take(64 * 1024)
        .read_to_end(&mut head)
        .map_err(|e| bad(format!("cannot read: {e}")))?;
    match elf_interp(&head) {
        Err(why) => return Err(bad(format!("not a usable guest binary: {why}"))),
        Ok(Some(interp)) => {
            return Err(bad(format!(
                "guest binary is dynamically linked (interpreter {interp}); build it with RUSTFLAGS='{GUEST_RUSTFLAGS}'"
            )));
        }
        Ok(None) => {}
    }
    let mut f = std::fs::File::open(path).map_err(|e| bad(format!("cannot open: {e}")))?;
    let sha256 = crate::support::hash::sha256_reader(&mut f)
        .map_err(|e| bad(format!("cannot read: {e}")))?;
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    Ok(GuestBinary {
        path,
        sha256,
        build_command,
    })
}

/// The PT_INTERP of a 64-bit little-endian ELF, `None` for a static binary.
pub fn elf_interp(head: &[u8]) -> std::result::Result<Option<String>, String> {
    if head.len() < 64 || &head[..4] != b"\x7fELF" {
        return Err("not an ELF file".into());
    }
    if head[4] != 2 || head[5] != 1 {
        return Err("not a 64-bit little-endian ELF".into());
    }
    let u16_at = |o: usize| u16::from_le_bytes([head[o], head[o + 1]]) as usize;
    let u64_at = |o: usize| -> usize {
        let mut b = [0u8; 8];
        b.copy_from_slice(&head[o..o + 8]);
        u64::from_le_bytes(b) as usize
    };
    let (phoff, phentsize, phnum) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
    for i in 0..phnum {
        let o = phoff + i * phentsize;
        if o + 0x28 > head.len() {
            return Err("program headers lie beyond the first 64 KiB".into());
        }
        let p_type = u32::from_le_bytes([head[o], head[o + 1], head[o + 2], head[o + 3]]);
        if p_type == 3 {
            let (off, size) = (u64_at(o + 8), u64_at(o + 0x20));
            let s = head.get(off..off + size).unwrap_or_default();
            return Ok(Some(
                String::from_utf8_lossy(s).trim_end_matches('\0').to_owned(),
            ));
        }
    }
    Ok(None)
}

/// The tests `filters` select, asked of the guest binary itself (run
/// natively: listing touches no kernel feature). No match is a usage error.
pub fn catalogue(guest: &GuestBinary, filters: &[String]) -> Result<Vec<TestInfo>> {
    let out = crate::support::process::output(
        Command::new(&guest.path)
            .arg("list")
            .arg("--json")
            .arg("--")
            .args(filters),
    )
    .map_err(|source| GuestError::ListSpawn {
        guest: guest.path.clone(),
        source,
    })?;
    if out.status.code() == Some(2) {
        return Err(GuestError::NoMatch {
            filters: filters.to_vec(),
        }
        .into());
    }
    if !out.status.success() {
        return Err(GuestError::ListFailed {
            guest: guest.path.clone(),
            status: out.status,
            stderr_tail: tail(&String::from_utf8_lossy(&out.stderr), 5),
        }
        .into());
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).map_err(|why| {
                GuestError::BadCatalogue {
                    why,
                    line: l.to_owned(),
                }
                .into()
            })
        })
        .collect()
}

/// The last `n` lines of `s`.
pub use crate::support::text::tail;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_installed_kharness_looks_in_its_prefix_then_its_checkout_then_beside_it() {
        let paths = |dir: &str| -> Vec<(Rule, String)> {
            candidates(Path::new(dir))
                .into_iter()
                .map(|(r, p)| (r, p.display().to_string()))
                .collect()
        };
        assert_eq!(
            paths("/opt/kh/bin"),
            [
                (
                    Rule::Installed,
                    "/opt/kh/lib/kharness/kharness-guest".into()
                ),
                (
                    Rule::Checkout,
                    "/opt/kh/x86_64-unknown-linux-gnu/release/kharness-guest".into()
                ),
                (Rule::Beside, "/opt/kh/bin/kharness-guest".into()),
            ]
        );
        // target/debug/kharness (the tests') finds the static release
        // build ci/setup.sh made.
        assert_eq!(
            paths("/src/kharness/target/debug")[1].1,
            "/src/kharness/target/x86_64-unknown-linux-gnu/release/kharness-guest"
        );
    }

    #[test]
    fn a_missing_guest_names_where_it_looked_and_how_to_get_one() {
        let e = GuestError::NotFound {
            looked: candidates(Path::new("/opt/kh/bin"))
                .into_iter()
                .map(|(_, p)| p)
                .collect(),
        };
        let text = e.to_string();
        for want in [
            "/opt/kh/lib/kharness/kharness-guest",
            "/opt/kh/bin/kharness-guest",
            "ci/install.sh",
            "ci/setup.sh",
            "--rebuild-guest",
            "--guest PATH",
        ] {
            assert!(text.contains(want), "{want} not in: {text}");
        }
        use crate::error::OpError;
        assert_eq!(e.exit_code(), ExitCode::Infra);
    }

    #[test]
    fn elf_interp_of_real_binaries() {
        let sh = std::fs::read("/bin/sh").unwrap();
        let interp = elf_interp(&sh[..sh.len().min(65536)]).unwrap();
        assert!(interp.unwrap().contains("ld-linux"));
        assert!(elf_interp(b"#!/bin/sh\n").is_err());
    }
}
