//! Sequence models: an optional token embedding, a body — a stack of recurrent layers
//! with dropout between them, or a Transformer ([`transformer`]) — and an output head.

mod cells;
mod heads;
mod stepper;
mod train;
pub mod transformer;

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig};
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::fused;

pub use cells::{CellKind, Layer, LayerConfig, LayerState};
pub use heads::{Head, HeadKind, Nade, Target};
pub use stepper::{PlainHead, PlainLinear, StepItem, Stepper};
pub use train::{SequenceTraining, TrainData};
pub use transformer::AttentionConfig;

pub const DEFAULT_NADE_HIDDEN: usize = 150;

/// What the model reads at each step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Input {
    /// Binary frames of `units` piano-roll units.
    Frames { units: usize },
    /// Token ids below `vocab`, embedded in `embedding` dimensions. With `styles` > 0
    /// each sequence also has a style (an id below `styles`) whose own embedding is added
    /// to every step's, so the style steers the whole piece.
    Tokens {
        vocab: usize,
        embedding: usize,
        #[serde(default, skip_serializing_if = "is_zero")]
        styles: usize,
    },
}

/// Everything needed to build a model; stored in every checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// The recurrent cell, or `transformer` (with `attention`).
    pub cell: CellKind,
    /// LSTM only.
    #[serde(default)]
    pub peephole: bool,
    pub hidden: usize,
    pub layers: usize,
    /// Dropout on each layer's output (between layers and before the head).
    pub dropout: f64,
    pub head: HeadKind,
    pub input: Input,
    /// Units (frames), vocabulary size (tokens) or outputs (regression).
    pub outputs: usize,
    #[serde(default = "default_nade_hidden")]
    pub nade_hidden: usize,
    /// Transformer only: heads, feed-forward width, positions. Its width is `hidden`, its
    /// blocks `layers`, and a token model's embedding must be as wide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention: Option<AttentionConfig>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn default_nade_hidden() -> usize {
    DEFAULT_NADE_HIDDEN
}

impl ModelConfig {
    /// Checks sizes and that the head fits the input.
    pub fn validate(&self) -> Result<(), String> {
        use crate::sizes::{MAX_LAYERS, MAX_VOCAB, MAX_WIDTH, check};
        check(&[
            ("hidden", self.hidden, MAX_WIDTH),
            ("layers", self.layers, MAX_LAYERS),
            ("outputs", self.outputs, MAX_VOCAB),
            ("nade_hidden", self.nade_hidden, MAX_WIDTH),
        ])?;
        match self.input {
            Input::Frames { units } => check(&[("input units", units, MAX_VOCAB)])?,
            Input::Tokens { vocab, embedding, styles } => {
                check(&[("vocab", vocab, MAX_VOCAB), ("embedding", embedding.max(1), MAX_WIDTH)])?;
                check(&[("styles", styles + 1, MAX_VOCAB)])?;
            }
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(format!("dropout must be in 0..1, but was {}", self.dropout));
        }
        if self.peephole && self.cell != CellKind::Lstm {
            return Err("peepholes exist only for the LSTM".into());
        }
        match (&self.attention, self.cell, self.input) {
            (None, CellKind::Transformer, _) => return Err("a transformer needs its attention settings".into()),
            (Some(_), cell, _) if cell != CellKind::Transformer => {
                return Err(format!("attention settings are for a transformer, not {cell:?}"));
            }
            (Some(_), _, Input::Tokens { embedding, .. }) if embedding != self.hidden => {
                return Err(format!("a transformer's embedding ({embedding}) must be its width ({})", self.hidden));
            }
            (Some(a), ..) => a.validate(self.hidden)?,
            (None, ..) => {}
        }
        match (self.head, self.input) {
            (HeadKind::Sigmoid | HeadKind::Nade, Input::Frames { units }) if units == self.outputs => Ok(()),
            (HeadKind::Softmax, Input::Tokens { vocab, embedding, .. }) if vocab == self.outputs && embedding > 0 => {
                Ok(())
            }
            (HeadKind::Regression, _) => Ok(()),
            (head, input) => {
                Err(format!("a {head:?} head cannot be trained on {input:?} with {} outputs", self.outputs))
            }
        }
    }

    pub fn init(&self, device: &Device) -> SequenceModel {
        let (embedding, style, mut d_input) = match self.input {
            Input::Frames { units } => (None, None, units),
            Input::Tokens { vocab, embedding, styles } => (
                Some(EmbeddingConfig::new(vocab, embedding).init(device)),
                (styles > 0).then(|| EmbeddingConfig::new(styles, embedding).init(device)),
                embedding,
            ),
        };
        let transformer = self.attention.as_ref().map(|a| {
            let frames = matches!(self.input, Input::Frames { .. }).then_some(d_input);
            a.init(self.hidden, self.layers, self.dropout, frames, device)
        });
        let recurrent = if transformer.is_some() { 0 } else { self.layers };
        let layers = (0..recurrent)
            .map(|_| {
                let layer = LayerConfig::new(self.cell, d_input, self.hidden).with_peephole(self.peephole).init(device);
                d_input = self.hidden;
                layer
            })
            .collect();
        SequenceModel {
            embedding,
            style,
            layers,
            transformer,
            dropout: DropoutConfig::new(self.dropout).init(),
            head: Head::init(self.head, self.hidden, self.outputs, self.nade_hidden, device),
        }
    }
}

/// burn's [`Dropout`] (every model in this crate calls this instead of its `forward`)
/// with the mask drawn faster: one seed per call from the device's random stream (so a
/// seeded run stays reproducible), then [`fused::Mask`]'s ChaCha8 stream compared with
/// the keep probability, the mask already scaled by 1 / keep; on the CPU as one fused
/// operation split between the threads ([`fused::dropout`]), elsewhere multiplied in.
/// burn draws a Bernoulli variable per element, about an eighth of a 3 × LSTM-128
/// training step in a profile.
pub(crate) fn dropout<const D: usize>(d: &Dropout, x: Tensor<D>) -> Tensor<D> {
    if !d.training.is_enabled() || !x.device().is_autodiff() || d.prob == 0.0 {
        return x;
    }
    let device = x.device();
    let seed: Vec<f32> = Tensor::<1>::random([2], Distribution::Default, &device)
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32 draws");
    let mask =
        fused::Mask { seed: u64::from(seed[0].to_bits()) << 32 | u64::from(seed[1].to_bits()), keep: 1.0 - d.prob };
    if fused::supported(&device) {
        return fused::dropout(x, mask);
    }
    let shape = x.shape();
    x * Tensor::from_data(TensorData::new(mask.values(shape.num_elements()), shape), &device)
}

/// What a model reads: frames `[batch, time, units]` or token ids `[batch, time]`, with
/// each row's style `[batch]` for a model that has styles.
// One per batch or step, moved once: boxing the larger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Inputs {
    Frames(Tensor<3>),
    Tokens { ids: Tensor<2, Int>, style: Option<Tensor<1, Int>> },
}

#[derive(Module, Debug)]
pub struct SequenceModel {
    embedding: Option<Embedding>,
    style: Option<Embedding>,
    layers: Vec<Layer>,
    transformer: Option<transformer::Transformer>,
    dropout: Dropout,
    pub head: Head,
}

impl SequenceModel {
    /// The top layer's output at every step: `[batch, time, hidden]`, from zero states.
    pub fn hidden(&self, inputs: Inputs) -> Tensor<3> {
        let x = self.embed(inputs);
        if let Some(t) = &self.transformer {
            let x = match &t.frames {
                Some(frames) => frames.forward(x),
                None => x,
            };
            return t.forward(dropout(&self.dropout, x));
        }
        let [batch, _, _] = x.dims();
        let device = x.device();
        let mut x = x;
        for layer in &self.layers {
            let out = layer.outputs(x, layer.zero_state(batch, &device)); // [batch, time, hidden]
            x = dropout(&self.dropout, out);
        }
        x
    }

    /// The top layer's output at the given row-major positions (`row · time + t`,
    /// distinct and ascending, as [`crate::batch::make_batch`] lists them): `[n, hidden]`.
    pub fn hidden_at(&self, inputs: Inputs, positions: Tensor<1, Int>) -> Tensor<2> {
        let h = self.hidden(inputs);
        let [batch, time, hidden] = h.dims();
        let h = h.reshape([batch * time, hidden]);
        // Every step scored (windows of one length): the gather would copy them in order.
        if positions.dims()[0] == batch * time { h } else { h.select(0, positions) }
    }

    /// Mean loss per scored step of a batch.
    pub fn loss(&self, batch: &crate::batch::Batch) -> Tensor<1> {
        let h = self.hidden_at(batch.inputs.clone(), batch.positions.clone());
        self.head.loss(h, &batch.target).mean()
    }

    fn embed(&self, inputs: Inputs) -> Tensor<3> {
        match (inputs, &self.embedding, &self.style) {
            (Inputs::Frames(x), None, _) => x,
            (Inputs::Tokens { ids, style: None }, Some(e), None) => e.forward(ids), // [batch, time, embedding]
            (Inputs::Tokens { ids, style: Some(style) }, Some(e), Some(s)) => {
                let [batch, _] = ids.dims();
                // [batch, 1, embedding], broadcast over the time steps.
                e.forward(ids) + s.forward(style.reshape([batch, 1]))
            }
            (Inputs::Tokens { style: None, .. }, _, Some(_)) => panic!("this model needs a style for every sequence"),
            (inputs, ..) => panic!("this model cannot read {inputs:?}"),
        }
    }

    /// How many styles the model knows (0: none).
    pub fn styles(&self) -> usize {
        self.style.as_ref().map_or(0, |s| s.weight.dims()[0])
    }
}

#[cfg(test)]
mod tests {
    use burn::nn::DropoutConfig;

    use super::*;

    /// Dropout masks while training (an autodiff device) and passes the input through
    /// otherwise.
    #[test]
    fn dropout_applies_only_while_training() {
        let d = DropoutConfig::new(0.3).init();
        let values = |device: Device| -> Vec<f32> {
            dropout(&d, Tensor::<2>::ones([100, 100], &device)).into_data().convert::<f32>().try_to_vec().unwrap()
        };
        let trained = values(Device::flex().autodiff());
        let dropped = trained.iter().filter(|v| **v == 0.0).count() as f64 / trained.len() as f64;
        assert!((dropped - 0.3).abs() < 0.02, "dropped {dropped}");
        assert!(values(Device::flex()).iter().all(|v| *v == 1.0));
    }
}
