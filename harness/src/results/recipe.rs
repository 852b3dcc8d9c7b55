//! `recipe.json`: what a run needs to be run again, written into every run
//! directory (schema in `harness/RESULTS.md`). `kharness repro` and
//! `kharness bundle` read it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::guest::GuestBinary;
use crate::kernel::KernelIdentity;
use crate::plan::Plan;
use crate::results::{RunResults, write_json};
use crate::series::{Base, Series};
use crate::vm::{Accel, Backend, PerfMode};

pub const RECIPE: &str = "recipe.json";
/// Bumped when a field changes meaning or disappears.
pub const RECIPE_SCHEMA: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recipe {
    pub schema: u32,
    /// The kharness that made the run.
    pub kharness_version: String,
    pub run_id: String,
    /// The guest binary: path on the machine of the run, sha256, and how
    /// kharness built it.
    pub guest: GuestBinary,
    /// A copy of the guest binary, relative to the recipe (bundles only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_file: Option<String>,
    pub options: Options,
    /// The `--filter` values of the run.
    pub filters: Vec<String>,
    /// The test ids the run ran (bundles: the ones selected).
    pub tests: Vec<String>,
    /// No guest test draws random numbers today; kept so a recipe can say
    /// which seed a future randomised test used.
    #[serde(default)]
    pub seed: Option<u64>,
    /// One per result column, in order.
    pub kernels: Vec<RecipeKernel>,
    /// For `kharness series` runs: how the kernels were built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<RecipeSeries>,
}

/// How the VMs ran: what was actually used, not what was asked (an
/// `auto` accelerator is stored as the one it resolved to).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Options {
    pub backend: Backend,
    pub accel: Accel,
    pub perf_mode: PerfMode,
    pub memory: String,
    #[serde(default)]
    pub cpus: Option<u32>,
    /// Limit for one VM, humantime (`20m`).
    pub timeout: String,
    pub test_timeout: u64,
    pub reps: u32,
    #[serde(default)]
    pub retries: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecipeKernel {
    /// The column name (`base`, `+3`), when not the release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub identity: KernelIdentity,
    /// A copy of the image, relative to the recipe (bundles made with
    /// `--with-kernel`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Series runs: how many patches of the series this kernel carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patches: Option<usize>,
    /// Series runs: KCIDB patchset hash of those patches ("" for the base).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patchset_hash: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecipeSeries {
    pub name: String,
    /// The series as given (directory, mbox or thread archive).
    pub input: PathBuf,
    /// A copy of it, relative to the recipe: read again for a rebuild.
    pub copy: String,
    pub tree: TreeIdentity,
    /// Config fragments merged after the built-in one, copied, relative
    /// to the recipe.
    pub fragments: Vec<String>,
    /// sha256 over the built-in fragment and the extra ones, in order:
    /// the configuration input of every build.
    pub config_hash: String,
    /// Every patch of the series, in order.
    pub patches: Vec<RecipePatch>,
}

/// The source tree the series was applied to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TreeIdentity {
    pub path: PathBuf,
    /// VERSION.PATCHLEVEL.SUBLEVEL of its top Makefile.
    #[serde(default)]
    pub version: Option<String>,
    /// The git commit, or for a plain tree a fingerprint of its entries
    /// (paths, sizes, mtimes): what the build cache keys on.
    pub base: Base,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecipePatch {
    pub subject: String,
    /// sha256 of the diff.
    pub sha256: String,
}

/// Writes the recipe of a finished run into its directory.
pub fn write(run_dir: &Path, plan: &Plan, res: &RunResults) -> Result<()> {
    let mut tests: Vec<String> = Vec::new();
    for r in res.kernels.iter().flat_map(|k| &k.records) {
        if !tests.contains(&r.id) {
            tests.push(r.id.clone());
        }
    }
    let recipe = Recipe {
        schema: RECIPE_SCHEMA,
        kharness_version: res.tool_version.clone(),
        run_id: res.run_id.clone(),
        guest: res.guest.clone(),
        guest_file: None,
        options: Options {
            backend: res.backend.unwrap_or(Backend::Vng),
            accel: res.accel.accel,
            perf_mode: res.perf_mode.unwrap_or(PerfMode::Wallclock),
            memory: plan.memory.clone(),
            cpus: plan.cpus,
            timeout: humantime::format_duration(plan.timeout).to_string(),
            test_timeout: plan.test_timeout,
            reps: plan.reps,
            retries: plan.retries,
        },
        filters: plan.filters.clone(),
        tests,
        seed: None,
        kernels: res
            .kernels
            .iter()
            .map(|k| RecipeKernel {
                label: k.label.clone(),
                identity: k.identity.clone(),
                file: None,
                patches: None,
                patchset_hash: None,
            })
            .collect(),
        series: None,
    };
    write_json(&run_dir.join(RECIPE), &recipe)
}

/// What a series run adds to its recipe: the series and fragments copied
/// into the run directory, the tree's identity, each kernel's step.
pub struct SeriesSource<'a> {
    pub input: &'a Path,
    pub series: &'a Series,
    pub tree: &'a Path,
    pub tree_version: Option<String>,
    pub base: &'a Base,
    pub fragments: &'a [PathBuf],
    /// Per kernel of the run: (patches applied, patchset hash).
    pub steps: Vec<(usize, String)>,
}

pub fn add_series(run_dir: &Path, src: &SeriesSource<'_>) -> Result<()> {
    let mut recipe = load(run_dir)?;
    let copy_dir = run_dir.join("series");
    mkdir(&copy_dir)?;
    let copy = if src.input.is_dir() {
        let entries =
            std::fs::read_dir(src.input).map_err(|e| Error::io("failed to read", src.input, e))?;
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_file()) {
                copy_file(&e.path(), &copy_dir.join(e.file_name()))?;
            }
        }
        "series".to_owned()
    } else {
        let name = src
            .input
            .file_name()
            .map_or("series.mbox".into(), |n| n.to_string_lossy().into_owned());
        copy_file(src.input, &copy_dir.join(&name))?;
        format!("series/{name}")
    };
    let mut fragments = Vec::new();
    let mut config_input = crate::kernel::build::DEFAULT_FRAGMENT.to_owned();
    if !src.fragments.is_empty() {
        mkdir(&run_dir.join("fragments"))?;
    }
    for (i, f) in src.fragments.iter().enumerate() {
        let name = f.file_name().map_or("fragment.config".into(), |n| {
            n.to_string_lossy().into_owned()
        });
        let rel = format!("fragments/{}-{name}", i + 1);
        copy_file(f, &run_dir.join(&rel))?;
        config_input.push('\n');
        config_input.push_str(&std::fs::read_to_string(f).unwrap_or_default());
        fragments.push(rel);
    }
    for (k, (patches, hash)) in recipe.kernels.iter_mut().zip(&src.steps) {
        k.patches = Some(*patches);
        k.patchset_hash = Some(hash.clone());
    }
    recipe.series = Some(RecipeSeries {
        name: src.series.name.clone(),
        input: src.input.to_owned(),
        copy,
        tree: TreeIdentity {
            path: src.tree.to_owned(),
            version: src.tree_version.clone(),
            base: src.base.clone(),
        },
        fragments,
        config_hash: crate::support::hash::sha256_hex(config_input.as_bytes()),
        patches: src
            .series
            .patches
            .iter()
            .map(|p| RecipePatch {
                subject: p.subject.clone(),
                sha256: p.sha256.clone(),
            })
            .collect(),
    });
    write_json(&run_dir.join(RECIPE), &recipe)
}

/// Reads `dir/recipe.json`.
pub fn load(dir: &Path) -> Result<Recipe> {
    let path = dir.join(RECIPE);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::BadInput {
        path: path.clone(),
        why: format!(
            "cannot read ({e}); {} is not a run directory or bundle of kharness 0.1 with recipes",
            dir.display()
        ),
    })?;
    let r: Recipe = serde_json::from_str(&text).map_err(|e| Error::BadInput {
        path: path.clone(),
        why: format!("line {}, column {}: {e}", e.line(), e.column()),
    })?;
    if r.schema != RECIPE_SCHEMA {
        return Err(Error::BadInput {
            path,
            why: format!("recipe schema {} is not {RECIPE_SCHEMA}", r.schema),
        });
    }
    Ok(r)
}

pub(crate) fn mkdir(p: &Path) -> Result<()> {
    std::fs::create_dir_all(p).map_err(|e| Error::io("failed to create", p, e))
}

/// The sha256 of a file, `None` when it cannot be read (whether that
/// means "gone" is the caller's to say); Ctrl-C while hashing a large
/// image is [`Error::Interrupted`].
pub(crate) fn sha256_if_readable(p: &Path) -> Result<Option<String>> {
    match crate::support::hash::sha256_file(p) {
        Ok(h) => Ok(Some(h)),
        Err(e) if crate::support::fs::is_interrupted_error(&e) => Err(Error::Interrupted),
        Err(_) => Ok(None),
    }
}

pub(crate) fn copy_file(from: &Path, to: &Path) -> Result<()> {
    crate::support::fs::copy_file(from, to)
        .map(|_| ())
        .map_err(|e| Error::io("failed to copy", from, e))
}
