//! File attributes between the backing filesystem and FUSE: reading them for the kernel, and
//! applying a `setattr`.

use std::fs::{File, FileTimes, Metadata, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{Errno, FileAttr, FileHandle, FileType, INodeNo, TimeOrNow};

use super::state::State;

/// The attribute changes of one `setattr` request that this filesystem applies.
#[derive(Debug)]
pub(super) struct Change {
    /// Truncate or extend to this size.
    pub(super) size: Option<u64>,
    pub(super) mode: Option<u32>,
    pub(super) uid: Option<u32>,
    pub(super) gid: Option<u32>,
    pub(super) atime: Option<TimeOrNow>,
    pub(super) mtime: Option<TimeOrNow>,
}

impl Change {
    /// Apply this to inode `ino` (through open handle `fh`, if given) and return its new
    /// attributes. A size change is durable at once: the journal hears of it.
    pub(super) fn apply(
        &self,
        state: &mut State,
        backing: &Path,
        ino: INodeNo,
        fh: Option<FileHandle>,
    ) -> Result<FileAttr, Errno> {
        let open = fh
            .and_then(|fh| state.handles.get(&fh.0))
            .map(|h| Arc::clone(&h.file));
        let file = match open {
            Some(file) => file,
            None => {
                let path = backing.join(state.path(ino)?);
                let writable = self.size.is_some();
                Arc::new(
                    OpenOptions::new()
                        .read(!writable)
                        .write(writable)
                        .open(path)?,
                )
            }
        };
        if let Some(size) = self.size {
            let old_len = file.metadata()?.len();
            file.set_len(size)?;
            state.journal.truncated(ino.0, old_len, size);
        }
        self.apply_metadata(&file)?;
        Ok(attr(ino.0, &file.metadata()?))
    }

    /// Apply the mode, owner and time changes to `file` (a handle on the backing file).
    fn apply_metadata(&self, file: &File) -> io::Result<()> {
        if let Some(mode) = self.mode {
            file.set_permissions(Permissions::from_mode(mode & 0o7777))?;
        }
        if self.uid.is_some() || self.gid.is_some() {
            std::os::unix::fs::fchown(file, self.uid, self.gid)?;
        }
        let mut times = FileTimes::new();
        if let Some(atime) = self.atime {
            times = times.set_accessed(time_or_now(atime));
        }
        if let Some(mtime) = self.mtime {
            times = times.set_modified(time_or_now(mtime));
        }
        if self.atime.is_some() || self.mtime.is_some() {
            file.set_times(times)?;
        }
        Ok(())
    }
}

fn time_or_now(time: TimeOrNow) -> SystemTime {
    match time {
        TimeOrNow::SpecificTime(time) => time,
        TimeOrNow::Now => SystemTime::now(),
    }
}

/// The FUSE kind of a backing file type.
pub(super) fn kind(file_type: std::fs::FileType) -> FileType {
    FileType::from_std(file_type).unwrap_or(FileType::RegularFile)
}

/// A `stat` time (seconds and nanoseconds since the epoch).
fn timestamp(seconds: i64, nanos: i64) -> SystemTime {
    let since_epoch = Duration::new(seconds.unsigned_abs(), nanos as u32);
    if seconds >= 0 {
        UNIX_EPOCH + since_epoch
    } else {
        UNIX_EPOCH - since_epoch
    }
}

/// FUSE attributes of a backing file, under inode number `ino`.
pub(super) fn attr(ino: u64, meta: &Metadata) -> FileAttr {
    FileAttr {
        ino: INodeNo(ino),
        size: meta.len(),
        blocks: meta.blocks(),
        atime: timestamp(meta.atime(), meta.atime_nsec()),
        mtime: timestamp(meta.mtime(), meta.mtime_nsec()),
        ctime: timestamp(meta.ctime(), meta.ctime_nsec()),
        crtime: UNIX_EPOCH,
        kind: kind(meta.file_type()),
        perm: (meta.mode() & 0o7777) as u16,
        nlink: meta.nlink() as u32,
        uid: meta.uid(),
        gid: meta.gid(),
        rdev: meta.rdev() as u32,
        blksize: meta.blksize() as u32,
        flags: 0,
    }
}
