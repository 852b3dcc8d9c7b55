//! `kharness-guest list` through the real binary.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Stdio};

/// `kharness-guest list | head -1`: the reader goes away and the list just
/// ends, without a panic. The read end is closed before the binary starts,
/// so its first write meets the broken pipe whatever the timing.
#[test]
fn a_reader_that_stops_early_ends_the_list_quietly() {
    for args in [&["list"][..], &["list", "--json"][..]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_kharness-guest"))
            .args(args)
            .stdout(Stdio::from(writer))
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: {err}");
    }
}
