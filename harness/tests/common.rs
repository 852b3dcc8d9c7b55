//! Helpers shared by the integration test binaries: run the real CLI and
//! show everything about a run that went wrong.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Run {
    pub argv: Vec<String>,
    pub out: Output,
}

impl Run {
    pub fn code(&self) -> Option<i32> {
        self.out.status.code()
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    /// Panics with the command, status, stdout and stderr unless the exit
    /// code is `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        if self.code() != Some(code) {
            panic!(
                "expected exit {code}, got {:?}\ncommand: {}\n--- stdout\n{}\n--- stderr\n{}",
                self.code(),
                self.argv.join(" "),
                self.stdout(),
                self.stderr()
            );
        }
        self
    }
}

pub fn kharness(args: &[&str]) -> Run {
    kharness_in(None, args)
}

pub fn kharness_in(dir: Option<&Path>, args: &[&str]) -> Run {
    let bin = env!("CARGO_BIN_EXE_kharness");
    let mut cmd = Command::new(bin);
    cmd.args(args);
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    let out = cmd.output().expect("the kharness binary runs");
    Run {
        argv: std::iter::once(bin.to_owned())
            .chain(args.iter().map(|s| s.to_string()))
            .collect(),
        out,
    }
}

/// The newest run directory under `out`.
pub fn latest_run(out: &Path) -> PathBuf {
    std::fs::canonicalize(out.join("latest")).expect("a run directory was created")
}

pub fn results_json(run: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(run.join("results.json")).expect("results.json exists");
    serde_json::from_str(&text).expect("results.json is valid JSON")
}

/// A series this project ships, under kernel-patches/.
pub fn series_dir(name: &str) -> String {
    format!("{}/../kernel-patches/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A series run's series.json.
pub fn series_json(run: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(run.join("series.json")).expect("series.json exists");
    serde_json::from_str(&text).expect("series.json is valid JSON")
}

/// The expectations of series.toml a series run found unmet.
pub fn unmet_expectations(series: &serde_json::Value) -> Vec<serde_json::Value> {
    series["expectations"]
        .as_array()
        .expect("series.json has expectations")
        .iter()
        .filter(|c| c["met"] != true)
        .cloned()
        .collect()
}
