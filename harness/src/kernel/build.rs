//! Kernel builds from source: `tinyconfig` plus config fragments, checked
//! so that an option kconfig drops is an error; out-of-tree build
//! directories keyed by (source, final config) under the cache, so a
//! rebuild is incremental; ccache when installed.
//!
//! The source tree is only read: everything goes to `make O=<build dir>`,
//! which kbuild refuses to do on a tree that has build output in it, so that
//! is checked first with a clear message.

#[path = "build_kconfig.rs"]
pub mod kconfig;
#[path = "build_make.rs"]
mod make;

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crate::support::hash::sha256_hex;

use self::kconfig::{Dropped, Requests};
use self::make::MakeCommand;
pub use self::make::{BuildPhase, BuildProgress, SCRUBBED_ENV};

/// The fragment kharness ships, `images/kharness.config`, built into the
/// binary so an installed kharness needs no checkout. Used when a spec names
/// no fragments.
pub const DEFAULT_FRAGMENT: &str = include_str!("../../../images/kharness.config");
/// How the embedded fragment is named in messages.
pub const DEFAULT_FRAGMENT_NAME: &str = "images/kharness.config";
/// The only architecture the VM backends boot.
const ARCH: &str = "x86_64";
/// The image `make bzImage` leaves, relative to the build directory.
pub const BZIMAGE: &str = "arch/x86/boot/bzImage";
/// At most this many error lines from a failed build go into the error.
const MAX_ERROR_LINES: usize = 20;

/// What to build and how.
#[derive(Debug, Clone)]
pub struct BuildSpec {
    /// A kernel source tree; only read.
    pub source: PathBuf,
    /// Fragments merged onto `tinyconfig` after [`DEFAULT_FRAGMENT`], in
    /// order (later ones win).
    pub fragments: Vec<PathBuf>,
    /// `make -j`.
    pub jobs: usize,
    /// Compile through ccache when it is on PATH.
    pub ccache: bool,
    /// Where keyed build directories go; see [`default_cache_dir`].
    pub cache_dir: PathBuf,
    /// Build here instead of the keyed directory under `cache_dir`.
    pub build_dir: Option<PathBuf>,
    /// Put the keyed build directories (and the configure scratch) here
    /// instead of under `cache_dir`. A scratch tree kharness owns passes
    /// a sibling of the tree: every such tree then sits at the same
    /// relative place from its build directory, and with
    /// `CCACHE_BASEDIR` set to their common parent ccache hashes the same
    /// command lines for two copies of a tree at different paths.
    pub build_root: Option<PathBuf>,
    /// The make program.
    pub make: PathBuf,
    /// Set by the caller (e.g. on Ctrl-C) to stop a running make.
    pub cancel: Option<Arc<AtomicBool>>,
}

impl BuildSpec {
    /// The embedded fragment, all cores, ccache if installed, the default
    /// cache directory.
    pub fn new(source: impl Into<PathBuf>) -> Self {
        BuildSpec {
            source: source.into(),
            fragments: Vec::new(),
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            ccache: true,
            cache_dir: default_cache_dir()
                .unwrap_or_else(|| std::env::temp_dir().join("kharness").join("builds")),
            build_dir: None,
            build_root: None,
            make: "make".into(),
            cancel: None,
        }
    }
}

/// `$KHARNESS_CACHE_DIR/builds`, else `$XDG_CACHE_HOME/kharness/builds`,
/// else `~/.cache/kharness/builds`.
pub fn default_cache_dir() -> Option<PathBuf> {
    crate::support::paths::cache_dir().map(|d| d.join("builds"))
}

/// A configured build directory, ready for [`build`]. Holds the lock on its
/// source's cache entry until dropped, so two kharness processes never
/// configure or build the same tree at once.
#[derive(Debug)]
pub struct Configured {
    /// The source tree, canonical.
    pub source: PathBuf,
    pub build_dir: PathBuf,
    /// The final `.config` in `build_dir`.
    pub config: PathBuf,
    /// sha256 of the final `.config`, hex.
    pub config_hash: String,
    /// How many options the fragments asked for (all honoured).
    pub requested: usize,
    /// Whether make runs with `CC="ccache gcc"`.
    pub ccache: bool,
    pub elapsed: Duration,
    _lock: File,
}

/// A finished build.
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    pub bzimage: PathBuf,
    pub config_hash: String,
    pub build_dir: PathBuf,
    /// make's output.
    pub log: PathBuf,
    pub elapsed: Duration,
    /// kbuild steps (`CC`, `LD`, ...) this build ran: 0-ish for a no-change
    /// rebuild.
    pub steps: usize,
    pub ccache: bool,
    /// Where the build's wall time went, phase by phase.
    pub phases: Vec<BuildPhase>,
}

/// Why a kernel could not be configured or built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{} is not a kernel source tree: {why}", path.display())]
    NotASourceTree { path: PathBuf, why: String },
    #[error(
        "kernel source {} holds build output ({found} exists), and out-of-tree builds need a \
         clean tree: run `make mrproper` in it, or use a clean copy",
        tree.display()
    )]
    SourceNotClean { tree: PathBuf, found: String },
    #[error("read config fragment {}", path.display())]
    ReadFragment {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{origin}:{line}: not a kconfig line: {text:?} (expected `CONFIG_NAME=value` or \
         `# CONFIG_NAME is not set`)"
    )]
    BadFragmentLine {
        origin: String,
        line: usize,
        text: String,
    },
    #[error(
        "configure {}: kconfig did not take {} option(s) the fragments ask for (a dependency is \
         off, or the option does not exist in this tree); final config: {}\n{}",
        tree.display(),
        dropped.len(),
        config.display(),
        dropped.iter().map(|d| format!("  - {d}")).collect::<Vec<_>>().join("\n")
    )]
    Dropped {
        tree: PathBuf,
        config: PathBuf,
        dropped: Vec<Dropped>,
    },
    #[error("run {}", program.display())]
    Spawn {
        program: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "`{command}` failed with {status}; full log: {}\n{}",
        log.display(),
        errors.iter().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n")
    )]
    Make {
        command: String,
        status: String,
        log: PathBuf,
        errors: Vec<String>,
    },
    #[error("make finished without error but left no {}", path.display())]
    NoImage { path: PathBuf },
    #[error("{what} {}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("build interrupted")]
    Interrupted,
}

impl BuildError {
    fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        BuildError::Io {
            what,
            path: path.into(),
            source,
        }
    }
}

impl crate::error::OpError for BuildError {
    /// Bad trees and fragments are input errors (exit 2); a failing make
    /// is an infrastructure failure (exit 3).
    fn exit_code(&self) -> crate::error::ExitCode {
        use crate::error::ExitCode;
        match self {
            BuildError::NotASourceTree { .. }
            | BuildError::SourceNotClean { .. }
            | BuildError::BadFragmentLine { .. }
            | BuildError::Dropped { .. }
            | BuildError::ReadFragment { .. } => ExitCode::Usage,
            BuildError::Io { .. }
            | BuildError::Interrupted
            | BuildError::Spawn { .. }
            | BuildError::Make { .. }
            | BuildError::NoImage { .. } => ExitCode::Infra,
        }
    }

    fn interrupted(&self) -> bool {
        matches!(self, BuildError::Interrupted)
    }
}

/// Configures then builds; see [`configure`] and [`build`].
pub fn configure_and_build(
    spec: &BuildSpec,
    progress: &mut dyn FnMut(&BuildProgress),
) -> Result<Built, BuildError> {
    let configured = configure(spec, progress)?;
    build(spec, &configured, progress)
}

/// `make tinyconfig`, the fragments merged on top, `make olddefconfig`; then
/// checks every option the fragments set came out as set, and puts the
/// final `.config` in the build directory for (source, config hash).
pub fn configure(
    spec: &BuildSpec,
    progress: &mut dyn FnMut(&BuildProgress),
) -> Result<Configured, BuildError> {
    let started = Instant::now();
    let source = check_source(&spec.source)?;
    let requests = read_fragments(&spec.fragments)?;
    let ccache = spec.ccache && crate::support::paths::which("ccache").is_some();

    let entry = match &spec.build_root {
        Some(root) => root.clone(),
        None => spec.cache_dir.join(source_key(&source)),
    };
    std::fs::create_dir_all(&entry)
        .map_err(|e| BuildError::io("create build cache directory", &entry, e))?;
    let lock = lock(&entry.join("lock"), spec.cancel.as_deref())?;

    // Configure in a scratch directory of this source's cache entry: the
    // config hash, hence the build directory, is known only at the end.
    let staging = entry.join("configure");
    std::fs::create_dir_all(&staging)
        .map_err(|e| BuildError::io("create configure directory", &staging, e))?;
    let dot_config = staging.join(".config");
    // The same Kconfig files, fragments and toolchain give the same
    // .config: a patch step that touches no Kconfig file skips both make
    // runs (5.7 s a step on an idle 2-core machine, 10-24 s under load).
    let remembered = configure_key(&source, &requests.as_config_text())
        .map(|key| entry.join("configured").join(format!("{key}.config")));
    let final_bytes = match remembered.as_ref().and_then(|p| std::fs::read(p).ok()) {
        Some(bytes) => bytes,
        None => {
            run_make(spec, &source, &staging, ccache, "tinyconfig", progress)?;
            let mut text = std::fs::read_to_string(&dot_config)
                .map_err(|e| BuildError::io("read tinyconfig's", &dot_config, e))?;
            text.push_str(&requests.as_config_text());
            std::fs::write(&dot_config, text)
                .map_err(|e| BuildError::io("write merged config", &dot_config, e))?;
            run_make(spec, &source, &staging, ccache, "olddefconfig", progress)?;
            std::fs::read(&dot_config)
                .map_err(|e| BuildError::io("read final config", &dot_config, e))?
        }
    };
    let final_text = String::from_utf8_lossy(&final_bytes);
    let fin =
        kconfig::to_map(
            &kconfig::parse(&final_text).map_err(|b| BuildError::BadFragmentLine {
                origin: dot_config.display().to_string(),
                line: b.line,
                text: b.text,
            })?,
        );
    let mut dropped = requests.unmet(&fin);
    if !dropped.is_empty() {
        for d in &mut dropped {
            d.why = Some(kconfig::explain(&source, &fin, &d.name));
        }
        return Err(BuildError::Dropped {
            tree: source,
            config: dot_config,
            dropped,
        });
    }
    let config_hash = sha256_hex(&final_bytes);
    if let Some(p) = &remembered {
        // Only a .config whose every request held is remembered; best
        // effort: without it the next step configures again.
        if !p.is_file() {
            let _ = p
                .parent()
                .map(std::fs::create_dir_all)
                .and_then(|_| crate::support::fs::write_atomic(p, &final_bytes).ok());
        }
    }

    let build_dir = match &spec.build_dir {
        Some(d) => d.clone(),
        None => entry.join(&config_hash[..16]),
    };
    std::fs::create_dir_all(&build_dir)
        .map_err(|e| BuildError::io("create build directory", &build_dir, e))?;
    let build_dir = build_dir
        .canonicalize()
        .map_err(|e| BuildError::io("resolve build directory", &build_dir, e))?;
    let config = build_dir.join(".config");
    // Rewriting an identical .config would only make kbuild re-sync it.
    if std::fs::read(&config).ok().as_deref() != Some(&final_bytes[..]) {
        std::fs::write(&config, &final_bytes)
            .map_err(|e| BuildError::io("write config", &config, e))?;
    }
    let requested_path = build_dir.join("kharness-fragments.config");
    std::fs::write(&requested_path, requests.as_config_text())
        .map_err(|e| BuildError::io("write merged fragments", &requested_path, e))?;
    Ok(Configured {
        source,
        build_dir,
        config,
        config_hash,
        requested: requests.len(),
        ccache,
        elapsed: started.elapsed(),
        _lock: lock,
    })
}

/// What `make tinyconfig` plus the fragments plus `make olddefconfig`
/// depend on, hashed: every `Kconfig*` file of the tree (with its path),
/// the files of `scripts/kconfig/`, `kernel/configs/` and
/// `arch/x86/configs/` (tinyconfig's own fragments), the top Makefile,
/// the fragments' merged text, and the compiler and linker that Kconfig's
/// feature tests ask (`gcc --version`, `ld --version`). `None` when any of
/// it cannot be read: then kharness configures as if it had never seen it.
fn configure_key(source: &Path, fragments: &str) -> Option<String> {
    use sha2::{Digest, Sha256};
    let mut files: Vec<PathBuf> = Vec::new();
    let mut dirs = vec![source.to_owned()];
    let whole = ["scripts/kconfig", "kernel/configs", "arch/x86/configs"];
    while let Some(d) = dirs.pop() {
        let rel = d.strip_prefix(source).ok()?.to_owned();
        let take_all = whole.iter().any(|w| rel == Path::new(w));
        for e in std::fs::read_dir(&d).ok()? {
            let e = e.ok()?;
            let t = e.file_type().ok()?;
            let name = e.file_name();
            if t.is_dir() {
                if name != ".git" {
                    dirs.push(e.path());
                }
            } else if t.is_file() && (take_all || name.to_string_lossy().starts_with("Kconfig")) {
                files.push(rel.join(&name));
            }
        }
    }
    files.push(PathBuf::from("Makefile"));
    files.sort();
    let mut h = Sha256::new();
    h.update(b"kharness configure v1\0");
    h.update(fragments.as_bytes());
    for f in &files {
        h.update(f.as_os_str().as_encoded_bytes());
        h.update(b"\0");
        h.update(std::fs::read(source.join(f)).ok()?);
        h.update(b"\0");
    }
    for tool in ["gcc", "ld"] {
        let out = std::process::Command::new(tool)
            .arg("--version")
            .output()
            .ok()?;
        h.update(&out.stdout);
    }
    Some(crate::support::hash::hex(&h.finalize()))
}

/// `make bzImage` in the configured build directory: incremental when it
/// has built before.
pub fn build(
    spec: &BuildSpec,
    configured: &Configured,
    progress: &mut dyn FnMut(&BuildProgress),
) -> Result<Built, BuildError> {
    let started = Instant::now();
    let outcome = run_make(
        spec,
        &configured.source,
        &configured.build_dir,
        configured.ccache,
        "bzImage",
        progress,
    )?;
    let bzimage = configured.build_dir.join(BZIMAGE);
    if !bzimage.is_file() {
        return Err(BuildError::NoImage { path: bzimage });
    }
    Ok(Built {
        bzimage,
        config_hash: configured.config_hash.clone(),
        build_dir: configured.build_dir.clone(),
        log: log_path(&configured.build_dir, "bzImage"),
        elapsed: started.elapsed(),
        steps: outcome.steps,
        ccache: configured.ccache,
        phases: outcome.phases,
    })
}

fn log_path(dir: &Path, target: &str) -> PathBuf {
    dir.join(format!("kharness-make-{target}.log"))
}

/// The `make` command line for one target.
fn make_command(
    spec: &BuildSpec,
    source: &Path,
    out: &Path,
    ccache: bool,
    target: &str,
) -> MakeCommand {
    let mut args: Vec<OsString> = Vec::new();
    args.push({
        let mut o = OsString::from("O=");
        o.push(out);
        o
    });
    args.push(format!("ARCH={ARCH}").into());
    if ccache {
        args.push("CC=ccache gcc".into());
        args.push("HOSTCC=ccache gcc".into());
    }
    args.push(format!("-j{}", spec.jobs.max(1)).into());
    args.push(target.into());
    let mut env = Vec::new();
    if let Some(base) = ccache_basedir(spec, source).filter(|_| ccache) {
        env.push(("CCACHE_BASEDIR".into(), base.into_os_string()));
    }
    MakeCommand {
        program: spec.make.clone(),
        dir: source.to_owned(),
        args,
        env,
        log: log_path(out, target),
        target: target.to_owned(),
    }
}

/// Where ccache makes paths relative: the deepest directory holding both
/// the source and the build root, when the spec has a build root (a tree
/// kharness owns, laid out the same way every time). Kbuild passes the
/// source as an absolute path under `O=`; relative to the build directory
/// it is the same for every such tree, so their objects share the cache.
fn ccache_basedir(spec: &BuildSpec, source: &Path) -> Option<PathBuf> {
    let root = spec.build_root.as_deref()?;
    let common: PathBuf = source
        .components()
        .zip(root.components())
        .take_while(|(a, b)| a == b)
        .map(|(a, _)| a)
        .collect();
    // "/" alone would make every absolute path relative, system headers
    // included: no gain, and paths outside kharness's trees would vary.
    (common.components().count() > 1).then_some(common)
}

fn run_make(
    spec: &BuildSpec,
    source: &Path,
    out: &Path,
    ccache: bool,
    target: &str,
    progress: &mut dyn FnMut(&BuildProgress),
) -> Result<make::MakeOutcome, BuildError> {
    let cmd = make_command(spec, source, out, ccache, target);
    let outcome = cmd
        .run(spec.cancel.as_deref(), progress)
        .map_err(|e| BuildError::Spawn {
            program: spec.make.clone(),
            source: e,
        })?;
    if outcome.cancelled {
        return Err(BuildError::Interrupted);
    }
    if !outcome.status.success() {
        let log = std::fs::read_to_string(&cmd.log).unwrap_or_default();
        return Err(BuildError::Make {
            command: format!("cd {} && {}", source.display(), cmd.display()),
            status: make::describe_status(&outcome.status),
            log: cmd.log,
            errors: make::error_lines(&log, MAX_ERROR_LINES),
        });
    }
    Ok(outcome)
}

/// Checks `source` has what a kernel tree has (a tree with build output
/// passes); returns it canonical.
pub fn check_kernel_tree(source: &Path) -> Result<PathBuf, BuildError> {
    let canon = source
        .canonicalize()
        .map_err(|e| BuildError::NotASourceTree {
            path: source.to_owned(),
            why: e.to_string(),
        })?;
    for needed in ["Makefile", "Kconfig", "arch/x86/Kconfig", "scripts/kconfig"] {
        if !canon.join(needed).exists() {
            return Err(BuildError::NotASourceTree {
                path: canon,
                why: format!("no {needed}"),
            });
        }
    }
    Ok(canon)
}

/// Checks `source` looks like a clean kernel tree (no in-tree build
/// output, which an `O=` build refuses); returns it canonical.
pub fn check_source(source: &Path) -> Result<PathBuf, BuildError> {
    let canon = check_kernel_tree(source)?;
    // What kbuild itself looks for before refusing an O= build.
    for output in [".config", "include/config", "arch/x86/include/generated"] {
        if canon.join(output).exists() {
            return Err(BuildError::SourceNotClean {
                tree: canon,
                found: output.to_owned(),
            });
        }
    }
    Ok(canon)
}

/// The fragments' requests: the embedded default, then `paths` in order.
fn read_fragments(paths: &[PathBuf]) -> Result<Requests, BuildError> {
    let mut requests = Requests::default();
    let mut add = |origin: String, text: &str| -> Result<(), BuildError> {
        let lines = kconfig::parse(text).map_err(|b| BuildError::BadFragmentLine {
            origin: origin.clone(),
            line: b.line,
            text: b.text,
        })?;
        requests.add(&origin, &lines);
        Ok(())
    };
    // Always first: extra fragments (`--fragment`, `--debug`) add to the
    // configuration the suite needs, they do not replace it.
    add(DEFAULT_FRAGMENT_NAME.to_owned(), DEFAULT_FRAGMENT)?;
    for p in paths {
        let text = std::fs::read_to_string(p).map_err(|e| BuildError::ReadFragment {
            path: p.clone(),
            source: e,
        })?;
        add(p.display().to_string(), &text)?;
    }
    Ok(requests)
}

/// `<name>-<hash>`: readable, and distinct for two trees of the same name.
pub(super) fn source_key(canonical: &Path) -> String {
    let name: String = canonical
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "root".to_owned())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.+".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(48)
        .collect();
    let hash = sha256_hex(canonical.as_os_str().as_encoded_bytes());
    format!("{name}-{}", &hash[..12])
}

/// An exclusive lock on `path` (created if missing), held while the file
/// stays open. Waits for another kharness that holds it, saying so, and
/// gives up when `cancel` is set (Ctrl-C while waiting).
pub(super) fn lock(
    path: &Path,
    cancel: Option<&std::sync::atomic::AtomicBool>,
) -> Result<File, BuildError> {
    use rustix::fs::{FlockOperation, flock};
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| BuildError::io("open lock file", path, e))?;
    let mut said = false;
    // Polled rather than a blocking flock: a signal handler installed
    // with SA_RESTART would never let a blocking wait see Ctrl-C.
    while flock(&file, FlockOperation::NonBlockingLockExclusive).is_err() {
        if cancel.is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed)) {
            return Err(BuildError::Interrupted);
        }
        if !said {
            eprintln!(
                "kharness: waiting for another kharness building this tree (lock {})",
                path.display()
            );
            said = true;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configure_key_moves_with_kconfig_inputs_and_fragments_only() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        let put = |rel: &str, text: &str| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        put("Makefile", "VERSION = 6\n");
        put("Kconfig", "source \"fs/Kconfig\"\n");
        put("fs/Kconfig", "config SPLICE\n\tbool\n");
        put("fs/splice.c", "int x;\n");
        put("kernel/configs/tiny.config", "CONFIG_EMBEDDED=y\n");
        let key = |frag: &str| configure_key(root, frag).expect("a key");
        let first = key("CONFIG_PVH=y\n");
        assert_eq!(first, key("CONFIG_PVH=y\n"));
        // A patch to C code configures nothing anew.
        put("fs/splice.c", "int y;\n");
        assert_eq!(first, key("CONFIG_PVH=y\n"));
        put("fs/Kconfig", "config SPLICE\n\tdef_bool y\n");
        let second = key("CONFIG_PVH=y\n");
        assert_ne!(first, second, "a Kconfig file changed");
        put("kernel/configs/tiny.config", "CONFIG_EMBEDDED=n\n");
        let third = key("CONFIG_PVH=y\n");
        assert_ne!(second, third, "tinyconfig's fragment changed");
        assert_ne!(third, key("CONFIG_PVH=n\n"), "the fragments changed");
        put("fs/Kconfig.debug", "config X\n");
        assert_ne!(third, key("CONFIG_PVH=y\n"), "a new Kconfig file");
    }

    #[test]
    fn waiting_for_a_build_lock_stops_on_cancel() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("lock");
        let held = lock(&path, None).unwrap();
        let cancel = std::sync::atomic::AtomicBool::new(false);
        let started = std::time::Instant::now();
        let got = std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(std::time::Duration::from_millis(400));
                cancel.store(true, std::sync::atomic::Ordering::Relaxed);
            });
            lock(&path, Some(&cancel))
        });
        assert!(matches!(got, Err(BuildError::Interrupted)), "{got:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        drop(held);
        assert!(
            lock(&path, Some(&cancel)).is_ok(),
            "a free lock is taken at once"
        );
    }

    #[test]
    fn embedded_fragment_parses_and_asks_for_the_suite_essentials() {
        let r = read_fragments(&[]).unwrap();
        let text = r.as_config_text();
        for must in [
            "CONFIG_IO_URING=y",
            "CONFIG_PERF_EVENTS=y",
            "CONFIG_INET=y",
            "CONFIG_UNIX=y",
            "CONFIG_VIRTIO_FS=y",
            "CONFIG_9P_FS=y",
            "CONFIG_VIRTIO_CONSOLE=y",
            "CONFIG_MAGIC_SYSRQ=y",
            "CONFIG_BLK_DEV_INITRD=y",
            "CONFIG_VIRTIO_MMIO=y",
        ] {
            assert!(text.contains(&format!("{must}\n")), "{must} missing");
        }
        assert!(!text.contains("=m\n"), "everything is built in: no modules");
    }

    #[test]
    fn an_extra_fragment_adds_to_the_built_in_one() {
        let dir = tempfile::tempdir().unwrap();
        let frag = dir.path().join("debug.config");
        std::fs::write(&frag, "CONFIG_KASAN=y\n# CONFIG_IO_URING is not set\n").unwrap();
        let text = read_fragments(std::slice::from_ref(&frag))
            .unwrap()
            .as_config_text();
        assert!(text.contains("CONFIG_KASAN=y\n"), "{text}");
        assert!(
            text.contains("CONFIG_VIRTIO_FS=y\n"),
            "built-in kept: {text}"
        );
        assert!(
            text.contains("# CONFIG_IO_URING is not set\n") && !text.contains("CONFIG_IO_URING=y"),
            "the later fragment wins: {text}"
        );
    }

    #[test]
    fn bad_fragment_line_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let frag = dir.path().join("x.config");
        std::fs::write(&frag, "CONFIG_A=y\nCONFIG_B y\n").unwrap();
        let err = read_fragments(std::slice::from_ref(&frag)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}:2: not a kconfig line: \"CONFIG_B y\" (expected `CONFIG_NAME=value` or \
                 `# CONFIG_NAME is not set`)",
                frag.display()
            )
        );
        let missing = dir.path().join("nope.config");
        let err = read_fragments(&[missing]).unwrap_err();
        assert!(matches!(err, BuildError::ReadFragment { .. }), "{err:?}");
        assert_eq!(
            crate::error::Error::from(err).exit_code(),
            crate::error::ExitCode::Usage
        );
    }

    #[test]
    fn source_checks_name_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let err = check_source(dir.path()).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("is not a kernel source tree: no Makefile"),
            "{err}"
        );
        for f in ["Makefile", "Kconfig", "arch/x86/Kconfig"] {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "").unwrap();
        }
        std::fs::create_dir_all(dir.path().join("scripts/kconfig")).unwrap();
        assert!(check_source(dir.path()).is_ok());
        std::fs::write(dir.path().join(".config"), "").unwrap();
        let err = check_source(dir.path()).unwrap_err();
        assert!(matches!(err, BuildError::SourceNotClean { .. }), "{err:?}");
        assert!(err.to_string().contains("run `make mrproper`"), "{err}");
    }

    #[test]
    fn source_keys_are_readable_and_distinct() {
        let a = source_key(Path::new("/usr/src/linux-source-6.12"));
        let b = source_key(Path::new("/tmp/x/linux-source-6.12"));
        assert!(a.starts_with("linux-source-6.12-"), "{a}");
        assert_ne!(a, b);
        assert_eq!(
            source_key(Path::new("/a/we ird$name")).split('-').next(),
            Some("we_ird_name")
        );
    }

    #[test]
    fn make_command_is_out_of_tree_with_ccache_for_both_compilers() {
        let mut spec = BuildSpec::new("/src");
        spec.jobs = 3;
        let c = make_command(&spec, Path::new("/src"), Path::new("/b/x"), true, "bzImage");
        assert_eq!(
            c.display(),
            "make O=/b/x ARCH=x86_64 'CC=ccache gcc' 'HOSTCC=ccache gcc' -j3 bzImage"
        );
        assert_eq!(c.dir, Path::new("/src"));
        assert_eq!(c.log, Path::new("/b/x/kharness-make-bzImage.log"));
        let c = make_command(
            &spec,
            Path::new("/src"),
            Path::new("/b"),
            false,
            "tinyconfig",
        );
        assert_eq!(c.display(), "make O=/b ARCH=x86_64 -j3 tinyconfig");
        assert!(c.env.is_empty(), "no build root, no CCACHE_BASEDIR");
    }

    #[test]
    fn a_build_root_beside_the_tree_makes_ccache_paths_relative() {
        let mut spec = BuildSpec::new("/c/scratch/k/slot0/tree");
        spec.build_root = Some("/c/scratch/k/slot0/build".into());
        let src = Path::new("/c/scratch/k/slot0/tree");
        let c = make_command(
            &spec,
            src,
            Path::new("/c/scratch/k/slot0/build/ab"),
            true,
            "bzImage",
        );
        assert_eq!(
            c.env,
            vec![("CCACHE_BASEDIR".into(), "/c/scratch/k/slot0".into())]
        );
        let c = make_command(&spec, src, Path::new("/x"), false, "bzImage");
        assert!(c.env.is_empty(), "without ccache nothing to say");
        spec.build_root = Some("/elsewhere/build".into());
        assert_eq!(ccache_basedir(&spec, src), None, "only / in common");
    }

    #[test]
    fn make_failure_maps_to_infra_with_the_error_lines() {
        let e = BuildError::Make {
            command: "cd /src && make O=/b bzImage".into(),
            status: "exit status 2".into(),
            log: "/b/kharness-make-bzImage.log".into(),
            errors: vec!["fs/splice.c:1:1: error: expected ';'".into()],
        };
        assert_eq!(
            e.to_string(),
            "`cd /src && make O=/b bzImage` failed with exit status 2; full log: \
             /b/kharness-make-bzImage.log\n  fs/splice.c:1:1: error: expected ';'"
        );
        assert_eq!(
            crate::error::Error::from(e).exit_code(),
            crate::error::ExitCode::Infra
        );
    }
}
