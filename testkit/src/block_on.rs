//! Running async client code (tokio-postgres) from the kit's synchronous start/restart functions.

use std::future::Future;

/// Run `future` to completion on a private current-thread runtime in a helper thread.
///
/// A helper thread is used so this works both from plain `#[test]`s and from inside a
/// `#[tokio::test]`, where blocking on a second runtime in the same thread would panic.
pub(crate) fn block_on<F>(future: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("tally-testkit: could not build a tokio runtime for a server probe")
                    .block_on(future)
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}
