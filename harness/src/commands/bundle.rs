//! `kharness bundle`: pack what a reviewer needs to rerun some results on
//! their own machine (recipe, results, series and config fragments, guest
//! binary; the kernel images only when asked) into one `.tar.gz`, or a
//! directory. `kharness repro` takes either.

use std::path::{Path, PathBuf};

use crate::cli::BundleArgs;
use crate::error::{Error, ExitCode, Result};
use crate::results::bundle::{copy_tree, is_archive, pack};
use crate::results::recipe::{self, RECIPE, copy_file, mkdir, sha256_if_readable};
use crate::results::selection;

pub struct BundleRequest {
    pub run_dir: PathBuf,
    /// Test ids; empty means the results that did not pass (all when
    /// everything passed), as `kharness repro` picks them.
    pub tests: Vec<String>,
    /// Id globs and area names (`--filter`), beside `tests`.
    pub filters: Vec<String>,
    pub with_kernel: bool,
    /// `*.tar.gz` / `*.tgz`: an archive; anything else: a directory.
    pub output: PathBuf,
}

pub fn run(a: BundleArgs, quiet: bool) -> Result<ExitCode> {
    execute(
        BundleRequest {
            run_dir: a.run_dir,
            tests: a.tests,
            filters: a.filters,
            with_kernel: a.with_kernel,
            output: a.output,
        },
        quiet,
    )
}

pub fn execute(req: BundleRequest, quiet: bool) -> Result<ExitCode> {
    let mut recipe = recipe::load(&req.run_dir)?;
    let mut results = crate::results::load(&req.run_dir)?;
    let pairs = selection::select(&results, &req.tests, &req.filters)?;
    let tests = selection::test_ids(&pairs);
    let archive = is_archive(&req.output);
    if req.output.exists() {
        return Err(Error::Usage(format!(
            "-o {}: already exists; bundles are never overwritten",
            req.output.display()
        )));
    }
    let staging = match archive {
        true => Some(
            tempfile::Builder::new()
                .prefix("kharness-bundle")
                .tempdir()
                .map_err(|e| Error::io("failed to create", std::env::temp_dir(), e))?,
        ),
        false => None,
    };
    let top = format!("kharness-bundle-{}", recipe.run_id);
    let dir = match &staging {
        Some(t) => t.path().join(&top),
        None => req.output.clone(),
    };
    mkdir(&dir)?;
    let filled =
        fill(&req, &dir, &pairs, &tests, &mut recipe, &mut results, quiet).and_then(|()| {
            match archive {
                true => pack(&dir, &top, &req.output),
                false => Ok(()),
            }
        });
    if let Err(e) = filled {
        // Interrupted or failed: no half bundle is left where one was asked
        // for (an archive is only ever renamed into place whole).
        if !archive {
            let _ = std::fs::remove_dir_all(&dir);
        }
        return Err(e);
    }
    if !quiet {
        eprintln!(
            "kharness: bundled {} result(s) of run {} ({} test(s){})",
            pairs.len(),
            recipe.run_id,
            tests.len(),
            if req.with_kernel {
                ", with kernels"
            } else {
                ""
            }
        );
    }
    crate::support::stdout::println(&req.output.display().to_string()).map_err(Error::stdout)?;
    Ok(ExitCode::Ok)
}

/// Writes the bundle's files into `dir`.
fn fill(
    req: &BundleRequest,
    dir: &Path,
    pairs: &[(usize, String)],
    tests: &[String],
    recipe: &mut recipe::Recipe,
    results: &mut crate::results::RunResults,
    quiet: bool,
) -> Result<()> {
    // Only the selected tests' records; every kernel stays (its identity
    // is the recipe's), so kernel numbers keep their meaning.
    for k in &mut results.kernels {
        k.records.retain(|r| tests.contains(&r.id));
    }
    crate::results::write_json(&dir.join("results.json"), &results)?;
    recipe.tests = tests.to_vec();

    if let Some(s) = &recipe.series {
        copy_tree(&req.run_dir.join(&s.copy), &dir.join(&s.copy))?;
        for f in &s.fragments {
            mkdir(&dir.join("fragments"))?;
            copy_file(&req.run_dir.join(f), &dir.join(f))?;
        }
    }
    let guest = &recipe.guest.path;
    if sha256_if_readable(guest)?.as_deref() == Some(recipe.guest.sha256.as_str()) {
        mkdir(&dir.join("guest"))?;
        copy_file(guest, &dir.join("guest/kharness-guest"))?;
        recipe.guest_file = Some("guest/kharness-guest".into());
    } else if !quiet {
        eprintln!(
            "kharness: warning: the run's guest binary {} is gone or changed; the bundle has none (repro builds one and reports the hash difference)",
            guest.display()
        );
    }
    if req.with_kernel {
        let wanted: Vec<usize> = pairs.iter().map(|(k, _)| *k).collect();
        for (i, k) in recipe.kernels.iter_mut().enumerate() {
            if !wanted.contains(&i) {
                continue;
            }
            let p = &k.identity.path;
            if sha256_if_readable(p)?.as_deref() != Some(k.identity.sha256.as_str()) {
                return Err(Error::BadInput {
                    path: p.clone(),
                    why: format!(
                        "the kernel of the run is gone or changed (sha256 is not {})",
                        k.identity.sha256
                    ),
                });
            }
            let rel = format!("kernels/{}/bzImage", i + 1);
            mkdir(&dir.join(format!("kernels/{}", i + 1)))?;
            copy_file(p, &dir.join(&rel))?;
            k.file = Some(rel);
        }
    }
    crate::results::write_json(&dir.join(RECIPE), &recipe)?;

    Ok(())
}
