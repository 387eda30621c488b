//! The HTTP layer's own refusals in the router's JSON shape. actix answers a request it cannot
//! parse (control characters in a header, a malformed request line or length) with 400, a head
//! that does not arrive within `server.request_timeout` with 408, and a head over its buffer
//! with 431, each with an empty body, before any handler runs and with no hook to change the
//! answer. This wrapper around each accepted connection recognises those body-less answers as
//! they are written (the status line at the start of a write, `content-length: 0`, nothing
//! after the head) and gives them the body every other refusal has:
//! `{"error": CODE, "message": TEXT}`. Handler responses carry JSON already and pass through.
//! DECISION: rewriting bytes on the socket is the one place to change these answers without
//! replacing actix's HTTP/1 codec; the rules are narrow so nothing else is touched.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The answers actix writes on its own: status (as in the status line), code, message.
const REFUSALS: &[(&str, &str, &str)] = &[
    (
        "400 Bad Request",
        "bad_request",
        "the request is not valid HTTP/1.1 (a header value with control characters, a malformed \
         request line, header or length)",
    ),
    (
        "408 Request Timeout",
        "request_timeout",
        "the request head was not received within the server's request timeout",
    ),
    (
        "431 Request Header Fields Too Large",
        "headers_too_large",
        "the request head is larger than the server accepts",
    ),
];

const EMPTY_LENGTH: &[u8] = b"\r\ncontent-length: 0\r\n";

/// A connection whose body-less protocol refusals are rewritten as JSON.
pub struct JsonRefusals<T> {
    io: T,
    /// A rewritten answer not yet fully written, and how much of it was.
    pending: Vec<u8>,
    sent: usize,
}

impl<T> JsonRefusals<T> {
    pub fn new(io: T) -> Self {
        Self {
            io,
            pending: Vec::new(),
            sent: 0,
        }
    }
}

/// `buf` with its refusal given a JSON body, when `buf` is exactly one of actix's body-less
/// refusals.
pub fn rewrite(buf: &[u8]) -> Option<Vec<u8>> {
    let status = buf
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| buf.strip_prefix(b"HTTP/1.0 "))?;
    let (_, code, message) = REFUSALS
        .iter()
        .find(|(line, _, _)| status.starts_with(format!("{line}\r\n").as_bytes()))?;
    let head_end = find(buf, b"\r\n\r\n")? + 4;
    let at = find(&buf[..head_end], EMPTY_LENGTH)?;
    if head_end != buf.len() {
        return None;
    }
    let body = serde_json::json!({"error": code, "message": message}).to_string();
    let mut out = Vec::with_capacity(buf.len() + body.len() + 40);
    out.extend_from_slice(&buf[..at]);
    out.extend_from_slice(
        format!(
            "\r\ncontent-length: {}\r\ncontent-type: application/json\r\n",
            body.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(&buf[at + EMPTY_LENGTH.len()..]);
    out.extend_from_slice(body.as_bytes());
    Some(out)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

impl<T: AsyncWrite + Unpin> JsonRefusals<T> {
    /// Writes what is left of a rewritten answer.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.pending.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.pending[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.pending.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for JsonRefusals<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for JsonRefusals<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        match rewrite(buf) {
            // Taken whole: the rest is written by later writes, flushes or the shutdown.
            Some(answer) => {
                this.pending = answer;
                if let Poll::Ready(Err(e)) = this.poll_pending(cx) {
                    return Poll::Ready(Err(e));
                }
                Poll::Ready(Ok(buf.len()))
            }
            None => Pin::new(&mut this.io).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    const DATE: &str = "date: Mon, 07 Dec 2026 23:37:26 GMT\r\n\r\n";

    #[test]
    fn actix_body_less_refusals_get_the_json_body() {
        let raw =
            format!("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n{DATE}");
        let out = String::from_utf8(rewrite(raw.as_bytes()).unwrap()).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"], "bad_request");
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        assert!(head.contains("content-type: application/json"));
        assert!(head.contains("connection: close"));

        let raw = format!("HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\n{DATE}");
        assert!(rewrite(raw.as_bytes()).is_some());
        let raw =
            format!("HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n{DATE}");
        assert!(rewrite(raw.as_bytes()).is_some());
    }

    #[test]
    fn answers_with_a_body_or_other_statuses_pass_through() {
        let json = "{\"error\":\"invalid_json\",\"message\":\"x\"}";
        let raw = format!(
            "HTTP/1.1 400 Bad Request\r\ncontent-length: {}\r\ncontent-type: application/json\r\n{DATE}{json}",
            json.len()
        );
        assert_eq!(rewrite(raw.as_bytes()), None);
        let raw = format!("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n{DATE}");
        assert_eq!(rewrite(raw.as_bytes()), None);
        let raw = format!("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n{DATE}HTTP/1.1 200 OK");
        assert_eq!(rewrite(raw.as_bytes()), None, "more than one answer");
    }
}
