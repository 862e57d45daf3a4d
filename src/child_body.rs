//! Streams a git child's stdout as an HTTP body (git over HTTP, archives), and its request body into the child's stdin,
//! never holding a whole pack in memory. Dropping the body (client gone) kills the child.
//! The raw-file and archive answers the web pages and the API both give are built here once.

use std::io;
use std::process::ExitStatus;

use async_compression::tokio::bufread::GzipDecoder;
use axum::body::{Body, Bytes};
use futures_util::{StreamExt, TryStreamExt, stream};
use tokio::io::{AsyncRead, AsyncReadExt, BufReader};
use tokio::sync::OwnedSemaphorePermit;
use tokio::task::JoinHandle;
use tokio_util::io::{ReaderStream, StreamReader};

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::domain::{Forge, Grant, Level};
use crate::git::read::BlobView;
use crate::git::runner::{ArchiveFormat, GitChild};

const STDERR_CAP: u64 = 64 * 1024;

/// Feeds `body` (gunzipped when `gzip`) into the child's stdin on its own task.
pub fn feed_stdin(child: &mut GitChild, body: Body, gzip: bool) {
    let Some(mut stdin) = child.child.stdin.take() else {
        return;
    };
    let reader = StreamReader::new(body.into_data_stream().map_err(io::Error::other));
    tokio::spawn(async move {
        let result = if gzip {
            tokio::io::copy(&mut GzipDecoder::new(BufReader::new(reader)), &mut stdin).await
        } else {
            tokio::io::copy(&mut BufReader::new(reader), &mut stdin).await
        };
        if let Err(e) = result {
            tracing::debug!(error = %e, "request body ended early");
        }
        // Dropping stdin closes it: git sees the end of the request.
    });
}

/// Collects up to 64 KiB of stderr for the log; git may write more, which is drained.
fn collect_stderr(child: &mut GitChild) -> JoinHandle<Vec<u8>> {
    let stderr = child.child.stderr.take();
    tokio::spawn(async move {
        let mut buf = Vec::new();
        if let Some(mut err) = stderr {
            let _ = (&mut err).take(STDERR_CAP).read_to_end(&mut buf).await;
            let _ = tokio::io::copy(&mut err, &mut tokio::io::sink()).await;
        }
        buf
    })
}

struct Running {
    child: GitChild,
    stderr: JoinHandle<Vec<u8>>,
    _permit: Option<OwnedSemaphorePermit>,
    what: &'static str,
}

impl Running {
    async fn finish(mut self) {
        let status = tokio::time::timeout_at(self.child.deadline, self.child.child.wait()).await;
        let stderr = self.stderr.await.unwrap_or_default();
        let ok = matches!(status, Ok(Ok(s)) if s.success());
        if !ok {
            let status: Option<ExitStatus> = status.ok().and_then(Result::ok);
            tracing::warn!(
                what = self.what,
                ?status,
                stderr = %String::from_utf8_lossy(&stderr).trim(),
                "git exited unsuccessfully"
            );
        }
    }
}

/// The child's stdout as a body stream. The permit (if any) is held until git exits.
pub fn stdout_body(
    mut child: GitChild,
    prefix: Option<Bytes>,
    permit: Option<OwnedSemaphorePermit>,
    what: &'static str,
) -> Body {
    let stdout: Box<dyn AsyncRead + Send + Unpin> = match child.child.stdout.take() {
        Some(out) => Box::new(out),
        None => Box::new(tokio::io::empty()),
    };
    let stderr = collect_stderr(&mut child);
    let deadline = child.deadline;
    let running = Running {
        child,
        stderr,
        _permit: permit,
        what,
    };
    let out = ReaderStream::with_capacity(stdout, 64 * 1024);
    let body = stream::unfold((out, Some(running)), move |(mut out, running)| async move {
        let running = running?;
        match tokio::time::timeout_at(deadline, out.next()).await {
            Ok(Some(Ok(bytes))) => {
                running.child.sent.add(bytes.len());
                Some((Ok(bytes), (out, Some(running))))
            }
            Ok(Some(Err(e))) => Some((Err(e), (out, None))),
            Ok(None) => {
                running.finish().await;
                None
            }
            Err(_) => {
                tracing::warn!(what, "git ran past its deadline; killed");
                Some((
                    Err(io::Error::new(io::ErrorKind::TimedOut, "git timed out")),
                    (out, None),
                ))
            }
        }
    });
    let prefix = stream::iter(prefix.map(Ok::<Bytes, io::Error>));
    Body::from_stream(prefix.chain(body))
}

/// A pkt-line, as git frames the service announcement in `info/refs`.
pub fn pkt_line(text: &str) -> Bytes {
    Bytes::from(format!("{:04x}{text}", text.len() + 4))
}

/// A blob served raw (web `/raw/` and the API's `raw`/`media`) is read into memory up to this
/// size; a larger one is streamed from git, a buffer at a time.
pub const RAW_IN_MEMORY: u64 = 1024 * 1024;

/// A header value from text that may not be one (a file name with odd bytes): "attachment".
fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

/// A raw blob as an HTTP answer: its bytes (read up to `RAW_IN_MEMORY`) or git's stream of
/// them, with the type and disposition the caller chose, `nosniff` and the sandboxing `csp`,
/// so a file served from a repository can never act as a page of the forge.
pub async fn raw_response<L: Level>(
    forge: &Forge,
    grant: &Grant<L>,
    blob: BlobView,
    content_type: &str,
    disposition: &str,
    csp: &'static str,
) -> Result<Response, crate::domain::Error> {
    let mut res = if blob.size > RAW_IN_MEMORY {
        let (child, slot) = forge.stream_blob(grant, &blob.id).await?;
        let mut res = Response::new(stdout_body(child, None, Some(slot), "raw"));
        res.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(blob.size));
        res
    } else {
        blob.data.into_response()
    };
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, header_value(content_type));
    h.insert(header::CONTENT_DISPOSITION, header_value(disposition));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    Ok(res)
}

/// An archive's name (`REV.tar.gz`, `REV.zip`) split into the revision and the format; None
/// for any other ending.
pub fn archive_name(name: &str) -> Option<(String, ArchiveFormat)> {
    if let Some(stem) = name.strip_suffix(".tar.gz") {
        Some((stem.to_owned(), ArchiveFormat::TarGz))
    } else {
        name.strip_suffix(".zip")
            .map(|stem| (stem.to_owned(), ArchiveFormat::Zip))
    }
}

/// The top folder inside an archive of `repo` at `rev`, its quotes and slashes made dashes
/// (it also names the download).
pub fn archive_prefix(repo: &str, rev: &str) -> String {
    format!("{repo}-{}", rev.replace(['/', '"', '\\'], "-"))
}

/// git's archive stream as a download named `prefix.FORMAT`.
pub fn archive_response(
    child: GitChild,
    slot: OwnedSemaphorePermit,
    prefix: &str,
    format: ArchiveFormat,
) -> Response {
    let content_type = match format {
        ArchiveFormat::TarGz => "application/gzip",
        ArchiveFormat::Zip => "application/zip",
    };
    let body = stdout_body(child, None, Some(slot), "archive");
    let disposition = format!("attachment; filename=\"{prefix}.{}\"", format.as_str());
    let mut res = Response::new(body);
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_DISPOSITION, header_value(&disposition));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkt_line_counts_its_own_header() {
        assert_eq!(
            &pkt_line("# service=git-upload-pack\n")[..],
            b"001e# service=git-upload-pack\n"
        );
    }

    proptest::proptest! {
        #![proptest_config(crate::fuzz::config())]

        /// The 4-hex-digit header is the whole line's length, header included.
        #[test]
        fn pkt_lines_frame_any_text(text in "\\PC{0,300}") {
            let line = pkt_line(&text);
            let len = usize::from_str_radix(std::str::from_utf8(&line[..4]).unwrap(), 16).unwrap();
            proptest::prop_assert_eq!(len, line.len());
            proptest::prop_assert_eq!(&line[4..], text.as_bytes());
        }
    }
}
