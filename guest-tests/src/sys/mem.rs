//! Memory mappings for the splice-family tests: page-aligned anonymous
//! buffers (vmsplice, SPLICE_F_GIFT) and shared file mappings (stores into
//! a file's page cache while its pages sit in a pipe).

use std::ffi::c_void;
use std::fs::File;
use std::ptr::NonNull;

use rustix::mm::{MapFlags, ProtFlags, mmap, mmap_anonymous, munmap};

/// A private, anonymous, page-aligned read-write mapping owned by this value.
///
/// Page alignment matters to vmsplice: the kernel takes references to whole
/// pages, and SPLICE_F_GIFT is only meaningful for whole, aligned pages.
pub struct AnonPages {
    ptr: NonNull<u8>,
    len: usize,
}

impl AnonPages {
    /// Maps `len` bytes (rounded up to whole pages), zero-filled and already
    /// faulted in, so that no page is the shared zero page when the kernel
    /// takes references to it.
    pub fn new(len: usize) -> rustix::io::Result<Self> {
        let page = rustix::param::page_size();
        let len = len.max(1).div_ceil(page) * page;
        // SAFETY: an anonymous private mapping at a kernel-chosen address
        // cannot overlap any Rust object; we own it until `Drop` unmaps it.
        let ptr = unsafe {
            mmap_anonymous(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE | MapFlags::POPULATE,
            )?
        };
        let ptr = NonNull::new(ptr.cast::<u8>()).expect("mmap never returns NULL on success");
        let mut pages = AnonPages { ptr, len };
        // MAP_POPULATE is a hint; touch every page so each is a real,
        // private page before anyone pins it.
        for chunk in pages.as_mut_slice().chunks_mut(page) {
            chunk[0] = 0;
        }
        Ok(pages)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr` points to `len` readable bytes mapped for the whole
        // life of `self`; the mapping is private to this process and only
        // reachable through `self`, so `&self` rules out a `&mut` alias.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`, and `&mut self` makes this the only
        // reference into the mapping.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for AnonPages {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` describe exactly the mapping made in `new`,
        // and no reference into it outlives `self`. Pages a pipe still
        // references stay alive in the kernel; only our mapping goes.
        let _ = unsafe { munmap(self.ptr.as_ptr().cast::<c_void>(), self.len) };
    }
}

/// A `MAP_SHARED` read-write mapping of the first `len` bytes of a file.
///
/// The page cache behind it is shared with every other user of the file
/// (and with pipes holding spliced pages), so no Rust reference into it is
/// ever handed out: bytes go in and out by copying through raw pointers.
/// If something else truncates the file while it is mapped, touching the
/// lost pages raises SIGBUS (a crash of the test process, not memory
/// corruption); the tests map only files in their private scratch dir.
pub struct SharedFileMap {
    ptr: NonNull<u8>,
    len: usize,
}

impl SharedFileMap {
    /// Maps `file` (opened read-write) from offset 0. Fails with `EINVAL`
    /// when the file is shorter than `len`, since touching a mapped page past
    /// EOF raises SIGBUS.
    pub fn new(file: &File, len: usize) -> rustix::io::Result<Self> {
        let size = rustix::fs::fstat(file)?.st_size;
        if len == 0 || u64::try_from(size).unwrap_or(0) < len as u64 {
            return Err(rustix::io::Errno::INVAL);
        }
        // SAFETY: a shared mapping of a file at a kernel-chosen address
        // cannot overlap any Rust object; we own it until `Drop` unmaps it.
        // Its contents may change under us (that is what the tests probe),
        // which is why only raw-pointer copies ever touch it.
        let ptr = unsafe {
            mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                file,
                0,
            )?
        };
        let ptr = NonNull::new(ptr.cast::<u8>()).expect("mmap never returns NULL on success");
        Ok(SharedFileMap { ptr, len })
    }

    /// Copies `bytes` into the mapping at `offset` (a plain CPU store into
    /// the page cache, no syscall). Panics if the range is out of bounds.
    pub fn store(&self, offset: usize, bytes: &[u8]) {
        let end = offset.checked_add(bytes.len()).expect("range overflows");
        assert!(end <= self.len, "store past the end of the mapping");
        // SAFETY: `offset..end` lies inside the live mapping (checked above,
        // and `new` checked the file covers it); the source is a distinct
        // Rust slice, so the ranges cannot overlap. No reference into the
        // mapping exists, so no Rust aliasing rule is broken.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                self.ptr.as_ptr().add(offset),
                bytes.len(),
            );
        }
    }

    /// Copies `len` bytes out of the mapping from `offset`.
    pub fn load(&self, offset: usize, len: usize) -> Vec<u8> {
        let end = offset.checked_add(len).expect("range overflows");
        assert!(end <= self.len, "load past the end of the mapping");
        let mut out = vec![0u8; len];
        // SAFETY: as in `store`, with source and destination swapped.
        unsafe {
            std::ptr::copy_nonoverlapping(self.ptr.as_ptr().add(offset), out.as_mut_ptr(), len);
        }
        out
    }
}

impl Drop for SharedFileMap {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` describe exactly the mapping made in `new`;
        // nothing borrowed from it exists.
        let _ = unsafe { munmap(self.ptr.as_ptr().cast::<c_void>(), self.len) };
    }
}

/// Keeps every later fault of this process on small pages
/// (`PR_SET_THP_DISABLE`, 3.15; works where `madvise` is configured out,
/// as in kharness's small config). Whether a buffer can sit in a
/// transparent huge page depends on where ASLR put it, and the kernel pins
/// a huge page for vmsplice or SEND_ZC with fewer instructions: without
/// this, `perf.vmsplice_throughput` took one of two values per boot, 5%
/// apart, under -icount (2026-12-07, an A/A series). Tests run in a forked
/// child, so the setting ends with the test.
pub fn small_pages_only() -> std::io::Result<()> {
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no memory
    // of ours.
    let r = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
