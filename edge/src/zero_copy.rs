//! Large static bodies kept a second time in sealed memory files, so that a plain-TCP
//! connection can send them with `sendfile(2)`, as nginx does, instead of `write(2)`
//! copying them from the edge's memory into the socket each time.
//!
//! Measured on nginx-compare's 100 KB asset, and where it pays: see [`MIN_BYTES`].

use std::io::Write;
use std::os::fd::OwnedFd;

use bytes::Bytes;
use rustix::fs::{fcntl_add_seals, memfd_create, MemfdFlags, SealFlags};

/// Bodies at least this large are sent from their memory file. sendfile saves copying
/// the body but costs a system call of its own (the head goes out with `write` first);
/// measured against writing, in alternated rounds at c=50: 8 and 16 KB bodies 10-15 %
/// fewer requests/s, 32 KB 8-13 % fewer, 48 KB level to 7 % fewer, the 77 KB gzip form of
/// nginx-compare's asset 7 % more. The front end's own files (15 KB at most) stay under it.
pub const MIN_BYTES: usize = 64 * 1024;

/// The memory files, each beside the bytes it holds a copy of.
#[derive(Debug, Default)]
pub struct ZeroCopyFiles {
    /// Ordered by address, so that a lookup is a binary search.
    regions: Vec<Region>,
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
    /// Memory files for each of `bodies` of at least [`MIN_BYTES`]; a body whose file
    /// cannot be made (no `memfd_create` in a sandbox) is written from memory as before,
    /// and the warning says so.
    pub fn new<'a>(bodies: impl IntoIterator<Item = &'a Bytes>) -> Self {
        let mut regions: Vec<Region> = bodies
            .into_iter()
            .filter(|content| content.len() >= MIN_BYTES)
            .filter_map(|content| match sealed_copy(content) {
                Ok(file) => Some(Region {
                    content: content.clone(),
                    file,
                }),
                Err(error) => {
                    tracing::warn!(%error, bytes = content.len(), "no memory file for a large static body: it is copied on each send");
                    None
                }
            })
            .collect();
        regions.sort_by_key(|region| region.content.as_ptr() as usize);
        // The same bytes registered twice (a file served under two names) keep one file.
        regions.dedup_by_key(|region| region.content.as_ptr() as usize);
        ZeroCopyFiles { regions }
    }

    /// Whether no body has a memory file.
    pub fn is_empty(&self) -> bool {
        self.regions.is_empty()
    }

    /// The memory file holding `buffer`, when `buffer` lies wholly within one of the
    /// bodies (all of it or a part, such as a byte range or what is left to send).
    pub fn find(&self, buffer: &[u8]) -> Option<FileSpan<'_>> {
        if buffer.is_empty() || self.regions.is_empty() {
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
}

/// A memory file holding `content`, sealed so that it can never change or be resized.
fn sealed_copy(content: &[u8]) -> std::io::Result<OwnedFd> {
    let file = memfd_create(
        "tally-edge-static",
        MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
    )?;
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
        let range = large.slice(10..20);
        assert_eq!(files.find(&range).expect("a range").offset, 10);
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
    }
}
