//! Large static bodies kept a second time in files of the edge's own, so that a
//! plain-TCP connection can send them with `sendfile(2)`, as nginx does, instead of
//! `write(2)` copying them from the edge's memory into the socket each time.
//!
//! Measured on nginx-compare's 100 KB asset, and where it pays: see [`MIN_BYTES`]. Where
//! the copies are kept: see [`Backing`].

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use rustix::fs::{fcntl_add_seals, memfd_create, MemfdFlags, Mode, OFlags, SealFlags};

/// Bodies at least this large are sent from a file holding a copy. sendfile saves copying
/// the body; the head goes out in a call of its own, held for the body (`MSG_MORE`).
/// Measured against writing, in alternated rounds at c=50 (3 each): 16 KB bodies 8-14 %
/// more requests/s, 32 KB 12-24 %, 48 KB 16-23 %, with 4-15 % less CPU per request; p99
/// went from 4.3-6.7 to 6.9-8.0 ms at that saturating load (nginx's p99 with sendfile on
/// the 100 KB asset is about 8 ms). The threshold sits above 16 KB, where the gain was
/// the smallest for the same p99. Without `MSG_MORE` (the head in a packet of its own)
/// sendfile lost below 64 KB. The front end's own files (15 KB at most) stay under it.
pub const MIN_BYTES: usize = 32 * 1024;

/// Where the copies are kept.
///
/// `sendfile` reads a file through the kernel's page cache. On a disk file system whose
/// cache takes large pages (ext4 on this machine's Linux 6.18; xfs) the kernel hands a
/// file to the socket a few pages at a time; a memory file (tmpfs) is cached in 4 KB
/// pages, each looked up, passed on and released on its own. On the 100 KB asset (77 KB
/// sent, gzip), edge builds in turns with nginx, 3 rounds of 4 s, medians: c=50, 61,540
/// -> 68,669 requests/s, 15.6 -> 13.1 µs of CPU per request, p99 6.42 -> 2.55 ms; c=256,
/// 60,038 -> 65,792 r/s, 14.8 -> 13.0 µs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backing {
    /// Unnamed files in the scratch directory, written through to the disk before use:
    /// nothing can give them a name, only this process's user can open them (through
    /// `/proc`), and the edge keeps only read-only descriptors.
    Disk,
    /// Sealed memory files (`memfd_create`), which nothing can change: where the scratch
    /// directory is missing, read-only, in memory itself, or on a file system without
    /// unnamed files (`O_TMPFILE`: NFS, FUSE, overlayfs before Linux 6.6).
    Memory,
}

/// The copies' files, each beside the bytes it holds a copy of.
#[derive(Debug, Default)]
pub struct ZeroCopyFiles {
    /// Ordered by address, so that a lookup is a binary search.
    regions: Vec<Region>,
    /// Bytes sent from the files so far.
    sent: AtomicU64,
    /// Set when `sendfile` itself was refused (a sandbox that forbids it): bodies are
    /// written from memory from then on.
    refused: AtomicBool,
}

/// One body: its bytes in the edge's memory and the file holding the same bytes.
#[derive(Debug)]
struct Region {
    /// Held so that the memory stays this body's for as long as the region exists: no
    /// other buffer can ever be taken for it by its address.
    content: Bytes,
    file: OwnedFd,
}

/// Where the bytes of a buffer about to be written can be sent from instead.
#[derive(Debug, Clone, Copy)]
pub struct FileSpan<'a> {
    /// The file holding the copy.
    pub file: &'a OwnedFd,
    /// Where the buffer starts in it.
    pub offset: u64,
}

impl ZeroCopyFiles {
    /// A file for each of `bodies` of at least [`MIN_BYTES`], on disk in `scratch` where
    /// it can be, else in memory. They hold a second copy of those bodies (the start-up
    /// line gives the total and where). A body whose file cannot be made at all (no
    /// `memfd_create` in a sandbox) is written from memory.
    pub fn new<'a>(bodies: impl IntoIterator<Item = &'a Bytes>, scratch: &Path) -> Self {
        let mut regions = Vec::new();
        let mut failed = Vec::new();
        let mut disk_refused = false;
        let mut on_disk = 0;
        let mut large: Vec<&Bytes> = bodies
            .into_iter()
            .filter(|content| content.len() >= MIN_BYTES)
            .collect();
        // Ordered by address, so the regions are too; the same bytes registered twice (a
        // file served under two names) get one file.
        large.sort_by_key(|content| content.as_ptr() as usize);
        large.dedup_by_key(|content| content.as_ptr() as usize);
        for content in large {
            match copy_of(content, scratch, &mut disk_refused) {
                Ok((file, backing)) => {
                    on_disk += usize::from(backing == Backing::Disk);
                    regions.push(Region {
                        content: content.clone(),
                        file,
                    });
                }
                Err(error) => failed.push(error),
            }
        }
        if let Some(error) = failed.first() {
            tracing::warn!(%error, bodies = failed.len(), "no file for some large static bodies: they are copied on each send");
        }
        if !regions.is_empty() {
            let bytes: usize = regions.iter().map(|region| region.content.len()).sum();
            tracing::info!(
                bodies = regions.len(),
                bytes,
                on_disk,
                scratch = %scratch.display(),
                "large static bodies sent with sendfile from copies in files"
            );
        }
        ZeroCopyFiles {
            regions,
            ..ZeroCopyFiles::default()
        }
    }

    /// The file holding a copy of `buffer`, when `buffer` is at least [`MIN_BYTES`] and lies
    /// wholly within one of the bodies (all of it or a part: a byte range, what is left
    /// to send). Smaller parts (an HTTP/2 frame, a short range) are better written.
    pub fn find(&self, buffer: &[u8]) -> Option<FileSpan<'_>> {
        if buffer.len() < MIN_BYTES || self.refused.load(Ordering::Relaxed) {
            return None;
        }
        let start = buffer.as_ptr() as usize;
        let after = self
            .regions
            .partition_point(|region| region.content.as_ptr() as usize <= start);
        let region = &self.regions[after.checked_sub(1)?];
        let offset = start - region.content.as_ptr() as usize;
        (offset + buffer.len() <= region.content.len()).then_some(FileSpan {
            file: &region.file,
            offset: offset as u64,
        })
    }

    /// Counts `bytes` sent from a file.
    pub fn count_sent(&self, bytes: usize) {
        self.sent.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Bytes sent from the files so far.
    pub fn bytes_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Stops sending from the files for good: `sendfile` was refused with `error`.
    pub fn refuse(&self, error: &std::io::Error) {
        if !self.refused.swap(true, Ordering::Relaxed) {
            tracing::warn!(%error, "sendfile refused: large static bodies are copied on each send from now on");
        }
    }
}

/// A file holding `content`: on disk in `scratch` unless that was refused before (then
/// `disk_refused` is set: the directory is the same for every body), else in memory.
fn copy_of(
    content: &[u8],
    scratch: &Path,
    disk_refused: &mut bool,
) -> std::io::Result<(OwnedFd, Backing)> {
    if !*disk_refused {
        match disk_copy(content, scratch) {
            Ok(file) => return Ok((file, Backing::Disk)),
            Err(error) => {
                *disk_refused = true;
                tracing::info!(scratch = %scratch.display(), %error, "no copies of large static bodies on disk: memory files instead");
            }
        }
    }
    sealed_copy(content).map(|file| (file, Backing::Memory))
}

/// An unnamed file in `scratch` holding `content`, open for reading only. Refused where
/// `scratch` is in memory (tmpfs: no gain over a sealed memory file, which cannot be
/// changed at all).
fn disk_copy(content: &[u8], scratch: &Path) -> std::io::Result<OwnedFd> {
    /// `statfs`'s file system type of tmpfs (linux/magic.h).
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    // O_EXCL: the file can never be given a name (linkat).
    let flags = OFlags::TMPFILE | OFlags::EXCL | OFlags::RDWR | OFlags::CLOEXEC;
    let file = rustix::fs::open(scratch, flags, Mode::RUSR | Mode::WUSR)?;
    #[allow(
        clippy::useless_conversion,
        reason = "f_type is i64 on 64-bit targets, u32 on some 32-bit ones"
    )]
    let file_system = i64::from(rustix::fs::fstatfs(&file)?.f_type);
    if file_system == TMPFS_MAGIC {
        return Err(std::io::Error::other(
            "the scratch directory is in memory (tmpfs)",
        ));
    }
    let mut writer = std::fs::File::from(file);
    writer.write_all(content)?;
    // On the disk before use: a write-back that failed later (a full thin volume) would
    // leave pages that read back other bytes than the ETag and length describe.
    writer.sync_data()?;
    // The edge keeps a descriptor that cannot write: opened again through /proc, read-only.
    let path = format!("/proc/self/fd/{}", writer.as_raw_fd());
    Ok(rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// A memory file holding `content`, sealed so that it can never change or be resized.
fn sealed_copy(content: &[u8]) -> std::io::Result<OwnedFd> {
    const NAME: &str = "tally-edge-static";
    let flags = MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING;
    // Not executable, said explicitly: Linux 6.3 and later warn about memory files that
    // do not say, and refuse them when vm.memfd_noexec is 2. Older kernels know no such
    // flag and refuse it.
    let file = match memfd_create(NAME, flags | MemfdFlags::NOEXEC_SEAL) {
        Err(rustix::io::Errno::INVAL) => memfd_create(NAME, flags)?,
        created => created?,
    };
    let mut writer = std::fs::File::from(file);
    writer.write_all(content)?;
    let file = OwnedFd::from(writer);
    fcntl_add_seals(
        &file,
        SealFlags::WRITE | SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL,
    )?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(len: usize, seed: u8) -> Bytes {
        Bytes::from(
            (0..len)
                .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn finds_a_large_body_and_any_part_of_it() {
        let large = body(MIN_BYTES * 2, 1);
        let other = body(MIN_BYTES + 7, 2);
        let files = ZeroCopyFiles::new([&large, &other], on_disk());

        let whole = files.find(&large).expect("the whole body");
        assert_eq!(whole.offset, 0);
        let tail = large.slice(1000..);
        assert_eq!(files.find(&tail).expect("its tail").offset, 1000);
        let range = large.slice(10..10 + MIN_BYTES);
        assert_eq!(files.find(&range).expect("a range").offset, 10);
        let short = large.slice(10..20);
        assert!(files.find(&short).is_none(), "short parts are written");
        // A clone shares the bytes, so it is found too.
        assert_eq!(
            files.find(&other.clone()).expect("the other body").offset,
            0
        );
    }

    /// A directory on a disk filesystem: the crate's own, in any checkout.
    fn on_disk() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }

    /// `file` holds `expected` and refuses writes.
    fn assert_read_only_copy(file: OwnedFd, expected: &[u8]) {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = std::fs::File::from(file);
        let mut copy = Vec::new();
        file.seek(SeekFrom::Start(0)).expect("seek");
        file.read_to_end(&mut copy).expect("read");
        assert_eq!(copy, expected);
        assert!(file.write_all(b"x").is_err(), "the copy refuses writes");
    }

    #[test]
    fn a_copy_on_disk_holds_the_same_bytes_and_cannot_be_written() {
        let large = body(MIN_BYTES, 3);
        match disk_copy(&large, on_disk()) {
            // A file system without unnamed files (overlayfs before Linux 6.6, as in an
            // image build on an older kernel): the memory copy is tested below.
            Err(error) if error.kind() == std::io::ErrorKind::Unsupported => {
                eprintln!(
                    "skipped: no unnamed files in {}: {error}",
                    on_disk().display()
                );
            }
            copy => assert_read_only_copy(copy.expect("a copy on disk"), &large),
        }
    }

    #[test]
    fn copies_go_to_sealed_memory_files_where_the_scratch_directory_cannot_hold_them() {
        let large = body(MIN_BYTES, 6);
        for scratch in ["/dev/shm", "/nonexistent/scratch"] {
            let mut disk_refused = false;
            let (file, backing) =
                copy_of(&large, Path::new(scratch), &mut disk_refused).expect("copy");
            assert_eq!(backing, Backing::Memory, "{scratch}");
            assert!(
                disk_refused,
                "{scratch}: the next bodies skip the directory"
            );
            assert_read_only_copy(file, &large);
        }
    }

    #[test]
    fn leaves_small_bodies_and_other_memory_alone() {
        let small = body(MIN_BYTES - 1, 4);
        let large = body(MIN_BYTES, 5);
        let files = ZeroCopyFiles::new([&small, &large], on_disk());
        assert!(files.find(&small).is_none(), "small bodies are written");
        let elsewhere = large.to_vec();
        assert!(files.find(&elsewhere).is_none(), "a copy is other memory");
        assert!(files.find(&[]).is_none());
        assert!(ZeroCopyFiles::default().find(&large).is_none());
        files.refuse(&std::io::Error::from(std::io::ErrorKind::Unsupported));
        assert!(
            files.find(&large).is_none(),
            "written once sendfile was refused"
        );
    }
}
