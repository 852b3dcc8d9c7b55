//! `kharness repro`: run again what a stored result ran (same kernels,
//! verified by sha256; same guest binary where there is one; same VM
//! options; only the tests in question) into a new run directory, and say
//! per result whether it reproduced.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kharness_record::{Status, TestRecord, Value};
use serde::Serialize;

use crate::cli::ReproArgs;
use crate::engine::Output;
use crate::error::{Error, ExitCode, Result};
use crate::plan::Plan;
use crate::results::recipe::{self, Recipe, RecipeKernel, sha256_if_readable};
use crate::results::selection::{select, test_ids, worst};
use crate::support::hash::sha256_file;
use crate::vm::{Accel, AccelChoice, Backend, BackendChoice, PerfMode, PerfModeChoice};

/// What `kharness repro` was asked.
pub struct ReproRequest {
    /// A run directory, a bundle directory, or a bundle archive.
    pub source: PathBuf,
    /// Test ids; empty means the results that did not pass.
    pub tests: Vec<String>,
    /// Id globs and area names (`--filter`), beside `tests`.
    pub filters: Vec<String>,
    /// Source tree to rebuild series kernels from when no image is at hand.
    pub tree: Option<PathBuf>,
    /// Rebuild series kernels from `tree` even when the recorded image is
    /// at hand (and say whether the rebuild matches it).
    pub rebuild: bool,
    /// make -j for a rebuild.
    pub build_jobs: Option<usize>,
    pub out: PathBuf,
    pub vng: PathBuf,
    pub qemu: PathBuf,
    /// Overrides of the recorded accelerator and backend.
    pub accel: Option<AccelChoice>,
    pub backend: Option<BackendChoice>,
    /// Build the guest with cargo when the recorded one is not at hand.
    pub rebuild_guest: bool,
}

/// One result and what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub kernel: String,
    pub test: String,
    pub was: Status,
    pub now: Option<Status>,
    /// Observations whose value changed: name -> (was, now).
    pub observation_changes: BTreeMap<String, (Option<Value>, Option<Value>)>,
    pub reproduced: bool,
}

/// `repro.json` in the new run directory.
#[derive(Debug, Clone, Serialize)]
pub struct ReproReport {
    pub source: PathBuf,
    pub original_run: String,
    /// Things a reader should know: a rebuilt guest or kernel whose hash
    /// differs from the recorded one.
    pub notes: Vec<String>,
    pub verdicts: Vec<Verdict>,
    pub reproduced: bool,
}

pub fn run(a: ReproArgs, out: &Output) -> Result<ExitCode> {
    if a.jobs.is_some() {
        return Err(Error::Usage(
            "repro --jobs was make -j for a rebuild; that is --build-jobs now".to_owned(),
        ));
    }
    execute(
        ReproRequest {
            source: a.source,
            tests: a.tests,
            filters: a.filters,
            tree: a.tree,
            rebuild: a.rebuild,
            build_jobs: a.build_jobs,
            out: a.out,
            vng: a.vng,
            qemu: a.qemu,
            accel: a.accel,
            backend: a.backend,
            rebuild_guest: a.rebuild_guest,
        },
        out,
    )
}

pub fn execute(req: ReproRequest, out: &Output) -> Result<ExitCode> {
    // An archive is unpacked into a temporary directory that lives until
    // the rerun is over.
    let (_unpacked, dir) = if req.source.is_file() {
        let tmp = tempfile::Builder::new()
            .prefix("kharness-bundle")
            .tempdir()
            .map_err(|e| Error::io("failed to create", std::env::temp_dir(), e))?;
        let dir = crate::results::bundle::unpack(&req.source, tmp.path())?;
        (Some(tmp), dir)
    } else if req.source.is_dir() {
        (None, req.source.clone())
    } else {
        return Err(Error::Usage(format!(
            "{}: no such run directory or bundle",
            req.source.display()
        )));
    };
    let recipe = recipe::load(&dir)?;
    let original = crate::results::load(&dir)?;
    let pairs = select(&original, &req.tests, &req.filters)?;
    if pairs.is_empty() {
        return Err(Error::BadInput {
            path: dir.join("results.json"),
            why: "the run holds no test results, so there is nothing to reproduce".into(),
        });
    }
    // The recorded options are checked before anything is built or booted.
    recorded_timeout(&recipe, &dir)?;
    let mut notes = Vec::new();

    let guest = guest_for(&recipe, &dir, &req, &mut notes, out.quiet)?;
    let mut kernels: Vec<usize> = pairs.iter().map(|(k, _)| *k).collect();
    kernels.dedup();
    let mut images = Vec::new();
    for &k in &kernels {
        let rk = recipe.kernels.get(k).ok_or_else(|| Error::BadInput {
            path: dir.join(recipe::RECIPE),
            why: format!("the results have kernel {} but the recipe does not", k + 1),
        })?;
        images.push(kernel_for(&req, &recipe, rk, &dir, &mut notes, out)?);
    }
    let labels = kernels
        .iter()
        .map(|&k| original.kernels[k].name().to_owned())
        .collect();
    let mut plan = plan_for(&recipe, &dir, &req, images, labels, test_ids(&pairs), guest)?;
    // A rerun of series steps is named by the same patches.
    let steps: Vec<_> = kernels
        .iter()
        .filter_map(|&k| original.kernels[k].step.clone())
        .collect();
    if steps.len() == kernels.len() {
        plan.steps = steps;
    }
    for n in &notes {
        eprintln!("kharness: note: {n}");
    }
    let Some((now, run_dir)) = crate::engine::run_plan(&plan, out)? else {
        return Ok(ExitCode::Ok);
    };
    if now.interrupted {
        return Err(Error::Interrupted);
    }
    let verdicts: Vec<Verdict> = pairs
        .iter()
        .map(|(k, id)| {
            let col = kernels.iter().position(|x| x == k).unwrap_or(0);
            let was = worst(&original.kernels[*k], id);
            let new = now.kernels.get(col).and_then(|kr| worst(kr, id));
            verdict(original.kernels[*k].name(), id, was, new)
        })
        .collect();
    let reproduced = verdicts.iter().all(|v| v.reproduced);
    let report = ReproReport {
        source: req.source.clone(),
        original_run: original.run_id.clone(),
        notes,
        verdicts,
        reproduced,
    };
    crate::results::write_json(&run_dir.join("repro.json"), &report)?;
    crate::support::stdout::print(&format!(
        "{}run directory: {}\n",
        render(&report),
        run_dir.path.display()
    ))
    .map_err(Error::stdout)?;
    Ok(if reproduced {
        ExitCode::Ok
    } else {
        ExitCode::TestsFailed
    })
}

/// The recipe's VM time limit; a value that is no duration is bad input,
/// never silently some default.
fn recorded_timeout(recipe: &Recipe, dir: &Path) -> Result<Duration> {
    humantime::parse_duration(&recipe.options.timeout).map_err(|e| Error::BadInput {
        path: dir.join(recipe::RECIPE),
        why: format!(
            "options.timeout {:?} is not a duration ({e})",
            recipe.options.timeout
        ),
    })
}

/// The plan that reruns `tests` on `images` with the recorded options,
/// except what the request overrides (a KVM result reproduced on a
/// TCG-only machine: `--accel tcg`).
fn plan_for(
    recipe: &Recipe,
    dir: &Path,
    req: &ReproRequest,
    images: Vec<PathBuf>,
    labels: Vec<String>,
    tests: Vec<String>,
    guest: PathBuf,
) -> Result<Plan> {
    let o = &recipe.options;
    let timeout = recorded_timeout(recipe, dir)?;
    Ok(Plan {
        kernels: images,
        labels,
        steps: Vec::new(),
        filters: tests,
        accel: req.accel.unwrap_or(match o.accel {
            Accel::Kvm => AccelChoice::Kvm,
            Accel::Tcg => AccelChoice::Tcg,
        }),
        backend: req.backend.unwrap_or(match o.backend {
            Backend::Vng => BackendChoice::Vng,
            Backend::Qemu => BackendChoice::Qemu,
        }),
        perf_mode: match o.perf_mode {
            PerfMode::Deterministic => PerfModeChoice::Deterministic,
            PerfMode::Wallclock => PerfModeChoice::Wallclock,
        },
        timeout,
        out: req.out.clone(),
        guest: Some(guest),
        rebuild_guest: false,
        memory: o.memory.clone(),
        cpus: o.cpus,
        reps: o.reps,
        boots: 1,
        max_boots: crate::plan::DEFAULT_MAX_BOOTS,
        shard: None,
        jobs: None,
        retries: o.retries,
        test_timeout: o.test_timeout,
        vng: req.vng.clone(),
        qemu: req.qemu.clone(),
    })
}

fn verdict(kernel: &str, id: &str, was: Option<&TestRecord>, now: Option<&TestRecord>) -> Verdict {
    let was_status = was.map_or(Status::Error, |r| r.status);
    let mut changes = BTreeMap::new();
    if let (Some(a), Some(b)) = (was, now) {
        for name in a.observations.keys().chain(b.observations.keys()) {
            let (x, y) = (a.observations.get(name), b.observations.get(name));
            if x != y {
                changes.insert(name.clone(), (x.cloned(), y.cloned()));
            }
        }
    }
    let now_status = now.map(|r| r.status);
    Verdict {
        kernel: kernel.to_owned(),
        test: id.to_owned(),
        was: was_status,
        now: now_status,
        reproduced: now_status == Some(was_status) && changes.is_empty(),
        observation_changes: changes,
    }
}

fn render(r: &ReproReport) -> String {
    use std::fmt::Write;
    let mut s = format!("\nReproducing run {}:\n", r.original_run);
    for v in &r.verdicts {
        let now = v.now.map_or("no result".to_owned(), |s| s.to_string());
        let what = if v.reproduced {
            "reproduced"
        } else {
            "NOT reproduced"
        };
        let _ = writeln!(
            s,
            "  [{}] {}: was {}, now {now}: {what}",
            v.kernel, v.test, v.was
        );
        for (name, (a, b)) in &v.observation_changes {
            let show = |x: &Option<Value>| x.as_ref().map_or("-".to_owned(), |v| v.to_string());
            let _ = writeln!(s, "      observation {name}: {} -> {}", show(a), show(b));
        }
    }
    let n = r.verdicts.iter().filter(|v| v.reproduced).count();
    let _ = writeln!(
        s,
        "{n} of {} result(s) reproduced{}",
        r.verdicts.len(),
        if r.reproduced { "" } else { " (exit 1)" }
    );
    s
}

/// The recorded guest binary when it is at hand (the bundle's copy, or the
/// path of the run when its hash still matches); else the one this
/// kharness finds or builds, with a note that its hash differs.
pub(super) fn guest_for(
    recipe: &Recipe,
    dir: &Path,
    req: &ReproRequest,
    notes: &mut Vec<String>,
    quiet: bool,
) -> Result<PathBuf> {
    let want = &recipe.guest.sha256;
    let candidates = recipe
        .guest_file
        .iter()
        .map(|f| dir.join(f))
        .chain([recipe.guest.path.clone()]);
    for c in candidates {
        if c.is_file() && sha256_if_readable(&c)?.as_deref() == Some(want.as_str()) {
            return Ok(c);
        }
    }
    let choice = crate::guest::Want {
        given: None,
        rebuild: req.rebuild_guest,
    };
    let g = crate::guest::locate(choice, quiet)?;
    if &g.sha256 != want {
        notes.push(format!(
            "the recorded guest binary (sha256 {}) is not here; using {} (sha256 {}){}",
            &want[..want.len().min(12)],
            g.path.display(),
            &g.sha256[..g.sha256.len().min(12)],
            recipe
                .guest
                .build_command
                .as_deref()
                .map(|c| format!("; the original was built with: {c}"))
                .unwrap_or_default()
        ));
    }
    Ok(g.path)
}

/// The image of one recorded kernel: the bundle's copy or the recorded
/// path when its sha256 matches; else, for a series step, rebuilt from
/// `--tree` (the build cache makes that instant when it has the step).
pub(super) fn kernel_for(
    req: &ReproRequest,
    recipe: &Recipe,
    rk: &RecipeKernel,
    dir: &Path,
    notes: &mut Vec<String>,
    out: &Output,
) -> Result<PathBuf> {
    let want = &rk.identity.sha256;
    let name = rk.label.as_deref().unwrap_or(&rk.identity.release);
    let rebuildable = recipe.series.is_some() && rk.patches.is_some();
    for c in rk
        .file
        .iter()
        .map(|f| dir.join(f))
        .chain([rk.identity.path.clone()])
    {
        if req.rebuild && rebuildable {
            break;
        }
        if c.is_file() && sha256_if_readable(&c)?.as_deref() == Some(want.as_str()) {
            return Ok(c);
        }
    }
    let (Some(series), Some(k), Some(hash)) = (&recipe.series, rk.patches, &rk.patchset_hash)
    else {
        return Err(Error::Usage(format!(
            "kernel {name} ({}, sha256 {}) is not here: bundle the run with --with-kernel",
            rk.identity.path.display(),
            short(want)
        )));
    };
    let Some(tree) = &req.tree else {
        return Err(Error::Usage(format!(
            "kernel {name} (sha256 {}) is not in the bundle: pass --tree with a {} source tree to rebuild it, or bundle with --with-kernel",
            short(want),
            series.tree.version.as_deref().unwrap_or("kernel")
        )));
    };
    let read = crate::series::read(&dir.join(&series.copy))?;
    if read.prefix_hash(k) != *hash {
        return Err(Error::BadInput {
            path: dir.join(&series.copy),
            why: format!(
                "its first {k} patch(es) hash to {}, not the recorded {hash}",
                read.prefix_hash(k)
            ),
        });
    }
    let cache = crate::support::paths::cache_dir()
        .ok_or_else(|| Error::Usage("no cache directory: set KHARNESS_CACHE_DIR".into()))?;
    let mut scratch = crate::series::ScratchTree::open(tree, &cache)?;
    if *scratch.base() != series.tree.base {
        notes.push(format!(
            "--tree {} is not the recorded tree ({} {:?}); the rebuilt kernel may differ",
            tree.display(),
            series.tree.path.display(),
            series.tree.base
        ));
    }
    let build = crate::plan::BuildOptions {
        // A debug run's checker fragments were recorded as files too.
        fragments: series.fragments.iter().map(|f| dir.join(f)).collect(),
        debug: Vec::new(),
        jobs: req.build_jobs,
    };
    let step = crate::engine::build_step(&build, &read, &mut scratch, &cache, k, out)?;
    let got = sha256_file(&step.bzimage).unwrap_or_default();
    if &got != want {
        notes.push(format!(
            "kernel {name} rebuilt from {} has sha256 {}, not the recorded {} (kernel builds are not bit-for-bit reproducible unless KBUILD_BUILD_TIMESTAMP and friends are pinned); same patches ({}) and config ({})",
            tree.display(),
            short(&got),
            short(want),
            short(hash),
            short(&series.config_hash)
        ));
    } else if !out.quiet {
        eprintln!(
            "kharness: kernel {name} from --tree: sha256 {} matches the recording",
            short(want)
        );
    }
    Ok(step.bzimage)
}

fn short(s: &str) -> &str {
    s.get(..12).unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn recipe(accel: &str, timeout: &str) -> Recipe {
        serde_json::from_value(json!({
            "schema": 1, "kharness_version": "0.1.0", "run_id": "r",
            "guest": {"path": "/g", "sha256": "00"},
            "options": {"backend": "vng", "accel": accel, "perf_mode": "wallclock", "memory": "1G",
                "timeout": timeout, "test_timeout": 60, "reps": 1},
            "filters": [], "tests": ["t.a"], "kernels": [],
        }))
        .unwrap()
    }

    fn request(accel: Option<AccelChoice>, backend: Option<BackendChoice>) -> ReproRequest {
        ReproRequest {
            source: "run".into(),
            tests: Vec::new(),
            filters: Vec::new(),
            tree: None,
            rebuild: false,
            build_jobs: None,
            out: "out".into(),
            vng: "vng".into(),
            qemu: "qemu-system-x86_64".into(),
            accel,
            backend,
            rebuild_guest: false,
        }
    }

    fn plan(r: &Recipe, req: &ReproRequest) -> Result<Plan> {
        plan_for(
            r,
            Path::new("run"),
            req,
            vec!["/k".into()],
            vec![],
            vec!["t.a".into()],
            "/g".into(),
        )
    }

    #[test]
    fn repro_reruns_the_recorded_options_unless_overridden() {
        let r = recipe("kvm", "5m");
        let p = plan(&r, &request(None, None)).unwrap();
        assert_eq!((p.accel, p.backend), (AccelChoice::Kvm, BackendChoice::Vng));
        assert_eq!(p.timeout, Duration::from_secs(300));
        let p = plan(
            &r,
            &request(Some(AccelChoice::Tcg), Some(BackendChoice::Qemu)),
        )
        .unwrap();
        assert_eq!(
            (p.accel, p.backend),
            (AccelChoice::Tcg, BackendChoice::Qemu)
        );
    }

    #[test]
    fn a_bad_recorded_timeout_is_bad_input_not_a_default() {
        let e = plan(&recipe("tcg", "soon"), &request(None, None)).unwrap_err();
        assert_eq!(e.exit_code(), ExitCode::Usage);
        assert!(e.to_string().contains("options.timeout \"soon\""), "{e}");
    }

    #[test]
    fn a_result_reproduces_with_the_same_status_and_observations() {
        let rec = |st: &str, obs: i64| -> TestRecord {
            serde_json::from_value(
                json!({"id": "t.a", "status": st, "duration_us": 1, "observations": {"n": obs}}),
            )
            .unwrap()
        };
        assert!(verdict("k", "t.a", Some(&rec("fail", 1)), Some(&rec("fail", 1))).reproduced);
        assert!(!verdict("k", "t.a", Some(&rec("fail", 1)), Some(&rec("pass", 1))).reproduced);
        let v = verdict("k", "t.a", Some(&rec("fail", 1)), Some(&rec("fail", 2)));
        assert!(!v.reproduced);
        assert!(v.observation_changes.contains_key("n"));
        assert!(!verdict("k", "t.a", Some(&rec("fail", 1)), None).reproduced);
    }
}
