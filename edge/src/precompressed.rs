//! The brotli and gzip forms of each static file, made once at load time: a `.br` / `.gz`
//! sibling from the build is used when it decodes to the file's exact bytes, otherwise
//! the edge compresses the file itself, so requests never pay for compression.

use std::io::{Read, Write};

use bytes::Bytes;
use http::HeaderValue;

use crate::accept_encoding::Encoding;

/// Files smaller than this are sent as they are: the coding's framing and the
/// `Content-Encoding` header eat most of what compression would save.
const MIN_COMPRESS_BYTES: usize = 256;

/// A compressed form is kept only when at most this share (in tenths) of the original:
/// below a 10% saving the client's decoding costs more than the bytes saved.
const MAX_KEPT_TENTHS: usize = 9;

/// Brotli quality: 11 is the densest; it runs once per file at start on a small front end.
const BROTLI_QUALITY: u32 = 11;

/// Brotli's window sizes (log2 bytes, RFC 7932 §9.1). A window larger than the file
/// compresses it no better; at quality 11 the encoder's memory grows with the window,
/// and the format's default of 22 made it take about 100 MB at start, which an
/// allocator that keeps freed pages (mimalloc) then held as resident memory.
const BROTLI_MIN_WINDOW: u32 = 10;
const BROTLI_MAX_WINDOW: u32 = 24;

/// A window of `n` bits holds 2^n minus this many bytes (RFC 7932 §9.1).
const BROTLI_WINDOW_GAP: usize = 16;

/// The smallest brotli window that holds all of a `length`-byte file.
fn brotli_window(length: usize) -> u32 {
    let needed = length.saturating_add(BROTLI_WINDOW_GAP);
    let bits = usize::BITS - (needed - 1).leading_zeros();
    bits.clamp(BROTLI_MIN_WINDOW, BROTLI_MAX_WINDOW)
}

/// Buffer brotli's streaming encoder and decoder work through.
const BROTLI_BUFFER: usize = 4096;

/// Compressed forms larger than this (a decompression bomb in a sibling) are not read.
const MAX_DECODED_BYTES: u64 = 64 * 1024 * 1024;

/// The content types worth compressing: text and the text-based formats of the front end.
pub fn is_compressible(content_type: &HeaderValue) -> bool {
    let Ok(text) = content_type.to_str() else {
        return false;
    };
    let essence = text.split(';').next().unwrap_or_default().trim();
    essence.starts_with("text/")
        || matches!(
            essence,
            "image/svg+xml" | "application/json" | "application/manifest+json" | "application/xml"
        )
}

/// The compressed forms to serve for `identity` (a file of `content_type`), given the
/// build's sibling files for each coding. Each form is `(coding, bytes)`.
pub fn prepare(
    path: &str,
    identity: &[u8],
    content_type: &HeaderValue,
    siblings: &[(Encoding, Bytes)],
) -> Vec<(Encoding, Bytes)> {
    let compressible = is_compressible(content_type) && identity.len() >= MIN_COMPRESS_BYTES;
    Encoding::ALL
        .into_iter()
        .filter_map(|encoding| {
            let sibling = siblings
                .iter()
                .find(|(coding, _)| *coding == encoding)
                .map(|(_, bytes)| bytes);
            let form = match sibling {
                Some(bytes) if decode(encoding, bytes).as_deref() == Some(identity) => {
                    bytes.clone()
                }
                Some(_) => {
                    tracing::warn!(
                        path,
                        coding = encoding.token(),
                        "stale or broken precompressed sibling; compressing the file again"
                    );
                    Bytes::from(encode(encoding, identity)?)
                }
                None if compressible => Bytes::from(encode(encoding, identity)?),
                None => return None,
            };
            worth_keeping(form.len(), identity.len()).then_some((encoding, form))
        })
        .collect()
}

fn worth_keeping(compressed: usize, original: usize) -> bool {
    compressed.saturating_mul(10) <= original.saturating_mul(MAX_KEPT_TENTHS)
}

/// `content` compressed in `encoding`; `None` only if the encoder fails, which writing
/// into memory does not.
pub fn encode(encoding: Encoding, content: &[u8]) -> Option<Vec<u8>> {
    match encoding {
        Encoding::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            encoder.write_all(content).ok()?;
            encoder.finish().ok()
        }
        Encoding::Brotli => {
            let mut output = Vec::new();
            {
                let mut encoder = brotli::CompressorWriter::new(
                    &mut output,
                    BROTLI_BUFFER,
                    BROTLI_QUALITY,
                    brotli_window(content.len()),
                );
                encoder.write_all(content).ok()?;
                encoder.flush().ok()?;
            }
            Some(output)
        }
    }
}

/// `compressed` decoded from `encoding`, or `None` when it is not valid or too large.
pub fn decode(encoding: Encoding, compressed: &[u8]) -> Option<Vec<u8>> {
    let mut output = Vec::new();
    let result = match encoding {
        Encoding::Gzip => flate2::read::GzDecoder::new(compressed)
            .take(MAX_DECODED_BYTES)
            .read_to_end(&mut output),
        Encoding::Brotli => brotli::Decompressor::new(compressed, BROTLI_BUFFER)
            .take(MAX_DECODED_BYTES)
            .read_to_end(&mut output),
    };
    result.ok().map(|_| output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_brotli_window_is_the_smallest_that_holds_the_file() {
        assert_eq!(brotli_window(0), BROTLI_MIN_WINDOW);
        assert_eq!(brotli_window(1024 - BROTLI_WINDOW_GAP), 10);
        assert_eq!(brotli_window(1024 - BROTLI_WINDOW_GAP + 1), 11);
        assert_eq!(brotli_window(100 * 1024), 17);
        assert_eq!(brotli_window(usize::MAX), BROTLI_MAX_WINDOW);
    }

    const JS: HeaderValue = HeaderValue::from_static("text/javascript; charset=utf-8");

    fn text() -> Vec<u8> {
        "function vote(option) { return fetch('/vote', { method: 'POST' }); }\n"
            .repeat(20)
            .into_bytes()
    }

    #[test]
    fn both_codings_round_trip() {
        let original = text();
        for encoding in Encoding::ALL {
            let compressed = encode(encoding, &original).expect("encodes");
            assert!(compressed.len() < original.len() / 4, "{encoding:?}");
            assert_eq!(decode(encoding, &compressed).expect("decodes"), original);
        }
    }

    #[test]
    fn text_gets_both_forms_and_small_or_binary_files_none() {
        let forms = prepare("/app.js", &text(), &JS, &[]);
        let codings: Vec<_> = forms.iter().map(|(coding, _)| *coding).collect();
        assert_eq!(codings, Encoding::ALL);
        assert!(prepare("/tiny.js", b"x()", &JS, &[]).is_empty());
        let png = HeaderValue::from_static("image/png");
        assert!(prepare("/a.png", &text(), &png, &[]).is_empty());
    }

    #[test]
    fn a_good_sibling_is_used_and_a_stale_one_replaced() {
        let original = text();
        let sibling = Bytes::from(encode(Encoding::Gzip, &original).expect("encodes"));
        let forms = prepare(
            "/app.js",
            &original,
            &JS,
            &[(Encoding::Gzip, sibling.clone())],
        );
        assert_eq!(forms[1], (Encoding::Gzip, sibling));

        let stale = Bytes::from(encode(Encoding::Gzip, b"old version of app.js").expect("encodes"));
        let forms = prepare("/app.js", &original, &JS, &[(Encoding::Gzip, stale)]);
        let gzip = &forms[1].1;
        assert_eq!(decode(Encoding::Gzip, gzip).expect("decodes"), original);
    }

    #[test]
    fn compressible_types() {
        for yes in [
            "text/html; charset=utf-8",
            "image/svg+xml",
            "application/json",
        ] {
            assert!(is_compressible(&HeaderValue::from_static(yes)), "{yes}");
        }
        for no in ["image/png", "application/octet-stream"] {
            assert!(!is_compressible(&HeaderValue::from_static(no)), "{no}");
        }
    }
}
