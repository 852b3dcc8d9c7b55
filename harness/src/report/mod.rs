//! Renderers of a run's results.

mod terminal;

pub use terminal::terminal;
