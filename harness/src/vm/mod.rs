//! Booting kernels: accelerator choice, the virtme-ng command line, and
//! supervising the VM process.

mod accel;
pub mod console;
mod process;
mod quote;
mod vng;

pub use accel::{Accel, AccelChoice, AccelVerdict, resolve_accel, which as resolve_program};
pub use process::{Supervised, interrupt_flag, interrupted, supervise};
pub use quote::{is_vng_safe_path, sh_join, sh_quote};
pub use vng::Vng;
