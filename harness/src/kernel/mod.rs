//! Kernels: prebuilt images (find, check, name) and builds from source.

pub mod build;
pub mod debug;
pub mod direct;
mod image;
pub mod symbols;
pub mod tree;

pub use image::{
    BOOT_DIR, KernelIdentity, default_kernel, identify, list_boot_kernels, resolve_spec,
    version_cmp,
};
