//! `kharness shell`: one VM whose guest is a shell on the terminal, with
//! the guest binary at hand, under either backend.
//!
//! - qemu: the cached guest initramfs plus a second archive holding a
//!   static busybox and an init script (`rdinit=`), which mounts what the
//!   guest binary needs, links it as `/bin/kharness-guest`, runs the shell
//!   on the console and writes its exit status to the second serial port.
//! - vng: a session directory shared read-write (`--rwdir`) holds a
//!   wrapper script and `bin/kharness-guest`; interactively the wrapper is
//!   vng's `--shell` (a shell on the console, a real tty), otherwise its
//!   `--exec`, whose standard input is kharness's (vng passes the host's
//!   stdin to the command, and its end of file ends the shell).
//!
//! Either way the wrapper says when the shell started and how it exited,
//! so a VM that never reached the shell (exit 3) is told apart from a
//! shell that exited with a status of its own.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{Accel, Backend, PerfMode, Qemu, Vng};
use crate::error::{ExitCode, OpError};
use crate::support::process::{self, Stop, Supervised};
use crate::support::quote::{sh_join, sh_quote};

/// Where the init script of the qemu backend sits in the initramfs.
pub const QEMU_INIT: &str = "/kharness/shell-init";
/// Where the scripted input of a non-interactive qemu session sits.
pub const QEMU_INPUT: &str = "/kharness/shell-input";
/// The name the guest binary has on the guest's PATH.
pub const GUEST_ON_PATH: &str = "kharness-guest";
/// What the wrapper writes when the shell starts and when it ends.
const STARTED: &str = "kharness-shell: started";
const EXITED: &str = "kharness-shell: exit ";

/// QEMU's gdb stub for the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GdbStub {
    pub port: u16,
    /// Keep the CPU stopped until the debugger continues it (`-S`).
    pub wait: bool,
}

/// What to boot and how.
#[derive(Debug, Clone)]
pub struct Session {
    pub backend: Backend,
    pub kernel: PathBuf,
    /// The static guest binary on the host.
    pub guest: PathBuf,
    /// The qemu backend's guest initramfs (the guest as `/init`).
    pub guest_initramfs: Option<PathBuf>,
    /// A static busybox for the qemu backend's shell.
    pub busybox: Option<PathBuf>,
    pub accel: Accel,
    pub perf_mode: PerfMode,
    pub memory: String,
    pub cpus: Option<u32>,
    /// The vng program (located) or the QEMU program.
    pub vng: PathBuf,
    pub qemu: PathBuf,
    pub gdb: Option<GdbStub>,
    /// A terminal on stdin: the VM gets it. Otherwise stdin is the script.
    pub interactive: bool,
    /// Lines the guest prints before the shell starts.
    pub banner: Vec<String>,
    /// Stop the VM after this long (none: as long as the shell runs).
    pub limit: Option<Duration>,
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The shell exited with this status.
    Exited(i32),
    /// The VM ended before the shell started: it did not boot.
    NotStarted,
    /// The shell started but the VM went before it exited (a crash, a
    /// power-off from inside, a time limit).
    Died,
    /// kharness was asked to stop (SIGINT/SIGTERM).
    Interrupted,
}

/// What the session's status channel says.
pub fn parse_status(text: &str) -> Ended {
    let mut started = false;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line == STARTED {
            started = true;
        } else if let Some(code) = line.strip_prefix(EXITED) {
            if let Ok(c) = code.trim().parse() {
                return Ended::Exited(c);
            }
        }
    }
    if started {
        Ended::Died
    } else {
        Ended::NotStarted
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    #[error("failed to write the session file {}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("failed to start {what}")]
    Start {
        what: String,
        source: std::io::Error,
    },
    #[error("{why}")]
    Busybox { why: String },
    #[error(
        "the VM ended before the shell started: {} did not boot (its console is above)",
        kernel.display()
    )]
    NoBoot { kernel: PathBuf },
    #[error("{}", match limit {
        Some(l) => format!("the VM ended before the shell exited (a kernel crash, or the --timeout of {})", humantime::format_duration(*l)),
        None => "the VM ended before the shell exited (a kernel crash? its console is above)".to_owned(),
    })]
    Died { limit: Option<Duration> },
}

impl OpError for ShellError {
    /// A VM that never reached the shell, or a missing tool, is the
    /// machine's (3); one that died under the shell, the guest's (4).
    fn exit_code(&self) -> ExitCode {
        match self {
            ShellError::Died { .. } => ExitCode::GuestCrashed,
            _ => ExitCode::Infra,
        }
    }
}

fn write_err(path: &Path) -> impl FnOnce(std::io::Error) -> ShellError + '_ {
    move |source| ShellError::Write {
        path: path.to_owned(),
        source,
    }
}

/// The `printf` line that prints `lines`, every word quoted.
fn print_lines(lines: &[String], to_stderr: bool) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let mut argv = vec!["printf".to_owned(), "%s\\n".to_owned()];
    argv.extend(lines.iter().cloned());
    format!(
        "{}{}\n",
        sh_join(&argv),
        if to_stderr { " >&2" } else { "" }
    )
}

/// PID 1 of the qemu backend's shell: busybox's applets on PATH, the
/// file systems the guest binary uses, the guest as
/// `/bin/kharness-guest`, then the shell; its status goes to ttyS1 and
/// the machine powers off.
pub fn qemu_init_script(interactive: bool, banner: &[String]) -> String {
    let shell = if interactive {
        // cttyhack makes the console the shell's controlling terminal, so
        // Ctrl-C and job control work.
        format!("{}setsid cttyhack sh -l", stty_size())
    } else {
        format!("sh < {QEMU_INPUT}")
    };
    format!(
        "#!/bin/busybox sh
/bin/busybox mkdir -p /bin /sbin /usr/bin /usr/sbin /root /proc /sys /dev /tmp
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
ip link set lo up 2>/dev/null
ln -s /init /bin/{GUEST_ON_PATH}
cd /root
echo '{STARTED}' > /dev/ttyS1
{banner}{shell}
echo \"{EXITED}$?\" > /dev/ttyS1
sync
poweroff -f
",
        banner = print_lines(banner, false),
    )
}

/// The guest's end of the status channel: the second serial port, which
/// both backends carry to a host file.
pub const STATUS_PORT: &str = "/dev/ttyS1";

/// The vng backend's wrapper: the guest binary first on PATH, the shell
/// (bash when the host has it, interactively; `sh` reading stdin
/// otherwise), its status written to `status`: in the guest the second
/// serial port, [`STATUS_PORT`], which vng's results channel carries to
/// the host (the guest sees the host's root read-only).
pub fn vng_wrapper_script(
    interactive: bool,
    banner: &[String],
    dir: &Path,
    status: &Path,
) -> String {
    let d = dir.to_string_lossy();
    let bin = sh_quote(&format!("{d}/bin")).into_owned();
    let status = sh_quote(&status.to_string_lossy()).into_owned();
    let shell = if interactive {
        format!(
            "{}if [ -x /bin/bash ]; then /bin/bash -i; else /bin/sh -i; fi",
            stty_size()
        )
    } else {
        "/bin/sh -s".to_owned()
    };
    format!(
        "#!/bin/sh
PATH={bin}:\"$PATH\"; export PATH
echo '{STARTED}' > {status}
{banner}{shell}
rc=$?
echo \"{EXITED}$rc\" >> {status}
exit $rc
",
        banner = print_lines(banner, true),
    )
}

/// A serial console has no window size: the guest's shell is told the
/// host terminal's, so full-screen programs and line editing fit it.
fn stty_size() -> String {
    match rustix::termios::tcgetwinsize(std::io::stdin()) {
        Ok(w) if w.ws_row > 0 && w.ws_col > 0 => {
            format!("stty rows {} cols {} 2>/dev/null\n", w.ws_row, w.ws_col)
        }
        _ => String::new(),
    }
}

/// One VM ready to start, and what it leaves behind to read.
struct Prepared {
    argv: Vec<OsString>,
    command: Command,
    status: PathBuf,
    stdin: Stdio,
    _dir: tempfile::TempDir,
}

/// One vCPU under TCG unless asked otherwise (see the engine's reasons:
/// multi-vCPU code patching under TCG oopsed Debian's 6.12).
fn cpus(s: &Session) -> Option<u32> {
    s.cpus.or((s.accel == Accel::Tcg).then_some(1))
}

fn prepare(s: &Session, input: Option<&[u8]>) -> Result<Prepared, ShellError> {
    let dir = tempfile::Builder::new()
        .prefix("kharness-shell")
        .tempdir_in("/tmp")
        .map_err(write_err(Path::new("/tmp")))?;
    match s.backend {
        Backend::Qemu => prepare_qemu(s, input, dir),
        Backend::Vng => prepare_vng(s, dir),
    }
}

fn prepare_qemu(
    s: &Session,
    input: Option<&[u8]>,
    dir: tempfile::TempDir,
) -> Result<Prepared, ShellError> {
    let base = s
        .guest_initramfs
        .as_deref()
        .expect("the caller builds the guest initramfs for the qemu backend");
    let busybox = s
        .busybox
        .as_deref()
        .expect("the caller finds busybox for the qemu backend");
    let initrd = dir.path().join("initrd.cpio");
    // A dry run (`input` None) only shows the command line.
    if let Some(input) = input {
        let mut buf = std::fs::read(base).map_err(write_err(base))?;
        let bb = std::fs::read(busybox).map_err(write_err(busybox))?;
        let init = qemu_init_script(s.interactive, &s.banner);
        super::initramfs::shell_archive(
            &bb,
            init.as_bytes(),
            (!s.interactive).then_some(input),
            &mut buf,
        )
        .map_err(write_err(&initrd))?;
        std::fs::write(&initrd, &buf).map_err(write_err(&initrd))?;
    }
    let status = dir.path().join("status");
    let mut append = vec![format!("rdinit={QEMU_INIT}")];
    if s.gdb.is_some() {
        append.push("nokaslr".to_owned());
    }
    let q = Qemu {
        program: s.qemu.clone(),
        kernel: s.kernel.clone(),
        initrd,
        accel: s.accel,
        memory: s.memory.clone(),
        cpus: cpus(s).unwrap_or(1),
        results: status.clone(),
        append,
        icount: s.perf_mode == PerfMode::Deterministic,
    };
    let mut argv = q.argv();
    if let Some(g) = s.gdb {
        argv.extend(
            super::qemu::gdb_stub_args(g.port, g.wait)
                .into_iter()
                .map(OsString::from),
        );
    }
    let command = super::quote::command_of(&argv);
    Ok(Prepared {
        argv,
        command,
        status,
        // The script is in the initramfs; QEMU's console reads nothing.
        stdin: if s.interactive {
            Stdio::inherit()
        } else {
            Stdio::null()
        },
        _dir: dir,
    })
}

fn prepare_vng(s: &Session, dir: tempfile::TempDir) -> Result<Prepared, ShellError> {
    let root = dir.path();
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).map_err(write_err(&bin))?;
    let link = bin.join(GUEST_ON_PATH);
    std::os::unix::fs::symlink(&s.guest, &link).map_err(write_err(&link))?;
    let script = root.join("kharness-shell.sh");
    {
        let mut f = std::fs::File::create(&script).map_err(write_err(&script))?;
        f.write_all(
            vng_wrapper_script(s.interactive, &s.banner, root, Path::new(STATUS_PORT)).as_bytes(),
        )
        .map_err(write_err(&script))?;
    }
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .map_err(write_err(&script))?;
    let mut qemu_opts = Vec::new();
    if s.perf_mode == PerfMode::Deterministic {
        qemu_opts.push(super::icount_args(true).join(" "));
    }
    let mut append = Vec::new();
    if let Some(g) = s.gdb {
        // What vng's --debug does (virtme-run --gdb-server: `-gdb` and
        // nokaslr), on a port of the user's choosing; --debug itself
        // fixes the port at 1234 and opens QMP on 3636, so two sessions
        // would collide.
        qemu_opts.push(super::qemu::gdb_stub_args(g.port, g.wait).join(" "));
        append.push("nokaslr".to_owned());
    }
    let v = Vng {
        program: s.vng.clone(),
        kernel: s.kernel.clone(),
        accel: s.accel,
        results: Some(root.join("status")),
        memory: s.memory.clone(),
        cpus: cpus(s),
        exec: vec!["sh".to_owned(), script.to_string_lossy().into_owned()],
        qemu_opts,
        force_9p: super::virtiofsd::vng_uses_9p(s.vng.parent()),
    };
    let argv = v.session_argv(s.interactive.then_some(script.as_path()), &append);
    let command = v.command_for(&argv);
    Ok(Prepared {
        argv,
        command,
        status: root.join("status"),
        stdin: Stdio::inherit(),
        _dir: dir,
    })
}

/// The VM command line a session would run, as a person would type it.
pub fn display(s: &Session) -> Result<String, ShellError> {
    let p = prepare(s, None)?;
    Ok(crate::support::quote::display_argv(p.argv))
}

/// Boots the session's VM on kharness's terminal (or with its stdin as
/// the script) and waits for it to end.
pub fn run(s: &Session) -> Result<Ended, ShellError> {
    // The qemu backend's script goes into the initramfs: the serial
    // console would drop what arrives before the guest opens it.
    let mut input = Vec::new();
    if s.backend == Backend::Qemu && !s.interactive {
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut input)
            .map_err(write_err(Path::new("/dev/stdin")))?;
    }
    let mut p = prepare(s, Some(&input))?;
    let what = crate::support::quote::display_argv(p.argv.clone());
    let sup: Supervised = process::supervise_attached(
        &mut p.command,
        p.stdin,
        Stop {
            limit: s.limit,
            cancel: Some(process::interrupt_flag()),
        },
    )
    .map_err(|source| ShellError::Start { what, source })?;
    if sup.interrupted {
        return Ok(Ended::Interrupted);
    }
    let text = std::fs::read_to_string(&p.status).unwrap_or_default();
    Ok(parse_status(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_channel_tells_no_boot_from_a_crash_from_an_exit() {
        assert_eq!(parse_status(""), Ended::NotStarted);
        assert_eq!(parse_status("noise\n"), Ended::NotStarted);
        assert_eq!(parse_status(&format!("{STARTED}\n")), Ended::Died);
        assert_eq!(
            parse_status(&format!("{STARTED}\r\n{EXITED}7\r\n")),
            Ended::Exited(7)
        );
        assert_eq!(
            parse_status(&format!("{STARTED}\n{EXITED}0\n")),
            Ended::Exited(0)
        );
    }

    #[test]
    fn the_wrapper_puts_the_guest_first_and_reports_the_status() {
        let d = tempfile::tempdir().unwrap();
        let bin = d.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::os::unix::fs::symlink("/bin/echo", bin.join(GUEST_ON_PATH)).unwrap();
        let script = d.path().join("w.sh");
        let banner = vec!["it's $(id)".to_owned()];
        let status = d.path().join("status");
        std::fs::write(
            &script,
            vng_wrapper_script(false, &banner, d.path(), &status),
        )
        .unwrap();
        let out = Command::new("sh")
            .arg(&script)
            .stdin(std::fs::File::open("/dev/null").unwrap())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(String::from_utf8_lossy(&out.stderr), "it's $(id)\n");
        let mut child = Command::new("sh")
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"kharness-guest hello\nexit 6\n")
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(6));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");
        let status = std::fs::read_to_string(&status).unwrap();
        assert_eq!(parse_status(&status), Ended::Exited(6));
    }
}
