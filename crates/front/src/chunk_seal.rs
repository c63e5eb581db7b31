//! The final chunk of an aws-chunked body.
//!
//! A STREAMING-* body is a sequence of chunks ended by a zero-length chunk;
//! under SigV4 that last chunk's signature seals the sequence. s3s's decoder
//! takes a body that simply stops after a data chunk as complete, so this
//! wrapper follows the framing (sizes only: the decoder checks the rest)
//! and fails a body that ends before its final chunk, as S3 does. Written
//! by hand because the decoder offers no hook for it.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use s3s::{S3Error, S3ErrorCode};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Chunk headers longer than this are not followed (the decoder refuses
/// them anyway); the body is then passed on unchecked.
const MAX_HEADER_LINE: usize = 4096;

#[derive(Debug, PartialEq, Eq)]
enum State {
    /// Reading a chunk header line up to its CRLF.
    Header(Vec<u8>),
    /// Skipping a chunk's data and the CRLF after it.
    Data(u64),
    /// The zero-length chunk was seen: whatever follows is trailers.
    Sealed,
    /// Framing this wrapper cannot follow: left to the decoder.
    Unchecked,
}

impl State {
    fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match self {
                State::Header(line) => match data.iter().position(|b| *b == b'\n') {
                    Some(i) => {
                        line.extend_from_slice(&data[..i]);
                        data = &data[i + 1..];
                        *self = next_after_header(line);
                    }
                    None => {
                        line.extend_from_slice(data);
                        if line.len() > MAX_HEADER_LINE {
                            *self = State::Unchecked;
                        }
                        return;
                    }
                },
                State::Data(left) => {
                    let n = (*left).min(data.len() as u64);
                    *left -= n;
                    data = &data[n as usize..];
                    if *left == 0 {
                        *self = State::Header(Vec::new());
                    }
                }
                State::Sealed | State::Unchecked => return,
            }
        }
    }
}

fn next_after_header(line: &[u8]) -> State {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let size = line.split(|b| *b == b';').next().unwrap_or_default();
    let size = std::str::from_utf8(size)
        .ok()
        .and_then(|s| u64::from_str_radix(s.trim(), 16).ok());
    match size {
        Some(0) => State::Sealed,
        // The data, then its CRLF.
        Some(n) => n.checked_add(2).map_or(State::Unchecked, State::Data),
        None => State::Unchecked,
    }
}

/// Whether `pieces`, one body's bytes in order, reach the final chunk:
/// `Some(true)` sealed, `Some(false)` not (yet), `None` framing not followed.
/// For the fuzz target, which checks that where a body is split changes
/// nothing.
#[cfg(feature = "fuzzing")]
pub fn final_chunk_seen(pieces: &[&[u8]]) -> Option<bool> {
    let mut s = State::Header(Vec::new());
    for p in pieces {
        s.feed(p);
    }
    match s {
        State::Sealed => Some(true),
        State::Unchecked => None,
        State::Header(_) | State::Data(_) => Some(false),
    }
}

/// `inner`, an aws-chunked body, failing with IncompleteBody when it ends
/// before its final zero-length chunk.
pub(crate) struct FinalChunk<B> {
    inner: B,
    state: State,
}

impl<B> FinalChunk<B> {
    pub(crate) fn new(inner: B) -> Self {
        Self {
            inner,
            state: State::Header(Vec::new()),
        }
    }
}

/// Whether a request's body is aws-chunked.
pub(crate) fn is_aws_chunked(headers: &http::HeaderMap) -> bool {
    headers
        .get("x-amz-content-sha256")
        .is_some_and(|v| v.as_bytes().starts_with(b"STREAMING-"))
}

impl<B> Body for FinalChunk<B>
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
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.state.feed(data);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => match this.state {
                State::Sealed | State::Unchecked => Poll::Ready(None),
                _ => {
                    // Reported once; the decoder sees an error, not an end.
                    this.state = State::Unchecked;
                    Poll::Ready(Some(Err(Box::new(S3Error::with_message(
                        S3ErrorCode::IncompleteBody,
                        "The aws-chunked body ended before its final chunk.",
                    )))))
                }
            },
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        // An end before the final chunk must still be polled to report it.
        matches!(self.state, State::Sealed | State::Unchecked) && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn after(pieces: &[&[u8]]) -> State {
        let mut s = State::Header(Vec::new());
        for p in pieces {
            s.feed(p);
        }
        s
    }

    const SIG: &str =
        ";chunk-signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn follows_signed_chunks_to_the_final_one() {
        let body = format!("5{SIG}\r\nhello\r\n3{SIG}\r\nabc\r\n0{SIG}\r\n\r\n");
        assert_eq!(after(&[body.as_bytes()]), State::Sealed);
        // Split anywhere, including inside headers and CRLFs.
        for cut in 1..body.len() {
            let (a, b) = body.as_bytes().split_at(cut);
            assert_eq!(after(&[a, b]), State::Sealed, "cut at {cut}");
        }
    }

    #[test]
    fn a_body_without_its_final_chunk_is_not_sealed() {
        let body = format!("5{SIG}\r\nhello\r\n3{SIG}\r\nabc\r\n");
        assert_eq!(after(&[body.as_bytes()]), State::Header(Vec::new()));
        assert_eq!(after(&[b"a\r\n0123"]), State::Data(8));
    }

    #[test]
    fn unsigned_chunks_with_trailers() {
        let body = b"4\r\ndata\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n";
        assert_eq!(after(&[body]), State::Sealed);
    }

    #[test]
    fn unparseable_framing_is_left_to_the_decoder() {
        assert_eq!(after(&[b"zz\r\n"]), State::Unchecked);
        assert_eq!(after(&[&[b'a'; 5000]]), State::Unchecked);
        assert_eq!(after(&[b"ffffffffffffffff\r\n"]), State::Unchecked);
    }
}
