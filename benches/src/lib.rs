//! Shared helpers for the benchmarks in `benches/`:
//!
//! - [`LatencyProxy`]: a loopback TCP proxy that delays every chunk of bytes
//!   by a fixed one-way latency in each direction, so calls to the local AWS
//!   emulator (moto, ~5 ms per call) cost what a call to a real AWS endpoint
//!   costs (tens of milliseconds), and the benchmark shows what concurrency
//!   buys.
//! - [`Samples`]: repeated measurements with their median, min and max.
//! - [`measure`]: an SDK interceptor counting attempts (retries), the chain
//!   of calls of a critical path, and peak RSS / CPU time from `/proc`.
//! - [`scenario`]: the financial-dashboard demo apps and a fleet of N apps
//!   in one environment, and the moto account warm-up.
//!
//! Run the benchmarks with `cargo bench -p fargate-benches`, and the scale
//! benchmark with `cargo run -p fargate-benches --bin scale`; see
//! `BENCHMARKS.md` at the workspace root for the results.
#![deny(missing_docs)]

pub mod measure;
pub mod scenario;

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// How many chunks may be in flight (delayed) per direction of one connection
/// before the reader waits: bounds the proxy's memory.
const MAX_CHUNKS_IN_FLIGHT: usize = 64;

/// Read size per chunk.
const CHUNK: usize = 16 * 1024;

/// A TCP proxy on `127.0.0.1:<free port>` to one upstream address, adding a
/// fixed latency to each direction: every chunk read from one side is written
/// to the other side `one_way` later. Chunks are delayed independently (a
/// pipe with latency, not a bandwidth limit), so a request/response round trip
/// costs `2 × one_way` more than without the proxy.
///
/// Dropping the proxy stops it: the accept loop and every connection it
/// relays are aborted.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use std::time::Duration;
/// let proxy = fargate_benches::LatencyProxy::start("127.0.0.1:5000", Duration::from_millis(25)).await?;
/// println!("send requests to {}", proxy.url());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct LatencyProxy {
    addr: SocketAddr,
    one_way: Duration,
    accept: JoinHandle<()>,
}

impl LatencyProxy {
    /// Listen on a free loopback port and relay each connection to `upstream`
    /// (`host:port`), delaying each direction by `one_way`.
    ///
    /// # Errors
    /// When no loopback port can be bound.
    pub async fn start(upstream: impl Into<String>, one_way: Duration) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let accept = tokio::spawn(accept_loop(listener, upstream.into(), one_way));
        Ok(Self {
            addr,
            one_way,
            accept,
        })
    }

    /// The address the proxy listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`, for an SDK endpoint URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The latency added to each direction.
    pub fn one_way(&self) -> Duration {
        self.one_way
    }
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        // The connections live in the accept task's JoinSet: aborting it drops
        // the set, which aborts them all.
        self.accept.abort();
    }
}

async fn accept_loop(listener: TcpListener, upstream: String, one_way: Duration) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => {
                    connections.spawn(relay(client, upstream.clone(), one_way));
                }
                // Out of file descriptors or a reset before accept: try again shortly.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            // Reap finished connections so the set does not grow without bound.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn relay(client: TcpStream, upstream: String, one_way: Duration) {
    let Ok(server) = TcpStream::connect(&upstream).await else {
        // The client sees its connection closed.
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::join!(
        delayed_pipe(client_read, server_write, one_way),
        delayed_pipe(server_read, client_write, one_way),
    );
}

/// Copy `from` to `to`, each chunk written `delay` after it was read. Ends
/// when `from` reaches EOF (then `to` is shut down for writing, passing the
/// half-close on) or either side fails.
async fn delayed_pipe<R, W>(mut from: R, mut to: W, delay: Duration)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(MAX_CHUNKS_IN_FLIGHT);
    let read = async move {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let chunk = buf[..n].to_vec();
                    if tx.send((Instant::now() + delay, chunk)).await.is_err() {
                        break;
                    }
                }
            }
        }
        // Dropping `tx` lets the writer drain what is in flight and finish.
    };
    let write = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(read, write);
}

/// Repeated measurements of one quantity.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Samples(Vec<f64>);

impl Samples {
    /// No samples yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add one measurement.
    pub fn push(&mut self, value: f64) {
        self.0.push(value);
    }

    /// The measurements, in the order they were taken.
    pub fn values(&self) -> &[f64] {
        &self.0
    }

    /// The median (the mean of the two middle values for an even count);
    /// `None` without samples.
    pub fn median(&self) -> Option<f64> {
        let sorted = self.sorted();
        let n = sorted.len();
        if n == 0 {
            return None;
        }
        let upper = *sorted.get(n / 2)?;
        if n % 2 == 1 {
            Some(upper)
        } else {
            Some((*sorted.get(n / 2 - 1)? + upper) / 2.0)
        }
    }

    /// The smallest measurement.
    pub fn min(&self) -> Option<f64> {
        self.sorted().first().copied()
    }

    /// The largest measurement.
    pub fn max(&self) -> Option<f64> {
        self.sorted().last().copied()
    }

    /// `median [min–max]` with `decimals` decimals, or `-` without samples.
    pub fn display(&self, decimals: usize) -> String {
        match (self.median(), self.min(), self.max()) {
            (Some(m), Some(lo), Some(hi)) if lo == hi => format!("{m:.decimals$}"),
            (Some(m), Some(lo), Some(hi)) => {
                format!("{m:.decimals$} [{lo:.decimals$}–{hi:.decimals$}]")
            }
            _ => "-".to_string(),
        }
    }

    fn sorted(&self) -> Vec<f64> {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        v
    }
}

impl FromIterator<f64> for Samples {
    fn from_iter<I: IntoIterator<Item = f64>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_min_max_of_odd_and_even_counts() {
        let s: Samples = [3.0, 1.0, 2.0].into_iter().collect();
        assert_eq!(
            (s.median(), s.min(), s.max()),
            (Some(2.0), Some(1.0), Some(3.0))
        );
        let s: Samples = [4.0, 1.0, 2.0, 3.0].into_iter().collect();
        assert_eq!(s.median(), Some(2.5));
        assert_eq!(Samples::new().median(), None);
        assert_eq!(s.display(1), "2.5 [1.0–4.0]");
        let same: Samples = [7.0, 7.0].into_iter().collect();
        assert_eq!(same.display(0), "7");
    }

    /// An upstream that answers each line with the line upper-cased, then
    /// closes when the client half-closes.
    async fn upper_echo() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut all = Vec::new();
                    // Errors are the test's business (a dropped proxy resets).
                    let _ = s.read_to_end(&mut all).await;
                    let _ = s.write_all(&all.to_ascii_uppercase()).await;
                    let _ = s.shutdown().await;
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn proxy_relays_both_ways_and_passes_half_close_on() {
        let upstream = upper_echo().await;
        let proxy = LatencyProxy::start(upstream.to_string(), Duration::from_millis(1))
            .await
            .unwrap();
        let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
        c.write_all(b"describe").await.unwrap();
        c.write_all(b"services").await.unwrap();
        c.shutdown().await.unwrap();
        let mut answer = Vec::new();
        c.read_to_end(&mut answer).await.unwrap();
        assert_eq!(answer, b"DESCRIBESERVICES");
    }

    #[tokio::test]
    async fn dropping_the_proxy_closes_its_connections_and_port() {
        let upstream = upper_echo().await;
        let proxy = LatencyProxy::start(upstream.to_string(), Duration::from_millis(1))
            .await
            .unwrap();
        let addr = proxy.addr();
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"x").await.unwrap();
        drop(proxy);
        // The relay task is gone: the open connection reads EOF (or a reset)
        // although neither the client nor the upstream closed it.
        let mut buf = [0u8; 8];
        let n = c.read(&mut buf).await.unwrap_or(0);
        assert_eq!(n, 0);
        // And nothing accepts new connections any more.
        tokio::task::yield_now().await;
        assert!(TcpStream::connect(addr).await.is_err());
    }
}
