//! What a power cut undoes: for each file written since its last sync, the size at that sync and
//! the old bytes of synced data overwritten since; and applying that undo.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

/// What one [`PowerCutDir::cut`](super::PowerCutDir::cut) undid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CutReport {
    /// The files that had unsynced data, by their path under the mountpoint, sorted. A file
    /// unlinked since it was written, but still open, shows as `(unlinked)`.
    pub files: Vec<PathBuf>,
    /// Bytes cut off the ends of files: what they had grown by since their last sync.
    pub bytes_dropped: u64,
    /// Bytes of synced data written back over unsynced overwrites (a range overwritten twice
    /// counts twice).
    pub bytes_restored: u64,
}

/// One file's writes since its last fsync or fdatasync.
#[derive(Debug)]
struct Unsynced {
    /// A read-write handle on the backing file, kept so the cut reaches the file after the
    /// program closed or renamed it.
    file: Arc<File>,
    /// The file's size at its last sync (or when first written here): a cut truncates back to it.
    synced_len: u64,
    /// `(offset, old bytes)` for every write below `synced_len`, oldest first; a cut writes them
    /// back newest first, so the oldest — the synced bytes — win.
    undo: Vec<(u64, Vec<u8>)>,
}

/// The undo records of every file with unsynced data, by inode number.
#[derive(Debug, Default)]
pub(super) struct Journal {
    files: HashMap<u64, Unsynced>,
}

impl Journal {
    /// Call before writing `len` bytes at `offset` to file `ino` through `file` (read-write):
    /// starts the file's record, and saves the synced bytes the write is about to overwrite.
    pub(super) fn before_write(
        &mut self,
        ino: u64,
        file: &Arc<File>,
        offset: u64,
        len: usize,
    ) -> io::Result<()> {
        let unsynced = match self.files.entry(ino) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => entry.insert(Unsynced {
                file: Arc::clone(file),
                synced_len: file.metadata()?.len(),
                undo: Vec::new(),
            }),
        };
        let end = offset.saturating_add(len as u64).min(unsynced.synced_len);
        if offset < end {
            let mut old = vec![0; (end - offset) as usize];
            unsynced.file.read_exact_at(&mut old, offset)?;
            unsynced.undo.push((offset, old));
        }
        Ok(())
    }

    /// Call after file `ino` was truncated (or extended) from `old_len` to `new_len`: the new size
    /// is durable at once, as metadata. Unsynced bytes it keeps revert to zeros on a cut, as on a
    /// filesystem that journals metadata but not data; undo records past the new end are moot.
    pub(super) fn truncated(&mut self, ino: u64, old_len: u64, new_len: u64) {
        let Some(unsynced) = self.files.get_mut(&ino) else {
            return;
        };
        unsynced.undo.retain_mut(|(offset, old)| {
            old.truncate(new_len.saturating_sub(*offset) as usize);
            !old.is_empty()
        });
        let kept_end = old_len.min(new_len);
        if kept_end > unsynced.synced_len {
            let zeros = vec![0; (kept_end - unsynced.synced_len) as usize];
            unsynced.undo.push((unsynced.synced_len, zeros));
        }
        unsynced.synced_len = new_len;
    }

    /// File `ino` was fsynced or fdatasynced: everything written to it so far is durable.
    pub(super) fn synced(&mut self, ino: u64) {
        self.files.remove(&ino);
    }

    /// File `ino` is gone (unlinked, or replaced by a rename): nothing of it to undo.
    pub(super) fn forget(&mut self, ino: u64) {
        self.files.remove(&ino);
    }

    /// The power cut: undo every file's unsynced writes and forget them. `path_of` names a file
    /// for the report.
    pub(super) fn cut(
        &mut self,
        path_of: impl Fn(u64) -> Option<PathBuf>,
    ) -> io::Result<CutReport> {
        let mut report = CutReport::default();
        for (ino, unsynced) in self.files.drain() {
            for (offset, old) in unsynced.undo.iter().rev() {
                unsynced.file.write_all_at(old, *offset)?;
                report.bytes_restored += old.len() as u64;
            }
            let len = unsynced.file.metadata()?.len();
            unsynced.file.set_len(unsynced.synced_len)?;
            report.bytes_dropped += len.saturating_sub(unsynced.synced_len);
            report
                .files
                .push(path_of(ino).unwrap_or_else(|| PathBuf::from("(unlinked)")));
        }
        report.files.sort();
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use std::fs::{File, OpenOptions};
    use std::os::unix::fs::FileExt;
    use std::path::PathBuf;
    use std::sync::Arc;

    use super::Journal;

    /// Inode number the tests give their one file.
    const INO: u64 = 7;

    fn file_with(content: &[u8]) -> (tempfile::TempDir, Arc<File>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, content).unwrap();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        (dir, Arc::new(file))
    }

    fn write(journal: &mut Journal, file: &Arc<File>, offset: u64, data: &[u8]) {
        journal.before_write(INO, file, offset, data.len()).unwrap();
        file.write_all_at(data, offset).unwrap();
    }

    fn content(file: &File) -> Vec<u8> {
        let mut buf = vec![0; file.metadata().unwrap().len() as usize];
        file.read_exact_at(&mut buf, 0).unwrap();
        buf
    }

    fn cut(journal: &mut Journal) -> super::CutReport {
        journal.cut(|_| Some(PathBuf::from("f"))).unwrap()
    }

    #[test]
    fn overwrites_across_the_synced_end_are_undone_newest_first() {
        let (_dir, file) = file_with(b"abcdef");
        let mut journal = Journal::default();
        write(&mut journal, &file, 4, b"XXXX");
        write(&mut journal, &file, 2, b"YY");
        assert_eq!(content(&file), b"abYYXXXX");
        let report = cut(&mut journal);
        assert_eq!(content(&file), b"abcdef");
        assert_eq!(report.bytes_dropped, 2);
        assert_eq!(report.bytes_restored, 4);
        assert_eq!(report.files, [PathBuf::from("f")]);
    }

    #[test]
    fn a_sync_makes_earlier_writes_durable() {
        let (_dir, file) = file_with(b"ab");
        let mut journal = Journal::default();
        write(&mut journal, &file, 2, b"cd");
        journal.synced(INO);
        write(&mut journal, &file, 0, b"ZZZZZ");
        cut(&mut journal);
        assert_eq!(content(&file), b"abcd");
        assert_eq!(cut(&mut journal), super::CutReport::default());
    }

    #[test]
    fn a_truncation_is_durable_and_unsynced_bytes_it_keeps_become_zeros() {
        let (_dir, file) = file_with(b"abcdef");
        let mut journal = Journal::default();
        write(&mut journal, &file, 6, b"ghij");
        write(&mut journal, &file, 3, b"DEF");
        file.set_len(8).unwrap();
        journal.truncated(INO, 10, 8);
        cut(&mut journal);
        assert_eq!(content(&file), b"abcdef\0\0");

        write(&mut journal, &file, 0, b"QQQQ");
        file.set_len(2).unwrap();
        journal.truncated(INO, 8, 2);
        cut(&mut journal);
        assert_eq!(content(&file), b"ab");
    }
}
