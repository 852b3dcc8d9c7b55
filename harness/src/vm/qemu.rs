//! The one place that knows QEMU's flags for the qemu-direct backend:
//! kernel + our initramfs, console on the first serial port, results on
//! the second, nothing shared with the host.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

use super::accel::Accel;

/// A qemu-direct invocation.
#[derive(Debug, Clone)]
pub struct Qemu {
    pub program: PathBuf,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub accel: Accel,
    pub memory: String,
    pub cpus: u32,
    /// Host file receiving the guest's second serial port (`/dev/ttyS1`).
    pub results: PathBuf,
    /// Kernel command line words after the console setup.
    pub append: Vec<String>,
    /// `-icount` ([`super::icount_args`]): guest time counts executed
    /// instructions, so guest-measured durations repeat under TCG.
    pub icount: bool,
}

/// The longest kernel command line x86 takes (COMMAND_LINE_SIZE 2048,
/// with its NUL); the kernel cuts a longer one silently.
pub const CMDLINE_MAX: usize = 2047;

/// QEMU splits option values at commas; a literal comma is written twice.
pub(super) fn opt_escape(p: &std::path::Path) -> String {
    p.to_string_lossy().replace(',', ",,")
}

impl Qemu {
    pub fn argv(&self) -> Vec<OsString> {
        let mut v: Vec<OsString> = vec![self.program.clone().into()];
        let mut push = |a: &str| v.push(a.into());
        push("-M");
        push("pc");
        push("-accel");
        push(self.accel.as_str());
        if self.accel == Accel::Kvm {
            push("-cpu");
            push("host");
        }
        for a in ["-m", &self.memory, "-smp", &self.cpus.to_string()] {
            push(a);
        }
        for a in [
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
            "-no-reboot",
        ] {
            push(a);
        }
        push("-chardev");
        push("stdio,id=console,signal=off");
        push("-serial");
        push("chardev:console");
        push("-chardev");
        push(&format!(
            "file,id=results,path={}",
            opt_escape(&self.results)
        ));
        push("-serial");
        push("chardev:results");
        if self.icount {
            for a in super::icount_args(false) {
                push(&a);
            }
        }
        v.push("-kernel".into());
        v.push(self.kernel.clone().into());
        v.push("-initrd".into());
        v.push(self.initrd.clone().into());
        v.push("-append".into());
        v.push(self.cmdline().into());
        v
    }

    /// Console on ttyS0; only warnings and worse (`loglevel=5` prints
    /// levels 0-4, and WARNs, lockdep reports and the guest's test markers
    /// are level 4), so the console stays short but still carries every
    /// oops, BUG and WARN; reboot (and so exit, with -no-reboot) at once on
    /// panic. Then [`super::boot_params`].
    pub fn cmdline(&self) -> String {
        let mut words = vec!["console=ttyS0", "loglevel=5", "panic=-1", "oops=panic"];
        words.extend(super::boot_params(self.icount));
        words.extend(self.append.iter().map(|s| s.as_str()));
        words.join(" ")
    }

    /// Refuses a kernel command line the kernel would cut.
    pub fn check_cmdline(&self) -> Result<(), super::VmError> {
        let len = self.cmdline().len();
        if len > CMDLINE_MAX {
            return Err(super::VmError::CmdlineTooLong {
                len,
                max: CMDLINE_MAX,
            });
        }
        Ok(())
    }

    pub fn command(&self) -> Command {
        super::quote::command_of(&self.argv())
    }

    pub fn display(&self) -> String {
        crate::support::quote::display_argv(self.argv())
    }
}

/// QEMU's gdb stub on `port` of the loopback address only (`-s` would
/// listen on every address); with `wait`, the CPU stays stopped until a
/// debugger continues it (`-S`).
pub fn gdb_stub_args(port: u16, wait: bool) -> Vec<String> {
    let mut v = vec!["-gdb".to_owned(), format!("tcp:127.0.0.1:{port}")];
    if wait {
        v.push("-S".to_owned());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_has_two_serial_ports_and_escapes_commas() {
        let q = Qemu {
            program: "qemu-system-x86_64".into(),
            kernel: "/boot/vmlinuz".into(),
            initrd: "/tmp/i.cpio".into(),
            accel: Accel::Tcg,
            memory: "1G".into(),
            cpus: 1,
            results: "/tmp/a,b/records.jsonl".into(),
            append: vec!["kharness_argv=00".into()],
            icount: true,
        };
        let argv: Vec<String> = q
            .argv()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(argv.contains(&"file,id=results,path=/tmp/a,,b/records.jsonl".to_owned()));
        assert_eq!(argv.iter().filter(|a| *a == "-serial").count(), 2);
        assert!(argv.contains(&"shift=4,align=off,sleep=off".to_owned()));
        assert!(!argv.contains(&"-cpu".to_owned()));
        assert!(
            argv.last()
                .unwrap()
                .ends_with("oops=panic no_timer_check nolapic_timer kharness_argv=00")
        );
        let wallclock = Qemu { icount: false, ..q };
        assert!(!wallclock.argv().iter().any(|a| a == "-icount"));
        assert!(
            wallclock
                .cmdline()
                .ends_with("oops=panic no_timer_check kharness_argv=00"),
            "{}",
            wallclock.cmdline()
        );
    }
}
