//! The one place that knows virtme-ng's flags.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

use super::accel::Accel;
use crate::support::quote::sh_join;

/// What vng's own kernel parameters take of the command line (its init,
/// root file system, hostname, modules options): about 700 bytes measured
/// with virtme-ng 1.x, rounded up.
const VNG_RESERVED: usize = 1024;

/// A `vng --run` invocation.
#[derive(Debug, Clone)]
pub struct Vng {
    /// The vng program (`vng` on PATH unless overridden).
    pub program: PathBuf,
    pub kernel: PathBuf,
    pub accel: Accel,
    /// Host directory the guest may write (same path inside the guest).
    pub rwdir: PathBuf,
    pub memory: String,
    pub cpus: Option<u32>,
    /// The guest command as argv; quoted into vng's `--exec` string.
    pub exec: Vec<String>,
    /// Extra QEMU arguments (vng `--qemu-opts`).
    pub qemu_opts: Vec<String>,
}

impl Vng {
    /// The argv, program first. Passed to the OS as is: no host shell.
    pub fn argv(&self) -> Vec<OsString> {
        let mut v: Vec<OsString> = vec![
            self.program.clone().into(),
            "--run".into(),
            self.kernel.clone().into(),
        ];
        if self.accel == Accel::Tcg {
            v.push("--disable-kvm".into());
        }
        // Kernel messages on the console log, so crashes can be found
        // there; warnings and worse only, since printing the whole boot
        // through an emulated serial port cost about a quarter of a short
        // run under TCG. loglevel=5 prints levels 0-4: KERN_WARNING (4)
        // carries WARNs, lockdep reports and the guest's test markers.
        v.push("--verbose".into());
        v.push("--append".into());
        v.push("loglevel=5".into());
        v.push("--memory".into());
        v.push(self.memory.clone().into());
        if let Some(n) = self.cpus {
            v.push("--cpus".into());
            v.push(n.to_string().into());
        }
        // `=` form: argparse would take a value starting with '-' for a flag.
        for o in &self.qemu_opts {
            v.push(format!("--qemu-opts={o}").into());
        }
        v.push("--rwdir".into());
        v.push(self.rwdir.clone().into());
        v.push("--exec".into());
        v.push(self.exec_string().into());
        v
    }

    /// The shell string vng hands to the guest's `sh -c`: every word quoted.
    pub fn exec_string(&self) -> String {
        sh_join(&self.exec)
    }

    /// Refuses an `--exec` string that would not fit on the kernel
    /// command line: vng passes it there base64-encoded, beside its own
    /// parameters (a few hundred bytes; `VNG_RESERVED` leaves them room).
    pub fn check_cmdline(&self) -> Result<(), String> {
        let n = self.exec_string().len().div_ceil(3) * 4;
        if n + VNG_RESERVED > super::qemu::CMDLINE_MAX {
            return Err(format!(
                "vng would put {n} bytes of --exec on a kernel command line of at most {} (a shorter --out path helps)",
                super::qemu::CMDLINE_MAX
            ));
        }
        Ok(())
    }

    pub fn command(&self) -> Command {
        super::quote::command_of(&self.argv())
    }

    /// The command as a person would type it (for `--dry-run` and recipes).
    pub fn display(&self) -> String {
        crate::support::quote::display_argv(self.argv())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(accel: Accel) -> Vng {
        Vng {
            program: "vng".into(),
            kernel: "/boot/vmlinuz-6.12".into(),
            accel,
            rwdir: "/tmp/run/k1".into(),
            memory: "1G".into(),
            cpus: Some(2),
            exec: vec!["/opt/kharness guest".into(), "run".into(), "*zero*".into()],
            qemu_opts: vec![],
        }
    }

    #[test]
    fn an_exec_string_too_long_for_the_kernel_is_refused() {
        let mut v = sample(Accel::Tcg);
        assert!(v.check_cmdline().is_ok());
        v.exec = vec!["sh".into(), format!("/{}/kharness-run.sh", "d".repeat(900))];
        assert!(v.check_cmdline().is_err());
    }

    #[test]
    fn tcg_disables_kvm_and_quotes_exec() {
        let v = sample(Accel::Tcg);
        let argv: Vec<String> = v
            .argv()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            argv[..4],
            ["vng", "--run", "/boot/vmlinuz-6.12", "--disable-kvm"]
        );
        assert_eq!(argv.last().unwrap(), "'/opt/kharness guest' run '*zero*'");
        assert!(
            !sample(Accel::Kvm)
                .argv()
                .iter()
                .any(|a| a == "--disable-kvm")
        );
    }
}
