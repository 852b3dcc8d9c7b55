//! Kernel builds through the real path: Debian's 6.12 source, kbuild,
//! ccache. `ci/setup.sh` installs and unpacks the source; these tests are
//! ignored in a quick `cargo test` and run by `ci/test.sh`.
//!
//! `KHARNESS_KERNEL_SOURCE` points them at another (clean) tree.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use kharness::kernel::build::{self, BuildError, BuildSpec};

const DEFAULT_SOURCE: &str = "/usr/src/linux-source-6.12";

fn source() -> PathBuf {
    let s = std::env::var_os("KHARNESS_KERNEL_SOURCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| DEFAULT_SOURCE.into());
    assert!(
        s.join("Makefile").is_file(),
        "no kernel source at {} (ci/setup.sh unpacks Debian's linux-source-6.12 there; \
         or set KHARNESS_KERNEL_SOURCE)",
        s.display()
    );
    s
}

/// A spec whose cache (configure scratch, lock) lives in `dir`, so the test
/// neither reuses nor disturbs the user's build cache. ccache stays the
/// user's, which keeps a rebuild in a fresh directory to minutes.
fn spec_in(dir: &Path) -> BuildSpec {
    let mut spec = BuildSpec::new(source());
    spec.cache_dir = dir.join("builds");
    spec
}

/// Prints a progress line about every 30 s of a step (reports come about
/// once a second).
fn progress(p: &build::BuildProgress) {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let secs = p.elapsed.as_secs();
    let last = LAST.load(Ordering::Relaxed);
    if secs < last || secs >= last + 30 {
        LAST.store(secs, Ordering::Relaxed);
        eprintln!(
            "  {} {:>4}s {:>5} steps  {}",
            p.target, secs, p.steps, p.last
        );
    }
}

/// Files under `tree` modified after `marker` was written (at most a few).
fn written_since(tree: &Path, marker: &Path) -> Vec<String> {
    let out = Command::new("find")
        .arg(tree)
        .arg("-newer")
        .arg(marker)
        .output()
        .expect("find runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .take(10)
        .map(str::to_owned)
        .collect()
}

#[test]
#[ignore = "builds a kernel; ci/test.sh runs it"]
fn default_fragment_builds_a_bzimage_without_writing_the_source() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let marker = tmp.path().join("marker");
    std::fs::write(&marker, "").expect("write marker");
    // Let the marker's mtime fall strictly before anything make touches.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let spec = spec_in(tmp.path());

    let configured = build::configure(&spec, &mut progress).expect("configure");
    eprintln!(
        "configured in {:.1}s: {} requested options honoured, config {}",
        configured.elapsed.as_secs_f64(),
        configured.requested,
        &configured.config_hash[..16]
    );
    assert!(configured.requested > 40, "{}", configured.requested);
    assert!(configured.build_dir.starts_with(tmp.path()));
    assert!(
        configured
            .build_dir
            .ends_with(&configured.config_hash[..16])
    );
    let config = std::fs::read_to_string(&configured.config).expect("read .config");
    for line in ["CONFIG_IO_URING=y", "CONFIG_VIRTIO_FS=y", "CONFIG_64BIT=y"] {
        assert!(config.lines().any(|l| l == line), "{line} not in .config");
    }
    assert!(
        !config.lines().any(|l| l.ends_with("=m")),
        "no modules expected"
    );

    let built = build::build(&spec, &configured, &mut progress).expect("build");
    eprintln!(
        "built {} in {:.1}s ({} steps, ccache {})",
        built.bzimage.display(),
        built.elapsed.as_secs_f64(),
        built.steps,
        built.ccache
    );
    let id = kharness::kernel::identify(&built.bzimage).expect("a bootable bzImage");
    assert!(id.release.starts_with("6.12"), "{}", id.release);
    assert_eq!(built.config_hash, configured.config_hash);
    // A build from nothing goes through every phase, in kbuild's order,
    // and the phases account for make's whole run.
    let names: Vec<&str> = built.phases.iter().map(|p| p.name).collect();
    assert_eq!(
        names,
        [
            "walk",
            "compile",
            "archives",
            "vmlinux.o",
            "modpost",
            "kallsyms",
            "link",
            "bzImage"
        ],
        "{:?}",
        built.phases
    );
    let sum: f64 = built.phases.iter().map(|p| p.seconds).sum();
    assert!(
        sum <= built.elapsed.as_secs_f64() && sum > 0.9 * built.elapsed.as_secs_f64(),
        "phases {sum:.1}s of a {:.1}s build",
        built.elapsed.as_secs_f64()
    );

    // A second configure lands on the same directory, and a build with
    // nothing changed does (almost) nothing.
    drop(configured);
    let again = build::configure(&spec, &mut progress).expect("configure again");
    assert_eq!(again.build_dir, built.build_dir);
    let rebuilt = build::build(&spec, &again, &mut progress).expect("no-change rebuild");
    eprintln!(
        "no-change rebuild: {:.1}s, {} steps",
        rebuilt.elapsed.as_secs_f64(),
        rebuilt.steps
    );
    assert!(rebuilt.steps < 20, "{} steps", rebuilt.steps);
    let names: Vec<&str> = rebuilt.phases.iter().map(|p| p.name).collect();
    assert_eq!(
        names,
        ["walk"],
        "nothing to compile or link: {:?}",
        rebuilt.phases
    );

    let written = written_since(&source(), &marker);
    assert!(
        written.is_empty(),
        "the build wrote into the source tree: {written:?}"
    );
}

#[test]
#[ignore = "configures a kernel tree; ci/test.sh runs it"]
fn an_option_kconfig_drops_is_an_error_naming_it_and_why() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let frag = tmp.path().join("extra.config");
    // virtio-blk sits inside `if BLK_DEV`, which the default fragment turns
    // off; the second option no longer exists in 6.12 (it became BASE_SMALL).
    std::fs::write(&frag, "CONFIG_VIRTIO_BLK=y\nCONFIG_BASE_FULL=y\n").expect("write fragment");
    let mut spec = spec_in(tmp.path());
    // Merged after the built-in fragment, which stays in force.
    spec.fragments = vec![frag.clone()];
    let err = build::configure(&spec, &mut progress).expect_err("dropped options are an error");
    let BuildError::Dropped { dropped, .. } = &err else {
        panic!("expected Dropped, got {err:?}");
    };
    let names: Vec<&str> = dropped.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["BASE_FULL", "VIRTIO_BLK"], "{err}");
    let text = err.to_string();
    eprintln!("{text}");
    let frag_name = frag.display().to_string();
    assert!(
        text.contains(&format!(
            "CONFIG_VIRTIO_BLK=y ({frag_name}:1): got absent from .config; defined at \
             drivers/block/Kconfig:"
        )),
        "{text}"
    );
    assert!(text.contains("(here BLK_DEV is off)"), "{text}");
    assert!(
        text.contains("no `config BASE_FULL` in this tree's Kconfig files"),
        "{text}"
    );
    let code = kharness::error::Error::from(err).exit_code();
    assert_eq!(code, kharness::error::ExitCode::Usage);
}
