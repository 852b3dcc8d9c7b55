//! stdout for machines and people: a reader that went away (`kharness
//! list | head -1`) is no error and no panic; kharness then stops writing
//! and exits 0, as ripgrep does.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes `text` to stdout and flushes it. A closed pipe is remembered
/// ([`closed`]) and swallowed; any other error is returned.
/// Escape codes in `text` pass only when stdout is coloured
/// ([`super::color`]); anstream strips them otherwise.
pub fn print(text: &str) -> std::io::Result<()> {
    let mut out = anstream::AutoStream::new(std::io::stdout().lock(), super::color::choice());
    write_to(&mut out, text.as_bytes())
}

/// [`print`] with a newline.
pub fn println(text: &str) -> std::io::Result<()> {
    print(&format!("{text}\n"))
}

fn write_to(w: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    if CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    match w.write_all(bytes).and_then(|()| w.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        other => other,
    }
}

/// Whether stdout's reader went away.
pub fn closed() -> bool {
    CLOSED.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Closed;

    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_is_remembered_not_an_error() {
        assert!(write_to(&mut Closed, b"x").is_ok());
        assert!(closed());
    }
}
