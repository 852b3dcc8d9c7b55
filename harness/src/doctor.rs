//! `kharness doctor`: what is installed, what really works, and the exact
//! command that installs each missing piece.

use std::path::Path;
use std::process::Command;

use crate::error::ExitCode;
use crate::vm::{self, Accel, AccelChoice};

/// Debian's prebuilt kernels the setup installs.
pub const DEBIAN_KERNELS: &[(&str, &str)] = &[
    ("6.1.0-56-amd64", "linux-image-6.1.0-56-amd64-unsigned"),
    (
        "6.12.107+deb12-amd64",
        "linux-image-6.12.107+deb12-amd64-unsigned",
    ),
];

struct Check {
    ok: bool,
    required: bool,
    what: String,
    detail: String,
    fix: Option<String>,
}

fn version_of(program: &str, arg: &str) -> Option<String> {
    let path = if program == vm::vng::DEFAULT_PROGRAM {
        vm::vng::locate(Path::new(program))?
    } else {
        vm::resolve_program(program)?
    };
    let out = Command::new(path).arg(arg).output().ok()?;
    let text = String::from_utf8_lossy(if out.stdout.is_empty() {
        &out.stderr
    } else {
        &out.stdout
    })
    .into_owned();
    Some(text.lines().next().unwrap_or("").trim().to_owned())
}

fn tool(program: &str, arg: &str, required: bool, fix: &str) -> Check {
    match version_of(program, arg) {
        Some(v) => Check {
            ok: true,
            required,
            what: program.to_owned(),
            detail: v,
            fix: None,
        },
        None => Check {
            ok: false,
            required,
            what: program.to_owned(),
            detail: if program == vm::vng::DEFAULT_PROGRAM {
                match vm::vng::venv_dir() {
                    Some(d) => format!("not found on PATH or in {}", d.join("bin").display()),
                    None => "not found on PATH".into(),
                }
            } else {
                "not found on PATH".into()
            },
            fix: Some(fix.to_owned()),
        },
    }
}

/// Runs every check and prints a table; exit 0 when a run can work, 3 when
/// something required is missing.
pub fn doctor() -> ExitCode {
    let mut checks = vec![
        tool(
            "qemu-system-x86_64",
            "--version",
            true,
            "apt-get install qemu-system-x86",
        ),
        tool(
            vm::vng::DEFAULT_PROGRAM,
            "--version",
            true,
            vm::vng::INSTALL_HINT,
        ),
        tool("busybox", "--help", false, "apt-get install busybox-static"),
        tool(
            "cargo",
            "--version",
            false,
            "install Rust (needed only to build the guest binary)",
        ),
    ];
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
    let default = crate::kernel::default_kernel();
    checks.push(Check {
        ok: default.is_ok(),
        required: true,
        what: "default kernel".into(),
        detail: match &default {
            Ok(p) => p.display().to_string(),
            Err(e) => e.to_string(),
        },
        fix: default
            .is_err()
            .then(|| format!("apt-get install {}", DEBIAN_KERNELS[1].1)),
    });
    let kvm_dev = Path::new("/dev/kvm").exists();
    match &default {
        Ok(k) if vm::resolve_program("qemu-system-x86_64").is_some() => {
            let v = vm::resolve_accel(AccelChoice::Auto, k, crate::run::cache_dir().as_deref());
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
                fix: (v.accel == Accel::Tcg && !kvm_dev)
                    .then(|| {
                        "enable KVM for faster boots (modprobe kvm_intel or kvm_amd)".to_owned()
                    })
                    .or_else(|| {
                        (v.accel == Accel::Tcg && v.reason.contains("Permission denied"))
                            .then(|| vm::KVM_GROUP_HINT.to_owned())
                    }),
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
    match crate::guest::locate(None, true) {
        Ok(g) => checks.push(Check {
            ok: true,
            required: true,
            what: "guest binary".into(),
            detail: g.path.display().to_string(),
            fix: None,
        }),
        Err(e) => checks.push(Check {
            ok: false,
            required: true,
            what: "guest binary".into(),
            detail: e.to_string(),
            fix: Some("ci/setup.sh".into()),
        }),
    }

    let w = checks.iter().map(|c| c.what.len()).max().unwrap_or(0);
    for c in &checks {
        let mark = match (c.ok, c.required) {
            (true, _) => "ok     ",
            (false, true) => "MISSING",
            (false, false) => "missing",
        };
        println!("{mark}  {:<w$}  {}", c.what, c.detail);
        if let Some(fix) = &c.fix {
            println!("         {:<w$}  fix: {fix}", "");
        }
    }
    if checks.iter().any(|c| c.required && !c.ok) {
        println!(
            "\nSomething required is missing: run the fix commands above, or ci/setup.sh for all of them."
        );
        ExitCode::Infra
    } else {
        println!("\nReady: `kharness run` will work.");
        ExitCode::Ok
    }
}
