//! The edge's ports: the plain one always, the TLS one when a certificate is configured.
//! Both run the runtime's serve loop with the same handler; each sets the security
//! headers for its transport (HSTS only over TLS) and hyper's hard head limits, and
//! both stop and drain on the same shutdown. Every worker thread listens on the ports
//! with sockets of its own, each with its own accept queue, when the ports were bound
//! shared (`tally_runtime::bind_shared_listener`, as the binary binds them); otherwise
//! (a test's listener) the workers take from one queue.

use std::future::Future;
use std::sync::Arc;

use tally_runtime::{Ports, ServeConfig, ServerArgs};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::client_side_args::ClientSideArgs;
use crate::limits::HeaderLimits;
use crate::security::security_headers;
use crate::service::EdgeService;
use crate::tls::{TlsError, TlsHandshake};
use crate::zero_copy_stream::ZeroCopyHandshake;
use crate::StartError;

/// The sockets the edge serves on. A bare [`TcpListener`] is the plain port alone;
/// with TLS configured and no TLS listener given, the edge binds `EDGE_TLS_LISTEN`.
#[derive(Debug)]
pub struct Listeners {
    /// The plain HTTP port (HTTP/1.1 and h2c).
    pub plain: TcpListener,
    /// The HTTPS port, bound by the caller (tests bind port 0).
    pub tls: Option<TcpListener>,
    /// The admin port (`/metrics`, `/healthz`, `/readyz`); metrics are not served
    /// without one.
    pub admin: Option<TcpListener>,
}

impl From<TcpListener> for Listeners {
    fn from(plain: TcpListener) -> Self {
        Listeners {
            plain,
            tls: None,
            admin: None,
        }
    }
}

impl From<Ports> for Listeners {
    fn from(ports: Ports) -> Self {
        Listeners {
            plain: ports.public,
            tls: None,
            admin: ports.admin,
        }
    }
}

/// The listeners with the TLS configuration loaded, ready to serve. The sockets are
/// held outside any runtime so that each worker thread can serve them on its own.
#[derive(Debug)]
pub struct Prepared {
    plain: std::net::TcpListener,
    tls: Option<(std::net::TcpListener, TlsHandshake, u16)>,
}

impl Listeners {
    /// Loads the certificate and binds the TLS port if needed, before anything is served.
    pub async fn prepare(self, args: &ClientSideArgs) -> Result<Prepared, StartError> {
        let plain = self.plain.into_std()?;
        let Some((cert, key)) = args.tls_files() else {
            return Ok(Prepared { plain, tls: None });
        };
        let handshake = TlsHandshake::from_pem_files(cert, key)?;
        let listener = match self.tls {
            Some(listener) => listener,
            None => tally_runtime::bind_shared_listener(args.tls_listen).map_err(|error| {
                TlsError::Listen {
                    address: args.tls_listen,
                    error,
                }
            })?,
        };
        let port = listener
            .local_addr()
            .map_or(args.tls_listen.port(), |address| address.port());
        let listener = listener.into_std()?;
        Ok(Prepared {
            plain,
            tls: Some((listener, handshake, port)),
        })
    }
}

impl Prepared {
    /// The HTTPS port plain requests are redirected to, when TLS is on.
    pub fn https_port(&self) -> Option<u16> {
        self.tls.as_ref().map(|(_, _, port)| *port)
    }

    /// The same ports for another worker thread: sockets of its own where the ports
    /// were bound shared, else other handles on the same sockets.
    pub fn try_clone(&self) -> std::io::Result<Prepared> {
        let tls = match &self.tls {
            Some((listener, handshake, port)) => {
                Some((listen_again_or_share(listener)?, handshake.clone(), *port))
            }
            None => None,
        };
        Ok(Prepared {
            plain: listen_again_or_share(&self.plain)?,
            tls,
        })
    }

    /// Serves `service` on every port until `shutdown`, then drains them together; this
    /// worker takes `connections` of the connection limit. Requests are counted in the
    /// service's metrics; the plain port sends large static bodies from their memory
    /// files. Must run inside a runtime.
    pub async fn serve(
        self,
        server: &ServerArgs,
        limits: HeaderLimits,
        connections: usize,
        service: Arc<EdgeService>,
        shutdown: impl Future<Output = ()>,
    ) {
        let plain_handshake = Arc::new(ZeroCopyHandshake::new(
            service.shared.files.zero_copy().clone(),
        ));
        let (plain, tls) = match self.into_tokio() {
            Ok(listeners) => listeners,
            Err(error) => {
                tracing::error!(%error, "cannot serve the listening sockets");
                return;
            }
        };
        let mut plain_config = server.serve_config();
        plain_config.max_connections = connections;
        plain_config.http_metrics = Some(service.shared.metrics.clone());
        let (max_header_bytes, max_headers) = limits.hard_limits();
        plain_config.max_header_bytes = Some(max_header_bytes);
        plain_config.max_headers = Some(max_headers);
        let tls_config = ServeConfig {
            response_headers: security_headers(true),
            ..plain_config.clone()
        };
        plain_config.response_headers = security_headers(false);
        let Some((tls_listener, handshake)) = tls else {
            tally_runtime::serve_with(plain, plain_handshake, plain_config, service, shutdown)
                .await;
            return;
        };
        let (stop, stopped) = watch::channel(false);
        let until_stopped = |mut stopped: watch::Receiver<bool>| async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        let plain = tally_runtime::serve_with(
            plain,
            plain_handshake,
            plain_config,
            service.clone(),
            until_stopped(stopped.clone()),
        );
        let tls = tally_runtime::serve_with(
            tls_listener,
            Arc::new(handshake),
            tls_config,
            service,
            until_stopped(stopped),
        );
        let signal = async {
            shutdown.await;
            let _ = stop.send(true);
        };
        tokio::join!(plain, tls, signal);
    }

    /// The sockets registered with the current thread's runtime.
    fn into_tokio(self) -> std::io::Result<(TcpListener, Option<(TcpListener, TlsHandshake)>)> {
        let plain = TcpListener::from_std(self.plain)?;
        let tls = match self.tls {
            Some((listener, handshake, _)) => Some((TcpListener::from_std(listener)?, handshake)),
            None => None,
        };
        Ok((plain, tls))
    }
}

/// A socket of its own on `listener`'s port when the port was bound shared, else another
/// handle on `listener`.
fn listen_again_or_share(
    listener: &std::net::TcpListener,
) -> std::io::Result<std::net::TcpListener> {
    match tally_runtime::listen_again(listener) {
        Ok(own) => Ok(own),
        Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => {
            tracing::info!(
                address = ?listener.local_addr().ok(),
                "port not bound shared: the workers take its connections from one queue"
            );
            listener.try_clone()
        }
        Err(error) => Err(error),
    }
}
