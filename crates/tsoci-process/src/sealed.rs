//! Sealed executable copies (the CVE-2019-5736 defence): a memfd holding a
//! copy of a binary, sealed so its content can never change again. A process
//! executed from it that the container later reaches through
//! `/proc/<pid>/exe` finds that memfd, not the host's file.
//!
//! Unlike the rest of this crate this changes nothing about the caller: it
//! only creates a file, so the Node runtime may call it too (it makes one
//! copy of tsoci-init per process and spawns every init from it, which
//! spares each init its own copy and re-exec).

use std::fs::File;
use std::os::fd::OwnedFd;

use rustix::fs::{MemfdFlags, SealFlags};

use crate::Errno;

/// The seals a copy must carry: no further seals, no size change, no writes.
pub const REQUIRED_SEALS: SealFlags = SealFlags::SEAL
    .union(SealFlags::SHRINK)
    .union(SealFlags::GROW)
    .union(SealFlags::WRITE);

/// True when `file` is a memfd carrying at least [`REQUIRED_SEALS`].
pub fn is_sealed(file: &File) -> bool {
    rustix::fs::fcntl_get_seals(file).is_ok_and(|s| s.contains(REQUIRED_SEALS))
}

/// A close-on-exec memfd named `name` with the whole content of `src`,
/// sealed.
pub fn sealed_copy(src: &mut File, name: &str) -> Result<OwnedFd, String> {
    let base = MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING;
    // MFD_EXEC (6.3+) keeps the copy executable under vm.memfd_noexec=1.
    let mfd = rustix::fs::memfd_create(name, base | MemfdFlags::EXEC)
        .or_else(|_| rustix::fs::memfd_create(name, base))
        .map_err(|e| format!("memfd_create: {}", Errno::from(e)))?;
    let mut dst = File::from(mfd);
    std::io::copy(src, &mut dst)
        .map_err(|e| format!("copying into a memfd: {}", Errno::from_io(&e)))?;
    // F_SEAL_EXEC (6.3+) also freezes the mode bits; older kernels reject it.
    if rustix::fs::fcntl_add_seals(&dst, REQUIRED_SEALS | SealFlags::EXEC).is_err() {
        rustix::fs::fcntl_add_seals(&dst, REQUIRED_SEALS)
            .map_err(|e| format!("sealing the memfd copy: {}", Errno::from(e)))?;
    }
    if !is_sealed(&dst) {
        return Err("sealing the memfd copy: seals did not stick".into());
    }
    Ok(OwnedFd::from(dst))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, SeekFrom, Write};

    #[test]
    fn a_copy_is_sealed_and_equal() {
        let mut src = File::open("/proc/self/exe").expect("open exe");
        let mut want = Vec::new();
        src.read_to_end(&mut want).expect("read exe");
        src.seek(SeekFrom::Start(0)).expect("seek");
        let mut copy = File::from(sealed_copy(&mut src, "test-copy").expect("copy"));
        assert!(is_sealed(&copy));
        assert!(copy.write_all(b"x").is_err(), "a sealed copy refuses writes");
        copy.seek(SeekFrom::Start(0)).expect("seek");
        let mut got = Vec::new();
        copy.read_to_end(&mut got).expect("read copy");
        assert!(got == want, "the copy differs from the source");
        assert!(!is_sealed(&src), "a plain file is not sealed");
    }
}
