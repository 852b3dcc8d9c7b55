//! The qemu-direct initramfs: a newc cpio archive whose `/init` is the
//! static guest binary, written by us (no cpio tool, no root needed: the
//! kernel creates the device node while unpacking).

use std::io::Write;
use std::path::Path;

enum Entry<'a> {
    Dir(&'a str),
    CharDev(&'a str, u32, u32),
    /// Name, contents, permission bits.
    File(&'a str, &'a [u8], u32),
}

/// Writes an initramfs holding `/init` (mode 0755) and the directories and
/// `/dev/console` the kernel and the guest expect.
pub fn write_initramfs(init: &[u8], out: &mut impl Write) -> std::io::Result<()> {
    let entries = [
        Entry::Dir("dev"),
        Entry::CharDev("dev/console", 5, 1),
        Entry::Dir("proc"),
        Entry::Dir("sys"),
        Entry::Dir("tmp"),
        Entry::File("init", init, 0o755),
    ];
    write_entries(&entries, out)
}

/// A second archive for the initramfs holding the guest's argv at
/// [`kharness_record::PID1_ARGV_FILE`]: the kernel unpacks concatenated
/// archives one after the other, so the cached guest archive is used as
/// it is and only this small one is written per boot.
pub fn argv_archive(argv: &[String], out: &mut impl Write) -> std::io::Result<()> {
    let path = kharness_record::PID1_ARGV_FILE.trim_start_matches('/');
    let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
    let mut text = kharness_record::encode_argv(argv);
    text.push('\n');
    write_entries(
        &[Entry::Dir(dir), Entry::File(path, text.as_bytes(), 0o644)],
        out,
    )
}

/// The initramfs for one boot into `path`: the guest's archive `base`,
/// then the argv archive.
pub fn with_argv(base: &Path, argv: &[String], path: &Path) -> std::io::Result<()> {
    let mut buf = std::fs::read(base)?;
    argv_archive(argv, &mut buf)?;
    std::fs::write(path, &buf)
}

/// The archive a `kharness shell` boot adds after the guest's: a static
/// busybox as `/bin/busybox`, the init script `kharness shell` boots
/// with `rdinit=` ([`super::shell::QEMU_INIT`]), and for a scripted
/// session its input.
pub fn shell_archive(
    busybox: &[u8],
    init: &[u8],
    input: Option<&[u8]>,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let init_path = super::shell::QEMU_INIT.trim_start_matches('/');
    let dir = init_path.rsplit_once('/').map_or("", |(d, _)| d);
    let mut entries = vec![
        Entry::Dir("bin"),
        Entry::File("bin/busybox", busybox, 0o755),
        Entry::Dir(dir),
        Entry::File(init_path, init, 0o755),
    ];
    if let Some(text) = input {
        entries.push(Entry::File(
            super::shell::QEMU_INPUT.trim_start_matches('/'),
            text,
            0o644,
        ));
    }
    write_entries(&entries, out)
}

fn write_entries(entries: &[Entry<'_>], out: &mut impl Write) -> std::io::Result<()> {
    for (i, e) in entries.iter().enumerate() {
        let ino = i as u32 + 1;
        match e {
            Entry::Dir(name) => header(out, ino, 0o040755, 2, 0, 0, 0, name)?,
            Entry::CharDev(name, maj, min) => header(out, ino, 0o020600, 1, 0, *maj, *min, name)?,
            Entry::File(name, data, perm) => {
                let len = u32::try_from(data.len())
                    .map_err(|_| std::io::Error::other("a file larger than 4 GiB"))?;
                header(out, ino, 0o100000 | perm, 1, len, 0, 0, name)?;
                out.write_all(data)?;
                pad(out, data.len())?;
            }
        }
    }
    header(out, 0, 0, 1, 0, 0, 0, "TRAILER!!!")
}

/// Builds the initramfs for `guest` into `path` (atomically).
///
/// The binary goes in without its debug sections when binutils' `strip`
/// is there (symbols stay, for backtraces): the kernel copies every byte
/// of the archive into its root file system before `/init` runs, and
/// under TCG the 15 MB of line tables cost about half a second of boot.
pub fn build(guest: &Path, path: &Path) -> std::io::Result<()> {
    let init = stripped(guest).map_or_else(|| std::fs::read(guest), Ok)?;
    let mut buf = Vec::with_capacity(init.len() + 4096);
    write_initramfs(&init, &mut buf)?;
    crate::support::fs::write_atomic(path, &buf)
}

/// The initramfs of the guest binary `guest` (sha256 `sha256`), built
/// once into `dir` and kept there by its hash ("-s": stripped, see
/// [`build`]).
pub fn cached(guest: &Path, sha256: &str, dir: &Path) -> std::io::Result<std::path::PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!(
        "kharness-guest-{}-s.cpio",
        &sha256[..16.min(sha256.len())]
    ));
    if !path.is_file() {
        build(guest, &path)?;
    }
    Ok(path)
}

/// `guest` with `strip --strip-debug`, or `None` when that cannot be had.
fn stripped(guest: &Path) -> Option<Vec<u8>> {
    let tmp = tempfile::NamedTempFile::new().ok()?;
    let ok = crate::support::process::output(
        std::process::Command::new("strip")
            .arg("--strip-debug")
            .arg("-o")
            .arg(tmp.path())
            .arg(guest),
    )
    .is_ok_and(|o| o.status.success());
    ok.then(|| std::fs::read(tmp.path()).ok()).flatten()
}

#[allow(clippy::too_many_arguments)]
fn header(
    out: &mut impl Write,
    ino: u32,
    mode: u32,
    nlink: u32,
    size: u32,
    rmaj: u32,
    rmin: u32,
    name: &str,
) -> std::io::Result<()> {
    // newc: magic, then 13 fields of 8 hex digits: ino mode uid gid nlink
    // mtime filesize devmajor devminor rdevmajor rdevminor namesize check.
    let namesize = name.len() + 1;
    let fields = [
        ino,
        mode,
        0,
        0,
        nlink,
        0,
        size,
        0,
        0,
        rmaj,
        rmin,
        namesize as u32,
        0,
    ];
    let mut h = String::from("070701");
    for f in fields {
        h.push_str(&format!("{f:08X}"));
    }
    out.write_all(h.as_bytes())?;
    out.write_all(name.as_bytes())?;
    out.write_all(&[0])?;
    pad(out, 110 + namesize)
}

fn pad(out: &mut impl Write, len: usize) -> std::io::Result<()> {
    let rem = (4 - len % 4) % 4;
    out.write_all(&[0u8; 3][..rem])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_argv_archive_appends_a_file_cpio_reads() {
        let mut buf = Vec::new();
        write_initramfs(b"init", &mut buf).unwrap();
        let argv: Vec<String> = (0..80).map(|i| format!("area.test_number_{i}")).collect();
        argv_archive(&argv, &mut buf).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("a.cpio");
        std::fs::write(&archive, &buf).unwrap();
        // GNU cpio reads one archive; the second starts after the first's
        // trailer, where the kernel goes on reading.
        let first = buf.windows(10).position(|w| w == b"TRAILER!!!").unwrap();
        let second = &buf[first..];
        let start = second.windows(6).position(|w| w == b"070701").unwrap() + first;
        std::fs::write(&archive, &buf[start..]).unwrap();
        let out = std::process::Command::new("cpio")
            .args(["-i", "--to-stdout", "--quiet", "-F"])
            .arg(&archive)
            .arg("kharness/argv")
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(kharness_record::decode_argv(text.trim()).unwrap(), argv);
    }

    #[test]
    fn cpio_lists_what_we_wrote() {
        // GNU cpio reads the archive back: names, modes and contents agree.
        let mut buf = Vec::new();
        write_initramfs(b"#!/bin/sh\necho hi\n", &mut buf).unwrap();
        assert_eq!(buf.len() % 4, 0);
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("a.cpio");
        std::fs::write(&archive, &buf).unwrap();
        let out = std::process::Command::new("cpio")
            .args(["-t", "-v", "--quiet", "-F"])
            .arg(&archive)
            .output();
        let Ok(out) = out else {
            panic!("cpio is needed for this test (apt-get install cpio)");
        };
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let listing = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = listing.lines().collect();
        assert_eq!(lines.len(), 6, "{listing}");
        assert!(
            lines[1].starts_with("crw-------")
                && lines[1].contains("5,")
                && lines[1].ends_with("dev/console"),
            "{listing}"
        );
        assert!(
            lines[5].starts_with("-rwxr-xr-x") && lines[5].ends_with(" init"),
            "{listing}"
        );
    }
}
