//! `fugato serve`: a JSON API and a web page over the same library calls as the CLI.
//!
//! Generation and rendering run on blocking threads, at most [`Limits::workers`] at a
//! time, with at most [`Limits::queue`] more waiting; past that a request gets 503 at once.
//! Every error is JSON, `{"error": "...", "field": "..."}`, naming the bad field where there
//! is one. The page (`assets/index.html`) is compiled into the binary: no CDN, no files.
//!
//! ```no_run
//! let config = fugato_server::ServeConfig::default();
//! fugato_server::serve(config)?; // blocks, serving http://127.0.0.1:8080 until Ctrl-C
//! # Ok::<(), fugato_server::ServerError>(())
//! ```

mod api;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
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
    #[error("{0}")]
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
    /// A request that takes longer (waiting included) gets 504.
    pub timeout: Duration,
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
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: DEFAULT_PORT,
            models_dir: None,
            limits: Limits::default(),
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
    /// Running plus waiting requests.
    slots: Arc<Semaphore>,
    /// Running requests.
    workers: Arc<Semaphore>,
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
                let about = format!("checkpoint {}", ckpt.display());
                let meta = std::fs::read_to_string(ckpt.join("checkpoint.json")).unwrap_or_default();
                let styles = fugato_nn::checkpoint::styles_in(&meta);
                models.push(Model { name, about, styles, source: Source::Folder(ckpt) });
            }
        }
        Ok(State {
            models,
            slots: Arc::new(Semaphore::new(limits.workers + limits.queue)),
            workers: Arc::new(Semaphore::new(limits.workers.max(1))),
            limits,
        })
    }
}

impl State {
    /// Requests running or waiting for a worker now.
    pub fn in_flight(&self) -> usize {
        self.limits.workers + self.limits.queue - self.slots.available_permits()
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
        .fallback(api::not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// Serves until Ctrl-C.
pub fn serve(config: ServeConfig) -> Result<(), ServerError> {
    let state = Arc::new(State::new(config.models_dir.as_deref(), config.limits.clone())?);
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
        axum::serve(listener, router(state))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|source| ServerError::Io { path: "<server>".into(), source })
    })
}
