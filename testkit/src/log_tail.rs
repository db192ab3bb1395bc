//! Reading the end of a server log for panic messages.

use std::path::Path;

/// How much of a log to quote in a panic message: enough for the startup error, not a wall of text.
const MAX_LOG_CHARS: usize = 8_000;

/// The last [`MAX_LOG_CHARS`] characters of the file at `path`, or a note saying why it can't be read.
pub(crate) fn log_tail(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let chars = text.chars().count();
            if chars <= MAX_LOG_CHARS {
                text.into_owned()
            } else {
                let tail: String = text.chars().skip(chars - MAX_LOG_CHARS).collect();
                format!(
                    "[... {} earlier characters cut ...]\n{tail}",
                    chars - MAX_LOG_CHARS
                )
            }
        }
        Err(err) => format!("<could not read log {}: {err}>", path.display()),
    }
}
