//! kharness.toml through the real binary: where files are found, profiles,
//! precedence (flag > env > project > user > default), and what broken
//! files say. Every command runs in a scratch directory with a scratch
//! HOME and none of the caller's KHARNESS_*, CI or XDG_CONFIG_HOME.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Run;

struct Sandbox {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Sandbox {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        // Canonical, so paths in messages match what we compare against.
        let root = dir.path().canonicalize().expect("it resolves");
        std::fs::create_dir_all(root.join("proj/sub/deeper")).expect("mkdir works");
        Sandbox { _dir: dir, root }
    }

    fn project(&self, text: &str) -> PathBuf {
        let p = self.root.join("proj/kharness.toml");
        std::fs::write(&p, text).expect("write works");
        p
    }

    fn user(&self, text: &str) -> PathBuf {
        let d = self.root.join("home/.config/kharness");
        std::fs::create_dir_all(&d).expect("mkdir works");
        let p = d.join("config.toml");
        std::fs::write(&p, text).expect("write works");
        p
    }

    /// kharness in proj/sub/deeper with only the given variables set.
    fn run(&self, env: &[(&str, &str)], args: &[&str]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kharness"));
        cmd.current_dir(self.root.join("proj/sub/deeper"));
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if k.starts_with("KHARNESS_") || k == "CI" || k == "XDG_CONFIG_HOME" {
                cmd.env_remove(&*k);
            }
        }
        // A scratch HOME: kharness needs no toolchain (it never builds the
        // guest unless asked to).
        cmd.env("HOME", self.root.join("home"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        common::run_with(cmd, args)
    }

    fn path(&self, rel: &str) -> String {
        self.root.join(rel).display().to_string()
    }
}

/// The `key = value  # origin` line of `config show` for `key`, spaces
/// squeezed.
fn line_of(show: &str, key: &str) -> String {
    show.lines()
        .find(|l| l.starts_with(&format!("{key} = ")) || l.starts_with(&format!("# {key} is")))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| panic!("no line for {key}:\n{show}"))
}

#[test]
fn show_without_files_lists_every_key_at_its_default() {
    let s = Sandbox::new();
    let r = s.run(&[], &["config", "show"]);
    r.expect_code(0);
    let out = r.stdout();
    assert!(
        out.starts_with(
            "# profile: default (default)\n# project file: none (kharness.toml not found)\n"
        ),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "# user file: {} (none)",
            s.path("home/.config/kharness/config.toml")
        )),
        "{out}"
    );
    assert_eq!(line_of(&out, "timeout"), "timeout = \"20m\" # default");
    // Unset: 5 where the run compares, else 1 (run --help).
    assert_eq!(line_of(&out, "reps"), "# reps is not set # default");
    assert_eq!(line_of(&out, "cpus"), "# cpus is not set # default");
    assert_eq!(line_of(&out, "threshold"), "threshold = 2 # default");
    for key in [
        "kernels",
        "series",
        "tree",
        "filters",
        "backend",
        "accel",
        "perf-mode",
        "test-timeout",
        "memory",
        "out",
    ] {
        line_of(&out, key);
    }
    assert_eq!(r.stderr(), "");
}

#[test]
fn precedence_is_flag_env_project_user_default() {
    let s = Sandbox::new();
    let proj = s.project(
        "[profile.default]\ntimeout = \"15m\"\nreps = 3\nmemory = \"2G\"\nout = \"runs\"\n",
    );
    let user = s.user(
        "[profile.default]\ntimeout = \"1h\"\nreps = 9\nmemory = \"3G\"\ncpus = 2\naccel = \"tcg\"\n",
    );
    let r = s.run(
        &[("KHARNESS_MEMORY", "4G"), ("KHARNESS_REPS", "4")],
        &["config", "show", "run", "--reps", "5"],
    );
    r.expect_code(0);
    let out = r.stdout();
    let (p, u) = (proj.display(), user.display());
    assert_eq!(line_of(&out, "reps"), "reps = 5 # flag --reps");
    assert_eq!(
        line_of(&out, "memory"),
        "memory = \"4G\" # env KHARNESS_MEMORY"
    );
    assert_eq!(
        line_of(&out, "timeout"),
        format!("timeout = \"15m\" # project {p}:2 [profile.default]")
    );
    assert_eq!(
        line_of(&out, "cpus"),
        format!("cpus = 2 # user {u}:5 [profile.default]")
    );
    assert_eq!(
        line_of(&out, "accel"),
        format!("accel = \"tcg\" # user {u}:6 [profile.default]")
    );
    assert_eq!(line_of(&out, "backend"), "backend = \"auto\" # default");
    // A relative path is relative to the file that says it.
    assert_eq!(
        line_of(&out, "out"),
        format!(
            "out = \"{}\" # project {p}:5 [profile.default]",
            s.path("proj/runs")
        )
    );
    // Keys `run` does not take are left out of its view.
    assert!(!out.contains("tree"), "{out}");
}

#[test]
fn profiles_inherit_default_and_are_chosen_by_flag_env_or_ci() {
    let s = Sandbox::new();
    let p = s.project(
        "[profile.default]\nreps = 3\nbackend = \"vng\"\n\n[profile.ci]\nbackend = \"qemu\"\n\n[profile.quick]\nfilters = [\"tee.*\"]\n",
    );
    let p = p.display();
    let show = |env: &[(&str, &str)], args: &[&str]| {
        let mut a = args.to_vec();
        a.extend(["config", "show", "run"]);
        let r = s.run(env, &a);
        r.expect_code(0);
        r.stdout()
    };
    let out = show(&[], &[]);
    assert!(out.starts_with("# profile: default (default)\n"), "{out}");
    assert_eq!(
        line_of(&out, "backend"),
        format!("backend = \"vng\" # project {p}:3 [profile.default]")
    );

    let out = show(&[("CI", "true")], &[]);
    assert!(out.starts_with("# profile: ci (env CI)\n"), "{out}");
    assert_eq!(
        line_of(&out, "backend"),
        format!("backend = \"qemu\" # project {p}:6 [profile.ci]")
    );
    // ci inherits the rest from default.
    assert_eq!(
        line_of(&out, "reps"),
        format!("reps = 3 # project {p}:2 [profile.default]")
    );
    // CI=false is not CI.
    assert!(show(&[("CI", "false")], &[]).starts_with("# profile: default (default)\n"));

    let out = show(&[("CI", "true"), ("KHARNESS_PROFILE", "quick")], &[]);
    assert!(
        out.starts_with("# profile: quick (env KHARNESS_PROFILE)\n"),
        "{out}"
    );
    assert_eq!(
        line_of(&out, "filters"),
        format!("filters = [\"tee.*\"] # project {p}:9 [profile.quick]")
    );
    let out = show(&[("KHARNESS_PROFILE", "quick")], &["--profile", "ci"]);
    assert!(out.starts_with("# profile: ci (flag --profile)\n"), "{out}");
}

#[test]
fn the_project_file_outranks_the_user_file_in_every_profile() {
    let s = Sandbox::new();
    let p = s.project("[profile.default]\nreps = 3\n");
    s.user("[profile.ci]\nreps = 7\n");
    let r = s.run(&[("CI", "1")], &["config", "show", "run"]);
    r.expect_code(0);
    assert_eq!(
        line_of(&r.stdout(), "reps"),
        format!("reps = 3 # project {}:2 [profile.default]", p.display())
    );
}

#[test]
fn an_unknown_profile_is_a_usage_error() {
    let s = Sandbox::new();
    s.project("[profile.nightly]\nreps = 3\n");
    let r = s.run(&[], &["--profile", "nighty", "run", "--dry-run"]);
    r.expect_code(2);
    assert_eq!(
        r.stderr(),
        "kharness: error: unknown profile 'nighty' (from --profile); profiles: ci, default, nightly\n"
    );
    let r = s.run(&[("KHARNESS_PROFILE", "x")], &["config", "show"]);
    r.expect_code(2);
    assert_eq!(
        r.stderr(),
        "kharness: error: unknown profile 'x' (from KHARNESS_PROFILE); profiles: ci, default, nightly\n"
    );
}

#[test]
fn broken_files_are_usage_errors_at_file_line_col() {
    let s = Sandbox::new();
    let cases: &[(&str, &str)] = &[
        (
            "[profile.default]\ntimeout = \"15m\nreps = 2\n",
            "2:15: invalid TOML: invalid basic string, expected `\"`",
        ),
        (
            "[profile.default]\nreps 3\n",
            "2:6: invalid TOML: key with no value, expected `=`",
        ),
        (
            "[profile.default]\nreps = 1\nreps = 2\n",
            "3:1: invalid TOML: duplicate key",
        ),
        (
            "[profile.default]\nreps = \"5\"\n",
            "2:8: `reps` must be an integer, not string",
        ),
        (
            "[profile.ci]\nfilters = \"tee.*\"\n",
            "2:11: `filters` must be an array of strings, not string",
        ),
        (
            "[profile.default]\nreps = 0\n",
            "2:8: invalid value 0 for `reps`: 0 is not in 1..=1000",
        ),
        (
            "[profile.default]\naccel = \"warp\"\n",
            "2:9: invalid value \"warp\" for `accel`: expected one of auto, kvm, tcg",
        ),
        (
            "\n[profile.default]\ntimeout = \"soon\"\n",
            "3:11: invalid value \"soon\" for `timeout`: expected number at 0 (try 90s, 15m, 1h)",
        ),
        (
            "profile = 3\n",
            "1:11: `profile` must be a table of profiles, e.g. [profile.default], not integer",
        ),
    ];
    for (text, want) in cases {
        let p = s.project(text);
        let r = s.run(&[], &["run", "--dry-run"]);
        r.expect_code(2);
        assert_eq!(
            r.stderr(),
            format!("kharness: error: {}:{want}\n", p.display()),
            "for {text:?}"
        );
    }
}

#[test]
fn a_bad_user_file_is_reported_too() {
    let s = Sandbox::new();
    let u = s.user("[profile.default]\ncpus = 1.5\n");
    let r = s.run(&[], &["config", "show"]);
    r.expect_code(2);
    assert_eq!(
        r.stderr(),
        format!(
            "kharness: error: {}:2:8: `cpus` must be an integer, not float\n",
            u.display()
        )
    );
}

#[test]
fn unknown_keys_warn_and_do_not_stop() {
    let s = Sandbox::new();
    let p = s.project(
        "reps = 2\n[profile.default]\ntimout = \"5m\"\nperf_mode = \"wallclock\"\ncolour = true\n",
    );
    let r = s.run(&[], &["config", "show"]);
    r.expect_code(0);
    let p = p.display();
    assert_eq!(
        r.stderr(),
        format!(
            "kharness: warning: {p}:5:1: unknown key `colour` in [profile.default]\n\
             kharness: warning: {p}:4:1: unknown key `perf_mode` in [profile.default]; did you mean `perf-mode`?\n\
             kharness: warning: {p}:3:1: unknown key `timout` in [profile.default]; did you mean `timeout`?\n\
             kharness: warning: {p}:1:1: unknown key `reps`; settings go in a profile, e.g. under [profile.default]\n"
        )
    );
}

#[test]
fn config_flag_replaces_the_search_and_must_exist() {
    let s = Sandbox::new();
    s.project("[profile.default]\nreps = 3\n");
    let other = s.root.join("other.toml");
    std::fs::write(&other, "[profile.default]\nreps = 4\n").unwrap();
    let r = s.run(
        &[],
        &["config", "show", "run", "--config", other.to_str().unwrap()],
    );
    r.expect_code(0);
    assert_eq!(
        line_of(&r.stdout(), "reps"),
        format!("reps = 4 # project {}:2 [profile.default]", other.display())
    );
    let r = s.run(&[("KHARNESS_CONFIG", "/nonexistent/k.toml")], &["run"]);
    r.expect_code(2);
    assert_eq!(
        r.stderr(),
        "kharness: error: --config /nonexistent/k.toml: no such file\n"
    );
}

#[test]
fn file_values_reach_the_run_and_flags_still_win() {
    let s = Sandbox::new();
    s.project(
        "[profile.default]\nbackend = \"qemu\"\nmemory = \"2G\"\nfilters = [\"tee.*\"]\nreps = 3\n",
    );
    let r = s.run(&[], &["run", "--dry-run", "--accel", "tcg"]);
    r.expect_code(0);
    let cmd = r.stdout();
    assert!(cmd.starts_with("qemu-system-x86_64 "), "{cmd}");
    assert!(cmd.contains(" -m 2G "), "{cmd}");
    // The guest's argv (in the initramfs, shown as command.sh shows it).
    let guest = cmd.lines().find(|l| l.starts_with("# guest: ")).unwrap();
    assert!(guest.ends_with(" -- 'tee.*'"), "{guest}");
    assert!(guest.contains(" --reps 3 "), "{guest}");

    assert!(
        r.stderr().contains(&format!(
            "kharness: config: profile default (default); {}\n",
            s.path("proj/kharness.toml")
        )),
        "{}",
        r.stderr()
    );

    let r = s.run(
        &[],
        &["run", "--dry-run", "--accel", "tcg", "--memory", "1G"],
    );
    r.expect_code(0);
    assert!(r.stdout().contains(" -m 1G "), "{}", r.stdout());
}

#[test]
fn a_required_argument_can_come_from_the_file() {
    let s = Sandbox::new();
    std::fs::create_dir_all(s.root.join("proj/linux")).unwrap();
    s.project("[profile.default]\ntree = \"linux\"\n");
    std::fs::write(s.root.join("proj/sub/deeper/x.patch"), "").unwrap();
    let r = s.run(&[], &["series", "x.patch"]);
    r.expect_code(2);
    // The tree came from the file, resolved against its directory.
    assert_eq!(
        r.stderr(),
        format!(
            "kharness: config: profile default (default); {}\n\
             kharness: error: --tree: {} is not a kernel source tree: no Makefile; e.g. /usr/src/linux-source-6.12 after ci/setup.sh\n",
            s.path("proj/kharness.toml"),
            s.path("proj/linux")
        )
    );
    std::fs::remove_file(s.root.join("proj/kharness.toml")).unwrap();
    let r = s.run(&[], &["series", "x.patch"]);
    r.expect_code(2);
    assert!(
        r.stderr()
            .contains("the following required arguments were not provided:\n  --tree <TREE>"),
        "{}",
        r.stderr()
    );
}

#[test]
fn the_readme_example_loads_without_warnings() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let start = readme
        .find("```toml\n")
        .expect("README has a ```toml example");
    let body = &readme[start + 8..];
    let example = &body[..body.find("```").unwrap()];
    let s = Sandbox::new();
    s.project(example);
    for profile in ["default", "ci"] {
        let r = s.run(&[], &["--profile", profile, "config", "show"]);
        r.expect_code(0);
        assert_eq!(r.stderr(), "", "{example}");
    }
}

#[test]
fn boots_retries_and_durations_are_keys_like_every_flag() {
    let s = Sandbox::new();
    let proj = s.project(
        "[profile.default]\nboots = 3\nmax-boots = 2\nretries = 1\ntest-timeout = \"90s\"\n",
    );
    let r = s.run(&[], &["config", "show", "run"]);
    r.expect_code(0);
    let out = r.stdout();
    let from = format!("# project {}", proj.display());
    for (key, value) in [
        ("boots", "3"),
        ("max-boots", "2"),
        ("retries", "1"),
        ("test-timeout", "\"90s\""),
    ] {
        let line = line_of(&out, key);
        assert!(
            line.starts_with(&format!("{key} = {value} {from}")),
            "{line}\n{out}"
        );
    }
    assert!(!r.stderr().contains("unknown key"), "{}", r.stderr());
    // Seconds as a bare number still work, in the file and on the command line.
    s.project("[profile.default]\ntest-timeout = 45\n");
    let r = s.run(&[], &["config", "show", "run", "--test-timeout", "2m"]);
    r.expect_code(0);
    assert_eq!(
        line_of(&r.stdout(), "test-timeout"),
        "test-timeout = \"2m\" # flag --test-timeout"
    );
    let r = s.run(&[], &["config", "show", "run"]);
    r.expect_code(0);
    assert!(line_of(&r.stdout(), "test-timeout").starts_with("test-timeout = 45 "));
    // A value that is no duration is refused with its place.
    let proj = s.project("[profile.default]\ntest-timeout = \"soon\"\n");
    let r = s.run(&[], &["run", "--dry-run"]);
    r.expect_code(2);
    assert!(
        r.stderr().contains(&format!("{}:2:", proj.display())),
        "{}",
        r.stderr()
    );
}

#[test]
fn jobs_counts_vms_and_build_jobs_is_make_j() {
    let s = Sandbox::new();
    let proj = s.project("[profile.default]\njobs = 3\nbuild-jobs = 7\n");
    let r = s.run(&[], &["config", "show", "series"]);
    r.expect_code(0);
    let out = r.stdout();
    let from = format!("# project {}", proj.display());
    assert!(
        line_of(&out, "jobs").starts_with(&format!("jobs = 3 {from}")),
        "{out}"
    );
    assert!(
        line_of(&out, "build-jobs").starts_with(&format!("build-jobs = 7 {from}")),
        "{out}"
    );
    assert!(!r.stderr().contains("unknown key"), "{}", r.stderr());
    // The variables follow the flags.
    let r = s.run(
        &[("KHARNESS_JOBS", "2"), ("KHARNESS_BUILD_JOBS", "5")],
        &["config", "show", "series"],
    );
    r.expect_code(0);
    assert_eq!(line_of(&r.stdout(), "jobs"), "jobs = 2 # env KHARNESS_JOBS");
    assert_eq!(
        line_of(&r.stdout(), "build-jobs"),
        "build-jobs = 5 # env KHARNESS_BUILD_JOBS"
    );
    // repro's make -j moved too: the old spelling is refused, not taken
    // for something else.
    let r = s.run(&[], &["repro", "somewhere", "--jobs", "4"]);
    r.expect_code(2);
    assert!(
        r.stderr().contains("that is --build-jobs now"),
        "{}",
        r.stderr()
    );
    // --jobs 0 is no number of VMs.
    let r = s.run(&[], &["run", "--dry-run", "--jobs", "0"]);
    r.expect_code(2);
}
