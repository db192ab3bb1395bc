//! Client connections that finish their in-flight request and close once the serve
//! loop stops. hyper-util's `GracefulShutdown` does this with a `watch` channel whose
//! wait it polls again on every poll of the connection: about 160 instructions each
//! time, three times per proxied request. Here the wait is registered once, on the
//! connection's first poll, and later polls read one flag.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::server::graceful::GracefulConnection;
use pin_project_lite::pin_project;
use tokio::sync::futures::OwnedNotified;
use tokio::sync::Notify;

/// Tells every connection served [`UntilStopped`] with it to finish.
#[derive(Debug, Clone, Default)]
pub struct Stopping {
    stopped: Arc<AtomicBool>,
    notify: Arc<Notify>,
}

impl Stopping {
    /// Tells the connections to finish what they are answering and take nothing new.
    pub fn stop(&self) {
        // Set before the wake-up, so that every woken connection sees it.
        self.stopped.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }
}

pin_project! {
    /// A connection served until it ends; told to finish gracefully once its
    /// [`Stopping`] stops. Polled by one task only, as a spawned connection is: the
    /// wake-up is registered with the waker of its first poll.
    #[derive(Debug)]
    pub struct UntilStopped<C> {
        #[pin]
        connection: C,
        #[pin]
        wake_up: OwnedNotified,
        stopping: Stopping,
        registered: bool,
        told: bool,
    }
}

impl<C: GracefulConnection> UntilStopped<C> {
    /// Serves `connection` until it ends, telling it to finish once `stopping` stops.
    pub fn new(connection: C, stopping: Stopping) -> Self {
        UntilStopped {
            connection,
            wake_up: stopping.notify.clone().notified_owned(),
            stopping,
            registered: false,
            told: false,
        }
    }
}

impl<C: GracefulConnection> Future for UntilStopped<C> {
    type Output = C::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if !*this.told {
            if !*this.registered {
                *this.registered = true;
                // Pending until the stop; a stop that came first is seen by the flag.
                let _ = this.wake_up.as_mut().poll(cx);
            }
            if this.stopping.is_stopped() {
                *this.told = true;
                this.connection.as_mut().graceful_shutdown();
            }
        }
        this.connection.poll(cx)
    }
}
