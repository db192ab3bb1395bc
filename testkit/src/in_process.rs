//! A service of the workspace run in-process by a test: its public and admin ports bound
//! on free local ports, its shutdown future in the test's hands.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The shutdown future a service is given: completes when [`InProcess::stop`] is called
/// or the [`InProcess`] is dropped.
#[derive(Debug)]
pub struct StopSignal(oneshot::Receiver<()>);

impl Future for StopSignal {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(context).map(|_| ())
    }
}

/// A service running in its own task.
#[derive(Debug)]
pub struct InProcess<E> {
    /// Its public port.
    pub public: SocketAddr,
    /// Its admin port (`/metrics`).
    pub admin: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), E>>,
}

impl<E: Send + 'static> InProcess<E> {
    /// Binds a public and an admin port on `127.0.0.1` and runs `run(public, admin,
    /// shutdown)` (the service's `run`) in a task of its own.
    pub async fn start<F, Fut>(run: F) -> InProcess<E>
    where
        F: FnOnce(TcpListener, TcpListener, StopSignal) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
    {
        let bind = || TcpListener::bind("127.0.0.1:0");
        let public = bind().await.expect("bind a free public port");
        let admin = bind().await.expect("bind a free admin port");
        let addresses = (public.local_addr(), admin.local_addr());
        let (Ok(public_address), Ok(admin_address)) = addresses else {
            panic!("bound ports without addresses: {addresses:?}");
        };
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(run(public, admin, StopSignal(stopped)));
        InProcess {
            public: public_address,
            admin: admin_address,
            stop,
            task,
        }
    }

    /// Asks the service to shut down, waits until it has, and returns how it ended.
    pub async fn stop(self) -> Result<(), E> {
        let _ = self.stop.send(());
        self.task.await.expect("the service's task panicked")
    }
}
