//! Whether stdout gets colour: `--color always|never`, or under `auto`
//! the conventions of NO_COLOR, CLICOLOR and CLICOLOR_FORCE
//! (<https://bixense.com/clicolors/>), a terminal that is not `dumb`, and
//! not under CI (CI logs keep the plain text kharness writes to files).

use std::sync::atomic::{AtomicU8, Ordering};

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorWhen {
    /// Colour on a terminal, following NO_COLOR, CLICOLOR, CLICOLOR_FORCE.
    #[default]
    Auto,
    Always,
    Never,
}

/// Decides colour from the flag, the environment (`env` looks a variable
/// up) and whether stdout is a terminal. Precedence: the flag, then
/// CLICOLOR_FORCE, then NO_COLOR, CLICOLOR=0, TERM=dumb and CI, then the
/// terminal.
pub fn decide(when: ColorWhen, env: &dyn Fn(&str) -> Option<String>, terminal: bool) -> bool {
    let set = |k: &str| env(k).is_some_and(|v| !v.is_empty());
    match when {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto
            if set("CLICOLOR_FORCE") && env("CLICOLOR_FORCE").as_deref() != Some("0") =>
        {
            true
        }
        ColorWhen::Auto => {
            !(set("NO_COLOR")
                || env("CLICOLOR").as_deref() == Some("0")
                || env("TERM").as_deref() == Some("dumb")
                || env("CI").is_some_and(|v| super::progress::ci_says_yes(&v))
                || !terminal)
        }
    }
}

const UNSET: u8 = 0;
const ON: u8 = 1;
const OFF: u8 = 2;
static CHOICE: AtomicU8 = AtomicU8::new(UNSET);

/// Settles colour for this process from `--color` and the environment.
pub fn init(when: ColorWhen) {
    use std::io::IsTerminal;
    let on = decide(
        when,
        &|k| std::env::var(k).ok(),
        std::io::stdout().is_terminal(),
    );
    CHOICE.store(if on { ON } else { OFF }, Ordering::Relaxed);
}

/// Whether stdout is coloured ([`init`] with `auto` if it was not called).
pub fn stdout_colored() -> bool {
    if CHOICE.load(Ordering::Relaxed) == UNSET {
        init(ColorWhen::Auto);
    }
    CHOICE.load(Ordering::Relaxed) == ON
}

/// anstream's choice for the stream kharness writes stdout through.
pub fn choice() -> anstream::ColorChoice {
    if stdout_colored() {
        anstream::ColorChoice::Always
    } else {
        anstream::ColorChoice::Never
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn the_flag_wins_then_the_conventions() {
        let none = with(&[]);
        assert!(decide(ColorWhen::Auto, &none, true));
        assert!(!decide(ColorWhen::Auto, &none, false), "a pipe is plain");
        assert!(decide(
            ColorWhen::Always,
            &with(&[("NO_COLOR", "1")]),
            false
        ));
        assert!(!decide(
            ColorWhen::Never,
            &with(&[("CLICOLOR_FORCE", "1")]),
            true
        ));
        assert!(decide(
            ColorWhen::Auto,
            &with(&[("CLICOLOR_FORCE", "1")]),
            false
        ));
        assert!(decide(
            ColorWhen::Auto,
            &with(&[("CLICOLOR_FORCE", "1"), ("CI", "true")]),
            false
        ));
        assert!(!decide(
            ColorWhen::Auto,
            &with(&[("CLICOLOR_FORCE", "0")]),
            false
        ));
        for plain in [
            [("NO_COLOR", "1")],
            [("CLICOLOR", "0")],
            [("TERM", "dumb")],
            [("CI", "true")],
        ] {
            assert!(!decide(ColorWhen::Auto, &with(&plain), true), "{plain:?}");
        }
        // An empty NO_COLOR, or CI=false, changes nothing.
        assert!(decide(ColorWhen::Auto, &with(&[("NO_COLOR", "")]), true));
        assert!(decide(ColorWhen::Auto, &with(&[("CI", "false")]), true));
    }
}
