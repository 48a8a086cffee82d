//! How the likelihood-trained families (sequence models, the encoder–decoder) train:
//! Adam or SGD with gradient-norm clipping, the learning rate cut when the validation loss
//! stalls, early stopping. Stored in every checkpoint.

use burn::optim::decay::WeightDecayConfig;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{ModuleOptimizer, SgdConfig};
use serde::{Deserialize, Serialize};

use super::Schedule;

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

impl TrainConfig {
    /// The driver's schedule: plateau decay and early stopping by validation loss.
    pub fn schedule(&self) -> Schedule {
        Schedule {
            epochs: self.epochs,
            lr: self.lr,
            decay: Some((self.lr_patience, self.lr_decay)),
            patience: Some(self.patience),
            seed: self.seed,
        }
    }
}
