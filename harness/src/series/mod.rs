//! Patch series: read them (quilt `series` file, format-patch directory,
//! mbox, lore thread, git range), hash them, and apply them in a scratch
//! tree.

mod apply;
mod diff;
mod error;
pub mod git;
mod lore;
mod mail;
mod manifest;
mod patch;
mod read;

pub use apply::{Applied, Base, ScratchTree};
pub use error::{ApplyError, SeriesError};
pub use manifest::{Base as ManifestBase, Better, ChangeKind, Expectation, Manifest, VersionReq};
pub use patch::{Patch, Series, SeriesFormat, Subject, parse_subject, patchset_hash};
pub use read::{MANIFEST, QUILT_SERIES, read};
