//! Bundles: a run's recipe, selected results, series, config fragments,
//! guest binary and (when asked) kernel images, packed into one `.tar.gz`
//! or kept as a directory; `kharness repro` unpacks them.

use std::path::{Path, PathBuf};

use super::recipe::{RECIPE, copy_file, mkdir};
use crate::error::{Error, Result};
use crate::support::fs::StopOnInterrupt;

/// Whether `p` names an archive (`*.tar.gz`, `*.tgz`) rather than a directory.
pub fn is_archive(p: &Path) -> bool {
    let s = p.to_string_lossy();
    s.ends_with(".tar.gz") || s.ends_with(".tgz")
}

pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
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
pub fn pack(dir: &Path, top: &str, output: &Path) -> Result<()> {
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
    // The check sits on the compressor's input: zeros compress so well
    // that its output is written too rarely to notice Ctrl-C there.
    let gz = flate2::write::GzEncoder::new(tmp.as_file(), flate2::Compression::default());
    let mut tar = tar::Builder::new(StopOnInterrupt(gz));
    tar.follow_symlinks(true);
    tar.append_dir_all(top, dir)
        .and_then(|()| tar.into_inner())
        .and_then(|gz| gz.0.finish())
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
