//! Self-describing checkpoints: a folder with `checkpoint.json` (format, model and
//! training configuration, the data's representation and vocabulary, epoch, step, best
//! validation loss, learning rate), `model.bpk` (weights, burnpack) and, for resuming,
//! the optimizer states (`optimizer.bpk`, …). A folder is written next to its destination
//! and renamed into place. Every family's checkpoints are read here; [`crate::bundled::load`]
//! tells them apart.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device};
pub use fugato_data::DataInfo;
use fugato_repr::ReprKind;
use serde::{Deserialize, Serialize};

use crate::model::{ModelConfig, SequenceModel};
use crate::train::{Progress, RunMeta, TrainConfig};
use fugato_data::staging;

use crate::NnError;

/// Name prefix of the folders a checkpoint is written into before it is renamed into place.
pub(crate) const STAGING_PREFIX: &str = ".fugato-ckpt-";

pub const FORMAT: &str = "fugato-checkpoint";
pub const VERSION: u32 = 1;
const META: &str = "checkpoint.json";
const WEIGHTS: &str = "model.bpk";
/// The optimizer state of `latest/` (a GAN's generator's; its discriminator's is
/// `optimizer-discriminator.bpk`).
pub const OPTIMIZER: &str = "optimizer.bpk";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    pub format: String,
    pub version: u32,
    pub model: ModelConfig,
    pub train: TrainConfig,
    pub data: DataInfo,
    pub parameters: usize,
    #[serde(flatten)]
    pub progress: Progress,
}

/// Whether the data's representation is what the model reads: piano-roll frames for a
/// frames model, and for a token model tokens of a vocabulary of its size.
fn check_repr(meta: &CheckpointMeta) -> Result<(), String> {
    let repr = meta.data.repr;
    match meta.model.input {
        crate::model::Input::Frames { .. } if repr != ReprKind::PianoRoll => {
            Err(format!("data.repr is {}, but the model reads piano-roll frames", repr.name()))
        }
        crate::model::Input::Tokens { .. } if repr == ReprKind::PianoRoll => {
            Err("data.repr is pianoroll, but the model reads tokens".into())
        }
        crate::model::Input::Tokens { vocab, .. } => match repr.vocabulary() {
            Some(v) if v.size() as usize != vocab => {
                Err(format!("the model reads {vocab} tokens, but {} has {}", repr.name(), v.size()))
            }
            _ => Ok(()),
        },
        crate::model::Input::Frames { .. } => Ok(()),
    }
}

/// A loaded sequence model's checkpoint.
pub struct Checkpoint {
    pub meta: CheckpointMeta,
    pub model: SequenceModel,
}

impl CheckpointMeta {
    /// A new run's metadata.
    pub fn new(model: ModelConfig, train: TrainConfig, data: DataInfo) -> CheckpointMeta {
        let progress = Progress::start(train.lr);
        CheckpointMeta { format: FORMAT.into(), version: VERSION, model, train, data, parameters: 0, progress }
    }
}

impl RunMeta for CheckpointMeta {
    fn progress(&self) -> &Progress {
        &self.progress
    }

    fn progress_mut(&mut self) -> &mut Progress {
        &mut self.progress
    }

    fn set_parameters(&mut self, parameters: usize) {
        self.parameters = parameters;
    }

    fn set_epochs(&mut self, epochs: usize) {
        self.train.epochs = epochs;
    }
}

/// Writes a sequence model as a checkpoint folder at `dir` (without optimizer state),
/// replacing an older checkpoint there.
pub fn save(dir: &Path, meta: &CheckpointMeta, model: &SequenceModel) -> Result<(), NnError> {
    save_folder(dir, meta, model.clone(), &[])
}

/// Writes a model with its metadata (`checkpoint.json`) and the optimizer states (file
/// name, optimizer) as a checkpoint folder at `dir`, whole or not at all, replacing an
/// older checkpoint there.
pub(crate) fn save_folder<M: Module>(
    dir: &Path,
    meta: &impl Serialize,
    model: M,
    optimizers: &[(&str, &ModuleOptimizer)],
) -> Result<(), NnError> {
    if dir.exists() && !dir.join(META).is_file() {
        return Err(NnError::dataset(dir, "exists and is not a checkpoint; choose another folder"));
    }
    let tmp = staging::stage(dir, STAGING_PREFIX)?;
    let put = |name: &str, bytes: &[u8]| staging::put(&tmp, name, bytes);
    let weights = model.into_record().into_bytes().map_err(|e| NnError::dataset(dir, e.to_string()))?;
    put(WEIGHTS, &weights)?;
    let mut meta = serde_json::to_value(meta).expect("plain data");
    for (name, optimizer) in optimizers {
        let bytes = optimizer.into_bytes().map_err(|e| NnError::dataset(dir, e.to_string()))?;
        put(name, &bytes)?;
        // Which optimizer state belongs with this checkpoint: `--resume` checks it.
        meta[OPTIMIZER_SUMS][*name] = fnv1a(&bytes).into();
    }
    put(META, serde_json::to_string_pretty(&meta).expect("plain data").as_bytes())?;
    Ok(staging::commit(tmp, dir)?)
}

/// The files of a checkpoint folder, read but not yet understood.
pub(crate) struct Folder {
    pub meta_path: PathBuf,
    pub meta: String,
    pub weights_path: PathBuf,
    pub weights: Vec<u8>,
}

/// Reads the checkpoint folder `path` names (see [`resolve`]), after recovering from a
/// save that was killed half-way.
pub(crate) fn read_folder(path: &Path) -> Result<Folder, NnError> {
    staging::recover(path)?;
    staging::recover(&path.join("best"))?;
    let dir = resolve(path);
    let meta_path = dir.join(META);
    if !meta_path.is_file() {
        return Err(NnError::dataset(&dir, format!("not a fugato checkpoint: no {META}")));
    }
    let meta = std::fs::read_to_string(&meta_path).map_err(NnError::io(&meta_path))?;
    let weights_path = dir.join(WEIGHTS);
    let weights = std::fs::read(&weights_path).map_err(NnError::io(&weights_path))?;
    Ok(Folder { meta_path, meta, weights_path, weights })
}

/// A checkpoint's metadata, read once its declared `format` and version (1 up to
/// `version`, the one this fugato writes) are checked.
pub(crate) fn read_meta<M: serde::de::DeserializeOwned>(
    text: &str,
    meta_path: &Path,
    format: &str,
    version: u32,
) -> Result<M, NnError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| NnError::Json {
        path: meta_path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let found = value.get("format").and_then(|f| f.as_str()).unwrap_or("");
    if found != format {
        let what = match found {
            FORMAT => "a sequence model's checkpoint".to_string(),
            "" => "not a fugato checkpoint".to_string(),
            other => format!("a {other} checkpoint"),
        };
        return Err(NnError::dataset(meta_path, format!("{what}, not a {format} one")));
    }
    if !value.get("version").and_then(|v| v.as_u64()).is_some_and(|v| (1..=u64::from(version)).contains(&v)) {
        return Err(NnError::dataset(
            meta_path,
            format!("unsupported checkpoint version (this fugato reads 1 to {version})"),
        ));
    }
    serde_json::from_value(value).map_err(|e| NnError::dataset(meta_path, e.to_string()))
}

/// The field of `checkpoint.json` that keeps each optimizer state's hash.
const OPTIMIZER_SUMS: &str = "optimizer_fnv1a";

/// A file's FNV-1a hash, in hex.
pub(crate) fn fnv1a(bytes: &[u8]) -> String {
    let h = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    format!("{h:016x}")
}

/// Each optimizer state's hash as the checkpoint folder `dir` recorded it (none for a
/// checkpoint written before they were recorded).
pub(crate) fn optimizer_sums(dir: &Path) -> Result<std::collections::HashMap<String, String>, NnError> {
    let value: serde_json::Value = meta_of(dir)?;
    Ok(value
        .get(OPTIMIZER_SUMS)
        .and_then(|v| v.as_object())
        .map(|o| o.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
        .unwrap_or_default())
}

/// The metadata of the checkpoint folder `dir` (or of a run's `best/`), parsed as `M`.
pub fn meta_of<M: serde::de::DeserializeOwned>(dir: &Path) -> Result<M, NnError> {
    meta_of_file(&resolve(dir).join(META))
}

/// A `checkpoint.json` (or a run's `run.json`), parsed as `M`.
pub fn meta_of_file<M: serde::de::DeserializeOwned>(path: &Path) -> Result<M, NnError> {
    let path = path.to_path_buf();
    let text = std::fs::read_to_string(&path).map_err(NnError::io(&path))?;
    serde_json::from_str(&text).map_err(|e| NnError::Json {
        path: path.clone(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })
}

/// The `format` field of a `checkpoint.json`'s text ("" where it has none).
pub(crate) fn format_in(text: &str, meta_path: &Path) -> Result<String, NnError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| NnError::Json {
        path: meta_path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    Ok(value.get("format").and_then(|f| f.as_str()).unwrap_or("").to_string())
}

/// Loads weights into a freshly built module, naming the file when they do not fit.
/// Each tensor must have the shape the configuration gives it (else the record does not
/// apply), and every weight must be finite.
pub(crate) fn load_weights<M: Module>(fresh: M, weights: Vec<u8>, weights_path: &Path) -> Result<M, NnError> {
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(weights))
        .map_err(|e| NnError::dataset(weights_path, format!("corrupt weights: {e}")))?;
    let model = fresh
        .try_load_record(record)
        .map_err(|e| NnError::dataset(weights_path, format!("weights do not fit the model in {META}: {e}")))?;
    let mut finite = Finite::default();
    model.visit(&mut finite);
    match finite.bad {
        Some(bad) => Err(NnError::dataset(weights_path, format!("non-finite weights: {bad}"))),
        None => Ok(model),
    }
}

/// Finds the first parameter with a NaN or an infinity, by its path in the module.
#[derive(Default)]
struct Finite {
    path: Vec<String>,
    bad: Option<String>,
}

impl burn::module::ModuleVisitor for Finite {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<burn::tensor::Tensor<D>>) {
        if self.bad.is_some() {
            return;
        }
        let values = param.val().into_data().convert::<f32>();
        if let Some(v) = values.iter::<f32>().find(|v| !v.is_finite()) {
            self.bad = Some(format!("{} holds {v}", self.path.join(".")));
        }
    }
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
    let meta: CheckpointMeta = read_meta(text, meta_path, FORMAT, VERSION)?;
    meta.model.validate().map_err(|e| NnError::dataset(meta_path, e))?;
    meta.train.validate().map_err(|e| NnError::dataset(meta_path, format!("train: {e}")))?;
    check_repr(&meta).map_err(|e| NnError::dataset(meta_path, e))?;
    if let Some(spq) = meta.data.steps_per_quarter.filter(|s| !(1..=crate::sizes::MAX_STEPS_PER_QUARTER).contains(s)) {
        let max = crate::sizes::MAX_STEPS_PER_QUARTER;
        return Err(NnError::dataset(meta_path, format!("data.steps_per_quarter must be 1..={max}, but was {spq}")));
    }
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
    let model = load_weights(meta.model.init(device), weights, weights_path)?;
    Ok((meta, model))
}

/// Loads a checkpoint onto `device`. A missing, truncated, corrupt or foreign checkpoint
/// gives an error that names the file and what is wrong with it.
pub fn load(path: &Path, device: &Device) -> Result<Checkpoint, NnError> {
    let f = read_folder(path)?;
    let (meta, model) = from_parts(&f.meta, &f.meta_path, f.weights, &f.weights_path, device)?;
    Ok(Checkpoint { meta, model })
}
