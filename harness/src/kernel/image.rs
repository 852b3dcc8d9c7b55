//! Prebuilt kernels: finding them, checking they are bootable images, and
//! naming them (release string, path, sha256).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::support::hash::sha256_reader;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ExitCode, Result};

/// Why a `--kernel` value names no image, or there is no default.
#[derive(Debug, thiserror::Error)]
pub enum KernelSpecError {
    #[error("--kernel needs a path or a release, got an empty string")]
    Empty,
    #[error("kernel {spec}: no such file; give a bzImage path or a release from {hint}")]
    NoSuchFile { spec: String, hint: String },
    #[error("kernel {spec}: neither a file nor a release with {}; {hint}", candidate.display())]
    Unknown {
        spec: String,
        candidate: PathBuf,
        hint: String,
    },
    #[error(
        "no kernel given and none found in {BOOT_DIR}; install one with \
         `apt-get install linux-image-6.12.117+deb12-amd64-unsigned` or pass --kernel PATH"
    )]
    NoDefault,
}

impl crate::error::OpError for KernelSpecError {
    /// A bad value is the user's; a machine without kernels is the
    /// machine's.
    fn exit_code(&self) -> ExitCode {
        match self {
            KernelSpecError::NoDefault => ExitCode::Infra,
            _ => ExitCode::Usage,
        }
    }
}

/// Where distribution kernels live.
pub const BOOT_DIR: &str = "/boot";

/// What identifies a kernel image in results and reproduction recipes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelIdentity {
    /// `uname -r` of the image, read from its boot header.
    pub release: String,
    /// The full version banner from the boot header.
    pub banner: String,
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
}

/// Turns `--kernel` values into image paths: a path (anything with a `/` or
/// that exists) is taken as is; anything else is a release under /boot.
pub fn resolve_spec(spec: &str) -> Result<PathBuf> {
    resolve_spec_in(spec, Path::new(BOOT_DIR))
}

fn resolve_spec_in(spec: &str, boot: &Path) -> Result<PathBuf> {
    if spec.is_empty() {
        return Err(KernelSpecError::Empty.into());
    }
    let as_path = Path::new(spec);
    if spec.contains('/') || as_path.exists() {
        if !as_path.exists() {
            return Err(KernelSpecError::NoSuchFile {
                spec: spec.to_owned(),
                hint: available_hint(boot),
            }
            .into());
        }
        return Ok(as_path.to_owned());
    }
    let candidate = boot.join(format!("vmlinuz-{spec}"));
    if candidate.exists() {
        return Ok(candidate);
    }
    Err(KernelSpecError::Unknown {
        spec: spec.to_owned(),
        candidate,
        hint: available_hint(boot),
    }
    .into())
}

fn available_hint(boot: &Path) -> String {
    let found = list_boot_kernels(boot);
    if found.is_empty() {
        format!(
            "no kernels in {} (run `kharness doctor` for how to install some)",
            boot.display()
        )
    } else {
        let names: Vec<String> = found.iter().map(|(r, _)| r.clone()).collect();
        format!("available: {}", names.join(", "))
    }
}

/// `(release, path)` of every `vmlinuz-*` in `boot`, oldest first.
pub fn list_boot_kernels(boot: &Path) -> Vec<(String, PathBuf)> {
    let Ok(dir) = std::fs::read_dir(boot) else {
        return Vec::new();
    };
    let mut v: Vec<(String, PathBuf)> = dir
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = name.strip_prefix("vmlinuz-")?.to_owned();
            Some((rel, e.path()))
        })
        .collect();
    v.sort_by(|a, b| version_cmp(&a.0, &b.0));
    v
}

/// The embedded default: the newest prebuilt kernel under /boot.
pub fn default_kernel() -> Result<PathBuf> {
    list_boot_kernels(Path::new(BOOT_DIR))
        .pop()
        .map(|(_, p)| p)
        .ok_or_else(|| KernelSpecError::NoDefault.into())
}

/// Compares release strings by their numeric runs, so 6.12 sorts after 6.1
/// and 6.1.0-56 after 6.1.0-9.
pub fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn parts(s: &str) -> Vec<Result<u64, String>> {
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut digit = None;
        for c in s.chars() {
            let d = c.is_ascii_digit();
            if digit.is_some_and(|x| x != d) {
                out.push(take(&mut cur, digit == Some(true)));
            }
            digit = Some(d);
            cur.push(c);
        }
        if !cur.is_empty() {
            out.push(take(&mut cur, digit == Some(true)));
        }
        out
    }
    fn take(cur: &mut String, numeric: bool) -> Result<u64, String> {
        let s = std::mem::take(cur);
        if numeric {
            s.parse::<u64>().map_err(|_| s)
        } else {
            Err(s)
        }
    }
    parts(a).cmp(&parts(b))
}

/// Reads the image, checks it is an x86 bzImage, and names it.
pub fn identify(path: &Path) -> Result<KernelIdentity> {
    let bad = |why: String| Error::BadInput {
        path: path.to_owned(),
        why,
    };
    let meta = std::fs::metadata(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(bad(
            "not a regular file; --kernel wants a bzImage (e.g. /boot/vmlinuz-*)".into(),
        ));
    }
    let mut f = File::open(path).map_err(|e| bad(format!("cannot open: {e}")))?;
    check_length(&mut f, meta.len()).map_err(bad)?;
    let banner = read_banner(&mut f).map_err(bad)?;
    let release = banner
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned();
    if release.is_empty() {
        return Err(bad("boot header has an empty version string".into()));
    }
    f.seek(SeekFrom::Start(0))
        .map_err(|e| bad(format!("cannot read: {e}")))?;
    let sha256 = sha256_reader(&mut f).map_err(|e| bad(format!("cannot read: {e}")))?;
    Ok(KernelIdentity {
        release,
        banner,
        path: path.to_owned(),
        sha256,
        size: meta.len(),
    })
}

/// The version banner of an x86 boot image (Documentation/arch/x86/boot.rst:
/// "HdrS" at 0x202, `kernel_version` at 0x20e points 0x200 before the
/// NUL-terminated string).
fn read_banner(f: &mut File) -> std::result::Result<String, String> {
    let mut head = [0u8; 0x210];
    f.read_exact(&mut head)
        .map_err(|_| "too short to be a kernel image".to_owned())?;
    if &head[0x202..0x206] != b"HdrS" {
        return Err(
            "not an x86 bzImage (no \"HdrS\" boot header); --kernel wants a file like \
                    /boot/vmlinuz-* or arch/x86/boot/bzImage"
                .into(),
        );
    }
    let ptr = u16::from_le_bytes([head[0x20e], head[0x20f]]);
    if ptr == 0 {
        return Err("boot header carries no version string".into());
    }
    f.seek(SeekFrom::Start(u64::from(ptr) + 0x200))
        .map_err(|e| format!("cannot read version string: {e}"))?;
    let mut buf = [0u8; 256];
    let n = f
        .read(&mut buf)
        .map_err(|e| format!("cannot read version string: {e}"))?;
    let end = buf[..n].iter().position(|&b| b == 0).unwrap_or(n);
    let s = String::from_utf8_lossy(&buf[..end]).trim().to_owned();
    if s.is_empty() {
        return Err("boot header has an empty version string".into());
    }
    Ok(s)
}

/// A bzImage cut short (an interrupted copy or download) still has its
/// header; the header says how long the image is: the setup sectors
/// (`setup_sects` at 0x1f1, 0 meaning 4) plus the boot sector, then
/// `syssize` (0x1f4, boot protocol 2.04 and later) 16-byte paragraphs.
/// Signed images carry more after that, so only a shorter file is wrong.
/// What is no bzImage at all is left to [`read_banner`] to name.
fn check_length(f: &mut File, len: u64) -> std::result::Result<(), String> {
    let mut head = [0u8; 0x208];
    if f.read_exact(&mut head).is_err() || &head[0x202..0x206] != b"HdrS" {
        return f
            .seek(SeekFrom::Start(0))
            .map(|_| ())
            .map_err(|e| format!("cannot read: {e}"));
    }
    f.seek(SeekFrom::Start(0))
        .map_err(|e| format!("cannot read: {e}"))?;
    let protocol = u16::from_le_bytes([head[0x206], head[0x207]]);
    if protocol < 0x204 {
        return Ok(());
    }
    let setup_sects = match head[0x1f1] {
        0 => 4,
        n => u64::from(n),
    };
    let syssize = u32::from_le_bytes([head[0x1f4], head[0x1f5], head[0x1f6], head[0x1f7]]);
    let want = (setup_sects + 1) * 512 + u64::from(syssize) * 16;
    if len < want {
        return Err(format!(
            "truncated kernel image: its boot header says {want} bytes, the file has {len}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;
    use std::io::Write;

    #[test]
    fn versions_sort_numerically() {
        assert_eq!(
            version_cmp("6.12.107+deb12-amd64", "6.1.0-56-amd64"),
            Ordering::Greater
        );
        assert_eq!(
            version_cmp("6.1.0-56-amd64", "6.1.0-9-amd64"),
            Ordering::Greater
        );
        assert_eq!(
            version_cmp("6.1.0-56-amd64", "6.1.0-56-amd64"),
            Ordering::Equal
        );
    }

    fn fake_bzimage(version: &str) -> tempfile::NamedTempFile {
        let mut img = vec![0u8; 0x400];
        img[0x202..0x206].copy_from_slice(b"HdrS");
        img[0x20e..0x210].copy_from_slice(&0x100u16.to_le_bytes());
        let s = format!("{version}\0");
        img[0x300..0x300 + s.len()].copy_from_slice(s.as_bytes());
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&img).unwrap();
        f
    }

    #[test]
    fn identifies_a_boot_header() {
        let f = fake_bzimage("6.12.0-test (me@host) #1 SMP");
        let id = identify(f.path()).unwrap();
        assert_eq!(id.release, "6.12.0-test");
        assert_eq!(id.size, 0x400);
        assert_eq!(id.sha256.len(), 64);
    }

    #[test]
    fn rejects_what_is_not_a_kernel() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&[7u8; 0x1000]).unwrap();
        let e = identify(f.path()).unwrap_err();
        assert!(e.to_string().contains("not an x86 bzImage"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        assert!(
            identify(dir.path())
                .unwrap_err()
                .to_string()
                .contains("not a regular file")
        );
        // A real header whose image is cut short.
        let mut img = std::fs::read(fake_bzimage("6.12.0-cut").path()).unwrap();
        img[0x1f1] = 1;
        img[0x1f4..0x1f8].copy_from_slice(&100u32.to_le_bytes());
        img[0x206..0x208].copy_from_slice(&0x20fu16.to_le_bytes());
        let mut cut = tempfile::NamedTempFile::new().unwrap();
        cut.write_all(&img).unwrap();
        let e = identify(cut.path()).unwrap_err().to_string();
        assert!(
            e.contains(
                "truncated kernel image: its boot header says 2624 bytes, the file has 1024"
            ),
            "{e}"
        );
        img.resize(2624, 0);
        std::fs::write(cut.path(), &img).unwrap();
        assert_eq!(identify(cut.path()).unwrap().release, "6.12.0-cut");
        let short = tempfile::NamedTempFile::new().unwrap();
        assert!(
            identify(short.path())
                .unwrap_err()
                .to_string()
                .contains("too short")
        );
    }

    #[test]
    fn specs_resolve_against_boot() {
        let boot = tempfile::tempdir().unwrap();
        std::fs::write(boot.path().join("vmlinuz-6.1.0-1"), b"x").unwrap();
        std::fs::write(boot.path().join("vmlinuz-6.12.0-2"), b"x").unwrap();
        assert_eq!(
            resolve_spec_in("6.1.0-1", boot.path()).unwrap(),
            boot.path().join("vmlinuz-6.1.0-1")
        );
        let e = resolve_spec_in("5.0", boot.path()).unwrap_err().to_string();
        assert!(e.contains("available: 6.1.0-1, 6.12.0-2"), "{e}");
        let e = resolve_spec_in("/no/such/bzImage", boot.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no such file"), "{e}");
        assert_eq!(list_boot_kernels(boot.path()).last().unwrap().0, "6.12.0-2");
    }
}
