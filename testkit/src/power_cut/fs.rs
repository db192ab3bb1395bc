//! The FUSE filesystem: every request passed through to the backing directory; file data writes
//! and syncs are reported to the [`Journal`](super::journal::Journal), metadata changes are
//! simply applied.

use std::ffi::OsStr;
use std::fs::DirBuilder;
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use fuser::{
    BsdFileFlags, Errno, FileAttr, FileHandle, Filesystem, FopenFlags, Generation, INodeNo,
    LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory,
    ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow, WriteFlags,
};
use rustix::fs::OFlags;

use super::attr::{attr, Change};
use super::state::{open_options, read_at, State};

/// How long the kernel may cache names and attributes: not at all, so that after a cut a
/// restarted program sees the truncated sizes (data is never cached: see [`OPEN_FLAGS`]).
const TTL: Duration = Duration::ZERO;

/// Every open bypasses the page cache, so reads always come from the backing files.
const OPEN_FLAGS: FopenFlags = FopenFlags::FOPEN_DIRECT_IO;

/// Inodes are never reused within a mount, so one generation serves all.
const GENERATION: Generation = Generation(0);

/// The passthrough filesystem over `backing`.
#[derive(Debug)]
pub(super) struct PowerCutFs {
    backing: PathBuf,
    state: Arc<Mutex<State>>,
}

impl PowerCutFs {
    pub(super) fn new(backing: PathBuf, state: Arc<Mutex<State>>) -> PowerCutFs {
        PowerCutFs { backing, state }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn backing(&self, path: &Path) -> PathBuf {
        self.backing.join(path)
    }

    /// The attributes of `path`, under its inode number.
    fn entry(&self, state: &mut State, path: PathBuf) -> Result<FileAttr, Errno> {
        let meta = std::fs::symlink_metadata(self.backing(&path))?;
        Ok(attr(state.inodes.number(path), &meta))
    }
}

impl Filesystem for PowerCutFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let mut state = self.lock();
        match state
            .child(parent, name)
            .and_then(|path| self.entry(&mut state, path))
        {
            Ok(attr) => reply.entry(&TTL, &attr, GENERATION),
            Err(err) => reply.error(err),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        let state = self.lock();
        let meta = match fh.and_then(|fh| state.handles.get(&fh.0)) {
            Some(handle) => handle.file.metadata().map_err(Errno::from),
            None => state
                .path(ino)
                .and_then(|path| Ok(std::fs::symlink_metadata(self.backing(&path))?)),
        };
        match meta {
            Ok(meta) => reply.attr(&TTL, &attr(ino.0, &meta)),
            Err(err) => reply.error(err),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let change = Change {
            size,
            mode,
            uid,
            gid,
            atime,
            mtime,
        };
        match change.apply(&mut self.lock(), &self.backing, ino, fh) {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(err) => reply.error(err),
        }
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let mut state = self.lock();
        let made = state.child(parent, name).and_then(|path| {
            DirBuilder::new()
                .mode(mode & !umask & 0o7777)
                .create(self.backing(&path))?;
            self.entry(&mut state, path)
        });
        match made {
            Ok(attr) => reply.entry(&TTL, &attr, GENERATION),
            Err(err) => reply.error(err),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut state = self.lock();
        let removed = state.child(parent, name).and_then(|path| {
            std::fs::remove_file(self.backing(&path))?;
            Ok(path)
        });
        match removed {
            Ok(path) => {
                if let Some(ino) = state.inodes.remove(&path) {
                    state.journal.forget(ino);
                }
                reply.ok();
            }
            Err(err) => reply.error(err),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut state = self.lock();
        let removed = state.child(parent, name).and_then(|path| {
            std::fs::remove_dir(self.backing(&path))?;
            Ok(path)
        });
        match removed {
            Ok(path) => {
                state.inodes.remove(&path);
                reply.ok();
            }
            Err(err) => reply.error(err),
        }
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        if !flags.is_empty() {
            reply.error(Errno::EINVAL);
            return;
        }
        let mut state = self.lock();
        let renamed = state.child(parent, name).and_then(|from| {
            let to = state.child(newparent, newname)?;
            std::fs::rename(self.backing(&from), self.backing(&to))?;
            Ok((from, to))
        });
        match renamed {
            Ok((from, to)) => {
                if let Some(replaced) = state.inodes.rename(&from, &to) {
                    state.journal.forget(replaced);
                }
                reply.ok();
            }
            Err(err) => reply.error(err),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let mut state = self.lock();
        let opened = state.path(ino).and_then(|path| {
            let file = open_options(flags.0).open(self.backing(&path))?;
            Ok(state.open_handle(file, flags.0))
        });
        match opened {
            Ok(fh) => reply.opened(fh, OPEN_FLAGS),
            Err(err) => reply.error(err),
        }
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let mut state = self.lock();
        let created = state.child(parent, name).and_then(|path| {
            let oflags = OFlags::from_bits_retain(flags as u32);
            let file = open_options(flags)
                .write(true)
                .create(true)
                .create_new(oflags.contains(OFlags::EXCL))
                .mode(mode & !umask & 0o7777)
                .open(self.backing(&path))?;
            let attr = attr(state.inodes.number(path), &file.metadata()?);
            Ok((attr, state.open_handle(file, flags)))
        });
        match created {
            Ok((attr, fh)) => reply.created(&TTL, &attr, GENERATION, fh, OPEN_FLAGS),
            Err(err) => reply.error(err),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let state = self.lock();
        let data = state
            .handle(fh)
            .and_then(|handle| Ok(read_at(&handle.file, offset, size)?));
        match data {
            Ok(data) => reply.data(&data),
            Err(err) => reply.error(err),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let mut state = self.lock();
        let written = state
            .handle(fh)
            .map(|h| (Arc::clone(&h.file), h.sync_writes));
        let written = written.and_then(|(file, sync_writes)| {
            state
                .journal
                .before_write(ino.0, &file, offset, data.len())?;
            file.write_all_at(data, offset)?;
            if sync_writes {
                state.journal.synced(ino.0);
            }
            Ok(data.len() as u32)
        });
        match written {
            Ok(len) => reply.written(len),
            Err(err) => reply.error(err),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.lock().handles.remove(&fh.0);
        reply.ok();
    }

    /// fsync and fdatasync alike: the file's data becomes durable (its metadata always is). The
    /// backing file itself is not synced: the power is never really cut.
    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        self.lock().journal.synced(ino.0);
        reply.ok();
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let mut state = self.lock();
        let listed = state
            .path(ino)
            .and_then(|path| Ok(state.inodes.list(&self.backing(&path), &path)?));
        let entries = match listed {
            Ok(entries) => entries,
            Err(err) => {
                reply.error(err);
                return;
            }
        };
        for (index, (ino, kind, name)) in entries.iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(*ino), index as u64 + 1, *kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        match rustix::fs::statvfs(&self.backing) {
            Ok(vfs) => reply.statfs(
                vfs.f_blocks,
                vfs.f_bfree,
                vfs.f_bavail,
                vfs.f_files,
                vfs.f_ffree,
                vfs.f_bsize as u32,
                vfs.f_namemax as u32,
                vfs.f_frsize as u32,
            ),
            Err(err) => reply.error(Errno::from_i32(err.raw_os_error())),
        }
    }
}
