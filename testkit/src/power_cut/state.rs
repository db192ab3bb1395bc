//! What the FUSE thread and [`PowerCutDir`](super::PowerCutDir) share: the inode table, the
//! journal, and the program's open files.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fuser::{Errno, FileHandle, INodeNo, OpenAccMode, OpenFlags};
use rustix::fs::OFlags;

use super::inodes::Inodes;
use super::journal::Journal;

/// What the filesystem and [`PowerCutDir`](super::PowerCutDir) share.
#[derive(Debug)]
pub(super) struct State {
    pub(super) inodes: Inodes,
    pub(super) journal: Journal,
    pub(super) handles: HashMap<u64, Handle>,
    next_handle: u64,
}

impl State {
    pub(super) fn new() -> State {
        State {
            inodes: Inodes::new(),
            journal: Journal::default(),
            handles: HashMap::new(),
            next_handle: 1,
        }
    }

    pub(super) fn open_handle(&mut self, file: File, flags: i32) -> FileHandle {
        let fh = self.next_handle;
        self.next_handle += 1;
        let sync_writes = OFlags::from_bits_retain(flags as u32).intersects(OFlags::DSYNC);
        let file = Arc::new(file);
        self.handles.insert(fh, Handle { file, sync_writes });
        FileHandle(fh)
    }

    pub(super) fn handle(&self, fh: FileHandle) -> Result<&Handle, Errno> {
        self.handles.get(&fh.0).ok_or(Errno::EBADF)
    }

    pub(super) fn path(&self, ino: INodeNo) -> Result<PathBuf, Errno> {
        self.inodes
            .path(ino.0)
            .map(Path::to_path_buf)
            .ok_or(Errno::ENOENT)
    }

    pub(super) fn child(&self, parent: INodeNo, name: &OsStr) -> Result<PathBuf, Errno> {
        Ok(self.path(parent)?.join(name))
    }
}

/// One open file of the program under test.
#[derive(Debug)]
pub(super) struct Handle {
    /// The backing file; read-write when the program may write (the journal reads old bytes).
    pub(super) file: Arc<File>,
    /// Opened with `O_SYNC` or `O_DSYNC`: every write is durable when it returns.
    pub(super) sync_writes: bool,
}

/// Options for opening a backing file as the program asked, minus `O_APPEND`: the kernel sends
/// every write with its offset (appends at its idea of the end), and `pwrite` must honour it.
pub(super) fn open_options(flags: i32) -> OpenOptions {
    let mut options = OpenOptions::new();
    let writable = OpenFlags(flags).acc_mode() != OpenAccMode::O_RDONLY;
    options.read(true).write(writable);
    options
}

/// Up to `size` bytes at `offset`: fewer only at the end of the file.
pub(super) fn read_at(file: &File, offset: u64, size: u32) -> io::Result<Vec<u8>> {
    let mut buf = vec![0; size as usize];
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], offset + filled as u64)? {
            0 => break,
            n => filled += n,
        }
    }
    buf.truncate(filled);
    Ok(buf)
}
