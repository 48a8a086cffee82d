//! The training loop: windows of sequences in shuffled batches, Adam or SGD with
//! gradient-norm clipping, validation every epoch, the learning rate halved when the
//! validation loss stalls, early stopping, and checkpoints (`latest/` every epoch,
//! `best/` when validation improves) with everything `--resume` needs.

use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::Device;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::batch::{SequenceSet, epoch_windows, make_batch};
use crate::checkpoint::{self, CheckpointMeta, DataInfo};
use crate::evaluate::{Evaluation, evaluate};
use crate::model::{ModelConfig, SequenceModel};
use fugato_data::staging;

use crate::NnError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    Adam,
    /// Stochastic gradient descent with momentum 0.9.
    Sgd,
}

impl std::str::FromStr for OptimizerKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "adam" => Ok(OptimizerKind::Adam),
            "sgd" => Ok(OptimizerKind::Sgd),
            _ => Err(format!("unknown optimizer {s:?}: expected adam or sgd")),
        }
    }
}

/// How to train; stored in every checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    pub optimizer: OptimizerKind,
    pub lr: f64,
    /// Windows per batch.
    pub batch: usize,
    /// Steps predicted per window.
    pub seq_len: usize,
    /// Most epochs to run.
    pub epochs: usize,
    /// Stop after this many epochs without a better validation loss.
    pub patience: usize,
    /// Halve (× `lr_decay`) the learning rate after this many epochs without improvement.
    pub lr_patience: usize,
    pub lr_decay: f64,
    /// Clip the gradient's global norm to this (0: no clipping).
    pub clip: f64,
    pub weight_decay: f64,
    /// Transpose each training window by a random shift in ±this many semitones
    /// (piano-roll data; 0: off).
    pub transpose: u32,
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            optimizer: OptimizerKind::Adam,
            lr: 1e-3,
            batch: 32,
            seq_len: 64,
            epochs: 200,
            patience: 20,
            lr_patience: 5,
            lr_decay: 0.5,
            clip: 5.0,
            weight_decay: 0.0,
            transpose: 0,
            seed: 0,
        }
    }
}

impl TrainConfig {
    pub fn validate(&self) -> Result<(), String> {
        let positive = [("lr", self.lr), ("lr_decay", self.lr_decay)];
        if let Some((name, v)) = positive.iter().find(|(_, v)| !v.is_finite() || *v <= 0.0) {
            return Err(format!("{name} must be positive, but was {v}"));
        }
        if self.batch == 0 || self.seq_len == 0 || self.epochs == 0 {
            return Err(format!(
                "batch ({}), seq_len ({}) and epochs ({}) must be at least 1",
                self.batch, self.seq_len, self.epochs
            ));
        }
        if self.clip < 0.0 || self.weight_decay < 0.0 || self.transpose > 12 {
            return Err("clip and weight_decay must be ≥ 0, and transpose 0..=12".into());
        }
        Ok(())
    }

    pub(crate) fn optimizer(&self) -> ModuleOptimizer {
        let clip = (self.clip > 0.0).then_some(self.clip as f32);
        let decay = (self.weight_decay > 0.0).then_some(self.weight_decay as f32);
        match self.optimizer {
            OptimizerKind::Adam => crate::fused::FusedAdam::module_optimizer(clip, decay),
            OptimizerKind::Sgd => SgdConfig::new()
                .with_momentum(Some(MomentumConfig::new().with_dampening(0.0)))
                .with_gradient_clipping(clip.map(GradientClippingConfig::Norm))
                .with_weight_decay(decay.map(WeightDecayConfig::new))
                .init(),
        }
    }
}

/// Training and validation data.
pub struct TrainData {
    pub train: SequenceSet,
    pub valid: Option<SequenceSet>,
    pub info: DataInfo,
}

/// One epoch's figures, as written to `metrics.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub step: usize,
    /// Mean training loss per scored item over the epoch (with dropout on).
    pub train_loss: f64,
    pub valid: Option<Evaluation>,
    pub lr: f64,
    pub seconds: f64,
    pub improved: bool,
}

/// Told what happens, for progress bars and logs.
pub trait Observer {
    fn epoch_start(&mut self, _epoch: usize, _batches: usize) {}
    fn batch_end(&mut self, _loss: f64) {}
    fn epoch_end(&mut self, _record: &EpochRecord) {}
}

#[derive(Clone, Debug)]
pub struct TrainSummary {
    pub epochs: usize,
    pub best_valid: Option<f64>,
    pub stopped_early: bool,
}

/// Where a run stands after its last epoch: top-level fields of the `checkpoint.json` of
/// the sequence models and of the encoder–decoder alike.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Epochs completed.
    pub epoch: usize,
    /// Optimizer steps taken.
    pub step: usize,
    pub best_valid: Option<f64>,
    /// Epochs since the validation loss last improved.
    pub epochs_without_improvement: usize,
    pub lr: f64,
    /// Wall time spent training so far.
    pub train_seconds: f64,
}

impl Progress {
    /// A run about to train its first epoch at learning rate `lr`.
    pub fn start(lr: f64) -> Progress {
        Progress { epoch: 0, step: 0, best_valid: None, epochs_without_improvement: 0, lr, train_seconds: 0.0 }
    }
}

/// A checkpoint's metadata that keeps a [`Progress`].
pub(crate) trait HasProgress {
    fn progress(&mut self) -> &mut Progress;
}

impl HasProgress for CheckpointMeta {
    fn progress(&mut self) -> &mut Progress {
        &mut self.progress
    }
}

/// Ends an epoch that began at `start`: scores it by its validation loss (by its training
/// loss where there is no validation data), keeps the best, multiplies the learning rate by
/// `lr_decay` after every `lr_patience` epochs without improvement, and writes `best/`
/// (when it improved), the log line and `latest/` through `save(folder, meta, with the
/// optimizer)`. The log line comes first: a kill before `latest/` is saved leaves a line
/// that resume trims, never a checkpoint without its line. Returns the epoch's record and
/// whether `patience` epochs have gone by without improvement (stop early).
pub(crate) fn close_epoch<M: HasProgress>(
    run: &Path,
    meta: &mut M,
    config: &TrainConfig,
    train_loss: f64,
    valid: Option<Evaluation>,
    start: Instant,
    save: impl Fn(&Path, &M, bool) -> Result<(), NnError>,
) -> Result<(EpochRecord, bool), NnError> {
    let seconds = start.elapsed().as_secs_f64();
    let progress = meta.progress();
    progress.epoch += 1;
    progress.train_seconds += seconds;
    let score = valid.as_ref().map_or(train_loss, |v| v.nll);
    let improved = progress.best_valid.is_none_or(|best| score < best);
    let record = EpochRecord {
        epoch: progress.epoch,
        step: progress.step,
        train_loss,
        valid,
        lr: progress.lr,
        seconds,
        improved,
    };
    if improved {
        progress.best_valid = Some(score);
        progress.epochs_without_improvement = 0;
    } else {
        progress.epochs_without_improvement += 1;
        if progress.epochs_without_improvement.is_multiple_of(config.lr_patience.max(1)) {
            progress.lr *= config.lr_decay;
        }
    }
    let stop = progress.epochs_without_improvement >= config.patience.max(1);
    if improved {
        save(&run.join("best"), meta, false)?;
    }
    append_line(&run.join("metrics.jsonl"), &serde_json::to_string(&record).expect("plain data"))?;
    save(&run.join("latest"), meta, true)?;
    Ok((record, stop))
}

/// Trains a new model in the run folder `run` (`latest/`, `best/`, `metrics.jsonl`).
pub fn train(
    run: &Path,
    model_config: &ModelConfig,
    config: &TrainConfig,
    data: &TrainData,
    device: &Device,
    observer: &mut dyn Observer,
) -> Result<TrainSummary, NnError> {
    model_config.validate().map_err(|e| NnError::dataset(run, e))?;
    config.validate().map_err(|e| NnError::dataset(run, e))?;
    device.seed(config.seed);
    let mut model = model_config.init(&device.clone().autodiff());
    model.head.set_prior(&data.train.prior(model_config.outputs));
    let meta = CheckpointMeta {
        format: checkpoint::FORMAT.into(),
        version: checkpoint::VERSION,
        model: model_config.clone(),
        train: config.clone(),
        data: data.info.clone(),
        parameters: model.num_params(),
        progress: Progress::start(config.lr),
    };
    let _ = std::fs::remove_file(run.join("metrics.jsonl"));
    run_epochs(run, meta, model, config.optimizer(), data, device, observer)
}

/// Continues the run in `run` from its `latest/` checkpoint, up to `epochs` epochs in all
/// when given (else as many as it was started with).
pub fn resume(
    run: &Path,
    data: &TrainData,
    epochs: Option<usize>,
    device: &Device,
    observer: &mut dyn Observer,
) -> Result<TrainSummary, NnError> {
    let mut ckpt = checkpoint::load(&run.join("latest"), &device.clone().autodiff())?;
    // A run killed mid-epoch: drop its half-written checkpoint folders and any log lines
    // of epochs after the checkpoint, which are about to be trained again.
    tidy_for_resume(run, ckpt.meta.progress.epoch)?;
    if let Some(epochs) = epochs {
        ckpt.meta.train.epochs = epochs;
    }
    if ckpt.meta.data.repr != data.info.repr {
        return Err(NnError::dataset(
            run,
            format!("trained on {:?} data, given {:?}", ckpt.meta.data.repr, data.info.repr),
        ));
    }
    let mut optimizer = ckpt.meta.train.optimizer();
    if let Some(bytes) = ckpt.optimizer {
        optimizer = optimizer.from_bytes(bytes).map_err(|e| NnError::dataset(run.join("latest"), e.to_string()))?;
    }
    // Keep the epoch count of the run, with the RNG moved on so resumed epochs differ.
    device.seed(ckpt.meta.train.seed.wrapping_add(ckpt.meta.progress.epoch as u64));
    run_epochs(run, ckpt.meta, ckpt.model, optimizer, data, device, observer)
}

fn run_epochs(
    run: &Path,
    mut meta: CheckpointMeta,
    mut model: SequenceModel,
    mut optimizer: ModuleOptimizer,
    data: &TrainData,
    device: &Device,
    observer: &mut dyn Observer,
) -> Result<TrainSummary, NnError> {
    std::fs::create_dir_all(run).map_err(NnError::io(run))?;
    let train_device = device.clone().autodiff();
    let config = meta.train.clone();
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed.wrapping_add(1_000_003 * meta.progress.epoch as u64));
    let mut stopped_early = false;
    while meta.progress.epoch < config.epochs {
        let start = Instant::now();
        let windows = epoch_windows(&data.train, config.seq_len, config.transpose, &mut rng);
        let batches: Vec<_> = windows.chunks(config.batch).collect();
        observer.epoch_start(meta.progress.epoch + 1, batches.len());
        let (mut loss_sum, mut items) = (0f64, 0usize);
        for chunk in batches {
            let batch = make_batch(&data.train, chunk, &train_device);
            let loss = model.loss(&batch);
            let value = loss.clone().into_scalar::<f32>() as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(meta.progress.lr, model, grads);
            meta.progress.step += 1;
            loss_sum += value * batch.n_scored as f64;
            items += batch.n_scored;
            observer.batch_end(value);
        }
        let valid = data.valid.as_ref().map(|v| evaluate(&model.valid(), v, device));
        let (record, stop) =
            close_epoch(run, &mut meta, &config, loss_sum / items.max(1) as f64, valid, start, |dir, meta, with| {
                checkpoint::save(dir, meta, &model, with.then_some(&optimizer))
            })?;
        observer.epoch_end(&record);
        if stop {
            stopped_early = true;
            break;
        }
    }
    Ok(TrainSummary { epochs: meta.progress.epoch, best_valid: meta.progress.best_valid, stopped_early })
}

/// Before a run resumes from its `latest/` checkpoint at `epoch`: a run killed mid-epoch
/// leaves half-written checkpoint folders (dropped), a parked `best/` (brought back) and
/// log lines of epochs after the checkpoint (trimmed: they are about to be trained again).
pub(crate) fn tidy_for_resume(run: &Path, epoch: usize) -> Result<(), NnError> {
    staging::sweep(run, checkpoint::STAGING_PREFIX)?;
    staging::recover(&run.join("best"))?;
    trim_metrics(run, epoch)
}

pub(crate) fn append_line(path: &Path, line: &str) -> Result<(), NnError> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(NnError::io(path))?;
    writeln!(f, "{line}").map_err(NnError::io(path))
}

/// Keeps the log lines of epochs up to `epoch`, dropping later ones and any line a kill
/// cut short.
pub(crate) fn trim_metrics(run: &Path, epoch: usize) -> Result<(), NnError> {
    let path = run.join("metrics.jsonl");
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(()) };
    let kept: String = text
        .lines()
        .filter(|l| serde_json::from_str::<EpochRecord>(l).is_ok_and(|r| r.epoch <= epoch))
        .map(|l| format!("{l}\n"))
        .collect();
    if kept != text {
        let tmp = path.with_extension("jsonl.tmp");
        std::fs::write(&tmp, kept).map_err(NnError::io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(NnError::io(&path))?;
    }
    Ok(())
}

/// The epochs logged so far in a run folder.
pub fn read_metrics(run: &Path) -> Result<Vec<EpochRecord>, NnError> {
    let path = run.join("metrics.jsonl");
    let text = std::fs::read_to_string(&path).map_err(NnError::io(&path))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| NnError::dataset(&path, e.to_string())))
        .collect()
}
