//! Inode numbers for paths under the backing directory: the kernel names files by number, the
//! backing filesystem by path. A number stays with its file across renames. Also directory
//! listings, which number what they list.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use fuser::FileType;

use super::attr::kind;

/// FUSE's fixed inode number of the mount's root directory.
pub(super) const ROOT: u64 = 1;

/// Paths (relative to the backing directory; the root is the empty path) and their numbers.
#[derive(Debug)]
pub(super) struct Inodes {
    paths: HashMap<u64, PathBuf>,
    numbers: HashMap<PathBuf, u64>,
    next: u64,
}

impl Inodes {
    /// A table holding only the root.
    pub(super) fn new() -> Inodes {
        let mut inodes = Inodes {
            paths: HashMap::new(),
            numbers: HashMap::new(),
            next: ROOT,
        };
        inodes.number(PathBuf::new());
        inodes
    }

    /// The path of inode `ino`, if it still names one.
    pub(super) fn path(&self, ino: u64) -> Option<&Path> {
        self.paths.get(&ino).map(PathBuf::as_path)
    }

    /// The number of `path`, given a new one if it has none yet.
    pub(super) fn number(&mut self, path: PathBuf) -> u64 {
        if let Some(&ino) = self.numbers.get(&path) {
            return ino;
        }
        let ino = self.next;
        self.next += 1;
        self.paths.insert(ino, path.clone());
        self.numbers.insert(path, ino);
        ino
    }

    /// `path` was unlinked or removed: its number, if it had one.
    pub(super) fn remove(&mut self, path: &Path) -> Option<u64> {
        let ino = self.numbers.remove(path)?;
        self.paths.remove(&ino);
        Some(ino)
    }

    /// `from` was renamed to `to`: it and everything under it keep their numbers at the new paths.
    /// Returns the number of what `to` replaced, if anything.
    pub(super) fn rename(&mut self, from: &Path, to: &Path) -> Option<u64> {
        let replaced = self.remove(to);
        let moved: Vec<(PathBuf, u64)> = self
            .numbers
            .iter()
            .filter(|(path, _)| path.starts_with(from))
            .map(|(path, &ino)| (path.clone(), ino))
            .collect();
        for (old, ino) in moved {
            self.numbers.remove(&old);
            let new = match old.strip_prefix(from) {
                Ok(rest) if !rest.as_os_str().is_empty() => to.join(rest),
                _ => to.to_path_buf(),
            };
            self.paths.insert(ino, new.clone());
            self.numbers.insert(new, ino);
        }
        replaced
    }

    /// `.`, `..` and the entries of directory `path` (at `backing`), sorted by name so that offsets
    /// stay valid between the kernel's calls.
    pub(super) fn list(
        &mut self,
        backing: &Path,
        path: &Path,
    ) -> io::Result<Vec<(u64, FileType, OsString)>> {
        let own = self.number(path.to_path_buf());
        let parent = path
            .parent()
            .map_or(ROOT, |parent| self.number(parent.to_path_buf()));
        let mut children = Vec::new();
        for entry in std::fs::read_dir(backing)? {
            let entry = entry?;
            children.push((entry.file_name(), kind(entry.file_type()?)));
        }
        children.sort_by(|a, b| a.0.cmp(&b.0));
        let mut entries = vec![
            (own, FileType::Directory, ".".into()),
            (parent, FileType::Directory, "..".into()),
        ];
        for (name, kind) in children {
            entries.push((self.number(path.join(&name)), kind, name));
        }
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::{Inodes, ROOT};

    #[test]
    fn root_is_one_and_numbers_are_stable() {
        let mut inodes = Inodes::new();
        assert_eq!(inodes.path(ROOT), Some(Path::new("")));
        let a = inodes.number(PathBuf::from("a"));
        assert_ne!(a, ROOT);
        assert_eq!(inodes.number(PathBuf::from("a")), a);
    }

    #[test]
    fn a_renamed_directory_takes_its_children_along_and_replaces_the_target() {
        let mut inodes = Inodes::new();
        let dir = inodes.number(PathBuf::from("d"));
        let child = inodes.number(PathBuf::from("d/f"));
        let sibling = inodes.number(PathBuf::from("dd"));
        let target = inodes.number(PathBuf::from("e"));
        assert_eq!(inodes.rename(Path::new("d"), Path::new("e")), Some(target));
        assert_eq!(inodes.path(dir), Some(Path::new("e")));
        assert_eq!(inodes.path(child), Some(Path::new("e/f")));
        assert_eq!(inodes.path(sibling), Some(Path::new("dd")));
        assert_eq!(inodes.path(target), None);
        assert_eq!(inodes.remove(Path::new("e/f")), Some(child));
        assert_eq!(inodes.path(child), None);
    }
}
