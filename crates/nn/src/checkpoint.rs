//! Self-describing checkpoints: a folder with `checkpoint.json` (format, model and
//! training configuration, the data's representation and vocabulary, epoch, step, best
//! validation loss, learning rate), `model.bpk` (weights, burnpack) and, for resuming,
//! `optimizer.bpk`. A folder is written next to its destination and renamed into place.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device};
use fugato_repr::{ReprKind, Vocabulary};
use serde::{Deserialize, Serialize};

use crate::model::{ModelConfig, SequenceModel};
use crate::train::TrainConfig;
use crate::{NnError, staging};

/// Name prefix of the folders a checkpoint is written into before it is renamed into place.
pub(crate) const STAGING_PREFIX: &str = ".fugato-ckpt-";

pub const FORMAT: &str = "fugato-checkpoint";
pub const VERSION: u32 = 1;
const META: &str = "checkpoint.json";
const WEIGHTS: &str = "model.bpk";
const OPTIMIZER: &str = "optimizer.bpk";

/// What the model was trained on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    pub repr: ReprKind,
    pub steps_per_quarter: Option<u32>,
    pub vocabulary: Option<Vocabulary>,
    /// The style names a model with styles knows, in the order of its style ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub styles: Vec<String>,
    pub source: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    pub format: String,
    pub version: u32,
    pub model: ModelConfig,
    pub train: TrainConfig,
    pub data: DataInfo,
    /// Epochs completed.
    pub epoch: usize,
    /// Optimizer steps taken.
    pub step: usize,
    pub best_valid: Option<f64>,
    /// Epochs since the validation loss last improved.
    pub epochs_without_improvement: usize,
    pub lr: f64,
    pub parameters: usize,
    /// Wall time spent training so far.
    pub train_seconds: f64,
}

/// A loaded checkpoint.
pub struct Checkpoint {
    pub meta: CheckpointMeta,
    pub model: SequenceModel,
    pub optimizer: Option<Bytes>,
}

/// Writes a checkpoint folder at `dir`, replacing an older checkpoint there.
pub fn save(
    dir: &Path,
    meta: &CheckpointMeta,
    model: &SequenceModel,
    optimizer: Option<&ModuleOptimizer>,
) -> Result<(), NnError> {
    if dir.exists() && !dir.join(META).is_file() {
        return Err(NnError::dataset(dir, "exists and is not a checkpoint; choose another folder"));
    }
    let tmp = staging::stage(dir, STAGING_PREFIX)?;
    let put = |name: &str, bytes: &[u8]| staging::put(&tmp, name, bytes);
    let weights = model.clone().into_record().into_bytes().map_err(|e| NnError::dataset(dir, e.to_string()))?;
    put(WEIGHTS, &weights)?;
    if let Some(optimizer) = optimizer {
        let bytes = optimizer.into_bytes().map_err(|e| NnError::dataset(dir, e.to_string()))?;
        put(OPTIMIZER, &bytes)?;
    }
    put(META, serde_json::to_string_pretty(meta).expect("plain data").as_bytes())?;
    staging::commit(tmp, dir)
}

/// The styles a `checkpoint.json` names (none where it names none or does not parse; a
/// damaged checkpoint is refused when it is loaded).
pub fn styles_in(meta_text: &str) -> Vec<String> {
    serde_json::from_str::<CheckpointMeta>(meta_text).map(|m| m.data.styles).unwrap_or_default()
}

/// The checkpoint folder `path` names: the folder itself, or the `best/` checkpoint of a
/// training run folder.
pub fn resolve(path: &Path) -> PathBuf {
    if path.join(META).is_file() || !path.join("best").join(META).is_file() {
        path.to_path_buf()
    } else {
        path.join("best")
    }
}

/// A model from the text of a `checkpoint.json` and the bytes of its weights; the paths
/// only name the parts in errors.
pub fn from_parts(
    text: &str,
    meta_path: &Path,
    weights: Vec<u8>,
    weights_path: &Path,
    device: &Device,
) -> Result<(CheckpointMeta, SequenceModel), NnError> {
    let format: serde_json::Value = serde_json::from_str(text).map_err(|e| NnError::Json {
        path: meta_path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    if format.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(NnError::dataset(meta_path, format!("not a {FORMAT} file")));
    }
    if format.get("version").and_then(|v| v.as_u64()) != Some(u64::from(VERSION)) {
        return Err(NnError::dataset(
            meta_path,
            format!("unsupported checkpoint version (this fugato reads {VERSION})"),
        ));
    }
    let meta: CheckpointMeta =
        serde_json::from_value(format).map_err(|e| NnError::dataset(meta_path, e.to_string()))?;
    meta.model.validate().map_err(|e| NnError::dataset(meta_path, e))?;
    let styles = match meta.model.input {
        crate::model::Input::Tokens { styles, .. } => styles,
        crate::model::Input::Frames { .. } => 0,
    };
    if styles != meta.data.styles.len() {
        return Err(NnError::dataset(
            meta_path,
            format!("the model has {styles} styles but data.styles names {}", meta.data.styles.len()),
        ));
    }
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(weights))
        .map_err(|e| NnError::dataset(weights_path, format!("corrupt weights: {e}")))?;
    let model = meta
        .model
        .init(device)
        .try_load_record(record)
        .map_err(|e| NnError::dataset(weights_path, format!("weights do not fit the model in {META}: {e}")))?;
    Ok((meta, model))
}

/// Loads a checkpoint onto `device`. A missing, truncated, corrupt or foreign checkpoint
/// gives an error that names the file and what is wrong with it.
pub fn load(path: &Path, device: &Device) -> Result<Checkpoint, NnError> {
    // A save killed half-way leaves the previous checkpoint parked beside its folder.
    staging::recover(path)?;
    staging::recover(&path.join("best"))?;
    let dir = resolve(path);
    let meta_path = dir.join(META);
    if !meta_path.is_file() {
        return Err(NnError::dataset(&dir, format!("not a fugato checkpoint: no {META}")));
    }
    let text = std::fs::read_to_string(&meta_path).map_err(NnError::io(&meta_path))?;
    let weights_path = dir.join(WEIGHTS);
    let bytes = std::fs::read(&weights_path).map_err(NnError::io(&weights_path))?;
    let (meta, model) = from_parts(&text, &meta_path, bytes, &weights_path, device)?;
    let optimizer_path = dir.join(OPTIMIZER);
    let optimizer = match std::fs::read(&optimizer_path) {
        Ok(bytes) => Some(Bytes::from_bytes_vec(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(NnError::Io { path: optimizer_path, source: e }),
    };
    Ok(Checkpoint { meta, model, optimizer })
}
