//! Booting kernels: accelerator choice, the virtme-ng command line, and
//! supervising the VM process.

mod accel;
mod backend;
mod capacity;
pub mod console;
mod error;
pub mod initramfs;
mod process;
mod qemu;
mod quote;
pub mod shell;
pub mod virtiofsd;
pub mod vng;

pub use accel::{
    Accel, AccelChoice, AccelVerdict, CACHE_FILE as ACCEL_CACHE_FILE, KVM_GROUP_HINT, Probe,
    resolve_accel,
};
pub use backend::{
    Backend, BackendChoice, ICOUNT_SHIFT, NO_LAPIC_TIMER, NO_TIMER_CHECK, PerfMode, PerfModeChoice,
    boot_params, icount_args,
};
pub use capacity::{Capacity, available_mib, memory_mib};
pub use error::VmError;
pub use process::supervise;
pub use qemu::Qemu;
pub use quote::is_vng_safe_path;
pub use vng::Vng;
