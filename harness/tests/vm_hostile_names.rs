//! Hostile names through a real vng boot: the run directory and the guest
//! binary's path hold spaces, both quotes, `$(...)`, `;`, a newline and
//! non-ASCII text, which vng's `--exec` shell string must carry quoted. The
//! run must work, its results land, no injected command run, and the guest
//! must find the host's root read-only. Ignored in a quick `cargo test`;
//! ci/test.sh runs it.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{kharness, latest_run, results_json};

const K612: &str = "/boot/vmlinuz-6.12.107+deb12-amd64";

/// What an injected command would print on a line of its own.
const INJECTED: &str = "KHARNESS-INJECTED";

/// A name that breaks any unquoted shell use: run through `sh -c`
/// unquoted it would create `marker` and print [`INJECTED`].
fn hostile(marker: &Path) -> String {
    format!(
        "it's a \"run\" $(touch {m}) `touch {m}`; echo {INJECTED}\nline two ü €",
        m = marker.display()
    )
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
#[ignore = "boots a VM through vng; ci/test.sh runs it"]
fn hostile_run_and_guest_paths_reach_the_guest_quoted_and_the_root_stays_read_only() {
    let marker = PathBuf::from(format!("/tmp/kharness-pwned-{}", std::process::id()));
    let name = hostile(&marker);
    let guest = common::guest();
    // The guest binary must be visible inside the guest: under the target
    // directory (shared read-only), not /tmp (which the guest may see as
    // its own tmpfs).
    let target = guest.ancestors().nth(3).unwrap().to_owned();
    let gdir = tempfile::Builder::new()
        .prefix("kharness-hostile")
        .tempdir_in(&target)
        .unwrap();
    let guest_path = gdir.path().join(&name).join(format!("guest {name}"));
    std::fs::create_dir_all(guest_path.parent().unwrap()).unwrap();
    std::fs::copy(guest, &guest_path).unwrap();
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().join(&name);

    let r = kharness(&[
        "run",
        "--backend",
        "vng",
        "--accel",
        "tcg",
        // Checks no metric: wall-clock mode, 2.5-3x faster under TCG than
        // -icount.
        "--perf-mode",
        "wallclock",
        "--kernel",
        K612,
        "--guest",
        guest_path.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "--filter",
        "tee.duplicate_content",
        "--filter",
        "selftest.host_root_read_only",
    ]);
    r.expect_code(0);

    // The results landed in the hostile run directory.
    let run = latest_run(&out_dir);
    assert!(run.starts_with(&out_dir), "{}", run.display());
    let res = results_json(&run);
    let k = &res["kernels"][0];
    assert_eq!(k["outcome"], "completed", "{k}");
    assert_eq!(
        res["guest"]["path"].as_str(),
        Some(guest_path.to_str().unwrap()),
        "the hostile guest binary ran"
    );
    let recs = k["records"].as_array().unwrap();
    let rec = |id: &str| {
        recs.iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no record for {id}: {recs:?}"))
    };
    assert_eq!(rec("tee.duplicate_content")["status"], "pass");
    // The guest saw the host's root read-only and its overlay probe beside
    // the guest binary (under /tmp: vng's overlay) stayed in the guest; a
    // pass, not a skip: the root is vng's shared one.
    let ro = rec("selftest.host_root_read_only");
    assert_eq!(ro["status"], "pass", "{ro}");
    assert!(
        files_under(gdir.path()) == [guest_path.clone()],
        "only the guest binary in its directory: {:?}",
        files_under(gdir.path())
    );

    // Nothing injected ran: on the host, in the guest's output, or in any
    // file of the run (the guest-writable results directory included).
    assert!(!marker.exists(), "{} exists", marker.display());
    for f in files_under(&run) {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        assert!(
            !text.lines().any(|l| l.trim() == INJECTED),
            "{} holds an injected command's output:\n{text}",
            f.display()
        );
    }
    let command =
        std::fs::read_to_string(run.join("kernels/1-6.12.107+deb12-amd64/command.sh")).unwrap();
    assert!(command.contains("--exec"), "{command}");
}
