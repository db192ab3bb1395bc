//! TLS on the HTTPS port: the certificate chain and key from PEM files (`EDGE_TLS_CERT`,
//! `EDGE_TLS_KEY`), rustls with its safe defaults (TLS 1.2 and 1.3), HTTP/2 and HTTP/1.1
//! offered by ALPN (RFC 7301), and the handshake the runtime's serve loop runs on each
//! accepted connection.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tally_runtime::Handshake;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// Protocols offered by ALPN, preferred first: HTTP/2 (RFC 9113 §3.2), then HTTP/1.1.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Why the TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate file could not be read or holds no certificate.
    #[error("EDGE_TLS_CERT {path}: {reason}")]
    Certificate {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The key file could not be read or holds no private key.
    #[error("EDGE_TLS_KEY {path}: {reason}")]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTPS address could not be bound.
    #[error("EDGE_TLS_LISTEN {address}: {error}")]
    Listen {
        /// The address.
        address: std::net::SocketAddr,
        /// Why not.
        error: std::io::Error,
    },
    /// rustls refused the pair (the key does not match, or an unsupported algorithm).
    #[error("EDGE_TLS_CERT/EDGE_TLS_KEY: {0}")]
    Rejected(#[from] rustls::Error),
}

/// The server side of TLS, shared by every connection on the HTTPS port.
#[derive(Clone)]
pub struct TlsHandshake {
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for TlsHandshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsHandshake").finish_non_exhaustive()
    }
}

impl TlsHandshake {
    /// Reads the PEM certificate chain and private key and builds the server config.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let chain = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|error| TlsError::Certificate {
                path: cert.to_path_buf(),
                reason: error.to_string(),
            })?;
        if chain.is_empty() {
            return Err(TlsError::Certificate {
                path: cert.to_path_buf(),
                reason: "no CERTIFICATE section".to_owned(),
            });
        }
        let key_der = PrivateKeyDer::from_pem_file(key).map_err(|error| TlsError::Key {
            path: key.to_path_buf(),
            reason: error.to_string(),
        })?;
        Self::new(chain, key_der)
    }

    /// The server config for `chain` and `key`.
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, TlsError> {
        // The provider is named rather than taken from the process default, so the
        // build does not depend on which crypto features other crates switch on.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        config.alpn_protocols = ALPN.iter().map(|protocol| protocol.to_vec()).collect();
        Ok(TlsHandshake {
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }
}

impl Handshake for TlsHandshake {
    type Io = TlsStream<TcpStream>;

    async fn handshake(&self, stream: TcpStream) -> std::io::Result<Self::Io> {
        // hyper-util's auto builder then reads the client preface and speaks h2 or
        // HTTP/1.1 to match what ALPN settled.
        self.acceptor.accept(stream).await
    }

    fn is_tls(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_pair_loads_and_offers_h2() {
        let generated =
            rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert, generated.cert.pem()).expect("write");
        std::fs::write(&key, generated.signing_key.serialize_pem()).expect("write");
        assert!(TlsHandshake::from_pem_files(&cert, &key).is_ok());
        assert!(ALPN[0] == b"h2");
    }

    #[test]
    fn missing_or_swapped_files_are_errors() {
        let generated =
            rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert, generated.cert.pem()).expect("write");
        std::fs::write(&key, generated.signing_key.serialize_pem()).expect("write");
        let missing = dir.path().join("missing.pem");
        assert!(matches!(
            TlsHandshake::from_pem_files(&missing, &key),
            Err(TlsError::Certificate { .. })
        ));
        assert!(matches!(
            TlsHandshake::from_pem_files(&key, &key),
            Err(TlsError::Certificate { .. })
        ));
        assert!(matches!(
            TlsHandshake::from_pem_files(&cert, &cert),
            Err(TlsError::Key { .. })
        ));
    }
}
