//! Booting kernels: accelerator choice, the virtme-ng command line, and
//! supervising the VM process.

mod accel;
mod backend;
pub mod console;
pub mod initramfs;
mod process;
mod qemu;
mod quote;
pub mod vng;

pub use accel::{
    Accel, AccelChoice, AccelVerdict, KVM_GROUP_HINT, resolve_accel, which as resolve_program,
};
pub use backend::{Backend, BackendChoice, ICOUNT, PerfMode, PerfModeChoice};
pub use process::{Supervised, interrupt_flag, interrupted, supervise};
pub use qemu::Qemu;
pub use quote::{is_vng_safe_path, sh_join, sh_quote};
pub use vng::Vng;
