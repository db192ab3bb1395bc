//! The static front end: the www directory held in memory, each file with its brotli
//! and gzip forms, validators and caching policy, served with content negotiation,
//! conditional requests (304/412) and single byte ranges (206/416).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Response, StatusCode};
use tally_runtime::{empty, error_body, full, Body};

use crate::accept_encoding::{choose, Encoding};
use crate::cache_control::cache_control_for;
use crate::conditional::{evaluate, Outcome, Validators};
use crate::content_type::content_type_for;
use crate::error::EdgeError;
use crate::etag::{encoded_etag_for, etag_for};
use crate::precompressed::prepare;
use crate::range::{content_range, parse, unsatisfied_range, RangeRequest};
use crate::static_load::{load_dir, whole_seconds, LoadedFile};
use crate::static_path::{file_key, INDEX};
use crate::zero_copy::ZeroCopyFiles;

pub use crate::static_load::LoadError;

/// Responses differ by `Accept-Encoding` for files that have compressed forms
/// (RFC 9110 §12.5.5), so caches keep one copy per coding.
const VARY: HeaderValue = HeaderValue::from_static("accept-encoding");

/// Ranges are served in bytes (RFC 9110 §14.3).
const ACCEPT_RANGES: HeaderValue = HeaderValue::from_static("bytes");

/// One representation of a file: its bytes in one coding, ready to send.
#[derive(Debug, Clone)]
struct Form {
    content: Bytes,
    etag: HeaderValue,
    encoding: Option<Encoding>,
}

/// One file, in every form it is served in.
#[derive(Debug, Clone)]
struct StaticFile {
    identity: Form,
    /// Compressed forms, brotli before gzip; empty for small or binary files.
    encoded: Vec<Form>,
    content_type: HeaderValue,
    cache_control: HeaderValue,
    last_modified: HeaderValue,
    modified: SystemTime,
}

/// The loaded files, by path (`/index.html`, `/img/logo.png`).
#[derive(Debug, Default)]
pub struct StaticFiles {
    files: HashMap<String, StaticFile>,
    /// The files holding copies of the large bodies, for plain connections to send them from.
    zero_copy: Arc<ZeroCopyFiles>,
}

impl StaticFiles {
    /// Reads every regular file under `root` (see [`load_dir`]) and prepares its forms.
    /// `app.js.br` and `app.js.gz` beside `app.js` become its compressed forms.
    pub fn load(root: &Path) -> Result<Self, LoadError> {
        Ok(StaticFiles::from_loaded(load_dir(root)?))
    }

    /// Files from memory: `(path, content)` pairs, paths starting with `/`, all dated now.
    pub fn from_files(files: impl IntoIterator<Item = (String, Bytes)>) -> Self {
        let modified = whole_seconds(SystemTime::now());
        StaticFiles::from_loaded(
            files
                .into_iter()
                .map(|(key, content)| LoadedFile {
                    key,
                    content,
                    modified,
                })
                .collect(),
        )
    }

    fn from_loaded(loaded: Vec<LoadedFile>) -> Self {
        let keys: std::collections::HashSet<String> =
            loaded.iter().map(|file| file.key.clone()).collect();
        let base_of = |key: &str| {
            Encoding::ALL.into_iter().find_map(|encoding| {
                let base = key.strip_suffix(encoding.file_suffix())?;
                keys.contains(base).then(|| (base.to_owned(), encoding))
            })
        };
        let mut siblings: HashMap<String, Vec<(Encoding, Bytes)>> = HashMap::new();
        let mut plain = Vec::new();
        for file in loaded {
            match base_of(&file.key) {
                Some((base, encoding)) => siblings
                    .entry(base)
                    .or_default()
                    .push((encoding, file.content)),
                None => plain.push(file),
            }
        }
        let files: HashMap<String, StaticFile> = plain
            .into_iter()
            .map(|file| {
                let siblings = siblings.remove(&file.key).unwrap_or_default();
                (file.key.clone(), prepare_file(file, &siblings))
            })
            .collect();
        let bodies = files
            .values()
            .flat_map(|file| std::iter::once(&file.identity).chain(&file.encoded))
            .map(|form| &form.content);
        // Copies on disk in the temporary directory ($TMPDIR, else /tmp) where it is writable.
        let zero_copy = Arc::new(ZeroCopyFiles::new(bodies, &std::env::temp_dir()));
        StaticFiles { files, zero_copy }
    }

    /// The files holding copies of the large bodies (see [`crate::zero_copy`]).
    pub fn zero_copy(&self) -> &Arc<ZeroCopyFiles> {
        &self.zero_copy
    }

    /// Number of files loaded (compressed siblings are part of their file).
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
        if method != Method::GET && method != Method::HEAD {
            return Err(EdgeError::MethodNotAllowed);
        }
        // A range counts bytes of one representation; clients that resume or seek expect
        // the file's own bytes, so ranged requests get the identity form.
        let range = headers.get(header::RANGE).filter(|_| method == Method::GET);
        let form = match range {
            Some(_) => &file.identity,
            None => choose(headers, |encoding| file.form(encoding).is_some())
                .and_then(|encoding| file.form(encoding))
                .unwrap_or(&file.identity),
        };
        let validators = Validators {
            etag: &form.etag,
            modified: file.modified,
        };
        let range_allowed = match evaluate(method, headers, validators) {
            Outcome::Proceed { range_allowed } => range_allowed,
            Outcome::NotModified => return Ok(file.not_modified(form)),
            Outcome::Failed => {
                let mut response =
                    error_body(StatusCode::PRECONDITION_FAILED, "precondition failed");
                file.add_validators(response.headers_mut(), form);
                return Ok(response);
            }
        };
        let len = form.content.len();
        match range
            .filter(|_| range_allowed)
            .map(|value| parse(value, len))
        {
            None | Some(RangeRequest::Full) => {
                Ok(file.response(method, form, form.content.clone()))
            }
            Some(RangeRequest::Partial(range)) => {
                let mut response = file.response(method, form, form.content.slice(range.clone()));
                *response.status_mut() = StatusCode::PARTIAL_CONTENT;
                response
                    .headers_mut()
                    .insert(header::CONTENT_RANGE, content_range(&range, len));
                Ok(response)
            }
            Some(RangeRequest::Unsatisfiable) => {
                let mut response =
                    error_body(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable");
                let headers = response.headers_mut();
                headers.insert(header::CONTENT_RANGE, unsatisfied_range(len));
                file.add_validators(headers, form);
                Ok(response)
            }
        }
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

/// A loaded file with its content type, caching policy, validators and compressed forms.
fn prepare_file(file: LoadedFile, siblings: &[(Encoding, Bytes)]) -> StaticFile {
    let content_type = content_type_for(&file.key);
    let encoded = prepare(&file.key, &file.content, &content_type, siblings)
        .into_iter()
        .map(|(encoding, content)| Form {
            etag: encoded_etag_for(&file.content, encoding.token()),
            content,
            encoding: Some(encoding),
        })
        .collect();
    StaticFile {
        cache_control: cache_control_for(&file.key, &content_type),
        last_modified: HeaderValue::from_str(&httpdate::fmt_http_date(file.modified))
            .unwrap_or(HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT")),
        modified: file.modified,
        identity: Form {
            etag: etag_for(&file.content),
            content: file.content,
            encoding: None,
        },
        encoded,
        content_type,
    }
}

impl StaticFile {
    fn form(&self, encoding: Encoding) -> Option<&Form> {
        self.encoded
            .iter()
            .find(|form| form.encoding == Some(encoding))
    }

    /// The fields a 304 must repeat from the 200 it stands for (RFC 9110 §15.4.5).
    fn add_validators(&self, headers: &mut HeaderMap, form: &Form) {
        headers.insert(header::ETAG, form.etag.clone());
        headers.insert(header::CACHE_CONTROL, self.cache_control.clone());
        if !self.encoded.is_empty() {
            headers.insert(header::VARY, VARY);
        }
    }

    fn not_modified(&self, form: &Form) -> Response<Body> {
        let mut response = Response::new(empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        self.add_validators(response.headers_mut(), form);
        response
    }

    /// A 200 (or, once the caller sets it, 206) carrying `body`; HEAD gets the same
    /// fields and no body (RFC 9110 §9.3.2).
    fn response(&self, method: &Method, form: &Form, body: Bytes) -> Response<Body> {
        let length = HeaderValue::from(body.len());
        let mut response = if method == Method::HEAD {
            Response::new(empty())
        } else {
            Response::new(full(body))
        };
        let headers = response.headers_mut();
        self.add_validators(headers, form);
        headers.insert(header::CONTENT_TYPE, self.content_type.clone());
        headers.insert(header::CONTENT_LENGTH, length);
        headers.insert(header::LAST_MODIFIED, self.last_modified.clone());
        headers.insert(header::ACCEPT_RANGES, ACCEPT_RANGES);
        if let Some(encoding) = form.encoding {
            headers.insert(header::CONTENT_ENCODING, encoding.header_value());
        }
        response
    }
}

#[cfg(test)]
mod tests;
