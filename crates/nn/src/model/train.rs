//! Training a sequence model ([`SequenceTraining`], a [`Family`] of the training driver):
//! windows of sequences in shuffled batches, the model's loss per scored step, and the
//! benchmark NLL of the validation split after each epoch.

use std::path::Path;

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::Device;
use fugato_data::DataInfo;

use super::SequenceModel;
use crate::NnError;
use crate::batch::{SequenceSet, epoch_windows, make_batch};
use crate::checkpoint::{self, CheckpointMeta, OPTIMIZER};
use crate::evaluate::{Evaluation, evaluate};
use crate::train::{Epoch, Family, Schedule, Scored, TrainConfig};

/// Training and validation sequences, and what they are.
pub struct TrainData {
    pub train: SequenceSet,
    pub valid: Option<SequenceSet>,
    pub info: DataInfo,
}

/// The sequence models' family: what a run keeps is its training settings.
pub struct SequenceTraining {
    config: TrainConfig,
}

impl Family for SequenceTraining {
    type Meta = CheckpointMeta;
    type Model = SequenceModel;
    type Data = TrainData;
    /// The validation split's scores (none without validation data).
    type Record = Option<Evaluation>;

    const OPTIMIZERS: &'static [&'static str] = &[OPTIMIZER];

    fn schedule(meta: &CheckpointMeta) -> Schedule {
        meta.train.schedule()
    }

    fn init(meta: &CheckpointMeta, data: &TrainData, device: &Device) -> Result<SequenceModel, NnError> {
        meta.model.validate().map_err(NnError::Options)?;
        meta.train.validate().map_err(NnError::Options)?;
        let mut model = meta.model.init(device);
        model.head.set_prior(&data.train.prior(meta.model.outputs));
        Ok(model)
    }

    fn optimizers(meta: &CheckpointMeta) -> Vec<ModuleOptimizer> {
        vec![meta.train.optimizer()]
    }

    fn load(dir: &Path, device: &Device) -> Result<(CheckpointMeta, SequenceModel), NnError> {
        let c = checkpoint::load(dir, device)?;
        Ok((c.meta, c.model))
    }

    fn check_data(meta: &CheckpointMeta, data: &TrainData) -> Result<(), String> {
        if meta.data.repr != data.info.repr {
            return Err(format!("trained on {} data, given {}", meta.data.repr.name(), data.info.repr.name()));
        }
        if data.train.is_empty() {
            return Err("no training sequences".into());
        }
        Ok(())
    }

    fn start(meta: &CheckpointMeta, _: &SequenceModel, _: &TrainData, _: &Device) -> SequenceTraining {
        SequenceTraining { config: meta.train.clone() }
    }

    fn train_epoch(
        &mut self,
        e: &mut Epoch,
        mut model: SequenceModel,
        optimizers: &mut [ModuleOptimizer],
        data: &TrainData,
    ) -> Result<SequenceModel, NnError> {
        let config = &self.config;
        let windows = epoch_windows(&data.train, config.seq_len, config.transpose, e.rng);
        let batches: Vec<_> = windows.chunks(config.batch).collect();
        e.observer.epoch_start(e.index + 1, batches.len());
        let (mut loss_sum, mut items, mut batch_sum) = (0f64, 0usize, 0f64);
        for (i, chunk) in batches.iter().enumerate() {
            let batch = make_batch(&data.train, chunk, e.device);
            let loss = model.loss(&batch);
            let value = loss.clone().into_scalar::<f32>() as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizers[0].step(e.lr, model, grads);
            *e.step += 1;
            loss_sum += value * batch.n_scored as f64;
            items += batch.n_scored;
            batch_sum += value;
            e.observer.batch_end(&[("loss", batch_sum / (i + 1) as f64)]);
        }
        e.train_loss = loss_sum / items.max(1) as f64;
        Ok(model)
    }

    fn evaluate(&mut self, _: usize, model: &SequenceModel, data: &TrainData, device: &Device) -> Scored<Self::Record> {
        let valid = data.valid.as_ref().map(|v| evaluate(model, v, device));
        Scored { score: valid.as_ref().map(|v| v.nll), record: valid, samples: Vec::new() }
    }

    fn summary(valid: &Option<Evaluation>) -> String {
        match valid {
            Some(v) => {
                let acc = v.accuracy.map(|a| format!("  acc {a:.3}")).unwrap_or_default();
                format!("valid {:.4}{acc}", v.nll)
            }
            None => String::new(),
        }
    }
}
