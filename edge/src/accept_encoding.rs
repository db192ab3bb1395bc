//! Choosing a content coding from `Accept-Encoding` (RFC 9110 §12.5.3), with q-values
//! (§12.4.2), among the encodings a static file has been prepared in.

use http::header::{self, HeaderMap, HeaderValue};

/// The content codings the edge serves precompressed, smallest output first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Brotli (RFC 7932), `.br` siblings.
    Brotli,
    /// gzip (RFC 1952), `.gz` siblings.
    Gzip,
}

impl Encoding {
    /// Every coding, in order of preference when the client weighs them equally
    /// (brotli first: its output is smaller for text).
    pub const ALL: [Encoding; 2] = [Encoding::Brotli, Encoding::Gzip];

    /// The coding's token in `Content-Encoding` and `Accept-Encoding` (§8.4.1).
    pub fn token(self) -> &'static str {
        match self {
            Encoding::Brotli => "br",
            Encoding::Gzip => "gzip",
        }
    }

    /// The suffix of a file precompressed in this coding.
    pub fn file_suffix(self) -> &'static str {
        match self {
            Encoding::Brotli => ".br",
            Encoding::Gzip => ".gz",
        }
    }

    /// `Content-Encoding` for a response in this coding.
    pub fn header_value(self) -> HeaderValue {
        HeaderValue::from_static(self.token())
    }

    /// Whether `token` from `Accept-Encoding` names this coding (`x-gzip` is gzip, §8.4.1.3).
    fn is_named(self, token: &str) -> bool {
        token.eq_ignore_ascii_case(self.token())
            || (self == Encoding::Gzip && token.eq_ignore_ascii_case("x-gzip"))
    }
}

/// A q-value in thousandths (§12.4.2: at most three decimals, 0 to 1).
type Quality = u16;

/// The q of an unweighted member.
const FULL_QUALITY: Quality = 1000;

/// The coding to send: the acceptable one among those `available` with the highest q,
/// brotli before gzip on a tie; `None` means identity. No `Accept-Encoding` means
/// identity, as browsers always send the field when they decode anything.
pub fn choose(headers: &HeaderMap, available: impl Fn(Encoding) -> bool) -> Option<Encoding> {
    let mut values = headers.get_all(header::ACCEPT_ENCODING).iter().peekable();
    values.peek()?;
    let mut named: [Option<Quality>; 2] = [None, None];
    let mut star = None;
    let mut identity = None;
    for member in values
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
    {
        let mut parts = member.split(';');
        let token = parts.next().unwrap_or_default().trim();
        let quality = parts.find_map(quality_of).unwrap_or(FULL_QUALITY);
        if token == "*" {
            star = Some(quality);
        } else if token.eq_ignore_ascii_case("identity") {
            identity = Some(quality);
        } else if let Some(index) = Encoding::ALL.iter().position(|e| e.is_named(token)) {
            named[index] = Some(quality);
        }
    }
    let best = Encoding::ALL
        .iter()
        .zip(named)
        .filter(|(encoding, _)| available(**encoding))
        // §12.5.3: "*" stands for every coding not named in the field.
        .filter_map(|(encoding, quality)| Some((*encoding, quality.or(star)?)))
        .filter(|(_, quality)| *quality > 0)
        .fold(
            None,
            |best: Option<(Encoding, Quality)>, candidate| match best {
                Some(best) if best.1 >= candidate.1 => Some(best),
                _ => Some(candidate),
            },
        )?;
    // An explicitly preferred identity wins over a less wanted coding.
    match identity {
        Some(identity) if identity > best.1 => None,
        _ => Some(best.0),
    }
}

/// The q of a parameter `q=0.5` (§12.4.2); `None` for other parameters. A malformed
/// weight counts as 0, so a coding the client may not want is never forced on it.
fn quality_of(parameter: &str) -> Option<Quality> {
    let (name, value) = parameter.split_once('=')?;
    if !name.trim().eq_ignore_ascii_case("q") {
        return None;
    }
    let value = value.trim();
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    let valid = matches!(whole, "0" | "1")
        && fraction.len() <= 3
        && fraction.bytes().all(|b| b.is_ascii_digit())
        && (whole == "0" || fraction.bytes().all(|b| b == b'0'));
    if !valid {
        return Some(0);
    }
    let thousandths = format!("{fraction:0<3}").parse::<Quality>().unwrap_or(0);
    Some(if whole == "1" {
        FULL_QUALITY
    } else {
        thousandths
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(accept: Option<&str>, available: &[Encoding]) -> Option<Encoding> {
        let mut headers = HeaderMap::new();
        if let Some(accept) = accept {
            headers.insert(
                header::ACCEPT_ENCODING,
                HeaderValue::from_str(accept).expect("value"),
            );
        }
        choose(&headers, |encoding| available.contains(&encoding))
    }

    const BOTH: &[Encoding] = &[Encoding::Brotli, Encoding::Gzip];

    #[test]
    fn browsers_get_brotli_and_old_clients_gzip() {
        assert_eq!(
            pick(Some("gzip, deflate, br, zstd"), BOTH),
            Some(Encoding::Brotli)
        );
        assert_eq!(pick(Some("gzip, deflate"), BOTH), Some(Encoding::Gzip));
        assert_eq!(pick(Some("x-gzip"), BOTH), Some(Encoding::Gzip));
        assert_eq!(pick(Some("br"), &[Encoding::Gzip]), None);
    }

    /// §12.5.3: no field, `identity` only, or q=0 mean no coding.
    #[test]
    fn identity_cases() {
        assert_eq!(pick(None, BOTH), None);
        assert_eq!(pick(Some(""), BOTH), None);
        assert_eq!(pick(Some("identity"), BOTH), None);
        assert_eq!(pick(Some("br;q=0, gzip;q=0"), BOTH), None);
        assert_eq!(pick(Some("gzip;q=0.5, identity"), BOTH), None);
    }

    /// §12.4.2 weights and §12.5.3 `*`.
    #[test]
    fn q_values_and_star() {
        assert_eq!(
            pick(Some("br;q=0.5, gzip;q=0.8"), BOTH),
            Some(Encoding::Gzip)
        );
        assert_eq!(
            pick(Some("br;q=0.8, gzip;q=0.8"), BOTH),
            Some(Encoding::Brotli)
        );
        assert_eq!(pick(Some("*"), BOTH), Some(Encoding::Brotli));
        assert_eq!(pick(Some("br;q=0, *;q=0.1"), BOTH), Some(Encoding::Gzip));
        assert_eq!(pick(Some("*;q=0"), BOTH), None);
        assert_eq!(pick(Some("GZIP; Q=1.000"), BOTH), Some(Encoding::Gzip));
        assert_eq!(pick(Some("br;q=2"), BOTH), None);
        assert_eq!(pick(Some("br;q=0.0001"), BOTH), None);
    }
}
