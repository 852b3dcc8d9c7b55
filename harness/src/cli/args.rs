//! Command line: the clap definition, and the conversion of its flags
//! into plain [`Plan`] values before a command runs (nothing below
//! `commands/` sees a clap type).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::error::{Error, Result};
use crate::plan::bisect::{BisectPlan, Criterion};
use crate::plan::{BuildOptions, Plan, SeriesPlan, TreeRunPlan};
use crate::vm::{AccelChoice, BackendChoice, PerfModeChoice};

const AFTER_HELP: &str = "\
Examples:
  kharness doctor                     # what is installed, what is missing
  kharness run                        # newest kernel under /boot, every test
  kharness run --kernel 6.1.0-56-amd64 --kernel ~/linux/arch/x86/boot/bzImage --filter 'splice.*'
  kharness series my-series.mbox --tree ~/linux
  kharness compare kharness-runs/20261122T050000Z kharness-runs/latest
  kharness run --help                 # each command explains itself, with examples

Every option that takes a value can also be set in kharness.toml, per
profile: see `kharness config --help` and `kharness config show`.

Exit codes:
  0  all tests passed or skipped
  1  a test failed
  2  bad usage, configuration or input
  3  infrastructure failure (missing tool, VM did not boot)
  4  the guest kernel crashed or hung
  130, 143  interrupted by SIGINT (Ctrl-C) or SIGTERM";

/// Boot (patched) kernels in QEMU through virtme-ng and run kernel
/// semantics tests for splice, tee, vmsplice, sendfile, io_uring and
/// signals inside them.
#[derive(Parser, Debug)]
#[command(name = "kharness", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Print only the results table and errors.
    #[arg(long, short, global = true, env = "KHARNESS_QUIET")]
    pub quiet: bool,
    /// Per-test detail: every observation and metric.
    #[arg(long, short, global = true)]
    pub verbose: bool,
    /// Colour the summary on stdout: auto (a terminal, not under CI,
    /// following NO_COLOR, CLICOLOR and CLICOLOR_FORCE), always or never.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "auto",
        env = "KHARNESS_COLOR"
    )]
    pub color: crate::support::color::ColorWhen,
    #[command(flatten)]
    pub select: super::config::Selection,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    Run(RunArgs),
    Series(SeriesArgs),
    Bisect(BisectArgs),
    List(ListArgs),
    Report(ReportArgs),
    Compare(CompareArgs),
    Merge(MergeArgs),
    Repro(ReproArgs),
    Bundle(BundleArgs),
    Shell(ShellArgs),
    Doctor(DoctorArgs),
    Config(ConfigArgs),
    Completions(CompletionsArgs),
    Man(ManArgs),
}

/// What is installed and usable (QEMU, virtme-ng, KVM really working or
/// not, kernels, the guest binary), and what to install.
///
/// Takes the flags and kharness.toml settings `run` takes, so it checks
/// what a run with them would use (--qemu, --vng, --backend, --accel,
/// --kernel, --guest). virtme-ng is required only for --backend vng. The
/// KVM verdict is cached; --reprobe probes again.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  kharness doctor
  kharness doctor --backend qemu --qemu /opt/qemu/bin/qemu-system-x86_64
  kharness doctor --reprobe           # the machine changed: probe KVM again
  kharness doctor && kharness run

Exit codes: 0 everything needed for a run is there, 3 something is missing,
130/143 interrupted.")]
pub struct DoctorArgs {
    /// Kernels a run would boot (the first is the KVM probe's).
    #[arg(long = "kernel", short = 'k', value_name = "PATH|RELEASE")]
    pub kernels: Vec<String>,
    #[command(flatten)]
    pub boot: BootArgs,
    /// Probe KVM again instead of using the cached verdict.
    #[arg(long)]
    pub reprobe: bool,
}

impl DoctorArgs {
    /// The plan a run with these flags would have, and how its kernels
    /// resolved (doctor reports a bad kernel, it does not stop at it).
    pub fn plan(self) -> (Plan, Result<Vec<PathBuf>>) {
        let kernels = resolve_kernels(&self.kernels);
        let plan = self
            .boot
            .plan(kernels.as_ref().cloned().unwrap_or_default());
        (plan, kernels)
    }
}

/// `--kernel` values as image paths; the newest kernel under /boot when
/// there are none.
fn resolve_kernels(specs: &[String]) -> Result<Vec<PathBuf>> {
    if specs.is_empty() {
        return Ok(vec![crate::kernel::default_kernel()?]);
    }
    specs
        .iter()
        .map(|k| crate::kernel::resolve_spec(k))
        .collect()
}

/// Join the run directories of the shards of one plan (`kharness run
/// --shard K/N`) into a new run directory, with every report regenerated.
///
/// The merged directory holds results.json, the report files, summary.txt,
/// each kernel's console and guest logs (the parts of a kernel that two
/// shards shared, one after the other) and shards.json naming the sources.
/// Shards of different plans (another kernel, filter, guest build, --reps,
/// --boots, --max-boots, --retries, a timeout, backend or perf mode) or the
/// same shard twice are refused with exit 2;
/// so is a missing shard, unless --allow-missing. The exit code is then the
/// merged run's, as `kharness run` would have returned it.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  kharness run --shard 1/3 --out shard1 ...   # on three machines, same flags
  kharness merge shard1/latest shard2/latest shard3/latest --out merged
  kharness merge artifacts/*/ --out merged --allow-missing")]
pub struct MergeArgs {
    /// The shards' run directories (each holding results.json).
    #[arg(required = true)]
    pub run_dirs: Vec<PathBuf>,
    /// Directory under which the merged run gets a new directory.
    #[arg(long, default_value = "kharness-runs", env = "KHARNESS_OUT")]
    pub out: PathBuf,
    /// Merge even when shards are missing (warns, and says which in
    /// shards.json); their tests are absent from the merged results.
    #[arg(long)]
    pub allow_missing: bool,
}

/// Run again what a stored result ran, and say whether it reproduced.
///
/// SOURCE is a run directory, a bundle (`kharness bundle`) or a bundle
/// directory. Reruns the same kernels (checked by sha256; a series kernel
/// missing from a bundle is rebuilt from --tree), the same guest binary
/// (when at hand; else the one this kharness finds, or with
/// --rebuild-guest builds, and the hash difference reported),
/// the same VM options (backend, accelerator, perf mode, memory, CPUs,
/// timeouts, reps, retries), into a new run directory holding repro.json.
/// Without --test or --filter it reruns the results that did not pass
/// (all of them when every one passed). A result reproduced when its status and its
/// observations are the same again (metrics are not compared).
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  kharness repro kharness-runs/latest
  kharness repro kharness-runs/20261122T050000Z --test tee.duplicate_content
  kharness repro kharness-runs/latest --filter 'splice.*'
  kharness repro bundle.tar.gz --tree ~/linux

Exit codes: 0 every result reproduced, 1 one did not, 2 bad input (no such
bundle, kernel not at hand), 3 infrastructure, 4 guest crashed or hung.")]
pub struct ReproArgs {
    /// A run directory, a bundle archive or a bundle directory.
    pub source: PathBuf,
    /// Only this test's results (its exact id); repeatable.
    #[arg(long = "test", value_name = "ID")]
    pub tests: Vec<String>,
    /// Only the results of the tests this selects: a glob over the id
    /// (splice.*) or an area name (io_uring), as `run --filter`; tag:
    /// filters need the catalogue, which a run does not store. Repeatable;
    /// with --test, the union.
    #[arg(long = "filter", short = 'f', value_name = "GLOB")]
    pub filters: Vec<String>,
    /// Kernel source tree to rebuild series kernels from when the bundle
    /// has no kernel image (the series and config are in the bundle).
    #[arg(long, env = "KHARNESS_TREE")]
    pub tree: Option<PathBuf>,
    /// Rebuild series kernels from --tree even when the recorded image is
    /// at hand, and report whether the rebuild has the recorded sha256.
    #[arg(long, requires = "tree")]
    pub rebuild: bool,
    /// make -j for a rebuild (default: all cores). Was --jobs before
    /// --jobs came to mean VMs at once.
    #[arg(long, value_name = "N", env = "KHARNESS_BUILD_JOBS")]
    pub build_jobs: Option<usize>,
    /// The old spelling of --build-jobs, refused with a pointer to it.
    #[arg(long, hide = true, value_name = "N")]
    pub jobs: Option<String>,
    /// Directory under which the rerun gets a new run directory.
    #[arg(long, default_value = "kharness-runs", env = "KHARNESS_OUT")]
    pub out: PathBuf,
    /// The virtme-ng program.
    #[arg(long, default_value = "vng", env = "KHARNESS_VNG")]
    pub vng: PathBuf,
    /// The QEMU program (qemu backend).
    #[arg(long, default_value = "qemu-system-x86_64", env = "KHARNESS_QEMU")]
    pub qemu: PathBuf,
    /// Use this accelerator instead of the recorded one (e.g. tcg to
    /// rerun a KVM result on a machine without KVM).
    #[arg(long, value_enum)]
    pub accel: Option<AccelChoice>,
    /// Use this backend instead of the recorded one.
    #[arg(long, value_enum)]
    pub backend: Option<BackendChoice>,
    /// When the recorded guest binary is not at hand, build one from the
    /// kharness sources with cargo instead of using the installed one.
    #[arg(long)]
    pub rebuild_guest: bool,
}

/// Boot a kernel with the guest binary in it and open a shell there: for
/// poking at a reproduced failure by hand, or under a debugger.
///
/// The kernel is --kernel (a bzImage or a release under /boot; the newest
/// there by default), --tree DIR (built as `run --tree` builds it), or
/// RUN_DIR --test ID: the kernel, backend, accelerator and perf mode that
/// test ran with in that run, and the command that runs it again is
/// printed. The guest binary is `kharness-guest` on the guest's PATH.
///
/// On a terminal the VM gets it (the console is the shell's tty; leave
/// with `exit` or Ctrl-D). Otherwise the shell reads its commands from
/// stdin and exits at its end, so `printf 'uname -r\n' | kharness shell`
/// is a scripted session. The exit code is the shell's own exit status;
/// 3 when the VM did not boot to the shell, 4 when it died before the
/// shell exited.
///
/// --gdb starts QEMU's gdb stub on 127.0.0.1:PORT (and boots with
/// nokaslr) and prints the gdb command that attaches, with the vmlinux
/// that has the symbols: beside a kernel kharness built, or for a Debian
/// kernel from its linux-image-RELEASE-dbg package.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  kharness shell                                   # newest kernel under /boot
  kharness shell --kernel 6.1.0-56-amd64 --backend qemu
  kharness shell --tree ~/linux --gdb              # build it, gdb stub on :1234
  kharness shell --tree ~/linux --gdb 4321 --gdb-wait   # stopped until gdb continues
  kharness shell kharness-runs/latest --test splice.file_to_pipe_cow
  printf 'uname -r\\nkharness-guest list tee.*\\n' | kharness shell --kernel 6.1.0-56-amd64

Exit codes: the shell's exit status; 2 bad input (no such kernel, run or
test, a gdb port in use), 3 the VM did not boot to the shell (or a tool
is missing), 4 the VM died before the shell exited, 130/143 interrupted.")]
pub struct ShellArgs {
    /// A run directory: boot what --test ran on in it.
    #[arg(value_name = "RUN_DIR", requires = "shell_test", conflicts_with_all = ["shell_kernel", "shell_tree"])]
    pub run_dir: Option<PathBuf>,
    /// With RUN_DIR: the test whose kernel and VM options to boot (its
    /// exact id). With several kernels in the run, the first with a result
    /// that did not pass, else the first with a result.
    #[arg(
        long = "test",
        id = "shell_test",
        value_name = "ID",
        requires = "run_dir"
    )]
    pub test: Option<String>,
    /// Kernel to boot: a bzImage path, or a release under /boot.
    #[arg(
        long = "kernel",
        short = 'k',
        id = "shell_kernel",
        value_name = "PATH|RELEASE",
        conflicts_with = "shell_tree"
    )]
    pub kernel: Option<String>,
    /// Build this kernel source tree as it is (as `run --tree` does) and
    /// boot it.
    #[arg(long = "tree", id = "shell_tree", value_name = "DIR")]
    pub tree: Option<PathBuf>,
    /// Extra kernel config fragment for --tree; repeatable.
    #[arg(long = "fragment", value_name = "FILE", requires = "shell_tree")]
    pub fragments: Vec<PathBuf>,
    /// make -j for --tree (default: all cores).
    #[arg(long, value_name = "N", env = "KHARNESS_BUILD_JOBS")]
    pub build_jobs: Option<usize>,
    /// Start QEMU's gdb stub on 127.0.0.1:PORT and print the gdb command
    /// that attaches to it.
    #[arg(long, value_name = "PORT", num_args = 0..=1, default_missing_value = "1234", value_parser = clap::value_parser!(u16).range(1..))]
    pub gdb: Option<u16>,
    /// With --gdb: keep the CPU stopped at the first instruction until gdb
    /// continues it (`continue`).
    #[arg(long, requires = "gdb")]
    pub gdb_wait: bool,
    /// How to boot [default: as `run`: vng where installed, else qemu;
    /// qemu for --tree; RUN_DIR: the run's]. qemu needs a static busybox
    /// (apt-get install busybox-static) for the shell.
    #[arg(long, value_enum, env = "KHARNESS_BACKEND")]
    pub backend: Option<BackendChoice>,
    /// Accelerator [default: auto; RUN_DIR: the run's].
    #[arg(long, value_enum, env = "KHARNESS_ACCEL")]
    pub accel: Option<AccelChoice>,
    /// Guest timing [default: auto; RUN_DIR: the run's]: deterministic
    /// (TCG with -icount: slower) or wallclock.
    #[arg(long, value_enum, env = "KHARNESS_PERF_MODE")]
    pub perf_mode: Option<PerfModeChoice>,
    /// Guest memory [default: 1G; RUN_DIR: the run's].
    #[arg(long, env = "KHARNESS_MEMORY")]
    pub memory: Option<String>,
    /// Guest CPUs [default: 1 under TCG; RUN_DIR: the run's].
    #[arg(long, env = "KHARNESS_CPUS")]
    pub cpus: Option<u32>,
    /// Stop the VM after this long (e.g. 10m) [default: never].
    #[arg(long = "timeout", id = "shell_timeout", value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Use this static kharness-guest binary [default: the installed one;
    /// RUN_DIR: the run's when it is still there].
    #[arg(long, env = "KHARNESS_GUEST")]
    pub guest: Option<PathBuf>,
    /// Print the VM command line and exit without booting.
    #[arg(long)]
    pub dry_run: bool,
    /// The virtme-ng program.
    #[arg(long, default_value = "vng", env = "KHARNESS_VNG")]
    pub vng: PathBuf,
    /// The QEMU program (qemu backend).
    #[arg(long, default_value = "qemu-system-x86_64", env = "KHARNESS_QEMU")]
    pub qemu: PathBuf,
}

/// Pack results of a run with what reruns them into one file for someone
/// else: recipe.json, the selected results, the series and config
/// fragments (series runs), the guest binary, and with --with-kernel the
/// kernel images. `kharness repro BUNDLE` reruns it.
///
/// Without --test or --filter it takes the results that did not pass
/// (all of them when every one passed).
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  kharness bundle kharness-runs/latest -o regression.tar.gz
  kharness bundle kharness-runs/latest --test tee.duplicate_content --with-kernel -o tee.tar.gz")]
pub struct BundleArgs {
    /// The run directory.
    pub run_dir: PathBuf,
    /// Only this test's results (its exact id); repeatable.
    #[arg(long = "test", value_name = "ID")]
    pub tests: Vec<String>,
    /// Only the results of the tests this selects: a glob over the id
    /// (splice.*) or an area name (io_uring), as `run --filter`; tag:
    /// filters need the catalogue, which a run does not store. Repeatable;
    /// with --test, the union.
    #[arg(long = "filter", short = 'f', value_name = "GLOB")]
    pub filters: Vec<String>,
    /// Include the kernel images of the selected results.
    #[arg(long)]
    pub with_kernel: bool,
    /// Where to write: FILE.tar.gz (or .tgz) for an archive, else a new directory.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
}

/// Compare two stored runs: status and observation changes, and metrics
/// that moved beyond the noise.
///
/// Metrics need several samples a side (run both with --reps 5 or more,
/// or merge boots); metrics measured in different perf modes are never
/// compared. Exits 1 when something got worse. Nothing is written into
/// the run directories; --out keeps the comparison (JSON and text).
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  kharness run --reps 10 --out runs          # base kernel
  kharness run --reps 10 --out runs --kernel ~/linux/arch/x86/boot/bzImage
  kharness compare runs/20261122T050000Z runs/latest
  kharness compare runs/A runs/B --out comparisons    # keeps compare-A.json and .txt")]
pub struct CompareArgs {
    /// The reference run directory.
    pub run_a: PathBuf,
    /// The run compared against it.
    pub run_b: PathBuf,
    /// Smallest relative change that counts, in percent.
    #[arg(
        long,
        default_value_t = 2.0,
        env = "KHARNESS_THRESHOLD",
        allow_negative_numbers = true
    )]
    pub threshold: f64,
    /// Write the comparison as compare-<run A>.json and .txt into this
    /// directory (created if needed). Not the `out` of kharness.toml,
    /// which is where runs go.
    #[arg(long = "out", id = "compare_out", value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Print the summary of a stored run again (e.g. with --verbose); with
/// --write or --out, render its report files (junit.xml, results.ktap,
/// kcidb.json, report.md, report.html) again with this kharness.
///
/// Without either, nothing is written: a run directory may be a
/// read-only artifact.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  kharness report kharness-runs/latest
  kharness report -v kharness-runs/20261122T041659Z
  kharness report artifacts/run --out /tmp/reports    # the run stays untouched
  kharness report kharness-runs/latest --write        # regenerate in place")]
pub struct ReportArgs {
    /// A run directory (holding results.json).
    pub run_dir: PathBuf,
    /// Rewrite the report files inside the run directory.
    #[arg(long, conflicts_with = "report_out")]
    pub write: bool,
    /// Write the report files into this directory (created if needed).
    /// Not the `out` of kharness.toml, which is where runs go.
    #[arg(long = "out", id = "report_out", value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Boot each kernel, run the guest suite in it, and report one column per kernel.
///
/// With no --kernel, the newest prebuilt kernel under /boot is used. Every
/// run writes a new directory under --out holding the plan, each kernel's
/// identity, console logs, the guest's records and results.json.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  kharness run
  kharness run --kernel /boot/vmlinuz-6.1.0-56-amd64 --kernel 6.12.107+deb12-amd64
  kharness run --kernel ~/linux/arch/x86/boot/bzImage --filter 'splice.*' --filter io_uring
  kharness run --accel tcg --timeout 20m --out /tmp/runs
  kharness run --backend qemu --kernel ~/linux/arch/x86/boot/bzImage
  kharness run --boots 3 --reps 2 --filter tag:perf --kernel 6.1.0-56-amd64 --kernel 6.12.107+deb12-amd64
  kharness run --filter selftest.sysrq_crash --filter 'tee.*'   # crash, then tee in a fresh boot
  kharness run --shard 2/3 --kernel 6.1.0-56-amd64 --kernel 6.12.107+deb12-amd64
  kharness run --tree ~/linux                 # build the tree as it is, boot it
  kharness run --tree ~/linux --base HEAD     # ... and report what the edits changed

Exit codes: 0 ok, 1 test failures (with --base: a test got worse or a metric
regressed against the base), 2 bad input, 3 infrastructure (a build failed),
4 guest crashed or hung.")]
pub struct RunArgs {
    /// Kernel to boot: a bzImage path, or a release under /boot (e.g.
    /// 6.12.107+deb12-amd64). Repeat for several kernels.
    #[arg(long = "kernel", short = 'k', value_name = "PATH|RELEASE")]
    pub kernels: Vec<String>,
    #[command(flatten)]
    pub boot: BootArgs,
    /// Print the VM command lines and exit without booting.
    #[arg(long)]
    pub dry_run: bool,
    /// Run only part K of N of the plan (e.g. 2/3), for CI machines that
    /// share one plan; join the parts with `kharness merge`. Every shard
    /// must get the same kernels, filters and flags.
    #[arg(long, value_name = "K/N", env = "KHARNESS_SHARD")]
    pub shard: Option<crate::plan::ShardSpec>,
    /// Build this kernel source tree as it is, uncommitted changes
    /// included, and boot it (qemu backend unless --backend says
    /// otherwise). The tree is never written: it is mirrored by hard
    /// links under the cache and built out of tree there, incrementally.
    #[arg(long = "tree", id = "run_tree", value_name = "DIR", conflicts_with_all = ["kernels", "shard"])]
    pub tree: Option<PathBuf>,
    /// With --tree: also build REV (a commit of DIR, in a scratch
    /// worktree; its image is kept by commit id) and report what the
    /// working tree changed against it, as `series` reports a patch.
    #[arg(
        long = "base",
        id = "run_base",
        value_name = "REV",
        requires = "run_tree"
    )]
    pub base: Option<String>,
    #[command(flatten)]
    pub build: KernelBuildArgs,
}

/// How kharness builds kernels from source and judges metric changes
/// between them (series, run --tree).
#[derive(clap::Args, Debug)]
pub struct KernelBuildArgs {
    /// Extra kernel config fragment merged after the built-in one
    /// (kernels kharness builds: series, run --tree); repeatable.
    #[arg(long = "fragment", value_name = "FILE")]
    pub fragments: Vec<PathBuf>,
    /// Build every step with kernel checkers on, as syzbot and 0-day do:
    /// kasan, lockdep, ubsan, kfence (comma-separated), or a config
    /// fragment file of your own (images/debug/ holds ours). A KASAN,
    /// lockdep or UBSAN report is then a complaint charged to the test
    /// that ran and to the patch that brought it. Timing is wall clock
    /// unless --perf-mode says otherwise (a debug kernel's timings say
    /// little, and its boot is 6x slower under deterministic timing).
    #[arg(
        long,
        value_name = "CHECKERS|FILE",
        value_delimiter = ',',
        value_parser = crate::kernel::debug::DebugChoice::parse,
        env = "KHARNESS_DEBUG"
    )]
    pub debug: Vec<crate::kernel::debug::DebugChoice>,
    /// make -j for kernels kharness builds (default: all cores). Was
    /// --jobs (and KHARNESS_JOBS) before --jobs came to mean VMs at once.
    #[arg(long, value_name = "N", env = "KHARNESS_BUILD_JOBS")]
    pub build_jobs: Option<usize>,
    /// Smallest metric change that counts between steps, in percent.
    #[arg(
        long,
        default_value_t = 2.0,
        allow_negative_numbers = true,
        env = "KHARNESS_THRESHOLD"
    )]
    pub threshold: f64,
}

impl KernelBuildArgs {
    fn options(self) -> Result<(BuildOptions, f64)> {
        let threshold = percentage(self.threshold)?;
        Ok((
            BuildOptions {
                fragments: self.fragments,
                debug: self.debug,
                jobs: self.build_jobs,
            },
            threshold,
        ))
    }
}

/// How kernels are booted and what runs in them (shared by run and series).
#[derive(clap::Args, Debug)]
pub struct BootArgs {
    /// Run only matching tests: a glob over ids ('splice.*'), an area
    /// (io_uring) or tag:NAME. Repeatable; a test runs if any filter
    /// matches, in the order of the filters.
    #[arg(long = "filter", short = 'f', value_name = "GLOB")]
    pub filters: Vec<String>,
    /// Accelerator: auto probes KVM once (cached) and falls back to TCG.
    #[arg(long, value_enum, default_value = "auto", env = "KHARNESS_ACCEL")]
    pub accel: AccelChoice,
    /// How to boot: vng (host root shared read-only; distro kernels with
    /// modules) or qemu (kernel + initramfs, nothing shared, fastest boot;
    /// the kernel needs what the suite uses built in, and no modules).
    #[arg(long, value_enum, default_value = "auto", env = "KHARNESS_BACKEND")]
    pub backend: BackendChoice,
    /// How guest time is measured: deterministic (TCG with QEMU's -icount:
    /// durations count executed instructions and repeat on a busy host),
    /// wallclock, or auto (deterministic under TCG, wall clock under KVM).
    #[arg(long, value_enum, default_value = "auto", env = "KHARNESS_PERF_MODE")]
    pub perf_mode: PerfModeChoice,
    /// Time limit for one VM, boot included (e.g. 90s, 15m).
    #[arg(long, default_value = "20m", value_parser = parse_duration, env = "KHARNESS_TIMEOUT")]
    pub timeout: Duration,
    /// Directory under which each run gets a new directory.
    #[arg(long, default_value = "kharness-runs", env = "KHARNESS_OUT")]
    pub out: PathBuf,
    /// Use this static kharness-guest binary instead of the one installed
    /// with kharness (PREFIX/lib/kharness) or built in its checkout.
    #[arg(long, env = "KHARNESS_GUEST")]
    pub guest: Option<PathBuf>,
    /// Build the guest from the kharness sources with cargo first and use
    /// that build (instead of --guest or the installed one).
    #[arg(long)]
    pub rebuild_guest: bool,
    /// Guest memory, as vng takes it.
    #[arg(long, default_value = "1G", env = "KHARNESS_MEMORY")]
    pub memory: String,
    /// Guest CPUs (default: 1 under TCG, where multi-vCPU code patching is
    /// unreliable; vng's default under KVM).
    #[arg(long, env = "KHARNESS_CPUS")]
    pub cpus: Option<u32>,
    /// Repeat perf-tagged tests this many times in each boot [default: 5
    /// when the run compares (a series, several kernels, --boots above
    /// 1), so `compare` has samples to judge each metric by; else 1].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000), env = "KHARNESS_REPS")]
    pub reps: Option<u32>,
    /// Run the suite this many times on each kernel, each time in a fresh
    /// boot, interleaving kernels (A B A B) so drift of a busy host hits
    /// all alike; every boot's samples pool into the kernel's column.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100), env = "KHARNESS_BOOTS")]
    pub boots: u32,
    /// After a test crashes or hangs the guest, the tests after it run in a
    /// fresh boot; one pass over a kernel takes at most this many boots.
    #[arg(long, default_value_t = crate::plan::DEFAULT_MAX_BOOTS, value_parser = clap::value_parser!(u32).range(1..=100), env = "KHARNESS_MAX_BOOTS")]
    pub max_boots: u32,
    /// Run a test that fails, errors or times out up to N more times in the
    /// same boot; one that then passes is reported as flaky (not as passed,
    /// and not as a failure: it does not change the exit code).
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=100), env = "KHARNESS_RETRIES")]
    pub retries: u32,
    /// Time one test may run inside the guest before it is killed (e.g.
    /// 90s, 2m; a bare number is seconds).
    #[arg(long, default_value = "2m", value_parser = parse_test_timeout, env = "KHARNESS_TEST_TIMEOUT")]
    pub test_timeout: u64,
    /// The virtme-ng program.
    #[arg(long, default_value = "vng", env = "KHARNESS_VNG")]
    pub vng: PathBuf,
    /// The QEMU program (qemu backend).
    #[arg(long, default_value = "qemu-system-x86_64", env = "KHARNESS_QEMU")]
    pub qemu: PathBuf,
    /// VMs to run at once: kernels, --boots passes, a shard's kernels and
    /// series steps boot side by side (series steps once all are built).
    /// Default: what the machine can run, the cores over the vCPUs of one
    /// VM (1 under TCG), memory permitting (available memory over
    /// --memory), at least 1. Results, their order and the run directory
    /// are the same for any N; under deterministic timing so are the
    /// metrics, while wall-clock timings suffer from VMs sharing the
    /// host. --jobs used to be make -j: that is --build-jobs now, and a
    /// --jobs above what the machine can run gets a warning saying so.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..), env = "KHARNESS_JOBS")]
    pub jobs: Option<u16>,
}

impl RunArgs {
    /// The plan these flags ask for, kernels resolved (the newest under
    /// /boot when none is given).
    pub fn plan(self) -> Result<Plan> {
        let kernels = resolve_kernels(&self.kernels)?;
        let mut plan = self.boot.plan(kernels);
        plan.shard = self.shard;
        Ok(plan)
    }
}

/// A debug kernel's timings say little about the patch, and under
/// -icount its boot busy-waits through far more instructions: measured
/// for one boot of the --debug kasan,lockdep,ubsan,kfence kernel, 55-76 s
/// deterministic against 10-12 s wall clock. So --debug means wall-clock
/// timing unless --perf-mode says otherwise.
fn debug_times_by_the_wall_clock(build: &BuildOptions, run: &mut Plan) {
    if !build.debug.is_empty() && run.perf_mode == PerfModeChoice::Auto {
        run.perf_mode = PerfModeChoice::Wallclock;
    }
}

impl RunArgs {
    /// The plan of `run --tree`: nothing resolved under /boot; kernels
    /// are filled in as they are built.
    pub fn tree_plan(self, tree: PathBuf) -> Result<TreeRunPlan> {
        let (build, threshold) = self.build.options()?;
        let compares = self.base.is_some();
        let reps = self.boot.reps;
        let mut run = self.boot.plan(Vec::new());
        run.reps = reps.unwrap_or(crate::plan::reps_by_default(compares || run.boots > 1));
        if run.backend == BackendChoice::Auto {
            run.backend = BackendChoice::Qemu;
        }
        debug_times_by_the_wall_clock(&build, &mut run);
        Ok(TreeRunPlan {
            tree,
            base: self.base,
            dry_run: self.dry_run,
            build,
            threshold,
            run,
        })
    }
}

impl SeriesArgs {
    /// The series plan these flags ask for; the steps' kernels are filled
    /// in as they are built.
    pub fn plan(self) -> Result<SeriesPlan> {
        let (build, threshold) = self.build.options()?;
        // A series always compares (each step with the one before).
        let reps = self.boot.reps;
        let mut run = self.boot.plan(Vec::new());
        run.reps = reps.unwrap_or(crate::plan::reps_by_default(true));
        // Kernels kharness builds have everything built in: boot them
        // the hermetic, fast way unless asked otherwise.
        if run.backend == BackendChoice::Auto {
            run.backend = BackendChoice::Qemu;
        }
        debug_times_by_the_wall_clock(&build, &mut run);
        Ok(SeriesPlan {
            series: self.series,
            tree: self.tree,
            final_only: self.final_only,
            dry_run: self.dry_run,
            build,
            threshold,
            run,
        })
    }
}

/// `--threshold` as a fraction (2 -> 0.02), refusing what is no percentage.
pub fn percentage(threshold: f64) -> Result<f64> {
    if !(threshold >= 0.0 && threshold.is_finite()) {
        return Err(Error::Usage(format!(
            "--threshold must be a percentage >= 0, got {threshold}"
        )));
    }
    Ok(threshold / 100.0)
}

impl BootArgs {
    /// The plan for these flags over `kernels`.
    pub fn plan(self, kernels: Vec<PathBuf>) -> Plan {
        let compares = kernels.len() > 1 || self.boots > 1;
        Plan {
            kernels,
            labels: Vec::new(),
            steps: Vec::new(),
            filters: self.filters,
            accel: self.accel,
            backend: self.backend,
            perf_mode: self.perf_mode,
            timeout: self.timeout,
            out: self.out,
            guest: self.guest,
            rebuild_guest: self.rebuild_guest,
            memory: self.memory,
            cpus: self.cpus,
            reps: self.reps.unwrap_or(crate::plan::reps_by_default(compares)),
            boots: self.boots,
            max_boots: self.max_boots,
            retries: self.retries,
            test_timeout: self.test_timeout,
            vng: self.vng,
            qemu: self.qemu,
            shard: None,
            jobs: self.jobs.map(usize::from),
        }
    }
}

/// Build the base tree and each prefix of a patch series, boot every step,
/// and report per patch what changed and the first patch that changed
/// each test.
///
/// SERIES is a directory with a quilt `series` file, a directory of `git
/// format-patch` files, an mbox, or a lore thread archive (either gzipped
/// too, as `b4 mbox` writes t.mbox.gz); a `series.toml` beside the patches
/// declares expected effects, which are checked. The tree is never
/// modified: patches go into a scratch copy (git worktree or
/// hard-link copy) under the cache, builds into an out-of-tree directory
/// with ccache, one patch at a time so each rebuild is incremental; each
/// step's bzImage is kept, keyed by the patchset hash, so a rerun reuses
/// it. Steps boot with the qemu backend unless --backend says otherwise.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  kharness series kernel-patches/demo-splice-regression --tree /usr/src/linux-source-6.12
  kharness series ~/mail/my-series.mbox --tree ~/linux --reps 5 --filter 'splice.*' --filter tag:perf
  kharness series thread.txt --tree ~/linux --final-only
  kharness series ~/mail/v2.mbox --tree ~/linux --dry-run     # the steps, nothing built
  kharness series DIR --tree ~/linux --boots 3 --reps 2 --filter tag:perf   # base +1 +2 base +1 +2 ...
  kharness series DIR --tree ~/linux --debug kasan,lockdep,ubsan,kfence      # debug kernels
  kharness series origin/master..HEAD --tree ~/linux   # each commit of a git range is a step

Exit codes: 0 nothing regressed and every expected effect happened, 1 a test
got worse, a metric regressed or an expected effect did not happen, 2 bad
input, 3 a patch does not apply or a build failed (earlier steps are still
run and reported), 4 a guest crashed or hung.")]
pub struct SeriesArgs {
    /// The series: a directory, an mbox or a thread archive (or either
    /// gzipped), or a git range BASE..TIP of --tree (each commit, in
    /// first-parent order, is a step; merges are refused).
    #[arg(value_name = "SERIES|BASE..TIP")]
    pub series: PathBuf,
    /// The kernel source tree to apply it to (git or plain; never modified).
    #[arg(long, env = "KHARNESS_TREE")]
    pub tree: PathBuf,
    /// Build and boot only the base and the whole series.
    #[arg(long)]
    pub final_only: bool,
    /// Read and check the series and the tree, print the steps it would
    /// build and boot, and stop: nothing is copied, built or booted.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub build: KernelBuildArgs,
    #[command(flatten)]
    pub boot: BootArgs,
}

/// Find the first commit of a git history that changed a test: its
/// status, an observation's value (--observation), or a metric beyond
/// --threshold with the statistics `compare` uses (--metric).
///
/// --good and --bad are commits of --tree, --good an ancestor of --bad
/// with no merge between them. Both ends are built and booted first: the
/// test must behave one way at --good (and not fail there) and another at
/// --bad, or nothing is bisected. Then each step builds the commit halfway
/// between the newest good and the oldest bad one, in one scratch
/// worktree under the cache (incrementally; images built before are
/// reused), boots it with only --test (qemu backend unless --backend says
/// otherwise) and calls it good (as at --good), bad (as at --bad) or skip:
/// a commit that does not build or boot, or shows neither behaviour, is
/// skipped as `git bisect skip` does. A history of N commits takes at most
/// ceil(log2(N)) steps between the ends when nothing is skipped.
///
/// --repeat N boots each step N times and calls it bad when any run is
/// (flaky regressions). --metric compares each step's samples with
/// --good's: perf tests repeat 5 times a boot unless --reps says
/// otherwise, in deterministic perf mode under TCG. --filter and --boots
/// are not used: the test is --test, the boots per step --repeat.
///
/// The run directory holds each step's run under steps/, bisect.json,
/// summary.txt and bisect.log, which `git bisect replay` takes.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  kharness bisect --tree ~/linux --good v6.12 --bad HEAD --test tee.non_pipe_einval
  kharness bisect --tree ~/linux --good v6.12 --bad HEAD --test splice.from_dev_zero \\
      --observation returns
  kharness bisect --tree ~/linux --good v6.12 --bad HEAD --test perf.splice_file_to_pipe \\
      --metric throughput --threshold 5
  kharness bisect --tree ~/linux --good v6.12 --bad HEAD --test tee.duplicate_content --repeat 5
  git -C ~/linux bisect replay kharness-runs/latest/bisect.log   # the steps, in git

Exit codes: 0 the first bad commit is named, 2 bad input (not a kernel
tree, no such revision or test, --good not an ancestor of --bad, an empty
range or one with a merge, --good already failing or --bad behaving as
--good), 3 infrastructure (an end did not build or boot; or commits that
did not build or boot hide the first bad one: the candidates are listed),
130/143 interrupted.")]
pub struct BisectArgs {
    /// The kernel source tree, a git tree (never modified).
    #[arg(long, env = "KHARNESS_TREE")]
    pub tree: PathBuf,
    /// A commit where the test behaves as it should.
    #[arg(long, value_name = "REV")]
    pub good: String,
    /// A later commit where it does not (a descendant of --good).
    #[arg(long, value_name = "REV")]
    pub bad: String,
    /// The test, by its exact id (kharness list).
    #[arg(long = "test", value_name = "ID")]
    pub test: String,
    /// Bisect this observation's value instead of the status.
    #[arg(long, value_name = "NAME", conflicts_with = "metric")]
    pub observation: Option<String>,
    /// Bisect this metric (its name, e.g. throughput) instead of the
    /// status: bad where it moved as at --bad, beyond --threshold.
    #[arg(long, value_name = "NAME")]
    pub metric: Option<String>,
    /// Boot each step this many times; one bad run makes the step bad.
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeat: u32,
    #[command(flatten)]
    pub build: KernelBuildArgs,
    #[command(flatten)]
    pub boot: BootArgs,
}

impl BisectArgs {
    /// The bisection these flags ask for; kernels are filled in per step.
    pub fn plan(self) -> Result<BisectPlan> {
        let (build, threshold) = self.build.options()?;
        let criterion = match (self.observation, self.metric) {
            (Some(o), _) => Criterion::Observation(o),
            (None, Some(m)) => Criterion::Metric(m),
            (None, None) => Criterion::Status,
        };
        let reps = self.boot.reps;
        let mut run = self.boot.plan(Vec::new());
        // A metric is judged by compare's statistics: 5 samples a side.
        let compares = matches!(criterion, Criterion::Metric(_));
        run.reps = reps.unwrap_or(crate::plan::reps_by_default(compares));
        if run.backend == BackendChoice::Auto {
            run.backend = BackendChoice::Qemu;
        }
        debug_times_by_the_wall_clock(&build, &mut run);
        Ok(BisectPlan {
            ask: crate::plan::bisect::BisectAsk {
                tree: self.tree,
                good: self.good,
                bad: self.bad,
                test: self.test,
                criterion,
                repeat: self.repeat,
            },
            build,
            threshold,
            run,
        })
    }
}

/// List the tests in the guest suite.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  kharness list
  kharness list 'splice.*' tag:perf
  kharness list --format md > guest-tests/CATALOGUE.md")]
pub struct ListArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ListFormat,
    /// Use this static kharness-guest binary instead of the one installed
    /// with kharness (PREFIX/lib/kharness) or built in its checkout.
    #[arg(long, env = "KHARNESS_GUEST")]
    pub guest: Option<PathBuf>,
    /// Build the guest from the kharness sources with cargo first and use
    /// that build (instead of --guest or the installed one).
    #[arg(long)]
    pub rebuild_guest: bool,
    /// Globs over ids, area names, or tag:NAME.
    pub filters: Vec<String>,
}

/// Settings from kharness.toml (project and user level) and their profiles.
///
/// A setting comes from, highest first: its flag, its KHARNESS_* variable,
/// the project file (--config FILE, else kharness.toml in the current
/// directory or a parent), the user file
/// ($XDG_CONFIG_HOME/kharness/config.toml, else
/// ~/.config/kharness/config.toml), the built-in default. Relative paths in
/// a file are relative to its directory; a list replaces, never extends, a
/// lower level's.
/// Settings sit under [profile.NAME]; a profile inherits [profile.default]
/// of its file. The profile is --profile, else $KHARNESS_PROFILE, else `ci`
/// when $CI is set, else `default`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Example kharness.toml:
  [profile.default]
  filters = [\"splice.*\", \"io_uring\"]
  timeout = \"15m\"
  out = \"runs\"                # relative to this file's directory

  [profile.ci]
  backend = \"qemu\"
  reps = 5

Examples:
  kharness config show
  kharness --profile ci config show
  kharness config show run --reps 3 --kernel 6.12.107+deb12-amd64")]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub cmd: ConfigCmd,
}

#[derive(Subcommand, Debug)]
pub enum ConfigCmd {
    /// Print every setting's effective value and where it came from
    /// (default, a file and line, an environment variable, a flag), as
    /// TOML with the origin in a comment.
    ///
    /// Given a command line, the values that command would run with;
    /// without one, every setting from the environment and the files.
    #[command(after_help = "Examples:
  kharness config show
  kharness config show run --timeout 5m
  KHARNESS_PROFILE=ci kharness config show series")]
    Show {
        /// A kharness command line (without `kharness`), e.g. run --reps 3.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "COMMAND"
        )]
        command: Vec<String>,
    },
}

/// Print a shell completion script, generated from the command definition.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  kharness completions bash > ~/.local/share/bash-completion/completions/kharness
  kharness completions zsh > ~/.zfunc/_kharness      # with fpath+=~/.zfunc
  kharness completions fish > ~/.config/fish/completions/kharness.fish")]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Print the man page (roff), generated from the command definition.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  kharness man | man -l -
  kharness man > ~/.local/share/man/man1/kharness.1
  kharness man run > ~/.local/share/man/man1/kharness-run.1")]
pub struct ManArgs {
    /// A subcommand's page (kharness-COMMAND(1)) instead of kharness(1).
    pub command: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
    Md,
}

/// `--test-timeout`: a duration like `--timeout`'s, or a bare number of
/// seconds (what it took before); whole seconds, rounded up, for the guest.
fn parse_test_timeout(s: &str) -> std::result::Result<u64, String> {
    let d = match s.trim().parse::<u64>() {
        Ok(n) => Duration::from_secs(n),
        Err(_) => parse_duration(s)?,
    };
    if d.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(d.as_secs() + u64::from(d.subsec_nanos() > 0))
}

fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e} (try 90s, 15m, 1h)"))?;
    if d.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(d)
}

impl From<clap::Error> for Error {
    fn from(e: clap::Error) -> Self {
        Error::Usage(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_timeouts_take_durations_and_bare_seconds() {
        assert_eq!(parse_test_timeout("120"), Ok(120));
        assert_eq!(parse_test_timeout("2m"), Ok(120));
        assert_eq!(parse_test_timeout("1m 30s"), Ok(90));
        assert_eq!(parse_test_timeout("1500ms"), Ok(2), "rounded up");
        assert!(parse_test_timeout("0").is_err());
        assert!(parse_test_timeout("0s").is_err());
        assert!(parse_test_timeout("soon").is_err());
    }

    #[test]
    fn perf_tests_repeat_by_default_where_the_run_compares() {
        use clap::Parser;
        let run = |args: &[&str]| match Cli::try_parse_from([&["kharness", "run"], args].concat()) {
            Ok(Cli {
                cmd: Cmd::Run(r), ..
            }) => {
                r.boot
                    .plan(vec!["/k/a".into(); r.kernels.len().max(1)])
                    .reps
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(run(&[]), 1, "a lone run only reports its figures");
        assert_eq!(run(&["--kernel", "a", "--kernel", "b"]), 5);
        assert_eq!(run(&["--boots", "3"]), 5);
        assert_eq!(run(&["--kernel", "a", "--kernel", "b", "--reps", "2"]), 2);
        assert_eq!(run(&["--reps", "3"]), 3);
        let series = |args: &[&str]| match Cli::try_parse_from(
            [&["kharness", "series", "s", "--tree", "t"], args].concat(),
        ) {
            Ok(Cli {
                cmd: Cmd::Series(s),
                ..
            }) => s.plan().unwrap().run.reps,
            other => panic!("{other:?}"),
        };
        assert_eq!(series(&[]), 5, "a series compares every step");
        assert_eq!(series(&["--reps", "1"]), 1);
    }

    #[test]
    fn a_debug_series_times_by_the_wall_clock_unless_told() {
        use clap::Parser;
        let mode = |args: &[&str]| match Cli::try_parse_from(
            [&["kharness", "series", "s", "--tree", "t"], args].concat(),
        ) {
            Ok(Cli {
                cmd: Cmd::Series(s),
                ..
            }) => s.plan().unwrap().run.perf_mode,
            other => panic!("{other:?}"),
        };
        assert_eq!(mode(&[]), PerfModeChoice::Auto);
        assert_eq!(mode(&["--debug", "kasan"]), PerfModeChoice::Wallclock);
        assert_eq!(
            mode(&["--debug", "kasan", "--perf-mode", "deterministic"]),
            PerfModeChoice::Deterministic
        );
    }
}
