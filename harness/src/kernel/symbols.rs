//! Where the vmlinux with symbols of a kernel image is, for a debugger.

use std::path::{Path, PathBuf};

/// The vmlinux of an image, or where it would come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Symbols {
    /// An ELF vmlinux with symbols for this image.
    Found(PathBuf),
    /// A Debian kernel whose debug package is not installed: it puts the
    /// vmlinux at `path`.
    DebianPackage { package: String, path: PathBuf },
    /// Nothing known.
    Unknown,
}

/// Where Debian's `linux-image-RELEASE-dbg` puts the vmlinux.
fn debian_debug_path(release: &str) -> PathBuf {
    Path::new("/usr/lib/debug/boot").join(format!("vmlinux-{release}"))
}

/// The vmlinux for `image` (of kernel `release`): beside it (kharness
/// keeps one next to each series step's bzImage), in the build directory
/// it lies in (`O=DIR` leaves DIR/arch/x86/boot/bzImage and DIR/vmlinux),
/// or Debian's debug package's.
pub fn vmlinux_for(image: &Path, release: &str) -> Symbols {
    let debian = debian_debug_path(release);
    let mut candidates = super::direct::candidates(image);
    candidates.push(debian.clone());
    for c in candidates {
        if is_elf(&c) {
            return Symbols::Found(c);
        }
    }
    if image.starts_with(super::BOOT_DIR) {
        return Symbols::DebianPackage {
            package: format!("linux-image-{release}-dbg"),
            path: debian,
        };
    }
    Symbols::Unknown
}

fn is_elf(p: &Path) -> bool {
    let mut head = [0u8; 4];
    std::fs::File::open(p)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok()
        && head == *b"\x7fELF"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_build_directory_and_a_kept_copy_are_found() {
        let d = tempfile::tempdir().unwrap();
        let build = d.path().join("b");
        let boot = build.join("arch/x86/boot");
        std::fs::create_dir_all(&boot).unwrap();
        std::fs::write(boot.join("bzImage"), b"MZ").unwrap();
        assert_eq!(vmlinux_for(&boot.join("bzImage"), "6.12"), Symbols::Unknown);
        std::fs::write(build.join("vmlinux"), b"\x7fELF...").unwrap();
        assert_eq!(
            vmlinux_for(&boot.join("bzImage"), "6.12"),
            Symbols::Found(build.join("vmlinux"))
        );
        let art = d.path().join("artifacts/abc");
        std::fs::create_dir_all(&art).unwrap();
        std::fs::write(art.join("vmlinux"), b"not elf").unwrap();
        assert_eq!(vmlinux_for(&art.join("bzImage"), "6.12"), Symbols::Unknown);
        std::fs::write(art.join("vmlinux"), b"\x7fELF").unwrap();
        assert_eq!(
            vmlinux_for(&art.join("bzImage"), "6.12"),
            Symbols::Found(art.join("vmlinux"))
        );
    }

    #[test]
    fn a_debian_kernel_names_its_debug_package() {
        let release = "0.0.0-no-such-release-amd64";
        assert_eq!(
            vmlinux_for(Path::new(&format!("/boot/vmlinuz-{release}")), release),
            Symbols::DebianPackage {
                package: format!("linux-image-{release}-dbg"),
                path: PathBuf::from(format!("/usr/lib/debug/boot/vmlinux-{release}")),
            }
        );
    }
}
