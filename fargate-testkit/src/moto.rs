//! The moto server for tests: one AWS-compatible endpoint per test binary, on a loopback port.
//!
//! The harness itself (install, start on a free port, die with the test binary) is
//! [`fargate_local::moto`](mod@fargate_local::moto); this module is its test-facing face, which
//! **panics** with the reason and moto's output when moto cannot be installed or started, in
//! every test that asks for it: tests never skip silently.
//!
//! Start with [`moto()`] (or [`MotoServer::shared`] outside async code); most tests want
//! [`context()`](crate::context) instead, which adds a private AWS account per test. A heavy
//! test can have a server of its own with [`extra_moto()`], so that two cores serve moto.
//! `FARGATE_MOTO_SERVER=/path/to/moto_server` uses that binary; otherwise moto
//! [`MOTO_VERSION`] is installed once under the cargo target directory,
//! `<target>/fargate-local/moto-<version>/`.

use std::sync::OnceLock;

pub use fargate_local::moto::{MOTO_VERSION, MotoError, Transition};

/// The shared moto server of this test binary; see the [module docs](self).
#[derive(Debug)]
pub struct MotoServer {
    local: &'static fargate_local::MotoServer,
}

static SERVER: OnceLock<MotoServer> = OnceLock::new();

fn wrap(local: &'static fargate_local::MotoServer) -> &'static MotoServer {
    SERVER.get_or_init(|| MotoServer { local })
}

fn cannot_start(why: &MotoError) -> ! {
    panic!(
        "fargate-testkit: moto is needed by this test but {}",
        with_causes(why)
    )
}

/// The error and its sources, `error: cause: cause`.
fn with_causes(error: &MotoError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// The shared moto server of this test binary, started on first use.
///
/// # Panics
///
/// When moto cannot be installed or started; the message says why and shows moto's output.
pub async fn moto() -> &'static MotoServer {
    match fargate_local::moto().await {
        Ok(local) => wrap(local),
        Err(why) => cannot_start(&why),
    }
}

/// A new moto server of its own, beside the shared one, for a test that would otherwise keep
/// the shared server's one core busy on its own (moto is one Python process): a sweep of many
/// applies. It serves the rest of the test binary's life and dies with it; give it to
/// [`TestContext::new`](crate::TestContext::new). Each call starts one more server.
///
/// # Panics
///
/// When moto cannot be installed or started; the message says why and shows moto's output.
pub async fn extra_moto() -> &'static MotoServer {
    match fargate_local::extra_moto().await {
        // Leaked on purpose: a server for the rest of the process, like the shared one.
        Ok(local) => Box::leak(Box::new(MotoServer {
            local: Box::leak(Box::new(local)),
        })),
        Err(why) => cannot_start(&why),
    }
}

impl MotoServer {
    /// The shared moto server of this test binary, started on first use (blocking).
    ///
    /// # Panics
    ///
    /// When moto cannot be installed or started; the message says why and shows moto's output.
    /// Every later call panics with the same message without trying again.
    pub fn shared() -> &'static MotoServer {
        match fargate_local::MotoServer::shared() {
            Ok(local) => wrap(local),
            Err(why) => cannot_start(&why),
        }
    }

    /// The server as `fargate_local` sees it (its calls return errors instead of panicking).
    pub fn local(&self) -> &'static fargate_local::MotoServer {
        self.local
    }

    /// The endpoint URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        self.local.url()
    }

    /// The loopback port the server listens on.
    pub fn port(&self) -> u16 {
        self.local.port()
    }

    /// The process id of `moto_server`.
    pub fn pid(&self) -> u32 {
        self.local.pid()
    }

    /// The last lines moto printed (its request log), for diagnosing a test.
    pub fn output_tail(&self) -> String {
        self.local.output_tail()
    }

    /// Sets how moto moves a model through its states, e.g. `ecs::task`; see
    /// <https://docs.getmoto.org/en/latest/docs/configuration/state_transition/index.html>.
    ///
    /// The setting is **server-wide**, shared by every test of the binary whatever its account:
    /// use it only in a test binary whose tests agree on it.
    ///
    /// # Panics
    ///
    /// When moto does not accept the request.
    pub async fn set_transition(&self, model: &str, transition: Transition) {
        if let Err(e) = self.local.set_transition(model, transition).await {
            panic!("fargate-testkit: {}", with_causes(&e));
        }
    }

    /// Removes a transition set with [`set_transition`](Self::set_transition); moto's default
    /// applies again. Server-wide, like `set_transition`.
    ///
    /// # Panics
    ///
    /// When moto does not accept the request.
    pub async fn unset_transition(&self, model: &str) {
        if let Err(e) = self.local.unset_transition(model).await {
            panic!("fargate-testkit: {}", with_causes(&e));
        }
    }
}
