//! Large static bodies kept a second time in sealed memory files, so that a plain-TCP
//! connection can send them with `sendfile(2)`, as nginx does, instead of `write(2)`
//! copying them from the edge's memory into the socket each time.
//!
//! Measured on nginx-compare's 100 KB asset, and where it pays: see [`MIN_BYTES`].

use std::io::Write;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use rustix::fs::{fcntl_add_seals, memfd_create, MemfdFlags, SealFlags};

/// Bodies at least this large are sent from their memory file. sendfile saves copying
/// the body; the head goes out in a call of its own, held for the body (`MSG_MORE`).
/// Measured against writing, in alternated rounds at c=50 (3 each): 16 KB bodies 8-14 %
/// more requests/s, 32 KB 12-24 %, 48 KB 16-23 %, with 4-15 % less CPU per request; p99
/// went from 4.3-6.7 to 6.9-8.0 ms at that saturating load (nginx's p99 with sendfile on
/// the 100 KB asset is about 8 ms). The threshold sits above 16 KB, where the gain was
/// the smallest for the same p99. Without `MSG_MORE` (the head in a packet of its own)
/// sendfile lost below 64 KB. The front end's own files (15 KB at most) stay under it.
pub const MIN_BYTES: usize = 32 * 1024;

/// The memory files, each beside the bytes it holds a copy of.
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

/// One body: its bytes in the edge's memory and the sealed file holding the same bytes.
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
    /// The memory file.
    pub file: &'a OwnedFd,
    /// Where the buffer starts in it.
    pub offset: u64,
}

impl ZeroCopyFiles {
    /// Memory files for each of `bodies` of at least [`MIN_BYTES`]. They hold a second
    /// copy of those bodies (the start-up line gives the total). A body whose file
    /// cannot be made (no `memfd_create` in a sandbox) is written from memory as before.
    pub fn new<'a>(bodies: impl IntoIterator<Item = &'a Bytes>) -> Self {
        let mut regions = Vec::new();
        let mut failed = Vec::new();
        for content in bodies {
            if content.len() < MIN_BYTES {
                continue;
            }
            match sealed_copy(content) {
                Ok(file) => regions.push(Region {
                    content: content.clone(),
                    file,
                }),
                Err(error) => failed.push(error),
            }
        }
        regions.sort_by_key(|region| region.content.as_ptr() as usize);
        // The same bytes registered twice (a file served under two names) keep one file.
        regions.dedup_by_key(|region| region.content.as_ptr() as usize);
        if let Some(error) = failed.first() {
            tracing::warn!(%error, bodies = failed.len(), "no memory file for some large static bodies: they are copied on each send");
        }
        if !regions.is_empty() {
            let bytes: usize = regions.iter().map(|region| region.content.len()).sum();
            tracing::info!(
                bodies = regions.len(),
                bytes,
                "large static bodies sent with sendfile from memory files"
            );
        }
        ZeroCopyFiles {
            regions,
            ..ZeroCopyFiles::default()
        }
    }

    /// The memory file holding `buffer`, when `buffer` is at least [`MIN_BYTES`] and lies
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
        let files = ZeroCopyFiles::new([&large, &other]);

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

    #[test]
    fn the_file_holds_the_same_bytes_and_cannot_be_changed() {
        use std::io::Read;
        let large = body(MIN_BYTES, 3);
        let files = ZeroCopyFiles::new([&large]);
        let span = files.find(&large).expect("registered");
        let mut copy = Vec::new();
        let mut reader = std::fs::File::from(span.file.try_clone().expect("dup"));
        std::io::Seek::seek(&mut reader, std::io::SeekFrom::Start(0)).expect("seek");
        reader.read_to_end(&mut copy).expect("read");
        assert_eq!(copy, large);
        assert!(
            reader.write_all(b"x").is_err(),
            "a sealed file refuses writes"
        );
    }

    #[test]
    fn leaves_small_bodies_and_other_memory_alone() {
        let small = body(MIN_BYTES - 1, 4);
        let large = body(MIN_BYTES, 5);
        let files = ZeroCopyFiles::new([&small, &large]);
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
