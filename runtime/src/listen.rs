//! Listening sockets with an accept queue sized for bursts of new connections.
//!
//! The standard library and tokio listen with a backlog of 128. When that queue is full
//! Linux drops the next SYN, and the client tries again only after a second: a room of
//! voters opening the page at once, or the edge opening its upstream connections at the
//! start of a burst, then waits a second or gets the edge's connect timeout (a 502).
//! Measured: `benches/nginx-compare.sh` at c=256 saw 502s from the edge with "connect
//! timed out" to a 128-backlog upstream, and the kernel's `ListenOverflows` counter rose.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, TcpSocket};

/// Connections the kernel completes and queues before the accept loop takes them: as
/// nginx's `listen ... backlog=4096`. Linux caps it at `net.core.somaxconn` (4096 by
/// default since 5.4), so asking for more would not change anything.
pub const LISTEN_BACKLOG: u32 = 4096;

/// Binds `address` (with `SO_REUSEADDR`, as the standard library does, so a restarted
/// service can bind while old connections linger) and listens with [`LISTEN_BACKLOG`].
pub fn bind_listener(address: SocketAddr) -> io::Result<TcpListener> {
    bind(address, false)
}

/// [`bind_listener`] with `SO_REUSEPORT`, for a port that several threads serve: each
/// other thread listens on it again with [`listen_again`], and the kernel spreads new
/// connections over the sockets by a hash of their addresses, each socket with an accept
/// queue of its own. Taken from one shared queue, a burst of new connections went to
/// whichever thread was awake: 50 connections opened at once all went to one of the
/// edge's two worker threads, which then served them alone.
///
/// As with nginx's `reuseport`, a connection waits in the queue the kernel chose for it:
/// a thread at its share of the connection limit leaves its queue waiting while others
/// have room. And another process of the same user that asks for `SO_REUSEPORT` can bind
/// the same port and share its traffic, where it would otherwise fail with "address in
/// use".
pub fn bind_shared_listener(address: SocketAddr) -> io::Result<TcpListener> {
    bind(address, true)
}

/// Another socket listening on `listener`'s address, with an accept queue of its own.
/// Only a listener from [`bind_shared_listener`] allows it; for any other the port is in
/// use (`AddrInUse`).
pub fn listen_again(listener: &std::net::TcpListener) -> io::Result<std::net::TcpListener> {
    let address = listener.local_addr()?;
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    socket.listen(i32::try_from(LISTEN_BACKLOG).unwrap_or(i32::MAX))?;
    Ok(socket.into())
}

fn bind(address: SocketAddr, reuse_port: bool) -> io::Result<TcpListener> {
    let socket = match address {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    if reuse_port {
        socket.set_reuseport(true)?;
    }
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use tokio::net::TcpStream;

    /// More clients than a 128-long queue holds, none of them accepted yet.
    const WAITING_CLIENTS: usize = 600;

    #[tokio::test]
    async fn hundreds_of_clients_connect_before_any_is_accepted() {
        let listener = bind_listener("127.0.0.1:0".parse().expect("address")).expect("bind");
        let address = listener.local_addr().expect("address");
        let mut connects = tokio::task::JoinSet::new();
        for _ in 0..WAITING_CLIENTS {
            // A dropped SYN is retried after 1 s: well past this budget.
            connects.spawn(tokio::time::timeout(
                Duration::from_millis(500),
                TcpStream::connect(address),
            ));
        }
        let mut connected = Vec::new();
        while let Some(result) = connects.join_next().await {
            if let Ok(Ok(Ok(stream))) = result {
                connected.push(stream);
            }
        }
        // The kernel caps the queue at net.core.somaxconn (4096 since Linux 5.4; older
        // kernels and some namespaces have 128 or 511), and queues one more than that.
        let cap = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|text| text.trim().parse::<usize>().ok())
            .map_or(WAITING_CLIENTS, |somaxconn| somaxconn + 1);
        assert_eq!(
            connected.len(),
            WAITING_CLIENTS.min(cap),
            "clients connected in time"
        );
        drop(listener);
    }

    #[tokio::test]
    async fn binds_ipv6_too() {
        // Skipped where the machine has no IPv6 loopback.
        if std::net::TcpListener::bind("[::1]:0").is_err() {
            return;
        }
        let listener = bind_listener("[::1]:0".parse().expect("address")).expect("bind");
        assert!(listener.local_addr().expect("address").is_ipv6());
    }

    /// Connections made to a port two sockets listen on.
    const SPREAD_CLIENTS: usize = 64;

    #[tokio::test]
    async fn a_shared_port_spreads_new_connections_over_its_sockets() {
        let first = bind_shared_listener("127.0.0.1:0".parse().expect("address")).expect("bind");
        let first = first.into_std().expect("std");
        let second =
            TcpListener::from_std(listen_again(&first).expect("listen again")).expect("second");
        let first = TcpListener::from_std(first).expect("first");
        let address = first.local_addr().expect("address");
        let mut clients = Vec::new();
        for _ in 0..SPREAD_CLIENTS {
            clients.push(TcpStream::connect(address).await.expect("connect"));
        }
        let mut taken = [0; 2];
        for (index, listener) in [&first, &second].into_iter().enumerate() {
            while let Ok(Ok(_)) =
                tokio::time::timeout(Duration::from_millis(100), listener.accept()).await
            {
                taken[index] += 1;
            }
        }
        // By a hash of the client's port: one socket taking all 64 has odds of 2^-63.
        assert_eq!(taken[0] + taken[1], SPREAD_CLIENTS, "{taken:?}");
        assert!(taken[0] > 0 && taken[1] > 0, "{taken:?}");
    }

    #[tokio::test]
    async fn only_a_shared_port_can_be_listened_on_again() {
        let listener = bind_listener("127.0.0.1:0".parse().expect("address")).expect("bind");
        let error = listen_again(&listener.into_std().expect("std")).expect_err("in use");
        assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
    }
}
