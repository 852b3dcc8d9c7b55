//! Running as PID 1 of an initramfs (the qemu-direct backend): set up the
//! minimal system the tests need, run the command the host put on the
//! kernel command line, then power off.

use std::time::Duration;

use rustix::mount::{MountFlags, mount};

/// Whether this process is the first one the kernel started.
pub fn is_pid1() -> bool {
    rustix::process::getpid().is_init()
}

fn mount_or_warn(src: &str, target: &str, fstype: &str, data: Option<&std::ffi::CStr>) {
    let _ = std::fs::create_dir_all(target);
    if let Err(e) = mount(src, target, fstype, MountFlags::empty(), data) {
        // EBUSY: already there (e.g. the kernel mounted devtmpfs itself).
        if e != rustix::io::Errno::BUSY {
            eprintln!("kharness-guest: mount {fstype} on {target}: {e}");
        }
    }
}

/// The argv the host gave: the initramfs file first, else the kernel
/// parameter, else a plain `run`.
fn host_argv(file: Option<String>, param: Option<String>) -> Vec<String> {
    let (from, hex) = match (file, param) {
        (Some(f), _) => (kharness_record::PID1_ARGV_FILE, f),
        (None, Some(p)) => (kharness_record::PID1_ARGV_PARAM, p),
        (None, None) => return vec!["run".to_owned()],
    };
    match kharness_record::decode_argv(hex.trim()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("kharness-guest: cannot read {from}: {e}");
            vec!["run".to_owned()]
        }
    }
}

/// The whole life of PID 1: never returns.
pub fn main() -> ! {
    mount_or_warn("proc", "/proc", "proc", None);
    mount_or_warn("sysfs", "/sys", "sysfs", None);
    mount_or_warn("devtmpfs", "/dev", "devtmpfs", None);
    mount_or_warn("tmpfs", "/tmp", "tmpfs", None);
    crate::util::ensure_loopback_up();

    let file = std::fs::read_to_string(kharness_record::PID1_ARGV_FILE).ok();
    let param = std::env::var(kharness_record::PID1_ARGV_PARAM).ok();
    let argv = host_argv(file, param);
    let code = crate::cli::main(argv);
    println!("kharness-guest: exit {code}");
    rustix::fs::sync();
    // Give the serial ports a moment to drain before the machine goes away.
    std::thread::sleep(Duration::from_millis(50));
    let _ = rustix::system::reboot(rustix::system::RebootCommand::PowerOff);
    // reboot(2) failing leaves PID 1 nothing to do; exiting would panic the
    // kernel, which the host reports as a crash, and that is the truth.
    std::process::exit(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_initramfs_file_wins_over_the_kernel_parameter() {
        let enc = |a: &[&str]| {
            kharness_record::encode_argv(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        };
        let file = Some(format!("{}\n", enc(&["run", "--", "tee.a"])));
        let param = Some(enc(&["list"]));
        assert_eq!(host_argv(file, param.clone()), ["run", "--", "tee.a"]);
        assert_eq!(host_argv(None, param), ["list"]);
        assert_eq!(host_argv(None, None), ["run"]);
        assert_eq!(host_argv(Some("zz".into()), None), ["run"]);
    }
}
