//! The kernels of a series' steps: each prefix of the patches applied in
//! one scratch tree and built incrementally, the bzImage kept by what went
//! into it, so a rerun reuses it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use super::Output;
use crate::error::{Error, Result};
use crate::kernel::build::{self, BuildProgress, BuildSpec};
use crate::plan::BuildOptions;
use crate::results::steps::{self, Check};
use crate::series::{Base, ScratchTree, Series};

/// One built step.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// 0 for the base, k for base + patches 1..=k.
    pub patches: usize,
    pub label: String,
    pub subject: Option<String>,
    /// sha256 over the applied patches' sha256 ("" for the base).
    pub patchset_hash: String,
    pub bzimage: PathBuf,
    /// Seconds spent building (0 when the artifact was reused).
    pub build_s: f64,
    /// Where make's part of `build_s` went (empty when reused).
    pub build_phases: Vec<build::BuildPhase>,
    pub reused: bool,
}

/// Everything a series run produced besides the ordinary run results.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesReport {
    pub name: String,
    pub format: String,
    pub tree: PathBuf,
    pub steps: Vec<Step>,
    /// The step the series stopped at and why (a patch that does not apply
    /// or a build that fails).
    pub stopped: Option<String>,
    pub changes: Vec<steps::Change>,
    pub expectations: Vec<Check>,
}

/// The bzImage a build of step `k` of `series` on `base` left in
/// `cache`, as a reused step, when there is one: nothing to check out or
/// build, so a caller may skip opening the scratch tree.
pub fn reusable_step(
    opts: &BuildOptions,
    series: &Series,
    base: &Base,
    cache: &Path,
    k: usize,
    out: &Output,
) -> Option<Step> {
    let artifact = artifact_path(opts, series, base, cache, k);
    if !artifact.is_file() {
        return None;
    }
    let label = crate::plan::step_label(k);
    if !out.quiet {
        eprintln!("kharness: [{label}] reusing {}", artifact.display());
    }
    Some(Step {
        patches: k,
        label,
        subject: series.patches[..k].last().map(|p| p.subject.clone()),
        patchset_hash: series.prefix_hash(k),
        bzimage: artifact,
        build_s: 0.0,
        build_phases: Vec::new(),
        reused: true,
    })
}

/// Where the image of step `k` is kept: keyed by what went into it, the
/// base tree, the patches, the config fragments.
fn artifact_path(
    opts: &BuildOptions,
    series: &Series,
    base: &Base,
    cache: &Path,
    k: usize,
) -> PathBuf {
    let base_id = serde_json::to_string(base).unwrap_or_default();
    let fragments: Vec<String> = opts
        .fragments
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap_or_default())
        .collect();
    let key = crate::support::hash::sha256_hex(
        format!(
            "{base_id}\n{}\n{}\n{}",
            series.prefix_hash(k),
            build::DEFAULT_FRAGMENT,
            fragments.join("\n")
        )
        .as_bytes(),
    );
    cache.join("artifacts").join(&key[..32]).join("bzImage")
}

/// Builds step `k` of `series` (the base for 0) in `tree`, or reuses the
/// bzImage a build of the same inputs left in `cache`.
pub fn build_step(
    opts: &BuildOptions,
    series: &Series,
    tree: &mut ScratchTree,
    cache: &Path,
    k: usize,
    out: &Output,
) -> Result<Step> {
    if let Some(step) = reusable_step(opts, series, tree.base(), cache, k, out) {
        return Ok(step);
    }
    let patches = &series.patches[..k];
    let prefix = series.prefix_hash(k);
    let label = crate::plan::step_label(k);
    let artifact = artifact_path(opts, series, tree.base(), cache, k);
    let artifact_dir = artifact
        .parent()
        .expect("an artifact path has a directory")
        .to_owned();
    let subject = patches.last().map(|p| p.subject.clone());
    let applied = tree.checkout(patches)?;
    let what = match patches.last() {
        Some(p) => format!("patch {}", p.label()),
        None => "the base tree".to_owned(),
    };
    if !out.quiet {
        eprintln!("kharness: [{label}] building {what} ({applied} patch(es) applied now)");
    }
    let started = Instant::now();
    let built =
        build_kernel(opts, tree.path(), tree.build_root(), &label, out).map_err(|source| {
            super::EngineError::Build {
                what: match patches.last() {
                    Some(p) => format!("building with patch {}", p.label()),
                    None => "building the base tree".to_owned(),
                },
                source,
            }
        })?;
    std::fs::create_dir_all(&artifact_dir)
        .map_err(|e| Error::io("failed to create", &artifact_dir, e))?;
    let bytes = std::fs::read(&built.bzimage)
        .map_err(|e| Error::io("failed to read", &built.bzimage, e))?;
    crate::support::fs::write_atomic(&artifact, &bytes)
        .map_err(|e| Error::io("failed to write", &artifact, e))?;
    // The uncompressed kernel beside it: the qemu backend boots it directly
    // (crate::kernel::direct), and it has the symbols a debugger wants.
    keep_vmlinux(&built.build_dir, &artifact_dir);
    let build_s = started.elapsed().as_secs_f64();
    say_built(&label, build_s, &built, out);
    Ok(Step {
        patches: k,
        label,
        subject,
        patchset_hash: prefix,
        bzimage: artifact,
        build_s,
        build_phases: built.phases,
        reused: false,
    })
}

/// Keeps the build's vmlinux (the ELF with symbols, for `kharness shell
/// --gdb`) beside the step's bzImage: a hard link, which costs nothing
/// while the build directory holds the same file (the next step's link
/// writes a new one: ld unlinks its output first), else a copy. Best
/// effort: a step without it still boots.
fn keep_vmlinux(build_dir: &Path, artifact_dir: &Path) {
    let vmlinux = crate::kernel::direct::VMLINUX;
    let (from, to) = (build_dir.join(vmlinux), artifact_dir.join(vmlinux));
    let _ = std::fs::remove_file(&to);
    if std::fs::hard_link(&from, &to).is_err() {
        let _ = std::fs::copy(&from, &to);
    }
}

/// Builds the mirror of a working tree as step `k` (1 after a base, 0
/// alone), incrementally in the mirror's own build directory. The image
/// stays there: the mirror's lock, held by the caller until the run
/// ends, keeps the next build from replacing it.
pub fn build_working_tree(
    opts: &BuildOptions,
    snapshot: &crate::kernel::tree::TreeSnapshot,
    k: usize,
    out: &Output,
) -> Result<Step> {
    let label = crate::plan::step_label(k);
    if !out.quiet {
        let s = snapshot.stats;
        eprintln!(
            "kharness: [{label}] building the working tree {} ({} file(s) new or changed, {} \
             removed since the last build)",
            snapshot.source().display(),
            s.linked,
            s.removed
        );
    }
    let started = Instant::now();
    let built = build_kernel(opts, &snapshot.path(), snapshot.build_root(), &label, out).map_err(
        |source| super::EngineError::Build {
            what: format!("building the working tree {}", snapshot.source().display()),
            source,
        },
    )?;
    let build_s = started.elapsed().as_secs_f64();
    say_built(&label, build_s, &built, out);
    Ok(Step {
        patches: k,
        label,
        subject: (k > 0).then(|| working_tree_subject(snapshot.source())),
        patchset_hash: String::new(),
        bzimage: built.bzimage,
        build_s,
        build_phases: built.phases,
        reused: false,
    })
}

/// How reports name the working-tree step.
pub fn working_tree_subject(tree: &Path) -> String {
    format!(
        "working tree {} (uncommitted changes included)",
        tree.display()
    )
}

/// Configures and builds `source` with the step options, keyed build
/// directories under `build_root`, a progress bar named `label`.
fn build_kernel(
    opts: &BuildOptions,
    source: &Path,
    build_root: PathBuf,
    label: &str,
    out: &Output,
) -> std::result::Result<build::Built, build::BuildError> {
    let mut spec = BuildSpec::new(source);
    spec.fragments = opts.fragments.clone();
    if let Some(j) = opts.jobs {
        spec.jobs = j;
    }
    spec.build_root = Some(build_root);
    spec.cancel = Some(std::sync::Arc::clone(
        crate::support::process::interrupt_flag(),
    ));
    let mut bar = crate::support::progress::BuildBar::new(
        label,
        crate::support::progress::Mode::detect(out.quiet),
    );
    let built = build::configure_and_build(&spec, &mut |p: &BuildProgress| bar.update(p));
    bar.finish();
    built
}

fn say_built(label: &str, build_s: f64, built: &build::Built, out: &Output) {
    if !out.quiet {
        eprintln!(
            "kharness: [{label}] built in {build_s:.1}s ({} kbuild steps)",
            built.steps
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_vmlinux_survives_the_next_link_of_the_build_directory() {
        let d = tempfile::tempdir().unwrap();
        let (build, art) = (d.path().join("build"), d.path().join("art"));
        std::fs::create_dir_all(&build).unwrap();
        std::fs::create_dir_all(&art).unwrap();
        std::fs::write(build.join("vmlinux"), b"step 1").unwrap();
        keep_vmlinux(&build, &art);
        // The next step's link: ld unlinks its output, then writes it.
        std::fs::remove_file(build.join("vmlinux")).unwrap();
        std::fs::write(build.join("vmlinux"), b"step 2").unwrap();
        assert_eq!(std::fs::read(art.join("vmlinux")).unwrap(), b"step 1");
        // A rebuilt step replaces what it kept.
        keep_vmlinux(&build, &art);
        assert_eq!(std::fs::read(art.join("vmlinux")).unwrap(), b"step 2");
    }
}
