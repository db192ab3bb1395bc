//! HTTP/2 streams run on the task of the connection they came on, not each on a task
//! of its own. hyper's HTTP/2 server hands every stream it accepts to its executor; with
//! tokio's, that is a task per request, which a multi-threaded runtime gives to another
//! thread, waking it (the edge sends every vote to a replica on one HTTP/2 connection).
//! Here the executor, called while [`with_streams`] polls the connection, keeps the
//! stream, and [`with_streams`] polls it beside the connection: a request and its
//! connection stay on one thread, and hyper's hand-over between the two wakes no other.
//!
//! A stream's future that panics ends as a stream whose task panicked would (its client
//! gets a reset stream); the connection and its other streams go on.

use std::cell::RefCell;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};

thread_local! {
    /// Streams that the connection being polled on this thread has just accepted, while
    /// [`with_streams`] polls one; `None` otherwise.
    static ARRIVING: RefCell<Option<Vec<BoxFuture<'static, ()>>>> = const { RefCell::new(None) };
}

/// The executor for hyper's HTTP/2 server: a stream accepted while [`with_streams`] polls
/// its connection stays with that connection; any other future gets a task of its own.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConnectionExecutor;

impl<F> hyper::rt::Executor<F> for ConnectionExecutor
where
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, future: F) {
        let future = ARRIVING.with(|arriving| match arriving.borrow_mut().as_mut() {
            Some(streams) => {
                streams.push(ending_alone_on_panic(future));
                None
            }
            None => Some(future),
        });
        if let Some(future) = future {
            tokio::spawn(future);
        }
    }
}

/// Polls `connection`, and beside it every stream it hands to [`ConnectionExecutor`],
/// until the connection has ended and its streams with it; returns the connection's
/// output. The connection is dropped when it ends, which ends the streams it leaves.
pub fn with_streams<C>(connection: C) -> WithStreams<C>
where
    C: Future,
{
    WithStreams {
        connection: Some(Box::pin(connection)),
        output: None,
        streams: FuturesUnordered::new(),
    }
}

/// The future of [`with_streams`].
pub struct WithStreams<C: Future> {
    connection: Option<Pin<Box<C>>>,
    output: Option<C::Output>,
    streams: FuturesUnordered<BoxFuture<'static, ()>>,
}

impl<C: Future> Unpin for WithStreams<C> {}

impl<C: Future> std::fmt::Debug for WithStreams<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WithStreams")
            .field("connection_open", &self.connection.is_some())
            .field("streams", &self.streams.len())
            .finish()
    }
}

impl<C: Future> Future for WithStreams<C> {
    type Output = C::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<C::Output> {
        let this = &mut *self;
        if let Some(connection) = this.connection.as_mut() {
            let collecting = Collecting::start();
            let polled = connection.as_mut().poll(cx);
            this.streams.extend(collecting.finish());
            if let Poll::Ready(output) = polled {
                this.output = Some(output);
                this.connection = None;
            }
        }
        // Every stream that is ready runs now; what they hand the connection wakes this
        // task again.
        while let Poll::Ready(Some(())) = this.streams.poll_next_unpin(cx) {}
        if this.connection.is_none() && this.streams.is_empty() {
            if let Some(output) = this.output.take() {
                return Poll::Ready(output);
            }
        }
        Poll::Pending
    }
}

/// A stream's future that, should it panic, ends there (logged) rather than take its
/// connection's task and the other streams with it.
fn ending_alone_on_panic<F>(stream: F) -> BoxFuture<'static, ()>
where
    F: Future<Output = ()> + Send + 'static,
{
    AssertUnwindSafe(stream)
        .catch_unwind()
        .map(|outcome| {
            if outcome.is_err() {
                tracing::error!("an HTTP/2 stream's handler panicked");
            }
        })
        .boxed()
}

/// The window in which [`ConnectionExecutor`] keeps streams on this thread: opened
/// around one poll of a connection, and closed again even if that poll panics (an
/// HTTP/1.1 handler runs inside it), so that no later future is kept by mistake.
struct Collecting {
    /// The window of an outer poll, if this one opened inside it; put back on drop.
    previous: Option<Vec<BoxFuture<'static, ()>>>,
}

impl Collecting {
    fn start() -> Collecting {
        let previous = ARRIVING.with(|arriving| arriving.replace(Some(Vec::new())));
        Collecting { previous }
    }

    /// Closes the window; the streams that arrived in it.
    fn finish(self) -> Vec<BoxFuture<'static, ()>> {
        ARRIVING
            .with(|arriving| arriving.borrow_mut().take())
            .unwrap_or_default()
    }
}

impl Drop for Collecting {
    fn drop(&mut self) {
        let previous = self.previous.take();
        ARRIVING.with(|arriving| arriving.replace(previous));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::rt::Executor;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A connection that hands `count` streams to the executor on its first poll, and
    /// ends once they have all run.
    struct Accepting {
        count: usize,
        ran: Arc<AtomicUsize>,
        handed: bool,
    }

    impl Future for Accepting {
        type Output = &'static str;

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<&'static str> {
            if !self.handed {
                self.handed = true;
                for _ in 0..self.count {
                    let ran = self.ran.clone();
                    let waker = cx.waker().clone();
                    ConnectionExecutor.execute(async move {
                        tokio::task::yield_now().await;
                        ran.fetch_add(1, Ordering::SeqCst);
                        waker.wake();
                    });
                }
            }
            if self.ran.load(Ordering::SeqCst) == self.count {
                Poll::Ready("ended")
            } else {
                Poll::Pending
            }
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn streams_run_on_the_connections_task_until_both_end() {
        let ran = Arc::new(AtomicUsize::new(0));
        let connection = Accepting {
            count: 3,
            ran: ran.clone(),
            handed: false,
        };
        let tasks_before = tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks();
        let served = tokio::spawn(with_streams(connection));
        assert_eq!(served.await.unwrap(), "ended");
        assert_eq!(ran.load(Ordering::SeqCst), 3);
        assert_eq!(
            tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks(),
            tasks_before,
            "no task was spawned for a stream"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_panicking_stream_ends_alone() {
        struct OnePanics {
            handed: bool,
            ran: Arc<AtomicUsize>,
        }
        impl Future for OnePanics {
            type Output = ();
            fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
                if !self.handed {
                    self.handed = true;
                    ConnectionExecutor.execute(async { panic!("handler bug") });
                    let (ran, waker) = (self.ran.clone(), cx.waker().clone());
                    ConnectionExecutor.execute(async move {
                        ran.fetch_add(1, Ordering::SeqCst);
                        waker.wake();
                    });
                }
                if self.ran.load(Ordering::SeqCst) == 1 {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }
        }
        let ran = Arc::new(AtomicUsize::new(0));
        with_streams(OnePanics {
            handed: false,
            ran: ran.clone(),
        })
        .await;
        assert_eq!(ran.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_connection_that_panics_leaves_no_window_open() {
        struct Panics;
        impl Future for Panics {
            type Output = ();
            fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
                panic!("an HTTP/1.1 handler's bug")
            }
        }
        let polled = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let waker = futures_util::task::noop_waker();
            let _ = Pin::new(&mut with_streams(Panics)).poll(&mut Context::from_waker(&waker));
        }));
        assert!(polled.is_err());
        assert!(ARRIVING.with(|arriving| arriving.borrow().is_none()));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn outside_a_connection_a_future_gets_a_task() {
        let (sent, received) = tokio::sync::oneshot::channel();
        ConnectionExecutor.execute(async move {
            let _ = sent.send(());
        });
        received.await.expect("ran on a task of its own");
    }
}
