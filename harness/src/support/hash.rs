//! sha256 in hex, the one form kharness stores hashes in.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Hex sha256 of everything `r` yields. Stops with
/// [`crate::support::fs::interrupted_error`] once the user asked kharness
/// to stop (a kernel image or guest binary takes seconds to hash).
pub fn sha256_reader(r: &mut impl Read) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        crate::support::fs::check_interrupt()?;
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// Hex sha256 of a file's contents.
pub fn sha256_file(p: &Path) -> std::io::Result<String> {
    sha256_reader(&mut std::fs::File::open(p)?)
}

/// A running sha256 over several pieces, finished as hex.
#[derive(Default)]
pub struct Hasher(Sha256);

impl Hasher {
    pub fn update(&mut self, bytes: impl AsRef<[u8]>) -> &mut Self {
        self.0.update(bytes);
        self
    }

    pub fn hex(self) -> String {
        hex(&self.0.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_known_digest_of_abc() {
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_hex(b"abc"), abc);
        assert_eq!(sha256_reader(&mut &b"abc"[..]).unwrap(), abc);
        let mut h = Hasher::default();
        h.update("a").update(b"bc");
        assert_eq!(h.hex(), abc);
    }
}
