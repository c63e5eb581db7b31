//! A floor under the rate at which request bodies arrive, so a client that
//! drips its body a byte at a time cannot hold a connection, a task and an
//! open upload for as long as it likes (slowloris on the body).
//!
//! The rule is Apache's `RequestReadTimeout body=...,MinRate=...`: the body
//! may take [`GRACE`], plus one second for every [`MIN_RATE`] bytes it has
//! delivered. The clock starts when the server first asks for body bytes
//! and only counts while the server is waiting for them, so a server busy
//! writing earlier bytes never fails a client. Hyper and tower-http offer
//! only idle timeouts, which a byte every few seconds defeats; hence this
//! wrapper.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use s3s::{S3Error, S3ErrorCode};
use tokio::time::{Instant, Sleep};

/// How long a body may take before its rate counts.
pub(crate) const GRACE: Duration = Duration::from_secs(10);
/// The slowest rate a body may sustain after [`GRACE`], in bytes a second.
pub(crate) const MIN_RATE: u64 = 500;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// `inner`, failing with 400 RequestTimeout once it falls below the rate.
pub(crate) struct RateFloor<B> {
    inner: B,
    received: u64,
    started: Option<Instant>,
    deadline: Pin<Box<Sleep>>,
}

impl<B> RateFloor<B> {
    pub(crate) fn new(inner: B) -> Self {
        Self {
            inner,
            received: 0,
            started: None,
            deadline: Box::pin(tokio::time::sleep(GRACE)),
        }
    }

    fn allowed_until(&self, started: Instant) -> Instant {
        started + GRACE + Duration::from_millis(self.received.saturating_mul(1000) / MIN_RATE)
    }
}

fn timed_out() -> BoxError {
    Box::new(S3Error::with_message(
        S3ErrorCode::RequestTimeout,
        "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.",
    ))
}

impl<B> Body for RateFloor<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let started = *this.started.get_or_insert_with(|| {
            let now = Instant::now();
            this.deadline.as_mut().reset(now + GRACE);
            now
        });
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                    let until = this.allowed_until(started);
                    this.deadline.as_mut().reset(until);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                ready!(this.deadline.as_mut().poll(cx));
                tracing::debug!(received = this.received, "request body too slow");
                Poll::Ready(Some(Err(timed_out())))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use http_body_util::{BodyExt, StreamBody};

    fn dripping(
        bytes: usize,
        every: Duration,
    ) -> impl Body<Data = Bytes, Error = BoxError> + Unpin {
        let stream = futures::stream::unfold(0, move |i| async move {
            if i == bytes {
                return None;
            }
            tokio::time::sleep(every).await;
            Some((
                Ok::<_, BoxError>(Frame::data(Bytes::from_static(b"x"))),
                i + 1,
            ))
        });
        StreamBody::new(Box::pin(stream))
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_at_the_floor_rate_passes() {
        // 1000 bytes at 1000 a second, then 100 at 600 a second.
        let body = RateFloor::new(dripping(1000, Duration::from_millis(1)));
        assert_eq!(body.collect().await.unwrap().to_bytes().len(), 1000);
        let body = RateFloor::new(dripping(100, Duration::from_millis(1000 / 600)));
        assert!(body.collect().await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_dripping_body_times_out_after_the_grace() {
        let t0 = Instant::now();
        let body = RateFloor::new(dripping(1000, Duration::from_secs(1)));
        let err = body.collect().await.unwrap_err();
        let s3 = err.downcast::<S3Error>().unwrap();
        assert_eq!(*s3.code(), S3ErrorCode::RequestTimeout);
        let took = t0.elapsed();
        assert!(
            took >= GRACE && took < GRACE + Duration::from_secs(1),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_stall_after_a_fast_start_is_allowed_what_the_bytes_earned() {
        // 50,000 bytes at once earn 100 s beyond the grace.
        let fast = futures::stream::iter([Ok::<_, BoxError>(Frame::data(Bytes::from(vec![
            0u8;
            50_000
        ])))]);
        let stall = futures::stream::once(async {
            tokio::time::sleep(Duration::from_secs(105)).await;
            Ok::<_, BoxError>(Frame::data(Bytes::from_static(b"late")))
        });
        let body = RateFloor::new(StreamBody::new(Box::pin(fast.chain(stall))));
        assert_eq!(body.collect().await.unwrap().to_bytes().len(), 50_004);
        let stall = futures::stream::once(async {
            tokio::time::sleep(Duration::from_secs(115)).await;
            Ok::<_, BoxError>(Frame::data(Bytes::from_static(b"late")))
        });
        let fast = futures::stream::iter([Ok::<_, BoxError>(Frame::data(Bytes::from(vec![
            0u8;
            50_000
        ])))]);
        let body = RateFloor::new(StreamBody::new(Box::pin(fast.chain(stall))));
        assert!(body.collect().await.is_err());
    }
}
