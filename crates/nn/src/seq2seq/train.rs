//! Training the encoder–decoder ([`Seq2SeqTraining`], a [`Family`] of the training
//! driver): windows of the examples (random crops for aligned tasks, whole examples
//! otherwise) in batches of equal length, randomly transposed, with teacher forcing.

use std::path::Path;

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{Batch, Seq2Seq, Seq2SeqConfig, Task};
use crate::NnError;
use crate::checkpoint;
use crate::evaluate::Evaluation;
use crate::train::{Epoch, Family, Progress, RunMeta, Schedule, Scored, TrainConfig};
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

impl Seq2SeqMeta {
    /// A new run's metadata.
    pub fn new(task: Task, model: Seq2SeqConfig, train: TrainConfig, data: &Examples) -> Seq2SeqMeta {
        let progress = Progress::start(train.lr);
        let source = data.source.clone();
        Seq2SeqMeta { format: FORMAT.into(), version: VERSION, task, model, train, source, parameters: 0, progress }
    }
}

impl RunMeta for Seq2SeqMeta {
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

pub struct Seq2SeqCheckpoint {
    pub meta: Seq2SeqMeta,
    pub model: Seq2Seq,
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
    meta.train.validate().map_err(|e| NnError::dataset(meta_path, format!("train: {e}")))?;
    let model = checkpoint::load_weights(meta.model.init(device), weights, weights_path)?;
    Ok((meta, model))
}

/// Loads a sequence-to-sequence checkpoint (a checkpoint folder or a run's `best/`).
pub fn load(path: &Path, device: &Device) -> Result<Seq2SeqCheckpoint, NnError> {
    let f = checkpoint::read_folder(path)?;
    let (meta, model) = from_parts(&f.meta, &f.meta_path, f.weights, &f.weights_path, device)?;
    Ok(Seq2SeqCheckpoint { meta, model })
}

/// The encoder–decoder's family: what a run keeps is its training settings and the
/// validation windows (cut once).
pub struct Seq2SeqTraining {
    config: TrainConfig,
    aligned: bool,
    token_dropout: f64,
    valid_windows: Vec<Example>,
}

impl Family for Seq2SeqTraining {
    type Meta = Seq2SeqMeta;
    type Model = Seq2Seq;
    type Data = Examples;
    /// Loss per step and teacher-forced accuracy on the validation windows (none
    /// without validation examples).
    type Record = Option<Evaluation>;

    const OPTIMIZERS: &'static [&'static str] = &[checkpoint::OPTIMIZER];

    fn schedule(meta: &Seq2SeqMeta) -> Schedule {
        meta.train.schedule()
    }

    fn init(meta: &Seq2SeqMeta, _: &Examples, device: &Device) -> Result<Seq2Seq, NnError> {
        meta.model.validate().map_err(NnError::Options)?;
        meta.train.validate().map_err(NnError::Options)?;
        Ok(meta.model.init(device))
    }

    fn optimizers(meta: &Seq2SeqMeta) -> Vec<ModuleOptimizer> {
        vec![meta.train.optimizer()]
    }

    fn load(dir: &Path, device: &Device) -> Result<(Seq2SeqMeta, Seq2Seq), NnError> {
        let c = load(dir, device)?;
        Ok((c.meta, c.model))
    }

    fn check_data(meta: &Seq2SeqMeta, data: &Examples) -> Result<(), String> {
        if meta.task != data.task {
            return Err(format!("trained to {:?}, given {:?} data", meta.task, data.task));
        }
        if data.train.is_empty() {
            return Err("no training examples".into());
        }
        Ok(())
    }

    fn start(meta: &Seq2SeqMeta, _: &Seq2Seq, data: &Examples, _: &Device) -> Seq2SeqTraining {
        let aligned = meta.model.aligned;
        let valid_windows = fixed_windows(&data.valid, aligned.then_some(meta.train.seq_len));
        Seq2SeqTraining { config: meta.train.clone(), aligned, token_dropout: meta.model.token_dropout, valid_windows }
    }

    fn train_epoch(
        &mut self,
        e: &mut Epoch,
        mut model: Seq2Seq,
        optimizers: &mut [ModuleOptimizer],
        data: &Examples,
    ) -> Result<Seq2Seq, NnError> {
        let config = &self.config;
        let windows = random_windows(&data.train, self.aligned.then_some(config.seq_len), config.transpose, e.rng);
        let batches = batches(&windows, config.batch, Some(&mut *e.rng));
        e.observer.epoch_start(e.index + 1, batches.len());
        let (mut loss_sum, mut items, mut batch_sum) = (0f64, 0usize, 0f64);
        for (i, chunk) in batches.iter().enumerate() {
            let p = self.token_dropout;
            let batch = if p > 0.0 {
                batch_hiding(chunk, &mut || e.rng.random::<f64>() < p, e.device)
            } else {
                make_batch(chunk, e.device)
            };
            let loss = model.loss(&batch);
            let value = loss.clone().into_scalar::<f32>() as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizers[0].step(e.lr, model, grads);
            *e.step += 1;
            loss_sum += value * chunk.len() as f64;
            items += chunk.len();
            batch_sum += value;
            e.observer.batch_end(&[("loss", batch_sum / (i + 1) as f64)]);
        }
        e.train_loss = loss_sum / items.max(1) as f64;
        Ok(model)
    }

    fn evaluate(&mut self, _: usize, model: &Seq2Seq, _: &Examples, device: &Device) -> Scored<Option<Evaluation>> {
        let valid = (!self.valid_windows.is_empty()).then(|| evaluate(model, &self.valid_windows, device));
        Scored { score: valid.as_ref().map(|v| v.nll), record: valid, samples: Vec::new() }
    }

    fn summary(valid: &Option<Evaluation>) -> String {
        crate::model::SequenceTraining::summary(valid)
    }
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
    batch_hiding(windows, &mut || false, device)
}

/// [`make_batch`] with each previous token (the decoder's input) read as a rest where
/// `hide()` says so: token dropout.
fn batch_hiding(windows: &[Example], hide: &mut dyn FnMut() -> bool, device: &Device) -> Batch {
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
                .map(|w| {
                    let before = w.targets[k][..t - 1].iter().map(|&x| if hide() { rest } else { x });
                    std::iter::once(rest).chain(before).collect()
                })
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn token_dropout_hides_about_its_share_of_the_previous_tokens() {
        let (hold, rest) = (fugato_repr::melody::HOLD as u16, fugato_repr::melody::REST as u16);
        let steps = 2000;
        let window = Example {
            name: String::new(),
            source: vec![hold; steps],
            source_positions: vec![0; steps],
            targets: vec![vec![hold; steps]; 3],
            target_positions: vec![0; steps],
        };
        let device = Device::flex();
        let count_rests = |p: f64| -> Vec<usize> {
            let mut rng = ChaCha8Rng::seed_from_u64(7);
            batch_hiding(std::slice::from_ref(&window), &mut || rng.random::<f64>() < p, &device)
                .previous
                .into_iter()
                .map(|t| {
                    let ids = t.into_data().convert::<i64>().try_to_vec::<i64>().unwrap();
                    ids.iter().filter(|&&id| id == i64::from(rest)).count()
                })
                .collect()
        };
        // Only the first step (nothing before it) reads a rest without dropout.
        assert_eq!(count_rests(0.0), [1, 1, 1]);
        for hidden in count_rests(0.3) {
            assert!((500..700).contains(&hidden), "{hidden} of {steps} hidden at 0.3");
        }
    }
}
