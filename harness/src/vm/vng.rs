//! The one place that knows virtme-ng's flags.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::accel::Accel;
use crate::support::quote::sh_join;

/// What vng's own kernel parameters take of the command line (its init,
/// root file system, hostname, the rw directory's mount): measured with
/// the virtme-ng ci/setup.sh installs, `vng --dry-run` of a run under
/// /tmp/kharness-runs gave a 724-byte command line of which 110 were the
/// `--exec`; 1024 leaves room for longer run directory paths.
const VNG_RESERVED: usize = 1024;

/// The program name kharness runs when `--vng` is not given.
pub const DEFAULT_PROGRAM: &str = "vng";

/// What `ci/setup.sh` installs virtme-ng into when no `vng` is on PATH:
/// a virtual environment of kharness's own (Debian 12's Python refuses a
/// plain `pip install`, PEP 668), `$XDG_DATA_HOME/kharness/venv`, else
/// `~/.local/share/kharness/venv`. Keep in step with `ci/lib.sh`.
pub fn venv_dir() -> Option<PathBuf> {
    let data = match std::env::var_os("XDG_DATA_HOME") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(std::env::var_os("HOME")?).join(".local/share"),
    };
    Some(data.join("kharness/venv"))
}

/// The vng program to run for `--vng PROGRAM`: a path as given (when it
/// exists), a name on PATH, and for the default name also kharness's own
/// environment, so a setup that installed virtme-ng there needs no change
/// to PATH. `None` when there is none.
pub fn locate(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return program.is_file().then(|| program.to_owned());
    }
    let name = program.to_str()?;
    crate::support::paths::which(name).or_else(|| {
        let venv = venv_dir()?.join("bin").join(name);
        (name == DEFAULT_PROGRAM && venv.is_file()).then_some(venv)
    })
}

fn prepend_path(dir: &Path) -> OsString {
    let mut dirs = vec![dir.to_owned()];
    if let Some(p) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&p));
    }
    // The directory came from a path that exists, so it holds no ':'.
    std::env::join_paths(dirs).unwrap_or_else(|_| dir.as_os_str().to_owned())
}

/// Host directories a vng guest does not see as they are on the host:
/// virtme-ng's init mounts fresh file systems over them (virtme-ng 1.42's
/// `/proc/mounts` in a guest: /run, /var/log, /var/tmp, /var/cache, three
/// under /var/lib, besides the kernel's own /dev, /proc and /sys). The rest
/// of the host root is the guest's, read-only or under an overlay.
const HIDDEN_IN_GUEST: [&str; 10] = [
    "/dev",
    "/proc",
    "/sys",
    "/run",
    "/var/log",
    "/var/tmp",
    "/var/cache",
    "/var/lib/private",
    "/var/lib/sudo",
    "/var/lib/apt",
];

/// Whether a file at host path `p` (absolute, symlinks resolved) is there
/// for a vng guest to read, through the host root vng shares.
pub fn guest_sees(p: &Path) -> bool {
    p.is_absolute() && !HIDDEN_IN_GUEST.iter().any(|h| p.starts_with(h))
}

/// How to get virtme-ng, for messages.
pub const INSTALL_HINT: &str = "run ci/setup.sh from the kharness checkout, or `pipx install virtme-ng` (Debian: apt-get install pipx)";

/// A `vng --run` invocation.
#[derive(Debug, Clone)]
pub struct Vng {
    /// The vng program (`vng` on PATH unless overridden).
    pub program: PathBuf,
    pub kernel: PathBuf,
    pub accel: Accel,
    /// Host file receiving what the guest writes to its second serial
    /// port, `/dev/ttyS1` (the records), as the qemu backend does; `None`
    /// for a guest that reports nothing. No shared rw directory: vng
    /// exports each one through a file-system daemon of its own (virtiofsd,
    /// else 9p), which cost 3 s of every boot here, and 9p made each
    /// record's sync a round trip to the host's disk.
    pub results: Option<PathBuf>,
    pub memory: String,
    pub cpus: Option<u32>,
    /// The guest command as argv; quoted into vng's `--exec` string.
    pub exec: Vec<String>,
    /// Extra QEMU arguments (vng `--qemu-opts`).
    pub qemu_opts: Vec<String>,
    /// The host root over 9p at once (vng `--force-9p`): where vng's
    /// virtiofsd cannot start it would wait 3.1 s for it first
    /// ([`super::virtiofsd`]).
    pub force_9p: bool,
}

/// Drivers vng's boots never load (`modprobe.blacklist=`, which udev's
/// coldplug honours): those of the emulated hardware of vng's QEMU
/// machine (q35 with `-cpu max` under TCG: the CD-ROM on AHCI, the ICH9
/// watchdogs and SMBus, the PS/2 mouse, the PC speaker, the firmware
/// config, KVM for the CPU's SVM/VMX flag) and the CPU-feature crypto
/// modules, which run their self-tests as they load. The suite uses none
/// of them (no block device, input, crypto or nested VM), nor does
/// virtme-ng (its ports, 9p and overlay come from the kernel or its
/// initramfs). Loading these ~35 modules from the host's /lib/modules over
/// 9p, each decompressed, signature-checked and self-tested, was most of
/// a boot here: Debian 6.12 under TCG, one test, median of 2 alternating
/// rounds (load 2.4-4.1): deterministic mode 20.9 s (19.3 s of CPU)
/// with them, 14.8 s (10.5 s) without; the slowest phase under -icount,
/// and the one whose 300 s `udevadm settle` timeout in guest time made
/// virtme-ng-init start the suite on the console while modules still
/// loaded. A name a kernel lacks costs nothing.
pub const UNUSED_DRIVERS: [&str; 29] = [
    "kvm",
    "kvm_amd",
    "kvm_intel",
    "ccp",
    "sr_mod",
    "cdrom",
    "sg",
    "ahci",
    "libahci",
    "libata",
    "iTCO_wdt",
    "intel_pmc_bxt",
    "i6300esb",
    "lpc_ich",
    "i2c_i801",
    "psmouse",
    "serio_raw",
    "evdev",
    "pcspkr",
    "button",
    "qemu_fw_cfg",
    "crct10dif_pclmul",
    "crc32_pclmul",
    "crc32c_intel",
    "ghash_clmulni_intel",
    "sha1_ssse3",
    "sha256_ssse3",
    "sha512_ssse3",
    "aesni_intel",
];

/// The kernel parameters of a vng boot after vng's own: the console level
/// (see [`Vng::argv`]), [`super::boot_params`], [`UNUSED_DRIVERS`].
fn kernel_params(icount: bool) -> String {
    let mut words = vec!["loglevel=5".to_owned()];
    words.extend(super::boot_params(icount).iter().map(|s| (*s).to_owned()));
    words.push(format!("modprobe.blacklist={}", UNUSED_DRIVERS.join(",")));
    words.join(" ")
}

/// The QEMU arguments of the results channel: a second 16550 UART at
/// COM2's address (the guest's ttyS1, index 1: after vng's console on
/// COM1) whose output QEMU appends to `results` on the host, as it arrives.
/// vng joins these arguments into a host shell command, so `results` must
/// be a path [`super::is_vng_safe_path`] accepts; commas are doubled for
/// QEMU all the same.
fn results_port(results: &Path) -> [String; 2] {
    [
        format!(
            "-chardev file,id={RESULTS_CHARDEV},path={}",
            super::qemu::opt_escape(results)
        ),
        format!("-device isa-serial,chardev={RESULTS_CHARDEV},index=1"),
    ]
}

const RESULTS_CHARDEV: &str = "kharness-results";

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
        let icount = self.qemu_opts.iter().any(|o| o.starts_with("-icount"));
        v.push(kernel_params(icount).into());
        if self.force_9p {
            v.push("--force-9p".into());
        }
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
        if let Some(results) = &self.results {
            for o in results_port(results) {
                v.push(format!("--qemu-opts={o}").into());
            }
        }
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
    pub fn check_cmdline(&self) -> Result<(), super::VmError> {
        let len = self.exec_string().len().div_ceil(3) * 4;
        if len + VNG_RESERVED > super::qemu::CMDLINE_MAX {
            return Err(super::VmError::ExecTooLong {
                len,
                max: super::qemu::CMDLINE_MAX,
            });
        }
        Ok(())
    }

    /// The argv of a `kharness shell` session: [`Vng::argv`] with
    /// `append` added to the kernel command line, and with `shell` (an
    /// executable) as the guest user's shell on the console in place of
    /// `--exec` (vng's interactive mode: the shell gets a real tty).
    pub fn session_argv(&self, shell: Option<&Path>, append: &[String]) -> Vec<OsString> {
        let mut v = self.argv();
        // `--exec STRING` is the last pair of [`Vng::argv`].
        let exec = v.split_off(v.len() - 2);
        for a in append {
            v.push("--append".into());
            v.push(a.into());
        }
        match shell {
            Some(s) => {
                v.push("--shell".into());
                v.push(s.into());
            }
            None => v.extend(exec),
        }
        v
    }

    pub fn command(&self) -> Command {
        self.command_for(&self.argv())
    }

    /// `argv` (this invocation's, e.g. [`Vng::session_argv`]) as a
    /// command, with vng's directory on PATH when it is not there.
    pub fn command_for(&self, argv: &[OsString]) -> Command {
        let mut cmd = super::quote::command_of(argv);
        if let Some(dir) = self.program_dir_off_path() {
            cmd.env("PATH", prepend_path(&dir));
        }
        cmd
    }

    /// The command as a person would type it (for `--dry-run` and recipes).
    pub fn display(&self) -> String {
        let argv = crate::support::quote::display_argv(self.argv());
        match self.program_dir_off_path() {
            Some(dir) => format!(
                "PATH={}:\"$PATH\" {argv}",
                crate::support::quote::sh_quote(&dir.to_string_lossy())
            ),
            None => argv,
        }
    }

    /// vng runs virtme-ng's other commands (`virtme-run`, ...) by name, so
    /// a vng found outside PATH (kharness's own environment, or `--vng
    /// /some/venv/bin/vng`) needs its directory on the child's PATH.
    fn program_dir_off_path(&self) -> Option<PathBuf> {
        let dir = self
            .program
            .parent()
            .filter(|d| !d.as_os_str().is_empty())?;
        let on_path =
            std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d == dir));
        (!on_path).then(|| dir.to_owned())
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
            results: Some("/tmp/run/k1/rw/records.jsonl".into()),
            memory: "1G".into(),
            cpus: Some(2),
            exec: vec!["/opt/kharness guest".into(), "run".into(), "*zero*".into()],
            qemu_opts: vec![],
            force_9p: false,
        }
    }

    #[test]
    fn records_come_over_a_second_serial_port_not_a_shared_directory() {
        let argv: Vec<String> = sample(Accel::Tcg)
            .argv()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(!argv.iter().any(|a| a.starts_with("--rwdir")), "{argv:?}");
        let opts: Vec<&str> = argv
            .iter()
            .filter_map(|a| a.strip_prefix("--qemu-opts="))
            .collect();
        assert_eq!(
            opts,
            [
                "-chardev file,id=kharness-results,path=/tmp/run/k1/rw/records.jsonl",
                "-device isa-serial,chardev=kharness-results,index=1",
            ]
        );
        let quiet = Vng {
            results: None,
            ..sample(Accel::Tcg)
        };
        assert!(
            !quiet
                .argv()
                .iter()
                .any(|a| a.to_string_lossy().contains("isa-serial"))
        );
    }

    #[test]
    fn a_guest_sees_the_host_root_except_what_vng_mounts_over() {
        assert!(guest_sees(Path::new(
            "/tmp/kharness-runs/x/kharness-run.sh"
        )));
        assert!(guest_sees(Path::new("/home/me/linux/kharness-runs/x")));
        assert!(guest_sees(Path::new("/var/lib/ci/runs")));
        assert!(guest_sees(Path::new("/running")));
        assert!(!guest_sees(Path::new("/run/user/1000/runs/x")));
        assert!(!guest_sees(Path::new("/var/tmp/runs/x")));
        assert!(!guest_sees(Path::new("/dev/shm/runs")));
        assert!(!guest_sees(Path::new("relative/runs")));
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

    #[test]
    fn only_deterministic_boots_go_without_the_apic_timer() {
        let append = |v: &Vng| {
            let argv = v.argv();
            let at = argv.iter().position(|a| a == "--append").unwrap();
            argv[at + 1].to_string_lossy().into_owned()
        };
        let mut v = sample(Accel::Tcg);
        assert!(append(&v).starts_with("loglevel=5 no_timer_check modprobe.blacklist="));
        v.qemu_opts = vec![crate::vm::icount_args(true).join(" ")];
        assert!(
            append(&v).starts_with("loglevel=5 no_timer_check nolapic_timer modprobe.blacklist=")
        );
    }

    #[test]
    fn no_boot_loads_drivers_the_suite_never_uses() {
        for v in [sample(Accel::Tcg), sample(Accel::Kvm)] {
            let argv = v.argv();
            let at = argv.iter().position(|a| a == "--append").unwrap();
            let append = argv[at + 1].to_string_lossy().into_owned();
            let list = append
                .split(' ')
                .find_map(|w| w.strip_prefix("modprobe.blacklist="))
                .unwrap();
            let names: Vec<&str> = list.split(',').collect();
            for m in [
                "kvm",
                "kvm_amd",
                "kvm_intel",
                "ahci",
                "sr_mod",
                "aesni_intel",
            ] {
                assert!(names.contains(&m), "{m} missing from {list}");
            }
            // What virtme-ng's boot and the suite need stays loadable.
            for m in ["9p", "9pnet_virtio", "netfs", "overlay", "virtio_mmio"] {
                assert!(!names.contains(&m), "{m} in {list}");
            }
            assert!(!argv[at + 1..].iter().any(|a| a == "--append"));
        }
    }

    #[test]
    fn the_root_goes_over_9p_at_once_only_when_asked() {
        let mut v = sample(Accel::Tcg);
        assert!(!v.argv().iter().any(|a| a == "--force-9p"));
        v.force_9p = true;
        let argv = v.argv();
        assert_eq!(argv.iter().filter(|a| *a == "--force-9p").count(), 1);
        // Before --exec, which must stay last (session_argv cuts it off).
        assert_eq!(argv[argv.len() - 2], "--exec");
    }
}
