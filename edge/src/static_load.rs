//! Reading the www directory into memory at start: every regular file below it, with its
//! modification time; dotfiles, and symbolic links that lead outside it, left out.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

/// Total bytes loaded at most: the front end is a few pages; a www directory far larger
/// than this was pointed at the wrong place.
const MAX_TOTAL_BYTES: u64 = 64 * 1024 * 1024;

/// Directory levels descended at most.
const MAX_DEPTH: usize = 16;

/// Why the www directory could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A directory or file could not be read.
    #[error("cannot read {path}: {error}")]
    Read {
        /// What was being read.
        path: PathBuf,
        /// Why not.
        error: std::io::Error,
    },
    /// More than [`MAX_TOTAL_BYTES`].
    #[error("the www directory holds more than {MAX_TOTAL_BYTES} bytes")]
    TooLarge,
}

/// One file read from disk.
#[derive(Debug, Clone)]
pub struct LoadedFile {
    /// Its path below the root, starting with `/` (`/img/logo.png`).
    pub key: String,
    /// Its bytes.
    pub content: Bytes,
    /// Its modification time in whole seconds, as `Last-Modified` carries it.
    pub modified: SystemTime,
}

/// Reads every regular file under `root`. Dotfiles and dot-directories are skipped;
/// a symbolic link is followed only to a regular file inside `root`.
pub fn load_dir(root: &Path) -> Result<Vec<LoadedFile>, LoadError> {
    let root = root.canonicalize().map_err(read_error(root))?;
    let mut files = Vec::new();
    let mut total = 0;
    collect(&root, &root, "", 0, &mut files, &mut total)?;
    Ok(files)
}

/// `time` without its fraction of a second: HTTP dates have one-second resolution
/// (RFC 9110 §5.6.7), and comparisons must agree with what the client was sent.
pub fn whole_seconds(time: SystemTime) -> SystemTime {
    time.duration_since(UNIX_EPOCH)
        .map(|since| UNIX_EPOCH + Duration::from_secs(since.as_secs()))
        .unwrap_or(UNIX_EPOCH)
}

fn read_error(path: &Path) -> impl FnOnce(std::io::Error) -> LoadError {
    let path = path.to_path_buf();
    move |error| LoadError::Read { path, error }
}

/// Adds the files under `directory` (whose path below the root is `prefix`) to `files`.
fn collect(
    root: &Path,
    directory: &Path,
    prefix: &str,
    depth: usize,
    files: &mut Vec<LoadedFile>,
    total: &mut u64,
) -> Result<(), LoadError> {
    let mut entries = std::fs::read_dir(directory)
        .map_err(read_error(directory))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_error(directory))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            tracing::warn!(path = %path.display(), "skipping a file whose name is not UTF-8");
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let key = format!("{prefix}/{name}");
        let file_type = entry.file_type().map_err(read_error(&path))?;
        if file_type.is_dir() {
            if depth + 1 < MAX_DEPTH {
                collect(root, &path, &key, depth + 1, files, total)?;
            } else {
                tracing::warn!(path = %path.display(), "skipping a directory nested too deep");
            }
            continue;
        }
        let regular = file_type.is_file() || (file_type.is_symlink() && links_inside(root, &path));
        if !regular {
            tracing::warn!(path = %path.display(), "skipping: not a regular file inside the www directory");
            continue;
        }
        // metadata() follows a link, so a link inside the root dates like its target.
        let modified = std::fs::metadata(&path)
            .and_then(|metadata| metadata.modified())
            .map_err(read_error(&path))?;
        let content = std::fs::read(&path).map_err(read_error(&path))?;
        *total += content.len() as u64;
        if *total > MAX_TOTAL_BYTES {
            return Err(LoadError::TooLarge);
        }
        files.push(LoadedFile {
            key,
            content: Bytes::from(content),
            modified: whole_seconds(modified),
        });
    }
    Ok(())
}

/// Whether the link at `path` leads to a regular file inside `root`.
fn links_inside(root: &Path, path: &Path) -> bool {
    path.canonicalize()
        .is_ok_and(|target| target.starts_with(root) && target.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_dotfiles_and_links_that_leave_the_root() {
        let outside = tempfile::tempdir().expect("tempdir");
        std::fs::write(outside.path().join("secret.txt"), "secret").expect("write");
        let www = tempfile::tempdir().expect("tempdir");
        std::fs::write(www.path().join("index.html"), "home").expect("write");
        std::fs::write(www.path().join(".env"), "KEY=1").expect("write");
        std::fs::create_dir(www.path().join(".git")).expect("mkdir");
        std::fs::write(www.path().join(".git/config"), "x").expect("write");
        std::fs::create_dir(www.path().join("img")).expect("mkdir");
        std::fs::write(www.path().join("img/logo.svg"), "<svg/>").expect("write");
        std::os::unix::fs::symlink(
            outside.path().join("secret.txt"),
            www.path().join("leak.txt"),
        )
        .expect("symlink");
        std::os::unix::fs::symlink(outside.path(), www.path().join("outside")).expect("symlink");
        std::os::unix::fs::symlink(www.path().join("index.html"), www.path().join("home.html"))
            .expect("symlink");

        let files = load_dir(www.path()).expect("loads");
        let keys: Vec<_> = files.iter().map(|file| file.key.as_str()).collect();
        assert_eq!(keys, ["/home.html", "/img/logo.svg", "/index.html"]);
        assert!(files
            .iter()
            .all(|file| file.modified == whole_seconds(file.modified)));
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        assert!(load_dir(Path::new("/nonexistent/www")).is_err());
    }
}
