//! `kharness doctor`: what is installed, what really works, and the exact
//! command that installs each missing piece. It reads the same flags and
//! kharness.toml settings as `run` (the QEMU and vng programs, backend,
//! accelerator, kernels, guest), so it checks what a run would use.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cli::DoctorArgs;
use crate::error::{Error, ExitCode, Result};
use crate::plan::Plan;
use crate::support::paths::resolve_program;
use crate::vm::{self, Accel, Backend, BackendChoice};

/// Debian's prebuilt kernels the setup installs.
pub const DEBIAN_KERNELS: &[(&str, &str)] = &[
    ("6.1.0-56-amd64", "linux-image-6.1.0-56-amd64-unsigned"),
    (
        "6.12.107+deb12-amd64",
        "linux-image-6.12.107+deb12-amd64-unsigned",
    ),
    // The newest, so the default kernel: ci/setup.sh installs it.
    (
        "6.12.117+deb12-amd64",
        "linux-image-6.12.117+deb12-amd64-unsigned",
    ),
];

struct Check {
    ok: bool,
    required: bool,
    what: String,
    detail: String,
    fix: Option<String>,
}

fn version_of(program: &Path, arg: &str) -> Option<String> {
    // vng may live in kharness's own environment (ci/setup.sh) rather
    // than on PATH.
    let path = vm::vng::locate(program).or_else(|| resolve_program(program))?;
    let out = crate::support::process::output(Command::new(path).arg(arg)).ok()?;
    let text = String::from_utf8_lossy(if out.stdout.is_empty() {
        &out.stderr
    } else {
        &out.stdout
    })
    .into_owned();
    Some(text.lines().next().unwrap_or("").trim().to_owned())
}

fn tool(program: &Path, arg: &str, required: bool, fix: &str) -> Check {
    let what = program.display().to_string();
    match version_of(program, arg) {
        Some(v) => Check {
            ok: true,
            required,
            what,
            detail: v,
            fix: None,
        },
        None => Check {
            ok: false,
            required,
            what,
            detail: "not found".into(),
            fix: Some(fix.to_owned()),
        },
    }
}

pub fn run(a: DoctorArgs) -> Result<ExitCode> {
    let reprobe = a.reprobe;
    let (plan, kernels) = a.plan();
    let checks = checks(&plan, &kernels, reprobe);
    if crate::support::process::interrupted() {
        return Err(Error::Interrupted);
    }
    let w = checks.iter().map(|c| c.what.len()).max().unwrap_or(0);
    let mut text = String::new();
    for c in &checks {
        let mark = match (c.ok, c.required) {
            (true, _) => "ok     ",
            (false, true) => "MISSING",
            (false, false) => "missing",
        };
        text.push_str(&format!("{mark}  {:<w$}  {}\n", c.what, c.detail));
        if let Some(fix) = &c.fix {
            text.push_str(&format!("         {:<w$}  fix: {fix}\n", ""));
        }
    }
    let code = if checks.iter().any(|c| c.required && !c.ok) {
        text.push_str(
            "\nSomething required is missing: run the fix commands above, or ci/setup.sh for all of them.\n",
        );
        ExitCode::Infra
    } else {
        text.push_str("\nReady: `kharness run` will work.\n");
        ExitCode::Ok
    };
    crate::support::stdout::print(&text).map_err(Error::stdout)?;
    Ok(code)
}

/// Every check, for the plan a run with the same flags would have;
/// `kernels` is how its kernels resolved.
fn checks(plan: &Plan, kernels: &Result<Vec<PathBuf>>, reprobe: bool) -> Vec<Check> {
    let vng = version_of(&plan.vng, "--version");
    let backend = Backend::resolve(plan.backend, vng.is_some());
    let mut checks = vec![tool(
        &plan.qemu,
        "--version",
        true,
        "apt-get install qemu-system-x86",
    )];
    checks.push(match vng {
        Some(v) => Check {
            ok: true,
            required: false,
            what: plan.vng.display().to_string(),
            detail: v,
            fix: None,
        },
        None => Check {
            ok: false,
            // Needed only when asked for: `auto` boots with QEMU directly.
            required: plan.backend == BackendChoice::Vng,
            what: plan.vng.display().to_string(),
            detail: {
                let looked = match vm::vng::venv_dir() {
                    Some(d) => format!("not found on PATH or in {}", d.join("bin").display()),
                    None => "not found on PATH".into(),
                };
                if plan.backend == BackendChoice::Vng {
                    format!("{looked} (--backend vng)")
                } else {
                    format!("{looked}; runs use the qemu backend")
                }
            },
            fix: Some(vm::vng::INSTALL_HINT.into()),
        },
    });
    checks.push(Check {
        ok: true,
        required: false,
        what: "backend".into(),
        detail: format!("{} (--backend {:?})", backend.as_str(), plan.backend).to_lowercase(),
        fix: None,
    });
    checks.push(tool(
        Path::new("busybox"),
        "--help",
        false,
        "apt-get install busybox-static",
    ));
    checks.push(tool(
        Path::new("cargo"),
        "--version",
        false,
        "install Rust (needed only to build kharness and its guest)",
    ));
    let boot = crate::kernel::list_boot_kernels(Path::new(crate::kernel::BOOT_DIR));
    for (release, pkg) in DEBIAN_KERNELS {
        let found = boot.iter().any(|(r, _)| r == release);
        checks.push(Check {
            ok: found,
            required: false,
            what: format!("kernel {release}"),
            detail: if found {
                format!("/boot/vmlinuz-{release}")
            } else {
                "not installed".into()
            },
            fix: (!found).then(|| format!("apt-get install {pkg}")),
        });
    }
    checks.push(Check {
        ok: kernels.is_ok(),
        required: true,
        what: "kernels to boot".into(),
        detail: match kernels {
            Ok(k) => k
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            Err(e) => e.to_string(),
        },
        fix: kernels
            .is_err()
            .then(|| format!("apt-get install {}", DEBIAN_KERNELS[2].1)),
    });
    let kvm_dev = Path::new("/dev/kvm").exists();
    match kernels.as_deref() {
        Ok([k, ..]) if resolve_program(&plan.qemu).is_some() => {
            let v = vm::resolve_accel(
                plan.accel,
                vm::Probe {
                    kernel: k,
                    qemu: &plan.qemu,
                    cache_dir: crate::support::paths::cache_dir().as_deref(),
                    reprobe,
                },
            );
            let fix = if v.accel == Accel::Tcg && !kvm_dev {
                Some("enable KVM for faster boots (modprobe kvm_intel or kvm_amd)".to_owned())
            } else if v.accel == Accel::Tcg && v.reason.contains("Permission denied") {
                Some(vm::KVM_GROUP_HINT.to_owned())
            } else if v.cached {
                Some("`kharness doctor --reprobe` probes KVM again".to_owned())
            } else {
                None
            };
            checks.push(Check {
                ok: true,
                required: false,
                what: "accelerator".into(),
                detail: format!(
                    "{} ({}{})",
                    v.accel.as_str(),
                    v.reason,
                    if v.cached { ", cached" } else { "" }
                ),
                fix,
            });
            let cap = crate::engine::capacity(plan, backend, v.accel);
            checks.push(Check {
                ok: true,
                required: false,
                what: "VMs at once".into(),
                detail: match plan.jobs {
                    Some(j) => format!(
                        "{j} (--jobs; the machine runs {}: {})",
                        cap.jobs(),
                        cap.describe()
                    ),
                    None => format!("{} ({}; --jobs N to change)", cap.jobs(), cap.describe()),
                },
                fix: None,
            });
        }
        _ => checks.push(Check {
            ok: false,
            required: false,
            what: "accelerator".into(),
            detail: "cannot probe without QEMU and a kernel".into(),
            fix: None,
        }),
    }
    checks.push(guest_check(plan));
    checks
}

/// The guest binary a run would use and the rule that chose it. Doctor
/// never builds one: with --rebuild-guest it says where a run would.
fn guest_check(plan: &Plan) -> Check {
    let (found, fix) = if plan.rebuild_guest {
        (
            crate::guest::rebuild_sources().map(|ws| {
                format!(
                    "a run builds it with cargo in {} (--rebuild-guest)",
                    ws.display()
                )
            }),
            "drop --rebuild-guest, or install Rust",
        )
    } else {
        let want = crate::guest::Want {
            given: plan.guest.as_deref(),
            rebuild: false,
        };
        (
            crate::guest::find(want, true)
                .map(|f| format!("{} ({})", f.guest.path.display(), f.rule)),
            "ci/install.sh PREFIX, or ci/setup.sh in a kharness checkout",
        )
    };
    Check {
        ok: found.is_ok(),
        required: true,
        what: "guest binary".into(),
        fix: found.is_err().then(|| fix.to_owned()),
        detail: found.unwrap_or_else(|e| e.to_string()),
    }
}
