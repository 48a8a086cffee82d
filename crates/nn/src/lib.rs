//! fugato's learning side, on burn: the layers and the burn glue of the CPU kernels
//! ([`fused`]), the model families (sequence models, the encoder–decoder, the GAN), the
//! training driver, checkpoints, sampling, composing and the bundled models.
//!
//! ```
//! use fugato_nn::compose::{ComposeOptions, compose};
//!
//! let device = fugato_nn::default_device();
//! let name = "jsb-chorales".as_ref();
//! let model = fugato_nn::bundled::load(name, &device)?.into_sequence(name)?;
//! let piece = compose(&model, &ComposeOptions { bars: Some(2), seed: 3, ..Default::default() })?;
//! assert!(piece.score.n_notes() > 0);
//! # Ok::<(), fugato_nn::NnError>(())
//! ```

pub use burn::tensor::Device;

pub mod batch;
pub mod bundled;
pub mod checkpoint;
pub mod classify;
pub mod compose;
pub mod evaluate;
pub mod fused;
pub mod gan;
pub mod infill;
pub mod jam;
pub mod model;
pub mod preset;
pub mod sample;
pub mod seq2seq;
pub mod stream;
pub mod train;

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum NnError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: invalid JSON at line {line}, column {column}: {message}")]
    Json { path: PathBuf, line: usize, column: usize, message: String },
    #[error("{path}: {message}")]
    Dataset { path: PathBuf, message: String },
    #[error(transparent)]
    Repr(#[from] fugato_repr::ReprError),
    #[error(transparent)]
    Score(#[from] fugato_score::ScoreError),
    /// A composing or sampling option that cannot work with this model.
    #[error("{0}")]
    Options(String),
    /// A control that does not fit this model (e.g. a style it does not know).
    #[error(transparent)]
    Control(#[from] crate::compose::ControlError),
    #[error(transparent)]
    Data(#[from] fugato_data::DataError),
    /// The work was stopped from outside (a server's request timed out or its client left).
    #[error("stopped before it was done")]
    Cancelled,
}

impl NnError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> NnError {
        let path = path.into();
        move |source| NnError::Io { path, source }
    }

    pub(crate) fn dataset(path: impl Into<PathBuf>, message: impl Into<String>) -> NnError {
        NnError::Dataset { path: path.into(), message: message.into() }
    }
}

/// The largest sizes a model's configuration may name: a checkpoint whose
/// `checkpoint.json` asks for more is refused before anything is allocated for it (the
/// bundled models are far below: hidden 256, 3 layers, 577 tokens).
pub mod sizes {
    /// Units of a recurrent layer, an embedding, a NADE's hidden layer.
    pub const MAX_WIDTH: usize = 8192;
    pub const MAX_LAYERS: usize = 64;
    /// Tokens of a vocabulary, piano-roll units, styles, places in a bar.
    pub const MAX_VOCAB: usize = 65_536;
    /// Frames of a GAN segment.
    pub const MAX_FRAMES: usize = 4096;
    /// Piano-roll grid steps per quarter note.
    pub const MAX_STEPS_PER_QUARTER: u32 = 960;

    /// Each `(name, value, max)` at least 1 and at most its max, or why not.
    pub fn check(sizes: &[(&str, usize, usize)]) -> Result<(), String> {
        match sizes.iter().find(|(_, value, max)| !(1..=*max).contains(value)) {
            Some((name, value, max)) => Err(format!("{name} must be 1..={max}, but was {value}")),
            None => Ok(()),
        }
    }
}

/// The device fugato computes on: the first CUDA GPU when built with the `cuda` feature and
/// the driver reports one (unless `FUGATO_DEVICE=cpu`), else the CPU through burn's flex
/// backend. A `cuda` build without a usable GPU says so once on stderr and uses the CPU.
pub fn default_device() -> burn::tensor::Device {
    #[cfg(feature = "cuda")]
    if std::env::var("FUGATO_DEVICE").as_deref() != Ok("cpu") {
        static GPU: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        let usable = *GPU.get_or_init(|| match fugato_kernels::cuda::gpu() {
            Ok(()) => true,
            Err(why) => {
                eprintln!("fugato: built with cuda, but {why}; computing on the CPU");
                false
            }
        });
        if usable {
            return burn::tensor::Device::cuda(0);
        }
    }
    burn::tensor::Device::flex()
}
