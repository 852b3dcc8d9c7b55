//! Direct boot: the uncompressed `vmlinux` a bzImage was made from, booted
//! through its PVH entry point (`CONFIG_PVH`; QEMU loads an ELF kernel
//! with a PVH note itself, from QEMU 4.0). No real-mode setup and no
//! decompression: under TCG the bzImage's own boot code cost 0.1-0.3 s of
//! a 1-1.5 s boot here. The `vmlinux` keeps its symbols, so a kernel
//! booted this way is also the file to hand a debugger.
//!
//! Which `vmlinux` belongs to a bzImage: the one beside it (kharness's
//! build cache keeps both in one directory) or at the top of the build
//! directory an `arch/x86/boot/bzImage` sits in, and only when its
//! version banner is the bzImage's: a `vmlinux` left over from another
//! build of the same tree differs in the build number and date.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::KernelIdentity;

/// The uncompressed kernel's file name, in a build directory and beside a
/// cached bzImage.
pub const VMLINUX: &str = "vmlinux";

/// How a kernel is booted by the qemu backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootImage {
    /// The `vmlinux` at this path, through its PVH entry.
    Direct(PathBuf),
    /// The bzImage, and why not directly.
    BzImage(String),
}

impl BootImage {
    /// For the boot line: `vmlinux (PVH)` or `bzImage: <why>`.
    pub fn describe(&self) -> String {
        match self {
            BootImage::Direct(_) => "vmlinux via PVH".to_owned(),
            BootImage::BzImage(why) => format!("bzImage ({why})"),
        }
    }
}

/// Where the `vmlinux` of the bzImage at `bzimage` would be: beside it,
/// then at the top of the build directory it lies in.
pub(super) fn candidates(bzimage: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(dir) = bzimage.parent() {
        v.push(dir.join(VMLINUX));
    }
    if bzimage.ends_with(super::build::BZIMAGE) {
        if let Some(root) = bzimage.ancestors().nth(4) {
            v.push(root.join(VMLINUX));
        }
    }
    v
}

/// The image to boot for `id`: its own `vmlinux` when there is one with a
/// PVH entry, else the bzImage, with the reason.
pub fn boot_image(id: &KernelIdentity) -> BootImage {
    let Some(vmlinux) = candidates(&id.path).into_iter().find(|p| p.is_file()) else {
        return BootImage::BzImage("no vmlinux beside it".to_owned());
    };
    match check(&vmlinux, &id.banner) {
        Ok(()) => BootImage::Direct(vmlinux),
        Err(why) => BootImage::BzImage(format!("{}: {why}", vmlinux.display())),
    }
}

fn check(vmlinux: &Path, banner: &str) -> Result<(), String> {
    let mut f = File::open(vmlinux).map_err(|e| format!("cannot open: {e}"))?;
    if !has_pvh_note(&mut f).map_err(|e| format!("cannot read: {e}"))? {
        return Err("no PVH entry point (CONFIG_PVH is off)".to_owned());
    }
    let mut bytes = Vec::new();
    f.seek(SeekFrom::Start(0))
        .and_then(|_| f.read_to_end(&mut bytes))
        .map_err(|e| format!("cannot read: {e}"))?;
    if !same_build(&bytes, banner) {
        return Err("from another build (its version banner differs)".to_owned());
    }
    Ok(())
}

/// `XEN_ELFNOTE_PHYS32_ENTRY` (include/xen/interface/elfnote.h): the
/// 32-bit entry point a PVH loader jumps to.
const PHYS32_ENTRY: u32 = 18;
const PT_NOTE: u32 = 4;

/// Whether the ELF64 little-endian file `f` carries a Xen
/// `PHYS32_ENTRY` note in one of its note segments.
pub fn has_pvh_note(f: &mut (impl Read + Seek)) -> std::io::Result<bool> {
    let mut eh = [0u8; 64];
    f.seek(SeekFrom::Start(0))?;
    if f.read_exact(&mut eh).is_err() || &eh[..4] != b"\x7fELF" || eh[4] != 2 || eh[5] != 1 {
        return Ok(false);
    }
    let phoff = u64_at(&eh, 0x20);
    let phentsize = u64::from(u16::from_le_bytes([eh[0x36], eh[0x37]]));
    let phnum = u64::from(u16::from_le_bytes([eh[0x38], eh[0x39]]));
    for i in 0..phnum {
        let mut ph = [0u8; 56];
        f.seek(SeekFrom::Start(phoff + i * phentsize))?;
        f.read_exact(&mut ph)?;
        if u32_at(&ph, 0) != PT_NOTE {
            continue;
        }
        let (off, size) = (u64_at(&ph, 8), u64_at(&ph, 32));
        // A note segment is a few hundred bytes; refuse nonsense sizes.
        let Ok(len) = usize::try_from(size.min(1 << 20)) else {
            continue;
        };
        let mut notes = vec![0u8; len];
        f.seek(SeekFrom::Start(off))?;
        f.read_exact(&mut notes)?;
        if notes_have(&notes, b"Xen", PHYS32_ENTRY) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Walks ELF notes (name size, descriptor size, type, then both padded
/// to 4 bytes) looking for one with this name and type.
fn notes_have(mut notes: &[u8], name: &[u8], kind: u32) -> bool {
    let pad = |n: usize| n.div_ceil(4) * 4;
    while notes.len() >= 12 {
        let namesz = u32_at(notes, 0) as usize;
        let descsz = u32_at(notes, 4) as usize;
        let ty = u32_at(notes, 8);
        let body = &notes[12..];
        let Some(n) = body.get(..namesz) else {
            return false;
        };
        let n = n.strip_suffix(b"\0").unwrap_or(n);
        if n == name && ty == kind {
            return true;
        }
        let step = 12 + pad(namesz) + pad(descsz);
        let Some(rest) = notes.get(step..) else {
            return false;
        };
        notes = rest;
    }
    false
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("four bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("eight bytes"))
}

/// Whether `vmlinux` holds the `linux_banner` of the build whose bzImage
/// header says `banner`. The header has `RELEASE (USER@HOST) VERSION`,
/// the banner `Linux version RELEASE (USER@HOST) (COMPILER) VERSION`.
fn same_build(vmlinux: &[u8], banner: &str) -> bool {
    let Some((head, version)) = banner.split_once(") ") else {
        return false;
    };
    let prefix = format!("Linux version {head}) ");
    let suffix = format!(" {version}\n");
    let (prefix, suffix) = (prefix.as_bytes(), suffix.as_bytes());
    let mut rest = vmlinux;
    while let Some(at) = find(rest, prefix) {
        let line = &rest[at..];
        let end = line
            .iter()
            .position(|&b| b == b'\n')
            .map_or(line.len(), |e| e + 1);
        if line[..end].ends_with(suffix) {
            return true;
        }
        rest = &rest[at + prefix.len()..];
    }
    false
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A minimal ELF64 with one PT_NOTE segment holding `notes`.
    fn elf_with_notes(notes: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 64 + 56];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2;
        f[5] = 1;
        f[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        f[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        f[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
        f[64..68].copy_from_slice(&PT_NOTE.to_le_bytes());
        f[64 + 8..64 + 16].copy_from_slice(&120u64.to_le_bytes());
        f[64 + 32..64 + 40].copy_from_slice(&(notes.len() as u64).to_le_bytes());
        f.extend_from_slice(notes);
        f
    }

    fn note(name: &[u8], kind: u32, desc: &[u8]) -> Vec<u8> {
        let mut n = Vec::new();
        n.extend_from_slice(&(name.len() as u32 + 1).to_le_bytes());
        n.extend_from_slice(&(desc.len() as u32).to_le_bytes());
        n.extend_from_slice(&kind.to_le_bytes());
        n.extend_from_slice(name);
        n.push(0);
        n.resize(n.len().div_ceil(4) * 4, 0);
        n.extend_from_slice(desc);
        n.resize(n.len().div_ceil(4) * 4, 0);
        n
    }

    #[test]
    fn the_pvh_note_is_found_after_other_notes_and_only_with_its_type() {
        let mut notes = note(b"GNU", 3, &[1; 20]);
        notes.extend(note(b"Xen", 13, &[0; 12]));
        notes.extend(note(b"Xen", PHYS32_ENTRY, &[0, 0, 0, 1]));
        assert!(has_pvh_note(&mut Cursor::new(elf_with_notes(&notes))).unwrap());
        let without = note(b"Xen", 13, &[0; 12]);
        assert!(!has_pvh_note(&mut Cursor::new(elf_with_notes(&without))).unwrap());
        assert!(!has_pvh_note(&mut Cursor::new(b"MZ not an elf".to_vec())).unwrap());
        // A truncated note list ends the walk, it does not panic.
        let mut cut = note(b"GNU", 3, &[1; 20]);
        cut.truncate(14);
        assert!(!has_pvh_note(&mut Cursor::new(elf_with_notes(&cut))).unwrap());
    }

    #[test]
    fn a_vmlinux_belongs_to_the_bzimage_with_its_banner() {
        let bz = "6.12.118 (root@vm) #51 SMP Mon Dec  7 17:28:23 UTC 2026";
        let vmlinux =
            b"\0\0Linux version 6.12.118 (root@vm) (gcc (Debian 12.2.0) 12.2.0, GNU ld 2.40) \
              #51 SMP Mon Dec  7 17:28:23 UTC 2026\n\0";
        assert!(same_build(vmlinux, bz));
        let other = "6.12.118 (root@vm) #52 SMP Mon Dec  7 17:40:00 UTC 2026";
        assert!(!same_build(vmlinux, other), "the next build of the tree");
        assert!(!same_build(vmlinux, "garbage"));
    }

    #[test]
    fn the_vmlinux_is_looked_for_beside_the_image_and_at_the_build_root() {
        assert_eq!(
            candidates(Path::new("/c/artifacts/ab/bzImage")),
            vec![PathBuf::from("/c/artifacts/ab/vmlinux")]
        );
        assert_eq!(
            candidates(Path::new("/b/arch/x86/boot/bzImage")),
            vec![
                PathBuf::from("/b/arch/x86/boot/vmlinux"),
                PathBuf::from("/b/vmlinux")
            ]
        );
    }
}
