//! The moto server: one AWS-compatible endpoint per process, on a loopback port.
//!
//! Start it with [`moto()`] (or [`MotoServer::shared`] outside async code); most programs want
//! [`account()`](crate::account()) instead, which adds a fresh AWS account on the server.
//!
//! moto is one Python process and answers on one core. A program that keeps it busy from
//! several places at once (a test binary with a heavy test) can start more servers with
//! [`extra_moto()`] (or [`MotoServer::start`]): each is a server of its own, beside the shared
//! one, installed and started the same way, and stopped when it is dropped.
//!
//! # Where moto comes from
//!
//! - `FARGATE_MOTO_SERVER=/path/to/moto_server` uses that binary as is;
//! - otherwise moto [`MOTO_VERSION`] is installed once into a Python venv,
//!   `<dir>/fargate-local/moto-<version>/`, with `python3 -m venv` and
//!   `pip install 'moto[server]==<version>'` (about a minute; `FARGATE_PYTHON` picks another
//!   interpreter). `<dir>` is the cargo target directory of the running program when it runs
//!   from one (`cargo run`, `cargo test`), otherwise the user's cache directory
//!   (`$XDG_CACHE_HOME`, or `~/.cache`), so an installed `fargate` binary reuses one install. An
//!   exclusive file lock makes parallel processes wait for one install, and a marker file is
//!   written only after a successful one.
//!
//! # How it runs
//!
//! The server listens on `127.0.0.1` on a free port, with `MOTO_IAM_LOAD_MANAGED_POLICIES=true`
//! (AWS-managed policies exist), `MOTO_ECS_SERVICE_RUNNING=2` (a new ECS service has
//! `runningCount` 2 and a COMPLETED deployment) and `MOTO_EC2_LOAD_DEFAULT_AMIS=false` (no
//! catalogue of EC2 machine images, which Fargate never uses, is loaded into each new account:
//! a third of the first EC2 call of an account, measured) and `MOTO_ACM_VALIDATION_WAIT=0` (an
//! ACM certificate with DNS validation is ISSUED at once, not after moto's default 60 s). It is started by a dedicated thread
//! that lives as long as the process and with `PR_SET_PDEATHSIG = SIGKILL`, so it dies with the
//! process that started it, however that process ends; no `moto_server` outlives its program.
//!
//! When moto cannot be installed or started, [`moto()`] returns a [`MotoError`] that says why
//! (with the tail of moto's output); every later call returns the same error without trying
//! again.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::thread;
use std::time::{Duration, Instant};

/// The moto version installed (PyPI `moto[server]`).
pub const MOTO_VERSION: &str = "5.2.5";

/// How long moto may take to answer HTTP after being started.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Lines of moto's output kept for error messages.
const LOG_LINES: usize = 60;
/// Name of the file that marks a complete install.
const MARKER: &str = ".fargate-local-installed";

static SERVER: OnceLock<Result<MotoServer, MotoError>> = OnceLock::new();

/// Why the moto server could not be installed, started or used.
///
/// Cheap to clone: the shared server remembers its start-up error and returns it to every caller.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum MotoError {
    /// `FARGATE_MOTO_SERVER` names something that is not a file.
    #[error(
        "FARGATE_MOTO_SERVER={} is not a file; unset it to let fargate-local install moto {MOTO_VERSION} itself",
        path.display()
    )]
    NotAFile {
        /// The path given.
        path: PathBuf,
    },
    /// Installing moto into its venv failed.
    #[error("cannot install moto {MOTO_VERSION} into {}: {step}{detail}", venv.display())]
    Install {
        /// The venv directory.
        venv: PathBuf,
        /// The step that failed (for example "create a Python venv").
        step: String,
        /// What it printed or why it failed, starting with `: ` or a new line; may be empty.
        detail: String,
    },
    /// No free loopback port could be found.
    #[error("cannot find a free loopback port for moto")]
    NoFreePort {
        /// The socket error.
        #[source]
        source: Arc<io::Error>,
    },
    /// The `moto_server` process could not be started.
    #[error("cannot start the moto server {}", binary.display())]
    Spawn {
        /// The binary.
        binary: PathBuf,
        /// Why.
        #[source]
        source: Arc<io::Error>,
    },
    /// moto exited before it answered HTTP.
    #[error(
        "the moto server {} exited ({status}) before answering on port {port}; its last output:\n{output}",
        binary.display()
    )]
    Exited {
        /// The binary.
        binary: PathBuf,
        /// How it exited.
        status: String,
        /// The port it was to listen on.
        port: u16,
        /// Its last lines of output, indented.
        output: String,
    },
    /// moto did not answer HTTP in time.
    #[error(
        "the moto server {} did not answer on port {port} within {} s; its last output:\n{output}",
        binary.display(), timeout.as_secs()
    )]
    NotReady {
        /// The binary.
        binary: PathBuf,
        /// The port it was to listen on.
        port: u16,
        /// How long it was given.
        timeout: Duration,
        /// Its last lines of output, indented.
        output: String,
    },
    /// A request to moto's own API (`/moto-api/...`) failed.
    #[error("{method} {path} to the moto server failed")]
    Request {
        /// The HTTP method.
        method: &'static str,
        /// The path.
        path: &'static str,
        /// The I/O error.
        #[source]
        source: Arc<io::Error>,
    },
    /// moto refused a request to its own API.
    #[error("the moto server answered {status} to {method} {path}: {body}")]
    Rejected {
        /// The HTTP method.
        method: &'static str,
        /// The path.
        path: &'static str,
        /// The HTTP status.
        status: u16,
        /// The response body.
        body: String,
    },
    /// The URL given for a moto server that is already running is not plain HTTP on loopback.
    #[error(
        "{url} is not on this machine: a running moto server is given as \
         http://127.0.0.1:<port> (or localhost, [::1])"
    )]
    NotLoopback {
        /// The URL given.
        url: String,
    },
    /// No moto server answers at the URL given for one that is already running.
    #[error("no moto server answers at {url}")]
    NotRunning {
        /// The URL given.
        url: String,
        /// Why.
        #[source]
        source: Arc<io::Error>,
    },
    /// The task starting or calling moto was cancelled (the async runtime is shutting down).
    #[error("starting the moto server was interrupted: {reason}")]
    Interrupted {
        /// What the runtime said.
        reason: String,
    },
}

/// A running moto server; see the [module docs](self).
///
/// The shared server ([`moto()`], [`MotoServer::shared`]) lives as long as the process. A
/// server from [`MotoServer::start`] or [`extra_moto()`] is stopped when it is dropped (and in
/// any case dies with the process).
#[derive(Debug)]
pub struct MotoServer {
    url: String,
    port: u16,
    pid: u32,
    output: Arc<Output>,
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        // Only a server that is still running: once the keeper thread has seen it exit, its
        // pid may belong to another process.
        if self.output.exit_status().is_none() {
            kill(self.pid);
        }
    }
}

/// The shared moto server of this process, started on first use.
///
/// # Errors
///
/// When moto cannot be installed or started; the error says why and shows moto's output.
pub async fn moto() -> Result<&'static MotoServer, MotoError> {
    if let Some(Ok(server)) = SERVER.get() {
        return Ok(server);
    }
    tokio::task::spawn_blocking(MotoServer::shared)
        .await
        .map_err(|e| MotoError::Interrupted {
            reason: e.to_string(),
        })?
}

/// A new moto server of its own, beside the shared one (installed on first use like it);
/// stopped when dropped. See [`MotoServer::start`].
///
/// # Errors
///
/// When moto cannot be installed or started; the error says why and shows moto's output.
pub async fn extra_moto() -> Result<MotoServer, MotoError> {
    tokio::task::spawn_blocking(MotoServer::start)
        .await
        .map_err(|e| MotoError::Interrupted {
            reason: e.to_string(),
        })?
}

impl MotoServer {
    /// The shared moto server of this process, started on first use (blocking).
    ///
    /// # Errors
    ///
    /// When moto cannot be installed or started; the error says why and shows moto's output.
    /// Every later call returns the same error without trying again.
    pub fn shared() -> Result<&'static MotoServer, MotoError> {
        SERVER
            .get_or_init(start_server)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Starts a new moto server of its own (blocking): not the shared one, on another free
    /// loopback port, with its own state and its own Python process, so that a second core can
    /// serve it. It is stopped when dropped, and dies with the process in any case. Each call
    /// starts one more server (about 0.5–3 s, and ~220 MB).
    ///
    /// # Errors
    ///
    /// When moto cannot be installed or started; the error says why and shows moto's output.
    /// Unlike [`shared`](Self::shared), a failed start is not remembered.
    pub fn start() -> Result<MotoServer, MotoError> {
        start_server()
    }

    /// The endpoint URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The loopback port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The process id of `moto_server`.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The last lines moto printed (its request log), for diagnosing a failure.
    pub fn output_tail(&self) -> String {
        self.output.tail()
    }

    /// Sets how moto moves a model through its states, e.g. `ecs::task`; see
    /// <https://docs.getmoto.org/en/latest/docs/configuration/state_transition/index.html>.
    ///
    /// The setting is **server-wide**, shared by every account on the server.
    ///
    /// # Errors
    ///
    /// When moto cannot be reached or does not accept the request.
    pub async fn set_transition(
        &self,
        model: &str,
        transition: Transition,
    ) -> Result<(), MotoError> {
        let body = serde_json::json!({ "model_name": model, "transition": transition.to_json() });
        self.post("/moto-api/state-manager/set-transition", body)
            .await
    }

    /// Removes a transition set with [`set_transition`](Self::set_transition); moto's default
    /// applies again. Server-wide, like `set_transition`.
    ///
    /// # Errors
    ///
    /// When moto cannot be reached or does not accept the request.
    pub async fn unset_transition(&self, model: &str) -> Result<(), MotoError> {
        let body = serde_json::json!({ "model_name": model });
        self.post("/moto-api/state-manager/unset-transition", body)
            .await
    }

    async fn post(&self, path: &'static str, body: serde_json::Value) -> Result<(), MotoError> {
        let port = self.port;
        let body = body.to_string();
        let answer = tokio::task::spawn_blocking(move || http_request(port, "POST", path, &body))
            .await
            .map_err(|e| MotoError::Interrupted {
                reason: e.to_string(),
            })?;
        match answer {
            Ok((status, _)) if (200..300).contains(&status) => Ok(()),
            Ok((status, body)) => Err(MotoError::Rejected {
                method: "POST",
                path,
                status,
                body,
            }),
            Err(error) => Err(MotoError::Request {
                method: "POST",
                path,
                source: Arc::new(error),
            }),
        }
    }
}

/// How moto advances a model's state; see [`MotoServer::set_transition`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// The final state at once.
    Immediate,
    /// One state further every `times` describe calls.
    Manual {
        /// Describe calls per state.
        times: u32,
    },
    /// One state further every `seconds`.
    Time {
        /// Seconds per state.
        seconds: u32,
    },
}

impl Transition {
    fn to_json(self) -> serde_json::Value {
        match self {
            Transition::Immediate => serde_json::json!({ "progression": "immediate" }),
            Transition::Manual { times } => {
                serde_json::json!({ "progression": "manual", "times": times })
            }
            Transition::Time { seconds } => {
                serde_json::json!({ "progression": "time", "seconds": seconds })
            }
        }
    }
}

/// Finds or installs moto, then starts it (retrying when the chosen port was taken meanwhile).
fn start_server() -> Result<MotoServer, MotoError> {
    let binary = moto_binary()?;
    let mut last_error = None;
    for _ in 0..3 {
        let port = free_port().map_err(|e| MotoError::NoFreePort {
            source: Arc::new(e),
        })?;
        match launch(&binary, port) {
            Ok(server) => return Ok(server),
            Err(Launch::PortTaken(why)) => last_error = Some(why),
            Err(Launch::Failed(why)) => return Err(why),
        }
    }
    Err(last_error.unwrap_or_else(|| MotoError::NoFreePort {
        source: Arc::new(io::Error::other("every port tried was taken")),
    }))
}

fn free_port() -> io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

enum Launch {
    /// Another process took the port between our probe and moto's bind.
    PortTaken(MotoError),
    Failed(MotoError),
}

/// Starts moto on `port` and waits until it answers HTTP.
fn launch(binary: &Path, port: u16) -> Result<MotoServer, Launch> {
    let started = Instant::now();
    let mut command = Command::new(binary);
    command
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        .env("MOTO_ECS_SERVICE_RUNNING", "2")
        .env("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        .env("MOTO_ACM_VALIDATION_WAIT", "0")
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    die_with_parent(&mut command);

    let (pid, output) = spawn_on_keeper_thread(command).map_err(|e| {
        Launch::Failed(MotoError::Spawn {
            binary: binary.to_path_buf(),
            source: Arc::new(e),
        })
    })?;

    let deadline = started + READY_TIMEOUT;
    loop {
        if let Some(status) = output.exit_status() {
            let tail = output.tail();
            let port_taken = tail.contains("Address already in use");
            let why = MotoError::Exited {
                binary: binary.to_path_buf(),
                status: status.to_string(),
                port,
                output: tail,
            };
            return Err(if port_taken {
                Launch::PortTaken(why)
            } else {
                Launch::Failed(why)
            });
        }
        if let Ok((status, _)) = http_request(port, "GET", "/moto-api/", "")
            && status < 500
        {
            tracing::info!(
                pid,
                port,
                version = MOTO_VERSION,
                seconds = started.elapsed().as_secs_f64(),
                "moto server ready"
            );
            return Ok(MotoServer {
                url: format!("http://127.0.0.1:{port}"),
                port,
                pid,
                output,
            });
        }
        if Instant::now() >= deadline {
            kill(pid);
            return Err(Launch::Failed(MotoError::NotReady {
                binary: binary.to_path_buf(),
                port,
                timeout: READY_TIMEOUT,
                output: output.tail(),
            }));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Asks the kernel to SIGKILL the child when the thread that spawned it exits.
fn die_with_parent(command: &mut Command) {
    let parent = std::process::id();
    #[allow(unsafe_code)]
    // SAFETY: the closure runs in the forked child before exec and only calls the
    // async-signal-safe functions prctl, getppid and _exit; it allocates nothing.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            // The parent died before prctl took effect: do not outlive it.
            if u32::try_from(libc::getppid()).ok() != Some(parent) {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

/// Spawns `command` from a thread that never exits, because `PR_SET_PDEATHSIG` fires when the
/// *spawning thread* ends, and the thread that asked for the server (a test thread, a blocking
/// pool thread) may end long before the process. The thread then drains moto's stderr (so the
/// pipe never fills) into a ring buffer and records its exit.
fn spawn_on_keeper_thread(mut command: Command) -> io::Result<(u32, Arc<Output>)> {
    let (sender, receiver) = mpsc::channel();
    thread::Builder::new()
        .name("moto-server-keeper".to_owned())
        .spawn(move || {
            let mut child = match command.spawn() {
                Ok(child) => child,
                Err(error) => {
                    let _ = sender.send(Err(error));
                    return;
                }
            };
            let output = Arc::new(Output::default());
            let stderr = child.stderr.take();
            let _ = sender.send(Ok((child.id(), Arc::clone(&output))));
            if let Some(stderr) = stderr {
                for line in BufReader::new(stderr).lines() {
                    match line {
                        Ok(line) => output.push(line),
                        Err(_) => break,
                    }
                }
            }
            match child.wait() {
                Ok(status) => output.exited(status),
                Err(error) => output.push(format!("waiting for moto failed: {error}")),
            }
            // Stay alive for the life of the process: nothing else to do.
            loop {
                thread::park();
            }
        })?;
    receiver
        .recv()
        .map_err(|_| io::Error::other("the thread starting moto ended without reporting"))?
}

fn kill(pid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        #[allow(unsafe_code)]
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

/// moto's recent output and exit status, shared with the keeper thread.
#[derive(Debug, Default)]
struct Output {
    lines: Mutex<VecDeque<String>>,
    status: Mutex<Option<ExitStatus>>,
}

impl Output {
    fn push(&self, line: String) {
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        if lines.len() == LOG_LINES {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    fn tail(&self) -> String {
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        if lines.is_empty() {
            return "    (no output)".to_owned();
        }
        lines
            .iter()
            .map(|line| format!("    {line}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn exited(&self, status: ExitStatus) {
        *self.status.lock().unwrap_or_else(|e| e.into_inner()) = Some(status);
    }

    fn exit_status(&self) -> Option<ExitStatus> {
        *self.status.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The address of `url` when it is `http://<loopback host>[:port][/]` (no path, no user, no
/// query): `127.x.y.z`, `localhost` (as 127.0.0.1) or `[::1]`; port 80 when none is given.
pub(crate) fn loopback_address(url: &str) -> Option<SocketAddr> {
    let authority = url.strip_prefix("http://")?;
    let authority = authority.strip_suffix('/').unwrap_or(authority);
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, rest) = v6.split_once(']')?;
        let port = match rest {
            "" => None,
            _ => Some(rest.strip_prefix(':')?),
        };
        (host, port)
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        None => 80,
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
        Some(_) => return None,
    };
    let ip: std::net::IpAddr = match host {
        "localhost" => Ipv4Addr::LOCALHOST.into(),
        _ => host.parse().ok()?,
    };
    ip.is_loopback().then_some(SocketAddr::new(ip, port))
}

/// Checks that a moto server answers at `url`, a loopback URL ([`loopback_address`]).
pub(crate) async fn check_running(url: &str) -> Result<(), MotoError> {
    let address = loopback_address(url).ok_or_else(|| MotoError::NotLoopback {
        url: url.to_owned(),
    })?;
    let answer =
        tokio::task::spawn_blocking(move || http_request_to(address, "GET", "/moto-api/", ""))
            .await
            .map_err(|e| MotoError::Interrupted {
                reason: e.to_string(),
            })?;
    let not_running = |error: io::Error| MotoError::NotRunning {
        url: url.to_owned(),
        source: Arc::new(error),
    };
    match answer {
        Ok((status, _)) if status < 500 => Ok(()),
        Ok((status, _)) => Err(not_running(io::Error::other(format!(
            "GET /moto-api/ answered HTTP {status}"
        )))),
        Err(error) => Err(not_running(error)),
    }
}

/// A minimal HTTP/1.1 request to moto on loopback: `(status, body)`.
fn http_request(port: u16, method: &str, path: &str, body: &str) -> io::Result<(u16, String)> {
    http_request_to(
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        method,
        path,
        body,
    )
}

/// A minimal HTTP/1.1 request to `address`: `(status, body)`.
fn http_request_to(
    address: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_millis(500))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| io::Error::other(format!("not an HTTP response: {response:.200}")))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// The `moto_server` to run: `FARGATE_MOTO_SERVER`, or our own install.
fn moto_binary() -> Result<PathBuf, MotoError> {
    if let Some(path) = std::env::var_os("FARGATE_MOTO_SERVER") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(MotoError::NotAFile { path })
        };
    }
    let venv = install_root()
        .join("fargate-local")
        .join(format!("moto-{MOTO_VERSION}"));
    install(&venv)?;
    Ok(venv.join("bin").join("moto_server"))
}

/// Where the venv goes: the cargo target directory the running program was built in, else the
/// user's cache directory, else the temporary directory.
fn install_root() -> PathBuf {
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1) {
            if dir.file_name().is_some_and(|name| name == "target")
                || dir.join("CACHEDIR.TAG").is_file()
            {
                return dir.to_path_buf();
            }
        }
    }
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")));
    cache.unwrap_or_else(std::env::temp_dir)
}

fn is_installed(venv: &Path) -> bool {
    fs::read_to_string(venv.join(MARKER)).is_ok_and(|v| v.trim() == MOTO_VERSION)
        && venv.join("bin").join("moto_server").is_file()
}

/// Installs moto into the venv `venv` unless a complete install is there.
fn install(venv: &Path) -> Result<(), MotoError> {
    if is_installed(venv) {
        return Ok(());
    }
    let failed = |step: &str, detail: String| MotoError::Install {
        venv: venv.to_path_buf(),
        step: step.to_owned(),
        detail,
    };
    let parent = venv.parent().unwrap_or(venv);
    fs::create_dir_all(parent).map_err(|e| {
        failed(
            &format!("cannot create {}", parent.display()),
            format!(": {e}"),
        )
    })?;
    let lock_path = parent.join(format!("moto-{MOTO_VERSION}.lock"));
    let lock = File::create(&lock_path).map_err(|e| {
        failed(
            &format!("cannot create the lock file {}", lock_path.display()),
            format!(": {e}"),
        )
    })?;
    lock.lock().map_err(|e| {
        failed(
            &format!("cannot lock {}", lock_path.display()),
            format!(": {e}"),
        )
    })?;
    // Another process may have installed it while we waited for the lock.
    if is_installed(venv) {
        return Ok(());
    }

    let started = Instant::now();
    progress_line(&format!(
        "installing moto {MOTO_VERSION} into {} (first run only, about a minute)",
        venv.display()
    ));
    if venv.exists() {
        fs::remove_dir_all(venv).map_err(|e| {
            failed(
                "cannot remove an incomplete earlier install",
                format!(": {e}"),
            )
        })?;
    }
    let python = std::env::var_os("FARGATE_PYTHON").unwrap_or_else(|| OsString::from("python3"));
    run(
        Command::new(&python).arg("-m").arg("venv").arg(venv),
        "cannot create a Python venv (is python3 with the venv module installed? \
         Debian/Ubuntu: apt-get install python3-venv; FARGATE_PYTHON picks another interpreter)",
    )
    .map_err(|(step, detail)| failed(&step, detail))?;
    run(
        Command::new(venv.join("bin").join("python"))
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--quiet",
            ])
            .arg(format!("moto[server]=={MOTO_VERSION}")),
        &format!("pip install moto[server]=={MOTO_VERSION} failed (is PyPI reachable?)"),
    )
    .map_err(|(step, detail)| failed(&step, detail))?;
    if !venv.join("bin").join("moto_server").is_file() {
        return Err(failed(
            "pip installed moto but bin/moto_server is missing",
            String::new(),
        ));
    }
    fs::write(venv.join(MARKER), MOTO_VERSION).map_err(|e| {
        failed(
            &format!("cannot write {}", venv.join(MARKER).display()),
            format!(": {e}"),
        )
    })?;
    progress_line(&format!(
        "installed moto {MOTO_VERSION} in {:.0} s",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// Runs an install step; a failure is `(step, detail)` with the command's output.
fn run(command: &mut Command, step: &str) -> Result<(), (String, String)> {
    let output = command.stdin(Stdio::null()).output().map_err(|e| {
        (
            step.to_owned(),
            format!(": running {command:?} failed: {e}"),
        )
    })?;
    if output.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    let tail: Vec<&str> = text.lines().rev().take(LOG_LINES).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err((
        step.to_owned(),
        format!(
            ": {command:?} exited with {}; its last output:\n    {}",
            output.status,
            tail.join("\n    ")
        ),
    ))
}

/// A progress line on stderr (the install takes a minute: say so). The test harness does not
/// capture it either.
fn progress_line(line: &str) {
    let _ = writeln!(io::stderr(), "fargate-local: {line}");
}
