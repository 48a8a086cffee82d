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
pub mod compose;
pub mod evaluate;
pub mod fused;
pub mod gan;
pub mod model;
pub mod preset;
pub mod sample;
pub mod seq2seq;
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
    #[error("{0}")]
    Repr(#[from] fugato_repr::ReprError),
    #[error("{0}")]
    Score(#[from] fugato_score::ScoreError),
    /// A composing or sampling option that cannot work with this model.
    #[error("{0}")]
    Options(String),
    /// A control that does not fit this model (e.g. a style it does not know).
    #[error("{0}")]
    Control(#[from] crate::compose::ControlError),
    #[error(transparent)]
    Data(#[from] fugato_data::DataError),
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
