//! Shared memory for buffers too large to copy through a socket: the sender writes the
//! bytes once into an anonymous `memfd`, the descriptor rides along with the frame, and the
//! receiver maps it copy-on-write, so it reads (and may even modify) the data with no
//! further copy. Small buffers never come here; see [`crate::frame`].

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;

/// Buffers at least this long travel through shared memory by default.
pub const DEFAULT_THRESHOLD: usize = 64 * 1024;

/// A new close-on-exec memfd of `len` zero bytes.
pub fn memfd(name: &std::ffi::CStr, len: usize) -> io::Result<OwnedFd> {
    // SAFETY: `name` is a valid C string; a non-negative result is a new fd we own.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just gave us this descriptor.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: valid fd, plain syscall.
    if unsafe { libc::ftruncate(fd.as_raw_fd(), len as libc::off_t) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

/// A memfd named `name` holding a copy of `data`.
pub fn memfd_with(name: &std::ffi::CStr, data: &[u8]) -> io::Result<OwnedFd> {
    let fd = memfd(name, 0)?;
    let mut file = File::from(fd);
    file.write_all(data)?;
    Ok(OwnedFd::from(file))
}

/// A memory mapping, unmapped on drop.
#[derive(Debug)]
pub struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain memory owned by this value; access goes through &/&mut.
unsafe impl Send for Mapping {}
// SAFETY: shared access only hands out `&[u8]`.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `len` bytes of `fd`. `shared` mappings see (and make) the other side's writes;
    /// private ones are copy-on-write.
    pub fn new(fd: BorrowedFd<'_>, len: usize, shared: bool) -> io::Result<Mapping> {
        if len == 0 {
            return Ok(Mapping::empty());
        }
        let flags = if shared {
            libc::MAP_SHARED
        } else {
            libc::MAP_PRIVATE
        };
        // SAFETY: we ask the kernel for a fresh mapping; it validates fd and len.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping {
            ptr: NonNull::new(ptr.cast()).expect("mmap returned null"),
            len,
        })
    }

    /// A mapping of nothing.
    pub fn empty() -> Mapping {
        Mapping {
            ptr: NonNull::dangling(),
            len: 0,
        }
    }

    /// Keeps the mapping out of processes forked from this one.
    pub fn dont_fork(&self) {
        self.advise(libc::MADV_DONTFORK);
    }

    /// Sets up the page table for writing the whole mapping, in one call rather than a
    /// fault per page (a hint: kernels without it fault the pages in as they are written).
    pub fn populate_write(&self) {
        self.advise(libc::MADV_POPULATE_WRITE);
    }

    fn advise(&self, advice: libc::c_int) {
        if self.len != 0 {
            // SAFETY: advice on our own live mapping; failure leaves it as it was.
            unsafe { libc::madvise(self.ptr.as_ptr().cast(), self.len, advice) };
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: ptr/len describe a live mapping (or a dangling pointer with len 0).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as above, and we hold the only handle.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if self.len != 0 {
            // SAFETY: we own this mapping and nobody can use it after drop.
            unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
        }
    }
}
