//! A loopback HTTP proxy in front of an S3 server (s3s-fs) that rewrites
//! what its listings say: a store whose ListObjectsV2 answers carry the keys
//! and sizes a test chooses (keys s3s-fs cannot hold as files, such as `..`
//! or `//`, or sizes that lie), while every other request reaches the real
//! server unchanged. Request signatures stay valid: only responses change.
//!
//! One request per connection: each request goes upstream as HTTP/1.0 (so
//! the answer ends when the server closes, never chunked) and comes back
//! with `Connection: close`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

type Rewrite = dyn Fn(&str) -> String + Send + Sync;

pub struct ListingProxy {
    pub port: u16,
}

impl ListingProxy {
    /// Proxies to the server on `upstream`; every ListObjectsV2 answer's body
    /// goes through `rewrite`. The proxy lives as long as the test process.
    pub fn start(upstream: u16, rewrite: impl Fn(&str) -> String + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().expect("addr").port();
        let rewrite: Arc<Rewrite> = Arc::new(rewrite);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let rewrite = rewrite.clone();
                std::thread::spawn(move || {
                    let _ = serve(client, upstream, &*rewrite);
                });
            }
        });
        Self { port }
    }
}

fn serve(client: TcpStream, upstream: u16, rewrite: &Rewrite) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut head = Vec::new();
    let mut length = 0usize;
    let mut target = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if head.is_empty() {
            target = line.clone();
            // HTTP/1.0 upstream: the answer is delimited by the close.
            head.push(line.replacen("HTTP/1.1", "HTTP/1.0", 1));
            continue;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("connection:") {
            continue;
        }
        let end = line == "\r\n";
        head.push(line);
        if end {
            break;
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    let mut server = TcpStream::connect(("127.0.0.1", upstream))?;
    server.write_all(head.concat().as_bytes())?;
    server.write_all(&body)?;
    let mut answer = Vec::new();
    server.read_to_end(&mut answer)?;
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").map_or(answer.len(), |i| i + 4);
    let (answer_head, answer_body) = answer.split_at(split);
    let answer_head = String::from_utf8_lossy(answer_head);
    let ok = answer_head.lines().next().is_some_and(|status| status.contains(" 200 "));
    let listing = ok && target.contains("list-type=2");
    let body = if listing { rewrite(&String::from_utf8_lossy(answer_body)).into_bytes() } else { answer_body.to_vec() };
    let mut out = String::new();
    for (i, line) in answer_head.split("\r\n").enumerate() {
        let lower = line.to_ascii_lowercase();
        if line.is_empty() || lower.starts_with("connection:") {
            continue;
        }
        if lower.starts_with("content-length:") && listing {
            out.push_str(&format!("content-length: {}\r\n", body.len()));
        } else if i == 0 {
            out.push_str(&format!("{}\r\n", line.replacen("HTTP/1.0", "HTTP/1.1", 1)));
        } else {
            out.push_str(&format!("{line}\r\n"));
        }
    }
    out.push_str("connection: close\r\n\r\n");
    let mut client = client;
    client.write_all(out.as_bytes())?;
    client.write_all(&body)?;
    client.flush()
}
