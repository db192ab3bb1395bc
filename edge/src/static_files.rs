//! The static front end: every regular file under the www directory, read into memory
//! at start, and served by exact path with an `ETag` and `304 Not Modified`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Response, StatusCode};
use tally_runtime::{empty, full, Body};

use crate::content_type::content_type_for;
use crate::error::EdgeError;
use crate::etag::{etag_for, not_modified};
use crate::static_path::{file_key, INDEX};

/// Total bytes loaded at most: the front end is a few pages; a www directory far larger
/// than this was pointed at the wrong place.
const MAX_TOTAL_BYTES: u64 = 64 * 1024 * 1024;

/// Directory levels descended at most.
const MAX_DEPTH: usize = 16;

/// Browsers may keep files but must ask again (cheap with the `ETag`), so a deploy is
/// seen at once. Long-lived caching of fingerprinted names comes later.
const CACHE_CONTROL: HeaderValue = HeaderValue::from_static("no-cache");

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

/// One file, ready to send.
#[derive(Debug, Clone)]
struct StaticFile {
    content: Bytes,
    content_type: HeaderValue,
    etag: HeaderValue,
}

/// The loaded files, by path (`/index.html`, `/img/logo.png`).
#[derive(Debug, Default)]
pub struct StaticFiles {
    files: HashMap<String, StaticFile>,
}

impl StaticFiles {
    /// Reads every regular file under `root`. Dotfiles and dot-directories are skipped;
    /// a symbolic link is followed only to a regular file inside `root`.
    pub fn load(root: &Path) -> Result<Self, LoadError> {
        let read_error = |path: &Path| {
            let path = path.to_path_buf();
            move |error| LoadError::Read { path, error }
        };
        let root = root.canonicalize().map_err(read_error(root))?;
        let mut files = Vec::new();
        let mut total = 0;
        collect(&root, &root, "", 0, &mut files, &mut total)?;
        Ok(StaticFiles::from_files(files))
    }

    /// Files from memory: `(path, content)` pairs, paths starting with `/`.
    pub fn from_files(files: impl IntoIterator<Item = (String, Bytes)>) -> Self {
        let files = files
            .into_iter()
            .map(|(path, content)| {
                let file = StaticFile {
                    content_type: content_type_for(&path),
                    etag: etag_for(&content),
                    content,
                };
                (path, file)
            })
            .collect();
        StaticFiles { files }
    }

    /// Number of files loaded.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether no file was loaded.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The answer to `method path` with the request's `headers`.
    pub fn serve(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
    ) -> Result<Response<Body>, EdgeError> {
        let file = self.find(path).ok_or(EdgeError::NotFound)?;
        let head = match *method {
            Method::GET => false,
            Method::HEAD => true,
            _ => return Err(EdgeError::MethodNotAllowed),
        };
        if not_modified(headers, &file.etag) {
            // 304 carries the validator and caching fields, not the representation's
            // metadata (RFC 9110 §15.4.5).
            let mut response = Response::new(empty());
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            response
                .headers_mut()
                .insert(header::ETAG, file.etag.clone());
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, CACHE_CONTROL);
            return Ok(response);
        }
        let mut response = if head {
            Response::new(empty())
        } else {
            Response::new(full(file.content.clone()))
        };
        let response_headers = response.headers_mut();
        response_headers.insert(header::CONTENT_TYPE, file.content_type.clone());
        response_headers.insert(
            header::CONTENT_LENGTH,
            HeaderValue::from(file.content.len()),
        );
        response_headers.insert(header::ETAG, file.etag.clone());
        response_headers.insert(header::CACHE_CONTROL, CACHE_CONTROL);
        Ok(response)
    }

    /// The file `path` names, trying `path/index.html` for a directory without its
    /// trailing slash.
    fn find(&self, path: &str) -> Option<&StaticFile> {
        let key = file_key(path)?;
        self.files
            .get(&key)
            .or_else(|| self.files.get(&format!("{key}/{INDEX}")))
    }
}

/// Adds the files under `directory` (whose path below the root is `prefix`) to `files`.
fn collect(
    root: &Path,
    directory: &Path,
    prefix: &str,
    depth: usize,
    files: &mut Vec<(String, Bytes)>,
    total: &mut u64,
) -> Result<(), LoadError> {
    let read_error = |path: &Path| {
        let path = path.to_path_buf();
        move |error| LoadError::Read { path, error }
    };
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
        let content = std::fs::read(&path).map_err(read_error(&path))?;
        *total += content.len() as u64;
        if *total > MAX_TOTAL_BYTES {
            return Err(LoadError::TooLarge);
        }
        files.push((key, Bytes::from(content)));
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

    fn files() -> StaticFiles {
        StaticFiles::from_files([
            (
                "/index.html".to_owned(),
                Bytes::from_static(b"<h1>vote</h1>"),
            ),
            (
                "/results.html".to_owned(),
                Bytes::from_static(b"<h1>results</h1>"),
            ),
            ("/docs/index.html".to_owned(), Bytes::from_static(b"docs")),
            ("/style.css".to_owned(), Bytes::from_static(b"body{}")),
        ])
    }

    fn get(files: &StaticFiles, method: Method, path: &str, headers: &HeaderMap) -> Response<Body> {
        files.serve(&method, path, headers).unwrap_or_else(|error| {
            use tally_runtime::HttpError;
            error.to_response()
        })
    }

    #[test]
    fn root_and_directories_serve_their_index() {
        let files = files();
        for path in ["/", "/index.html", "/docs", "/docs/"] {
            let response = get(&files, Method::GET, path, &HeaderMap::new());
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(
                response.headers()[header::CONTENT_TYPE],
                "text/html; charset=utf-8"
            );
        }
    }

    #[test]
    fn headers_of_a_file() {
        let response = get(&files(), Method::GET, "/style.css", &HeaderMap::new());
        let headers = response.headers();
        assert_eq!(headers[header::CONTENT_TYPE], "text/css; charset=utf-8");
        assert_eq!(headers[header::CONTENT_LENGTH], "6");
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
        assert_eq!(headers[header::ETAG], etag_for(b"body{}"));
    }

    #[test]
    fn head_has_the_headers_and_no_body() {
        use hyper::body::Body as _;
        let response = get(&files(), Method::HEAD, "/style.css", &HeaderMap::new());
        assert_eq!(response.headers()[header::CONTENT_LENGTH], "6");
        assert!(response.body().is_end_stream());
    }

    #[test]
    fn matching_etag_gives_304() {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, etag_for(b"body{}"));
        let response = get(&files(), Method::GET, "/style.css", &headers);
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(response.headers()[header::ETAG], etag_for(b"body{}"));
        assert!(!response.headers().contains_key(header::CONTENT_TYPE));
    }

    #[test]
    fn unknown_and_traversing_paths_are_404() {
        let files = files();
        for path in [
            "/nope.html",
            "/..",
            "/%2e%2e",
            "/%2e%2e/index.html",
            "/docs/../index.html",
        ] {
            let response = get(&files, Method::GET, path, &HeaderMap::new());
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        }
    }

    #[test]
    fn other_methods_are_405() {
        let response = get(&files(), Method::POST, "/index.html", &HeaderMap::new());
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn load_skips_dotfiles_and_links_that_leave_the_root() {
        let outside = tempfile::tempdir().expect("tempdir");
        std::fs::write(outside.path().join("secret.txt"), "secret").expect("write");
        let www = tempfile::tempdir().expect("tempdir");
        std::fs::write(www.path().join("index.html"), "home").expect("write");
        std::fs::write(www.path().join(".env"), "KEY=1").expect("write");
        std::fs::create_dir(www.path().join("img")).expect("mkdir");
        std::fs::write(www.path().join("img/logo.svg"), "<svg/>").expect("write");
        std::os::unix::fs::symlink(
            outside.path().join("secret.txt"),
            www.path().join("leak.txt"),
        )
        .expect("symlink");
        std::os::unix::fs::symlink(www.path().join("index.html"), www.path().join("home.html"))
            .expect("symlink");

        let files = StaticFiles::load(www.path()).expect("loads");
        let mut keys: Vec<_> = files.files.keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["/home.html", "/img/logo.svg", "/index.html"]);
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        assert!(StaticFiles::load(Path::new("/nonexistent/www")).is_err());
    }
}
