//! `kharness bundle`: pack what a reviewer needs to rerun some results on
//! their own machine (recipe, results, series and config fragments, guest
//! binary; the kernel images only when asked) into one `.tar.gz`, or a
//! directory. `kharness repro` takes either.

use std::path::{Path, PathBuf};

use crate::error::{Error, ExitCode, Result};
use crate::recipe::{self, RECIPE, copy_file, mkdir};
use crate::repro::sha256_file;

pub struct BundleRequest {
    pub run_dir: PathBuf,
    /// Test ids; empty means the results that did not pass (all when
    /// everything passed), as `kharness repro` picks them.
    pub tests: Vec<String>,
    pub with_kernel: bool,
    /// `*.tar.gz` / `*.tgz`: an archive; anything else: a directory.
    pub output: PathBuf,
}

pub fn execute(req: BundleRequest, quiet: bool) -> Result<ExitCode> {
    let mut recipe = recipe::load(&req.run_dir)?;
    let mut results = crate::results::load(&req.run_dir)?;
    let pairs = crate::repro::select(&results, &req.tests)?;
    let tests = crate::repro::test_ids(&pairs);
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

    // Only the selected tests' records; every kernel stays (its identity
    // is the recipe's), so kernel numbers keep their meaning.
    for k in &mut results.kernels {
        k.records.retain(|r| tests.contains(&r.id));
    }
    crate::results::write_json(&dir.join("results.json"), &results)?;
    recipe.tests = tests.clone();

    if let Some(s) = &recipe.series {
        copy_tree(&req.run_dir.join(&s.copy), &dir.join(&s.copy))?;
        for f in &s.fragments {
            mkdir(&dir.join("fragments"))?;
            copy_file(&req.run_dir.join(f), &dir.join(f))?;
        }
    }
    let guest = &recipe.guest.path;
    if sha256_file(guest).as_deref() == Some(recipe.guest.sha256.as_str()) {
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
            if sha256_file(p).as_deref() != Some(k.identity.sha256.as_str()) {
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

    if archive {
        pack(&dir, &top, &req.output)?;
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
    println!("{}", req.output.display());
    Ok(ExitCode::Ok)
}

fn is_archive(p: &Path) -> bool {
    let s = p.to_string_lossy();
    s.ends_with(".tar.gz") || s.ends_with(".tgz")
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    if from.is_file() {
        if let Some(parent) = to.parent() {
            mkdir(parent)?;
        }
        return copy_file(from, to);
    }
    mkdir(to)?;
    let entries = std::fs::read_dir(from).map_err(|e| Error::io("failed to read", from, e))?;
    for e in entries.flatten() {
        copy_tree(&e.path(), &to.join(e.file_name()))?;
    }
    Ok(())
}

/// Writes `dir` as `top/...` into a gzip-compressed tar at `output`,
/// through a temporary file and a rename.
fn pack(dir: &Path, top: &str, output: &Path) -> Result<()> {
    let parent = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".kharness-bundle")
        .tempfile_in(parent)
        .map_err(|source| Error::Output {
            path: output.to_owned(),
            source,
        })?;
    let gz = flate2::write::GzEncoder::new(tmp.as_file(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.follow_symlinks(true);
    tar.append_dir_all(top, dir)
        .and_then(|()| tar.into_inner())
        .and_then(|gz| gz.finish())
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io("failed to write", output, e))?;
    // A bundle is for sharing: not the 0600 of a temporary file.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))
        .map_err(|e| Error::io("failed to write", output, e))?;
    tmp.persist(output)
        .map_err(|e| Error::io("failed to write", output, e.error))?;
    Ok(())
}

/// Unpacks a bundle archive into `into` and returns the directory holding
/// its recipe. Entries cannot land outside `into` (tar's `unpack` refuses
/// `..` and absolute paths).
pub fn unpack(archive: &Path, into: &Path) -> Result<PathBuf> {
    let f = std::fs::File::open(archive).map_err(|e| Error::BadInput {
        path: archive.to_owned(),
        why: format!("cannot open: {e}"),
    })?;
    tar::Archive::new(flate2::read::GzDecoder::new(f))
        .unpack(into)
        .map_err(|e| Error::BadInput {
            path: archive.to_owned(),
            why: format!("not a kharness bundle (.tar.gz): {e}"),
        })?;
    if into.join(RECIPE).is_file() {
        return Ok(into.to_owned());
    }
    let entries = std::fs::read_dir(into).map_err(|e| Error::io("failed to read", into, e))?;
    for e in entries.flatten() {
        if e.path().join(RECIPE).is_file() {
            return Ok(e.path());
        }
    }
    Err(Error::BadInput {
        path: archive.to_owned(),
        why: format!("no {RECIPE} inside: not a kharness bundle"),
    })
}
