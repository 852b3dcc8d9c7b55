//! `kharness merge`: the run directories of a plan's shards joined into one
//! run directory, as if the plan had run on one machine.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

use crate::error::{Error, ExitCode, Result};
use crate::support::fs::write_atomic;
use kharness_record::TestRecord;

use crate::engine::Output;
use crate::plan::{Part, ShardInfo};
use crate::results::{Boot, KernelOutcome, KernelRun, RunDir, RunResults, write_json};

/// One shard as read from its run directory.
pub struct Shard {
    pub dir: PathBuf,
    pub results: RunResults,
}

impl Shard {
    fn info(&self) -> &ShardInfo {
        self.results
            .shard
            .as_ref()
            .expect("checked by check() before use")
    }
}

/// What `shards.json` in the merged directory records.
#[derive(Debug, Serialize)]
struct Provenance {
    plan_hash: String,
    count: u32,
    shards: Vec<Source>,
    /// Shards that were not given (only with --allow-missing).
    missing: Vec<u32>,
}

#[derive(Debug, Serialize)]
struct Source {
    index: u32,
    run_id: String,
    dir: PathBuf,
}

/// Reads, checks and merges the shards in `dirs` into a new run directory
/// under `out_parent`; prints the summary and returns the merged run's
/// exit code.
pub fn execute(
    dirs: &[PathBuf],
    out_parent: &Path,
    allow_missing: bool,
    out: &Output,
) -> Result<ExitCode> {
    let mut shards = dirs
        .iter()
        .map(|d| {
            Ok(Shard {
                dir: d.clone(),
                results: crate::results::load(d)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let missing = check(&shards)?;
    if !missing.is_empty() {
        let count = shards[0].info().count;
        let list = missing
            .iter()
            .map(|k| format!("{k}/{count}"))
            .collect::<Vec<_>>()
            .join(", ");
        if !allow_missing {
            return Err(Error::Usage(format!(
                "shard(s) {list} missing: pass the run directories of all {count} shards, or --allow-missing to merge what is there"
            )));
        }
        eprintln!(
            "kharness: warning: shard(s) {list} missing; their tests are absent from the merged results"
        );
    }
    shards.sort_by_key(|s| s.info().index);
    for s in &shards {
        if s.results.interrupted || s.results.finished.is_none() {
            eprintln!(
                "kharness: warning: shard {} ({}) did not finish; its unfinished kernels are merged as they are",
                s.info().index,
                s.dir.display()
            );
        }
    }
    let run_dir = RunDir::create(out_parent, SystemTime::now())?;
    let mut results = merge(&shards, &run_dir.id);
    results.dir = Some(std::path::absolute(&run_dir.path).unwrap_or_else(|_| run_dir.path.clone()));
    for (i, k) in results.kernels.iter_mut().enumerate() {
        copy_logs(&shards, i, k, &run_dir)?;
    }
    let first = &shards[0];
    write_json(
        &run_dir.join("shards.json"),
        &Provenance {
            plan_hash: first.results.plan_hash.clone().unwrap_or_default(),
            count: first.info().count,
            shards: shards
                .iter()
                .map(|s| Source {
                    index: s.info().index,
                    run_id: s.results.run_id.clone(),
                    dir: std::fs::canonicalize(&s.dir).unwrap_or_else(|_| s.dir.clone()),
                })
                .collect(),
            missing,
        },
    )?;
    // The plan as asked, without the shard: what the merged run stands for.
    if let Ok(text) = std::fs::read_to_string(first.dir.join("plan.json"))
        && let Ok(mut plan) = serde_json::from_str::<serde_json::Value>(&text)
    {
        if let Some(o) = plan.as_object_mut() {
            o.remove("shard");
        }
        write_json(&run_dir.join("plan.json"), &plan)?;
    }
    write_json(&run_dir.join("results.json"), &results)?;
    crate::report::write_all(&run_dir.path, &results, out.verbose)?;
    let table = crate::report::terminal(&results, out.verbose);
    write_atomic(&run_dir.join("summary.txt"), table.as_bytes())
        .map_err(|e| Error::io("failed to write", run_dir.join("summary.txt"), e))?;
    if !out.quiet {
        eprintln!(
            "kharness: merged {} shard(s) of {} into {}",
            shards.len(),
            first.info().count,
            run_dir.path.display()
        );
    }
    crate::support::stdout::print(&crate::report::for_stdout(&table)).map_err(Error::stdout)?;
    crate::support::stdout::println(&format!("run directory: {}", run_dir.path.display()))
        .map_err(Error::stdout)?;
    Ok(results.exit_code())
}

/// Checks that the shards belong to one plan, once each; returns the
/// indices of the shards missing.
pub fn check(shards: &[Shard]) -> Result<Vec<u32>> {
    let mut seen: BTreeMap<u32, &Path> = BTreeMap::new();
    let mut first: Option<(&Shard, &str, &ShardInfo)> = None;
    for s in shards {
        let not_a_shard = |what: &str| Error::BadInput {
            path: s.dir.join("results.json"),
            why: format!("not a shard ({what}); shards come from `kharness run --shard K/N`"),
        };
        let info = s
            .results
            .shard
            .as_ref()
            .ok_or_else(|| not_a_shard("no \"shard\""))?;
        let hash = s
            .results
            .plan_hash
            .as_deref()
            .ok_or_else(|| not_a_shard("no \"plan_hash\""))?;
        match first {
            None => first = Some((s, hash, info)),
            Some((f, fhash, finfo)) => {
                if hash != fhash || info.count != finfo.count {
                    return Err(Error::Usage(format!(
                        "{} ({}/{}, plan {}) and {} ({}/{}, plan {}) are shards of different plans: \
                         give every shard the same kernels, filters, guest binary, --reps, backend, perf mode and N",
                        f.dir.display(),
                        finfo.index,
                        finfo.count,
                        &fhash[..fhash.len().min(12)],
                        s.dir.display(),
                        info.index,
                        info.count,
                        &hash[..hash.len().min(12)],
                    )));
                }
            }
        }
        if let Some(other) = seen.insert(info.index, &s.dir) {
            return Err(Error::Usage(format!(
                "shard {}/{} given twice: {} and {}",
                info.index,
                info.count,
                other.display(),
                s.dir.display()
            )));
        }
    }
    let count = first.map_or(0, |(_, _, i)| i.count);
    Ok((1..=count).filter(|k| !seen.contains_key(k)).collect())
}

/// The shards' pieces of kernel `index` of the plan, in test order.
fn pieces(shards: &[Shard], index: usize) -> Vec<(&Shard, Part, &KernelRun)> {
    let mut v: Vec<(&Shard, Part, &KernelRun)> = shards
        .iter()
        .flat_map(|s| {
            s.info()
                .parts
                .iter()
                .zip(&s.results.kernels)
                .filter(move |(p, _)| p.kernel == index)
                .map(move |(p, k)| (s, *p, k))
        })
        .collect();
    v.sort_by_key(|(_, p, _)| p.start);
    v
}

/// How bad an outcome is, for the worst of a kernel's pieces.
fn severity(o: KernelOutcome) -> u8 {
    match o {
        KernelOutcome::Completed => 0,
        KernelOutcome::Pending => 1,
        KernelOutcome::Interrupted => 2,
        KernelOutcome::BootFailed => 3,
        KernelOutcome::Hung => 4,
        KernelOutcome::Crashed => 5,
    }
}

/// The pieces' boots one after the other, their log paths pointing into
/// the shard directories, and their records renumbered to match.
fn joined_boots(pieces: &[(&Shard, Part, &KernelRun)]) -> (Vec<Boot>, Vec<TestRecord>) {
    let (mut boots, mut records) = (Vec::new(), Vec::new());
    for (s, _, k) in pieces {
        let first = u32::try_from(boots.len()).unwrap_or(u32::MAX);
        records.extend(k.records.iter().map(|r| TestRecord {
            boot: r.boot.saturating_add(first),
            ..r.clone()
        }));
        boots.extend(k.boots.iter().map(|b| Boot {
            console_log: s.dir.join(&b.console_log).display().to_string(),
            guest_log: s.dir.join(&b.guest_log).display().to_string(),
            ..b.clone()
        }));
    }
    (boots, records)
}

/// The merged results (log paths still those of the shards; `copy_logs`
/// fixes them). Checked shards only, sorted by index.
pub fn merge(shards: &[Shard], run_id: &str) -> RunResults {
    let first = &shards[0].results;
    let kernels = (0..shards[0].info().kernels)
        .filter_map(|i| {
            let pieces = pieces(shards, i);
            let (_, _, head) = pieces.first()?;
            let worst = pieces
                .iter()
                .map(|(_, _, k)| *k)
                .max_by_key(|k| severity(k.outcome))
                .unwrap_or(head);
            let many = pieces.len() > 1;
            let tag = |s: &Shard, line: &str| {
                if many {
                    format!("shard {}: {line}", s.info().index)
                } else {
                    line.to_owned()
                }
            };
            let (boots, records) = joined_boots(&pieces);
            let details: Vec<String> = pieces
                .iter()
                .filter_map(|(s, _, k)| k.detail.as_deref().map(|d| tag(s, d)))
                .collect();
            Some(KernelRun {
                label: head.label.clone(),
                step: head.step.clone(),
                identity: head.identity.clone(),
                outcome: worst.outcome,
                detail: (!details.is_empty()).then(|| details.join("\n")),
                vm_exit: worst.vm_exit,
                wall_s: pieces.iter().map(|(_, _, k)| k.wall_s).sum(),
                command: pieces
                    .iter()
                    .map(|(s, _, k)| tag(s, &k.command))
                    .collect::<Vec<_>>()
                    .join("\n"),
                console_log: head.console_log.clone(),
                guest_log: head.guest_log.clone(),
                console_findings: pieces
                    .iter()
                    .flat_map(|(_, _, k)| k.console_findings.iter().cloned())
                    .collect(),
                records,
                boots,
            })
        })
        .collect();
    let finished = shards
        .iter()
        .map(|s| s.results.finished.clone())
        .collect::<Option<Vec<String>>>()
        .and_then(|f| f.into_iter().max());
    RunResults {
        schema: crate::results::RESULTS_SCHEMA,
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        run_id: run_id.to_owned(),
        started: shards
            .iter()
            .map(|s| s.results.started.clone())
            .min()
            .unwrap_or_default(),
        finished,
        interrupted: shards.iter().any(|s| s.results.interrupted),
        accel: first.accel.clone(),
        backend: first.backend,
        perf_mode: first.perf_mode,
        icount_shift: first.icount_shift,
        guest: first.guest.clone(),
        filters: first.filters.clone(),
        plan_hash: first.plan_hash.clone(),
        shard: None,
        dir: None,
        kernels,
    }
}

/// Writes kernel `index`'s console and guest logs into the merged
/// directory (the pieces one after the other, each under a header when
/// there are several) and points `k` at them.
fn copy_logs(shards: &[Shard], index: usize, k: &mut KernelRun, run_dir: &RunDir) -> Result<()> {
    let pieces = pieces(shards, index);
    let rel = format!(
        "kernels/{}-{}",
        index + 1,
        crate::support::text::slug(&k.identity.release)
    );
    let dir = run_dir.join(&rel);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("failed to create", &dir, e))?;
    write_json(&dir.join("kernel.json"), &k.identity)?;
    let joined = |pick: fn(&KernelRun) -> &str| {
        let mut text = Vec::new();
        for (s, p, kr) in &pieces {
            let src = pick(kr);
            let body = safe_relative(src)
                .and_then(|r| std::fs::read(s.dir.join(r)).ok())
                .unwrap_or_else(|| format!("(missing: {src})\n").into_bytes());
            if pieces.len() > 1 {
                text.extend(
                    format!(
                        "==> shard {}/{} (run {}, tests {}..{}): {src} <==\n",
                        s.info().index,
                        s.info().count,
                        s.results.run_id,
                        p.start,
                        p.end
                    )
                    .into_bytes(),
                );
            }
            text.extend(body);
        }
        text
    };
    let console_rel = format!("{rel}/console.log");
    let path = run_dir.join(&console_rel);
    write_atomic(&path, &joined(|k| &k.console_log))
        .map_err(|e| Error::io("failed to write", &path, e))?;
    // The qemu backend's guest output is the console itself.
    let guest_rel = if k.guest_log == k.console_log {
        console_rel.clone()
    } else {
        let guest_rel = format!("{rel}/guest.log");
        let path = run_dir.join(&guest_rel);
        write_atomic(&path, &joined(|k| &k.guest_log))
            .map_err(|e| Error::io("failed to write", &path, e))?;
        guest_rel
    };
    k.console_log = console_rel;
    k.guest_log = guest_rel;
    Ok(())
}

/// `p` when it stays inside the directory it is relative to.
fn safe_relative(p: &str) -> Option<&Path> {
    let path = Path::new(p);
    path.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(index: u32, count: u32, hash: &str, parts: &[(usize, usize, usize)]) -> Shard {
        let kernels: Vec<serde_json::Value> = parts
            .iter()
            .map(|&(k, a, b)| {
                serde_json::json!({
                    "identity": {"release": format!("6.{k}"), "banner": "", "path": "/k", "sha256": "00", "size": 1},
                    "outcome": "completed", "wall_s": 1.0, "command": format!("qemu {k}"),
                    "console_log": format!("kernels/{}/console.log", k + 1), "guest_log": format!("kernels/{}/console.log", k + 1),
                    "records": (a..b).map(|t| serde_json::json!({"id": format!("t.n{t}"), "status": "pass", "duration_us": 1})).collect::<Vec<_>>(),
                })
            })
            .collect();
        let results = serde_json::json!({
            "schema": 1, "tool_version": "0", "run_id": format!("r{index}"), "started": format!("2026-01-0{index}T00:00:00Z"),
            "finished": "2026-01-09T00:00:00Z", "interrupted": false,
            "accel": {"accel": "tcg", "reason": "x"}, "guest": {"path": "/g", "sha256": "11"},
            "filters": [], "plan_hash": hash,
            "shard": {"index": index, "count": count, "kernels": 2, "tests": 4,
                      "parts": parts.iter().map(|&(k, a, b)| serde_json::json!({"kernel": k, "start": a, "end": b})).collect::<Vec<_>>()},
            "kernels": kernels,
        });
        Shard {
            dir: PathBuf::from(format!("s{index}")),
            results: serde_json::from_value(results).unwrap(),
        }
    }

    fn three() -> Vec<Shard> {
        // 2 kernels x 4 tests in 3 shards: 0..2 | 2..4, 0..1 | 1..4.
        vec![
            shard(1, 3, "h", &[(0, 0, 2)]),
            shard(2, 3, "h", &[(0, 2, 4), (1, 0, 1)]),
            shard(3, 3, "h", &[(1, 1, 4)]),
        ]
    }

    #[test]
    fn shards_join_into_whole_kernels_in_test_order() {
        let mut s = three();
        s.reverse();
        assert_eq!(check(&s).unwrap(), Vec::<u32>::new());
        s.sort_by_key(|s| s.info().index);
        let m = merge(&s, "m");
        assert_eq!(m.kernels.len(), 2);
        for k in &m.kernels {
            let ids: Vec<&str> = k.records.iter().map(|r| r.id.as_str()).collect();
            assert_eq!(ids, ["t.n0", "t.n1", "t.n2", "t.n3"]);
        }
        assert_eq!(m.kernels[1].command, "shard 2: qemu 1\nshard 3: qemu 1");
        assert_eq!(m.started, "2026-01-01T00:00:00Z");
        assert!(m.shard.is_none());
    }

    #[test]
    fn different_plans_duplicates_and_gaps_are_refused() {
        let mut s = three();
        s[2] = shard(3, 3, "other", &[(1, 1, 4)]);
        let e = check(&s).unwrap_err();
        assert!(e.to_string().contains("different plans"), "{e}");
        assert_eq!(e.exit_code(), ExitCode::Usage);

        let mut s = three();
        s[2] = shard(2, 3, "h", &[(0, 2, 4), (1, 0, 1)]);
        let e = check(&s).unwrap_err();
        assert!(e.to_string().contains("shard 2/3 given twice"), "{e}");

        let s = three().into_iter().take(2).collect::<Vec<_>>();
        assert_eq!(check(&s).unwrap(), [3]);

        let mut s = three();
        s[0].results.shard = None;
        let e = check(&s).unwrap_err();
        assert!(e.to_string().contains("not a shard"), "{e}");
    }

    #[test]
    fn log_paths_never_leave_the_shard() {
        assert!(safe_relative("kernels/1-6.1/console.log").is_some());
        assert!(safe_relative("../../etc/passwd").is_none());
        assert!(safe_relative("/etc/passwd").is_none());
    }
}
