//! The lines the guest writes to the kernel log (`/dev/kmsg`) around each
//! test, so the console shows which test was running when the kernel
//! complained, and the host can charge the complaint to that test.
//!
//! ```text
//! [   12.30] kharness: begin splice.from_dev_zero rep 0
//! [   12.41] WARNING: CPU: 0 PID: 97 at fs/splice.c:1234 ...
//! [   12.52] kharness: end splice.from_dev_zero rep 0 pass
//! ```

/// Every marker starts with this.
const PREFIX: &str = "kharness: ";

/// A test starts or ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub begin: bool,
    pub id: String,
    pub rep: u32,
}

/// The line written before test `id` (repetition `rep`) starts.
pub fn begin(id: &str, rep: u32) -> String {
    format!("{PREFIX}begin {id} rep {rep}")
}

/// The line written after it ended with `status`.
pub fn end(id: &str, rep: u32, status: crate::Status) -> String {
    format!("{PREFIX}end {id} rep {rep} {status}")
}

/// The marker in a console line, which may carry a `[ time]` stamp or
/// other text before it.
pub fn parse(line: &str) -> Option<Marker> {
    let at = line.find(PREFIX)?;
    let mut words = line[at + PREFIX.len()..].split_whitespace();
    let begin = match words.next()? {
        "begin" => true,
        "end" => false,
        _ => return None,
    };
    let id = words.next()?;
    if words.next()? != "rep" {
        return None;
    }
    let rep = words.next()?.parse().ok()?;
    // Test ids are `area.name` in [a-z0-9_.]: anything else is not ours.
    let plain = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.';
    (id.contains('.') && id.chars().all(plain)).then(|| Marker {
        begin,
        id: id.to_owned(),
        rep,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Status;

    #[test]
    fn markers_round_trip_through_a_console_line() {
        let b = format!("[   12.345678] {}", begin("splice.from_dev_zero", 0));
        assert_eq!(
            parse(&b),
            Some(Marker {
                begin: true,
                id: "splice.from_dev_zero".into(),
                rep: 0
            })
        );
        let e = end("perf.tee_throughput", 3, Status::Warned);
        assert_eq!(e, "kharness: end perf.tee_throughput rep 3 warned");
        assert_eq!(
            parse(&e),
            Some(Marker {
                begin: false,
                id: "perf.tee_throughput".into(),
                rep: 3
            })
        );
    }

    #[test]
    fn other_lines_are_not_markers() {
        for l in [
            "kharness: begin",
            "kharness: begin splice.x",
            "kharness: begin splice.x rep",
            "kharness: begin splice.x rep x",
            "kharness: start splice.x rep 0",
            "kharness: begin Splice.X rep 0",
            "kharness: begin noarea rep 0",
            "kharness-guest: exit 0",
            "",
        ] {
            assert_eq!(parse(l), None, "{l:?}");
        }
    }
}
