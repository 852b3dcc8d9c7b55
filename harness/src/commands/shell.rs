//! `kharness shell`: boot one kernel (--kernel, --tree, or what a test
//! of a stored run ran on) with the guest binary in it, and hand the
//! terminal, or stdin's script, to a shell there ([`crate::vm::shell`]).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::cli::ShellArgs;
use crate::engine::Output;
use crate::error::{Error, Result};
use crate::kernel::symbols::{Symbols, vmlinux_for};
use crate::results::recipe::{self, Recipe};
use crate::support::quote::{sh_join, sh_quote};
use crate::vm::shell::{Ended, GUEST_ON_PATH, GdbStub, Session, ShellError};
use crate::vm::{self, Accel, AccelChoice, Backend, BackendChoice, PerfMode, PerfModeChoice};

/// What the shell boots, before the backend and accelerator are settled.
struct Target {
    kernel: PathBuf,
    guest: PathBuf,
    backend: BackendChoice,
    accel: AccelChoice,
    perf_mode: PerfModeChoice,
    memory: String,
    cpus: Option<u32>,
    /// RUN_DIR --test: the guest command that runs the test as the run did.
    test_command: Option<String>,
    notes: Vec<String>,
}

/// Returns the shell's exit status (or kharness's exit code).
pub fn run(a: ShellArgs, out: &Output) -> Result<i32> {
    // Everything the user named is checked before anything is built or
    // booted.
    if let Some(port) = a.gdb {
        check_port(port)?;
    }
    let interactive = std::io::stdin().is_terminal();
    // `run --tree` holds the build's lock until the VM is gone, so the
    // next build cannot replace the image under it; so does the shell.
    let mut _snapshot = None;
    let mut t = match (&a.run_dir, &a.tree) {
        (Some(dir), _) => from_run(dir, a.test.as_deref().unwrap_or_default(), &a, out)?,
        (None, Some(tree)) => {
            let (kernel, snapshot) = build_tree(tree, &a, out)?;
            _snapshot = snapshot;
            plain(kernel, &a, BackendChoice::Qemu, out)?
        }
        (None, None) => {
            let kernel = match &a.kernel {
                Some(spec) => crate::kernel::resolve_spec(spec)?,
                None => crate::kernel::default_kernel()?,
            };
            plain(kernel, &a, BackendChoice::Auto, out)?
        }
    };
    // Flags win over what a run recorded.
    t.backend = a.backend.unwrap_or(t.backend);
    t.accel = a.accel.unwrap_or(t.accel);
    t.perf_mode = a.perf_mode.unwrap_or(t.perf_mode);
    if let Some(m) = &a.memory {
        t.memory = m.clone();
    }
    t.cpus = a.cpus.or(t.cpus);
    let id = crate::kernel::identify(&t.kernel)?;

    let vng = vm::vng::locate(&a.vng);
    let backend = Backend::resolve(t.backend, vng.is_some());
    let vng = match (backend, vng) {
        (Backend::Vng, None) => return Err(vm::VmError::VngMissing { vng: a.vng.clone() }.into()),
        (_, v) => v.unwrap_or_else(|| a.vng.clone()),
    };
    if backend == Backend::Qemu && crate::support::paths::resolve_program(&a.qemu).is_none() {
        return Err(vm::VmError::QemuMissing {
            qemu: a.qemu.clone(),
        }
        .into());
    }
    let busybox = match backend {
        Backend::Qemu => Some(find_busybox()?),
        Backend::Vng => None,
    };
    let gdb = a.gdb.map(|port| GdbStub {
        port,
        wait: a.gdb_wait,
    });
    let guest = crate::guest::locate(
        crate::guest::Want {
            given: Some(&t.guest),
            rebuild: false,
        },
        true,
    )?;
    let mut banner = vec![format!(
        "kharness shell: {} ({}); the guest binary is {GUEST_ON_PATH} on PATH",
        id.release,
        backend.as_str()
    )];
    if let Some(c) = &t.test_command {
        banner.push(format!("the test as the run ran it: {c}"));
    }
    banner.push("leave with `exit` or Ctrl-D".to_owned());

    let (accel, perf_mode) = if a.dry_run {
        (Accel::Tcg, PerfMode::resolve(t.perf_mode, Accel::Tcg)?)
    } else {
        let verdict = vm::resolve_accel(
            t.accel,
            vm::Probe {
                kernel: &t.kernel,
                qemu: &a.qemu,
                cache_dir: crate::support::paths::cache_dir().as_deref(),
                reprobe: false,
            },
        );
        (
            verdict.accel,
            PerfMode::resolve(t.perf_mode, verdict.accel)?,
        )
    };
    let guest_initramfs = match backend {
        Backend::Qemu if !a.dry_run => Some(guest_initramfs(&guest)?),
        Backend::Qemu => Some(PathBuf::from("/tmp/kharness-dry-run/guest.cpio")),
        Backend::Vng => None,
    };
    let session = Session {
        backend,
        kernel: t.kernel.clone(),
        guest: guest.path.clone(),
        guest_initramfs,
        busybox,
        accel,
        perf_mode,
        memory: t.memory.clone(),
        cpus: t.cpus,
        vng,
        qemu: a.qemu.clone(),
        gdb,
        interactive,
        banner,
        limit: a.timeout,
    };
    for n in &t.notes {
        eprintln!("kharness: note: {n}");
    }
    if a.dry_run {
        if let Some(c) = &t.test_command {
            eprintln!("kharness: in the shell, the test as the run ran it: {c}");
        }
        crate::support::stdout::println(&vm::shell::display(&session)?).map_err(Error::stdout)?;
        return Ok(0);
    }
    if !out.quiet {
        eprintln!(
            "kharness: shell in {} ({}, {}, perf mode {}){}",
            id.release,
            backend.as_str(),
            accel.as_str(),
            perf_mode.as_str(),
            if interactive {
                ""
            } else {
                "; commands from stdin"
            }
        );
        if let Some(c) = &t.test_command {
            eprintln!("kharness: in the shell, the test as the run ran it: {c}");
        }
    }
    if let Some(g) = gdb {
        // Printed even with --quiet: it is what --gdb was asked for.
        for line in gdb_lines(&t.kernel, &id.release, g) {
            eprintln!("kharness: {line}");
        }
    }
    match vm::shell::run(&session)? {
        Ended::Exited(code) => Ok(code),
        Ended::Interrupted => Err(Error::Interrupted),
        Ended::NotStarted => Err(ShellError::NoBoot {
            kernel: t.kernel.clone(),
        }
        .into()),
        Ended::Died => Err(ShellError::Died { limit: a.timeout }.into()),
    }
}

/// `--gdb PORT` refuses a port that something already listens on: QEMU
/// would fail only after the build and the boot began.
fn check_port(port: u16) -> Result<()> {
    std::net::TcpListener::bind(("127.0.0.1", port))
        .map(drop)
        .map_err(|e| {
            Error::Usage(format!(
                "--gdb {port}: cannot listen on 127.0.0.1:{port} ({e})"
            ))
        })
}

/// The gdb command that attaches to the stub, with the symbols.
fn gdb_lines(kernel: &Path, release: &str, g: GdbStub) -> Vec<String> {
    let target = format!("target remote :{}", g.port);
    let line = |vmlinux: Option<&Path>| {
        let mut argv = vec!["gdb".to_owned()];
        if let Some(v) = vmlinux {
            argv.push(v.to_string_lossy().into_owned());
        }
        argv.extend(["-ex".to_owned(), target.clone()]);
        sh_join(&argv)
    };
    let wait = if g.wait {
        " (the CPU waits for gdb's `continue`)"
    } else {
        ""
    };
    match vmlinux_for(kernel, release) {
        Symbols::Found(v) => vec![format!(
            "gdb stub on 127.0.0.1:{}{wait}: {}",
            g.port,
            line(Some(&v))
        )],
        Symbols::DebianPackage { package, path } => vec![
            format!("gdb stub on 127.0.0.1:{}{wait}: {}", g.port, line(None)),
            format!(
                "no symbols for {release} here: `apt-get install {package}` puts them in {}; then: {}",
                path.display(),
                line(Some(&path))
            ),
        ],
        Symbols::Unknown => vec![
            format!("gdb stub on 127.0.0.1:{}{wait}: {}", g.port, line(None)),
            format!(
                "no vmlinux with symbols found beside {}: pass the one of its build to gdb",
                kernel.display()
            ),
        ],
    }
}

/// --kernel or --tree: the flags' options, defaults as `run` has them.
fn plain(kernel: PathBuf, a: &ShellArgs, backend: BackendChoice, out: &Output) -> Result<Target> {
    let guest = match &a.guest {
        Some(g) => g.clone(),
        None => {
            crate::guest::locate(
                crate::guest::Want {
                    given: None,
                    rebuild: false,
                },
                out.quiet,
            )?
            .path
        }
    };
    Ok(Target {
        kernel,
        guest,
        backend,
        accel: AccelChoice::Auto,
        perf_mode: PerfModeChoice::Auto,
        memory: "1G".to_owned(),
        cpus: None,
        test_command: None,
        notes: Vec::new(),
    })
}

/// RUN_DIR --test ID: what that test ran on in that run.
fn from_run(dir: &Path, test: &str, a: &ShellArgs, out: &Output) -> Result<Target> {
    if !dir.is_dir() {
        return Err(Error::Usage(format!(
            "{}: no such run directory",
            dir.display()
        )));
    }
    let recipe: Recipe = recipe::load(dir)?;
    let results = crate::results::load(dir)?;
    let pairs = crate::results::selection::select(&results, &[test.to_owned()], &[])?;
    let Some((k, _)) = pairs.first() else {
        return Err(Error::Usage(format!(
            "--test {test}: the run has no result for it"
        )));
    };
    let rk = recipe.kernels.get(*k).ok_or_else(|| Error::BadInput {
        path: dir.join(recipe::RECIPE),
        why: format!("the results have kernel {} but the recipe does not", k + 1),
    })?;
    let req = super::repro::ReproRequest {
        source: dir.to_owned(),
        tests: vec![test.to_owned()],
        filters: Vec::new(),
        tree: None,
        rebuild: false,
        build_jobs: a.build_jobs,
        out: PathBuf::new(),
        vng: a.vng.clone(),
        qemu: a.qemu.clone(),
        accel: None,
        backend: None,
        rebuild_guest: false,
    };
    let mut notes = Vec::new();
    let kernel = super::repro::kernel_for(&req, &recipe, rk, dir, &mut notes, out)?;
    let guest = match &a.guest {
        Some(g) => g.clone(),
        None => super::repro::guest_for(&recipe, dir, &req, &mut notes, out.quiet)?,
    };
    let o = &recipe.options;
    let mut argv = vec![
        GUEST_ON_PATH.to_owned(),
        "run".to_owned(),
        "--vm".to_owned(),
        "--reps".to_owned(),
        o.reps.to_string(),
        "--test-timeout".to_owned(),
        o.test_timeout.to_string(),
    ];
    if o.retries > 0 {
        argv.extend(["--retries".to_owned(), o.retries.to_string()]);
    }
    argv.extend(["--".to_owned(), test.to_owned()]);
    Ok(Target {
        kernel,
        guest,
        backend: match o.backend {
            Backend::Vng => BackendChoice::Vng,
            Backend::Qemu => BackendChoice::Qemu,
        },
        accel: match o.accel {
            Accel::Kvm => AccelChoice::Kvm,
            Accel::Tcg => AccelChoice::Tcg,
        },
        perf_mode: match o.perf_mode {
            PerfMode::Deterministic => PerfModeChoice::Deterministic,
            PerfMode::Wallclock => PerfModeChoice::Wallclock,
        },
        memory: o.memory.clone(),
        cpus: o.cpus,
        test_command: Some(sh_join(&argv)),
        notes,
    })
}

/// --tree: the working tree built as `run --tree` builds it; the
/// snapshot (and its lock) lives as long as the caller keeps it.
fn build_tree(
    tree: &Path,
    a: &ShellArgs,
    out: &Output,
) -> Result<(PathBuf, Option<crate::kernel::tree::TreeSnapshot>)> {
    let tree = crate::kernel::build::check_source(tree)
        .map_err(|e| Error::Usage(format!("--tree: {e}")))?;
    for f in &a.fragments {
        if !f.is_file() {
            return Err(Error::Usage(format!(
                "--fragment {}: no such file",
                f.display()
            )));
        }
    }
    if a.dry_run {
        let image = tree.join(crate::kernel::build::BZIMAGE);
        eprintln!(
            "kharness: would build the working tree {} as it is first; its image stands in below",
            tree.display()
        );
        return Ok((image, None));
    }
    let cache = crate::support::paths::cache_dir()
        .ok_or_else(|| Error::Usage("no cache directory: set KHARNESS_CACHE_DIR".into()))?;
    let snapshot = crate::kernel::tree::TreeSnapshot::refresh(
        &tree,
        &cache,
        Some(crate::support::process::interrupt_flag()),
    )?;
    let build = crate::plan::BuildOptions {
        fragments: a.fragments.clone(),
        debug: Vec::new(),
        jobs: a.build_jobs,
    };
    let step = crate::engine::build_working_tree(&build, &snapshot, 0, out)?;
    Ok((step.bzimage, Some(snapshot)))
}

/// A static busybox for the qemu backend's shell (the Debian package
/// busybox-static; the dynamic `busybox` package's cannot run in the
/// initramfs).
fn find_busybox() -> Result<PathBuf> {
    let hint = "apt-get install busybox-static";
    let path = crate::support::paths::which("busybox").ok_or_else(|| ShellError::Busybox {
        why: format!("busybox not found on PATH: {hint}"),
    })?;
    let head = std::fs::read(&path).map_err(|e| Error::io("failed to read", &path, e))?;
    match crate::guest::elf_interp(&head[..head.len().min(64 * 1024)]) {
        Ok(None) => Ok(path),
        Ok(Some(_)) | Err(_) => Err(ShellError::Busybox {
            why: format!(
                "{} is not a static busybox (the qemu backend's shell runs it in an initramfs without libraries): {hint}",
                sh_quote(&path.to_string_lossy())
            ),
        }
        .into()),
    }
}

/// The guest initramfs, cached by the guest's hash as `run` caches it.
fn guest_initramfs(guest: &crate::guest::GuestBinary) -> Result<PathBuf> {
    let dir = crate::support::paths::cache_dir()
        .map(|d| d.join("initramfs"))
        .unwrap_or_else(std::env::temp_dir);
    vm::initramfs::cached(&guest.path, &guest.sha256, &dir)
        .map_err(|e| Error::io("failed to build the initramfs in", &dir, e))
}
