//! `fugato serve`: a JSON API and a web page over the same library calls as the CLI.
//!
//! Generation and rendering run on blocking threads, at most [`Limits::workers`] at a
//! time, with at most [`Limits::queue`] more waiting; past that a request gets 503 at once.
//! `/api/stream` plays a live session over a WebSocket (`stream.rs`). Every error is JSON, `{"error": "...", "field": "..."}`, naming the bad field where there
//! is one. The page (`assets/index.html`) is compiled into the binary: no CDN, no files.
//!
//! ```no_run
//! let config = fugato_server::ServeConfig::default();
//! fugato_server::serve(config)?; // blocks, serving http://127.0.0.1:8080 until Ctrl-C
//! # Ok::<(), fugato_server::ServerError>(())
//! ```

mod api;
mod stream;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use fugato_nn::bundled::{BUNDLED, Bundled, Kind};
use fugato_nn::checkpoint::Checkpoint;
use thiserror::Error;
use tokio::sync::Semaphore;

pub const DEFAULT_PORT: u16 = 8080;

#[derive(Debug, Error)]
pub enum ServerError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Nn(#[from] fugato_nn::NnError),
}

/// What one request may ask for and how many run at once.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest request body.
    pub body_bytes: usize,
    /// Longest piece, in bars (and in model steps): a shared server's own caps, below the
    /// library's (`fugato_nn::compose::ControlLimits`), checked by the same function.
    pub max_bars: usize,
    pub max_steps: usize,
    /// Longest piece in seconds (at 400 bpm and 4 steps per quarter: 3,200 steps).
    pub max_seconds: f64,
    /// Longest score `/api/render` renders.
    pub max_render_s: f64,
    /// Generations or renders running at once.
    pub workers: usize,
    /// Requests waiting for a worker; one more gets 503.
    pub queue: usize,
    /// A request whose work takes longer (waiting for a worker included) gets 504, and its
    /// work is stopped.
    pub timeout: Duration,
    /// A client must send a request's headers within this, and on an idle connection the
    /// next request's; else the connection is closed.
    pub header_timeout: Duration,
    /// A whole request, its body read included, answers within this (408 past it).
    pub request_timeout: Duration,
    /// Longest a connection stays open, however busy.
    pub connection_timeout: Duration,
    /// Longest a field of text may be (a key, a style, a list of instruments).
    pub max_text: usize,
    /// Live sessions (`/api/stream`) playing at once; one more gets 503.
    pub streams: usize,
    /// Longest a live session plays, in seconds of music.
    pub stream_seconds: f64,
}

impl Limits {
    /// The lengths a generation request may ask for.
    pub fn controls(&self) -> fugato_nn::compose::ControlLimits {
        fugato_nn::compose::ControlLimits {
            max_bars: self.max_bars,
            max_steps: self.max_steps,
            max_seconds: self.max_seconds,
        }
        .capped()
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body_bytes: 2 << 20,
            max_bars: 64,
            max_steps: 4096,
            max_seconds: 120.0,
            max_render_s: 600.0,
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            queue: 32,
            timeout: Duration::from_secs(60),
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(90),
            connection_timeout: Duration::from_secs(600),
            max_text: 1000,
            streams: 8,
            stream_seconds: 3600.0,
        }
    }
}

#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub host: IpAddr,
    pub port: u16,
    /// A folder of checkpoint (or training run) folders, served beside the bundled models
    /// under their folder names.
    pub models_dir: Option<PathBuf>,
    pub limits: Limits,
    /// How uploaded MIDI files (primers, melodies, renders) are read, within which limits.
    pub read: fugato_midi::ReadOptions,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: DEFAULT_PORT,
            models_dir: None,
            limits: Limits::default(),
            read: fugato_midi::ReadOptions::default(),
        }
    }
}

/// Where a served model comes from.
#[derive(Clone, Debug)]
enum Source {
    Bundled(&'static Bundled),
    Folder(PathBuf),
}

#[derive(Clone, Debug)]
struct Model {
    name: String,
    about: String,
    styles: Vec<String>,
    source: Source,
}

impl Model {
    /// An error about this model's files, without where the server keeps them.
    fn hide(&self, e: fugato_nn::NnError) -> String {
        let text = e.to_string();
        match &self.source {
            Source::Folder(path) => text.replace(&path.display().to_string(), &format!("<models>/{}", self.name)),
            Source::Bundled(_) => text,
        }
    }

    /// The sequence model it serves.
    fn load(&self) -> Result<Checkpoint, fugato_nn::NnError> {
        let device = fugato_nn::default_device();
        match &self.source {
            Source::Bundled(b) => b.load(&device)?.into_sequence(Path::new(b.name)),
            Source::Folder(path) => fugato_nn::bundled::load(path, &device)?.into_sequence(path),
        }
    }
}

/// Shared by every request.
pub struct State {
    models: Vec<Model>,
    limits: Limits,
    read: fugato_midi::ReadOptions,
    /// Jobs holding a place: running, stopping after a timeout, or waiting for a worker.
    slots: Arc<Semaphore>,
    /// Jobs that may run at once.
    workers: Arc<Semaphore>,
    /// Jobs whose work is running now (a timed-out job until its work has stopped).
    running: Arc<AtomicUsize>,
    /// Live sessions playing.
    streams: Arc<Semaphore>,
}

impl State {
    /// The bundled models, then each checkpoint folder in `models_dir` (sorted by name).
    pub fn new(models_dir: Option<&Path>, limits: Limits) -> Result<State, ServerError> {
        let mut models: Vec<Model> = BUNDLED
            .iter()
            .filter(|b| b.kind == Kind::Sequence)
            .map(|b| Model {
                name: b.name.into(),
                about: b.about.into(),
                styles: b.styles(),
                source: Source::Bundled(b),
            })
            .collect();
        if let Some(dir) = models_dir {
            let entries = std::fs::read_dir(dir).map_err(|source| ServerError::Io { path: dir.into(), source })?;
            let mut found: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
            found.sort();
            for path in found {
                let ckpt = fugato_nn::checkpoint::resolve(&path);
                // Sequence models only: /api/generate composes with them.
                if fugato_nn::bundled::kind_of(&ckpt).ok() != Some(Kind::Sequence) {
                    continue;
                }
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                if models.iter().any(|m| m.name == name) {
                    continue;
                }
                // The folder's name only: answers never show where the server's files are.
                let about = format!("a checkpoint of the models folder: {name}");
                let meta = std::fs::read_to_string(ckpt.join("checkpoint.json")).unwrap_or_default();
                let styles = fugato_nn::checkpoint::styles_in(&meta);
                models.push(Model { name, about, styles, source: Source::Folder(ckpt) });
            }
        }
        Ok(State {
            models,
            read: fugato_midi::ReadOptions::default(),
            slots: Arc::new(Semaphore::new(limits.workers + limits.queue)),
            workers: Arc::new(Semaphore::new(limits.workers.max(1))),
            running: Arc::new(AtomicUsize::new(0)),
            streams: Arc::new(Semaphore::new(limits.streams)),
            limits,
        })
    }

    /// Reads uploaded MIDI files with `read` (its limits above all).
    pub fn with_read_options(self, read: fugato_midi::ReadOptions) -> State {
        State { read, ..self }
    }

    /// Jobs holding a place now: running, stopping after a timeout, or waiting.
    pub fn in_flight(&self) -> usize {
        self.limits.workers + self.limits.queue - self.slots.available_permits()
    }

    /// Jobs whose work is running now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }
}

/// The routes: the page at `/`, the API under `/api/`.
pub fn router(state: Arc<State>) -> Router {
    let body_limit = state.limits.body_bytes;
    Router::new()
        .route("/", get(api::page))
        .route("/api/health", get(api::health))
        .route("/api/models", get(api::models))
        .route("/api/generate", post(api::generate))
        .route("/api/render", post(api::render))
        .route("/api/harmonize", post(api::harmonize))
        .route("/api/infill", post(api::infill))
        .route("/api/stream", get(stream::stream))
        .fallback(api::not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(state.clone(), api::within_time))
        .with_state(state)
}

/// Serves until Ctrl-C (see [`serve_on`]).
pub fn serve(config: ServeConfig) -> Result<(), ServerError> {
    let state = State::new(config.models_dir.as_deref(), config.limits.clone())?.with_read_options(config.read);
    let state = Arc::new(state);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| ServerError::Io { path: "<tokio runtime>".into(), source })?;
    let addr = SocketAddr::new(config.host, config.port);
    runtime.block_on(async move {
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|source| ServerError::Bind { addr, source })?;
        let local = listener.local_addr().map_err(|source| ServerError::Bind { addr, source })?;
        let names: Vec<&str> = state.models.iter().map(|m| m.name.as_str()).collect();
        println!("fugato serve: http://{local}/ (models: {}; Ctrl-C stops)", names.join(", "));
        serve_on(listener, state, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
        Ok(())
    })
}

/// Serves the connections `listener` accepts until `stop` completes. Each connection must
/// send a request's headers within [`Limits::header_timeout`] (an idle keep-alive
/// connection too) and lives at most [`Limits::connection_timeout`]; each request answers
/// within [`Limits::request_timeout`].
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    state: Arc<State>,
    stop: impl std::future::Future<Output = ()>,
) {
    let limits = state.limits.clone();
    let app = router(state);
    tokio::pin!(stop);
    loop {
        let (stream, _) = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // A connection that failed before it was accepted (reset, out of files): the
                // next one may not.
                Err(_) => continue,
            },
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let (header_timeout, lifetime) = (limits.header_timeout, limits.connection_timeout);
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(header_timeout);
            // Upgrades: /api/stream's WebSockets.
            let connection = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service).with_upgrades();
            // Past its lifetime the connection is dropped, whatever it was doing.
            let _ = tokio::time::timeout(lifetime, connection).await;
        });
    }
}
