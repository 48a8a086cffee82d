//! Training the encoder–decoder: windows of the examples (random crops for aligned
//! tasks, whole examples otherwise) in batches of equal length, randomly transposed,
//! with teacher forcing; the same validation, learning-rate halving, early stopping and
//! checkpoints (`latest/`, `best/`, `metrics.jsonl`) as the sequence models.

use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{Batch, Seq2Seq, Seq2SeqConfig, Task};
use crate::NnError;
use crate::checkpoint;
use crate::evaluate::Evaluation;
use crate::train::{HasProgress, Observer, Progress, TrainConfig, TrainSummary, close_epoch, tidy_for_resume};
use fugato_data::lines::{Example, Examples, batches, fixed_windows, random_windows};

pub const FORMAT: &str = "fugato-seq2seq";
pub const VERSION: u32 = 1;

/// A sequence-to-sequence checkpoint's `checkpoint.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Seq2SeqMeta {
    pub format: String,
    pub version: u32,
    pub task: Task,
    pub model: Seq2SeqConfig,
    pub train: TrainConfig,
    /// The data it learnt from.
    pub source: String,
    pub parameters: usize,
    #[serde(flatten)]
    pub progress: Progress,
}

impl HasProgress for Seq2SeqMeta {
    fn progress(&mut self) -> &mut Progress {
        &mut self.progress
    }
}

pub struct Seq2SeqCheckpoint {
    pub meta: Seq2SeqMeta,
    pub model: Seq2Seq,
    pub optimizer: Option<burn::tensor::Bytes>,
}

/// A model from the text of its `checkpoint.json` and its weights (paths name the parts in errors).
pub fn from_parts(
    text: &str,
    meta_path: &Path,
    weights: Vec<u8>,
    weights_path: &Path,
    device: &Device,
) -> Result<(Seq2SeqMeta, Seq2Seq), NnError> {
    let meta: Seq2SeqMeta = checkpoint::read_meta(text, meta_path, FORMAT, VERSION)?;
    meta.model.validate().map_err(|e| NnError::dataset(meta_path, e))?;
    let model = checkpoint::load_weights(meta.model.init(device), weights, weights_path)?;
    Ok((meta, model))
}

/// Loads a sequence-to-sequence checkpoint (a checkpoint folder or a run's `best/`).
pub fn load(path: &Path, device: &Device) -> Result<Seq2SeqCheckpoint, NnError> {
    let f = checkpoint::read_folder(path)?;
    let (meta, model) = from_parts(&f.meta, &f.meta_path, f.weights, &f.weights_path, device)?;
    Ok(Seq2SeqCheckpoint { meta, model, optimizer: f.optimizer })
}

/// Trains a new model in the run folder `run`.
pub fn train(
    run: &Path,
    model_config: &Seq2SeqConfig,
    config: &TrainConfig,
    data: &Examples,
    device: &Device,
    observer: &mut dyn Observer,
) -> Result<TrainSummary, NnError> {
    model_config.validate().map_err(|e| NnError::dataset(run, e))?;
    config.validate().map_err(|e| NnError::dataset(run, e))?;
    if data.train.is_empty() {
        return Err(NnError::dataset(run, "no training examples"));
    }
    device.seed(config.seed);
    let model = model_config.init(&device.clone().autodiff());
    let meta = Seq2SeqMeta {
        format: FORMAT.into(),
        version: VERSION,
        task: data.task,
        model: model_config.clone(),
        train: config.clone(),
        source: data.source.clone(),
        parameters: model.num_params(),
        progress: Progress::start(config.lr),
    };
    let _ = std::fs::remove_file(run.join("metrics.jsonl"));
    run_epochs(run, meta, model, config.optimizer(), data, device, observer)
}

/// Continues the run in `run` from its `latest/` checkpoint, up to `epochs` in all.
pub fn resume(
    run: &Path,
    data: &Examples,
    epochs: Option<usize>,
    device: &Device,
    observer: &mut dyn Observer,
) -> Result<TrainSummary, NnError> {
    let mut ckpt = load(&run.join("latest"), &device.clone().autodiff())?;
    tidy_for_resume(run, ckpt.meta.progress.epoch)?;
    if let Some(epochs) = epochs {
        ckpt.meta.train.epochs = epochs;
    }
    if ckpt.meta.task != data.task {
        return Err(NnError::dataset(run, format!("trained to {:?}, given {:?} data", ckpt.meta.task, data.task)));
    }
    let mut optimizer = ckpt.meta.train.optimizer();
    if let Some(bytes) = ckpt.optimizer {
        optimizer = optimizer.from_bytes(bytes).map_err(|e| NnError::dataset(run.join("latest"), e.to_string()))?;
    }
    device.seed(ckpt.meta.train.seed.wrapping_add(ckpt.meta.progress.epoch as u64));
    run_epochs(run, ckpt.meta, ckpt.model, optimizer, data, device, observer)
}

fn run_epochs(
    run: &Path,
    mut meta: Seq2SeqMeta,
    mut model: Seq2Seq,
    mut optimizer: ModuleOptimizer,
    data: &Examples,
    device: &Device,
    observer: &mut dyn Observer,
) -> Result<TrainSummary, NnError> {
    std::fs::create_dir_all(run).map_err(NnError::io(run))?;
    let train_device = device.clone().autodiff();
    let config = meta.train.clone();
    let aligned = meta.model.aligned;
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed.wrapping_add(1_000_003 * meta.progress.epoch as u64));
    let valid_windows = fixed_windows(&data.valid, aligned.then_some(config.seq_len));
    let mut stopped_early = false;
    while meta.progress.epoch < config.epochs {
        let start = Instant::now();
        let windows = random_windows(&data.train, aligned.then_some(config.seq_len), config.transpose, &mut rng);
        let batches = batches(&windows, config.batch, Some(&mut rng));
        observer.epoch_start(meta.progress.epoch + 1, batches.len());
        let (mut loss_sum, mut items) = (0f64, 0usize);
        for chunk in &batches {
            let batch = make_batch(chunk, &train_device);
            let loss = model.loss(&batch);
            let value = loss.clone().into_scalar::<f32>() as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(meta.progress.lr, model, grads);
            meta.progress.step += 1;
            loss_sum += value * chunk.len() as f64;
            items += chunk.len();
            observer.batch_end(value);
        }
        let valid = (!valid_windows.is_empty()).then(|| evaluate(&model.valid(), &valid_windows, device));
        let (record, stop) =
            close_epoch(run, &mut meta, &config, loss_sum / items.max(1) as f64, valid, start, |dir, meta, with| {
                checkpoint::save_folder(dir, meta, model.clone(), with.then_some(&optimizer))
            })?;
        observer.epoch_end(&record);
        if stop {
            stopped_early = true;
            break;
        }
    }
    Ok(TrainSummary { epochs: meta.progress.epoch, best_valid: meta.progress.best_valid, stopped_early })
}

/// Loss per step (summed over the target lines) and teacher-forced token accuracy of
/// `windows`, with dropout off.
pub fn evaluate(model: &Seq2Seq, windows: &[Example], device: &Device) -> Evaluation {
    let (mut nll_sum, mut steps, mut right, mut tokens) = (0f64, 0usize, 0usize, 0usize);
    for chunk in batches(windows, 32, None::<&mut ChaCha8Rng>) {
        let batch = make_batch(&chunk, device);
        let n = chunk.len() * chunk[0].target_positions.len();
        nll_sum += model.loss(&batch).into_scalar::<f32>() as f64 * n as f64;
        steps += n;
        for (logits, expected) in model.logits(&batch).into_iter().zip(&batch.expected) {
            let [b, t, v] = logits.dims();
            let best: Vec<i64> =
                logits.reshape([b * t, v]).argmax(1).into_data().convert::<i64>().try_to_vec::<i64>().expect("ids");
            let want: Vec<i64> = expected.clone().into_data().convert::<i64>().try_to_vec::<i64>().expect("ids");
            right += best.iter().zip(&want).filter(|(a, b)| a == b).count();
            tokens += want.len();
        }
    }
    let nll = nll_sum / steps.max(1) as f64;
    Evaluation {
        nll,
        frames: steps,
        perplexity: None,
        accuracy: Some(right as f64 / tokens.max(1) as f64),
        precision: None,
        recall: None,
        f1: None,
    }
}

/// Tensors for a batch of equally long windows.
pub fn make_batch(windows: &[Example], device: &Device) -> Batch {
    let b = windows.len();
    let (s, t) = (windows[0].source.len(), windows[0].target_positions.len());
    let ids = |rows: Vec<&[u16]>, len: usize| -> Tensor<2, Int> {
        let flat: Vec<i64> = rows.iter().flat_map(|r| r.iter().map(|&x| i64::from(x))).collect();
        Tensor::from_data(TensorData::new(flat, [b, len]), device)
    };
    let streams = windows[0].targets.len();
    let rest = fugato_repr::melody::REST as u16;
    let previous = (0..streams)
        .map(|k| {
            let rows: Vec<Vec<u16>> = windows
                .iter()
                .map(|w| std::iter::once(rest).chain(w.targets[k][..t - 1].iter().copied()).collect())
                .collect();
            ids(rows.iter().map(|r| r.as_slice()).collect(), t)
        })
        .collect();
    let expected = (0..streams)
        .map(|k| ids(windows.iter().map(|w| w.targets[k].as_slice()).collect(), t).reshape([b * t]))
        .collect();
    Batch {
        source: ids(windows.iter().map(|w| w.source.as_slice()).collect(), s),
        source_positions: ids(windows.iter().map(|w| w.source_positions.as_slice()).collect(), s),
        previous,
        target_positions: ids(windows.iter().map(|w| w.target_positions.as_slice()).collect(), t),
        expected,
    }
}
