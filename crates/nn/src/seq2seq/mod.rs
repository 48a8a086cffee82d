//! The encoder–decoder of the second paper: a bidirectional LSTM/GRU encoder reads a
//! source line, its final states make one fixed vector, and an LSTM/GRU decoder started
//! from that vector writes one or more target lines step by step, optionally attending
//! (Luong's "general" attention) over the encoder's outputs at every step.
//!
//! Lines are melody tokens on the sixteenth-note grid (HOLD, REST, 88 pitches: see
//! [`fugato_repr::melody`]); every step also carries its place in the bar. Two tasks use
//! it: **harmonisation** (soprano in; alto, tenor and bass out, step for step: the decoder
//! also reads the encoder's output at its own step) and **continuation** (four bars in,
//! the next four out). The encoder's vector doubles as a music embedding ([`similar`]).

pub mod harmony;
pub mod similar;
pub mod train;

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::activation::{log_softmax, softmax, tanh};
use burn::tensor::{Device, Int, Tensor};
use serde::{Deserialize, Serialize};

use fugato_data::lines as data;
pub use fugato_data::lines::Task;

use crate::model::{CellKind, Layer, LayerConfig, LayerState, dropout};

/// Everything needed to build a model; stored in every checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Seq2SeqConfig {
    pub cell: CellKind,
    pub hidden: usize,
    pub embedding: usize,
    /// Attend over the encoder's outputs at each decoder step.
    pub attention: bool,
    /// Source and target have the same length and step t of one belongs to step t of the
    /// other (harmonisation): the decoder also reads the encoder's output at its step.
    pub aligned: bool,
    pub dropout: f64,
    /// In training, the chance that the decoder reads a rest instead of a line's previous
    /// token (word dropout: it must lean on the source, not only on what it wrote).
    #[serde(default)]
    pub token_dropout: f64,
    /// Token vocabulary of every line.
    pub vocab: usize,
    /// Target lines.
    pub streams: usize,
    /// Places in a bar a step can have.
    pub positions: usize,
}

impl Seq2SeqConfig {
    pub fn new(task: Task, cell: CellKind, hidden: usize) -> Seq2SeqConfig {
        Seq2SeqConfig {
            cell,
            hidden,
            embedding: 64,
            attention: true,
            aligned: task == Task::Harmonize,
            dropout: 0.2,
            token_dropout: 0.0,
            vocab: fugato_repr::melody::VOCAB_SIZE as usize,
            streams: task.streams(),
            positions: data::POSITIONS,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        use crate::sizes::{MAX_VOCAB, MAX_WIDTH, check};
        check(&[
            ("hidden", self.hidden, MAX_WIDTH),
            ("embedding", self.embedding, MAX_WIDTH),
            ("vocab", self.vocab, MAX_VOCAB),
            ("streams", self.streams, 16),
            ("positions", self.positions, MAX_VOCAB),
        ])?;
        if self.cell == crate::model::CellKind::Transformer {
            return Err("the cell must be rnn, lstm or gru".into());
        }
        for (name, p) in [("dropout", self.dropout), ("token_dropout", self.token_dropout)] {
            if !(0.0..1.0).contains(&p) {
                return Err(format!("{name} must be in 0..1, but was {p}"));
            }
        }
        Ok(())
    }

    pub fn init(&self, device: &Device) -> Seq2Seq {
        let (h, e) = (self.hidden, self.embedding);
        let layer = |d_input| LayerConfig::new(self.cell, d_input, h).init(device);
        let d_decoder = e + if self.aligned { 2 * h } else { 0 };
        Seq2Seq {
            source: EmbeddingConfig::new(self.vocab, e).init(device),
            position: EmbeddingConfig::new(self.positions, e).init(device),
            forward: layer(e),
            backward: layer(e),
            bridge: LinearConfig::new(2 * h, h).init(device),
            targets: (0..self.streams).map(|_| EmbeddingConfig::new(self.vocab, e).init(device)).collect(),
            decoder: layer(d_decoder),
            attention: self.attention.then(|| Attention {
                key: LinearConfig::new(2 * h, h).with_bias(false).init(device),
                combine: LinearConfig::new(3 * h, h).init(device),
            }),
            heads: (0..self.streams).map(|_| LinearConfig::new(h, self.vocab).init(device)).collect(),
            dropout: DropoutConfig::new(self.dropout).init(),
        }
    }
}

/// Luong's "general" attention: score(d, e) = dᵀ W e; the context joins the decoder
/// output through `combine` and a tanh.
#[derive(Module, Debug)]
pub struct Attention {
    key: Linear,
    combine: Linear,
}

#[derive(Module, Debug)]
pub struct Seq2Seq {
    source: Embedding,
    position: Embedding,
    forward: Layer,
    backward: Layer,
    /// The fixed vector ↦ the decoder's first hidden state.
    bridge: Linear,
    targets: Vec<Embedding>,
    decoder: Layer,
    attention: Option<Attention>,
    heads: Vec<Linear>,
    dropout: Dropout,
}

/// A batch of equally long examples, as tensors.
#[derive(Clone, Debug)]
pub struct Batch {
    /// `[batch, source steps]`
    pub source: Tensor<2, Int>,
    pub source_positions: Tensor<2, Int>,
    /// Per target line, the previous step's token (the decoder's input): `[batch, target steps]`.
    pub previous: Vec<Tensor<2, Int>>,
    pub target_positions: Tensor<2, Int>,
    /// Per target line, the tokens to predict: `[batch · target steps]`.
    pub expected: Vec<Tensor<1, Int>>,
}

/// What the encoder made of a source: its outputs `[batch, steps, 2·hidden]` and the fixed
/// vector `[batch, 2·hidden]` (the forward pass's last state beside the backward pass's).
#[derive(Clone, Debug)]
pub struct Encoded {
    pub outputs: Tensor<3>,
    pub vector: Tensor<2>,
}

impl Seq2Seq {
    pub fn encode(&self, source: Tensor<2, Int>, positions: Tensor<2, Int>) -> Encoded {
        let [batch, _] = source.dims();
        let device = source.device();
        let x = dropout(&self.dropout, self.source.forward(source) + self.position.forward(positions));
        let (fwd, fwd_last) = self.forward.forward(x.clone(), self.forward.zero_state(batch, &device));
        let (bwd, bwd_last) = self.backward.forward(x.flip([1]), self.backward.zero_state(batch, &device));
        Encoded {
            outputs: Tensor::cat(vec![fwd, bwd.flip([1])], 2),
            vector: Tensor::cat(vec![fwd_last.hidden().clone(), bwd_last.hidden().clone()], 1),
        }
    }

    /// The decoder's state before its first step: the fixed vector through the bridge.
    pub fn start(&self, encoded: &Encoded) -> LayerState {
        let h = tanh(self.bridge.forward(encoded.vector.clone()));
        match self.decoder.zero_state(h.dims()[0], &h.device()) {
            LayerState::HiddenCell(_, c) => LayerState::HiddenCell(h, c),
            LayerState::Hidden(_) => LayerState::Hidden(h),
        }
    }

    /// Decoder input for steps whose previous tokens are `previous` (per line
    /// `[batch, steps]`), at `positions`; `aligned` are the encoder outputs at the same steps.
    fn decoder_input(
        &self,
        previous: &[Tensor<2, Int>],
        positions: Tensor<2, Int>,
        aligned: Option<Tensor<3>>,
    ) -> Tensor<3> {
        let mut x = self.position.forward(positions);
        for (embedding, ids) in self.targets.iter().zip(previous) {
            x = x + embedding.forward(ids.clone());
        }
        match aligned {
            Some(e) => Tensor::cat(vec![x, e], 2),
            None => x,
        }
    }

    /// Decoder outputs `[batch, steps, hidden]` ↦ attended outputs of the same shape.
    fn attend(&self, d: Tensor<3>, encoded: &Encoded) -> Tensor<3> {
        let Some(att) = &self.attention else { return d };
        let keys = att.key.forward(encoded.outputs.clone()); // [batch, source, h]
        let scores = d.clone().matmul(keys.swap_dims(1, 2)); // [batch, steps, source]
        let weights = softmax(scores, 2);
        let context = weights.matmul(encoded.outputs.clone()); // [batch, steps, 2h]
        tanh(att.combine.forward(Tensor::cat(vec![d, context], 2)))
    }

    /// Logits per target line, `[batch, steps, vocab]`, with teacher forcing.
    pub fn logits(&self, batch: &Batch) -> Vec<Tensor<3>> {
        let encoded = self.encode(batch.source.clone(), batch.source_positions.clone());
        let aligned = self.aligned().then(|| encoded.outputs.clone());
        let x = dropout(&self.dropout, self.decoder_input(&batch.previous, batch.target_positions.clone(), aligned));
        let (d, _) = self.decoder.forward(x, self.start(&encoded));
        let o = dropout(&self.dropout, self.attend(d, &encoded));
        self.heads.iter().map(|head| head.forward(o.clone())).collect()
    }

    /// Mean cross-entropy per predicted token, summed over the target lines.
    pub fn loss(&self, batch: &Batch) -> Tensor<1> {
        let mut total: Option<Tensor<1>> = None;
        for (logits, expected) in self.logits(batch).into_iter().zip(&batch.expected) {
            let [b, t, v] = logits.dims();
            let logp = log_softmax(logits.reshape([b * t, v]), 1);
            let picked: Tensor<2> = logp.gather(1, expected.clone().unsqueeze_dim(1)); // [b·t, 1]
            let nll = -picked.mean().reshape([1]);
            total = Some(match total {
                Some(sum) => sum + nll,
                None => nll,
            });
        }
        total.expect("at least one target line")
    }

    /// One decoder step for sampling: the previous tokens per line `[batch]`, the step's
    /// place in the bar `[batch]` and, for aligned models, its encoder output
    /// `[batch, 2·hidden]`. Returns the logits per line `[batch, vocab]` and the new state.
    pub fn step(
        &self,
        previous: &[Tensor<1, Int>],
        position: Tensor<1, Int>,
        aligned: Option<Tensor<2>>,
        encoded: &Encoded,
        state: LayerState,
    ) -> (Vec<Tensor<2>>, LayerState) {
        let previous: Vec<Tensor<2, Int>> = previous.iter().map(|p| p.clone().unsqueeze_dim(1)).collect();
        let x: Tensor<2> = self
            .decoder_input(&previous, position.unsqueeze_dim(1), aligned.map(|a| a.unsqueeze_dim(1)))
            .squeeze_dim(1);
        let state = self.decoder.step(x, state);
        let o: Tensor<2> = self.attend(state.hidden().clone().unsqueeze_dim(1), encoded).squeeze_dim(1);
        (self.heads.iter().map(|head| head.forward(o.clone())).collect(), state)
    }

    /// Whether the decoder reads the encoder's output at its own step.
    pub fn aligned(&self) -> bool {
        let e = self.position.weight.dims()[1];
        self.decoder.d_input() > e
    }

    pub fn vocab(&self) -> usize {
        self.source.weight.dims()[0]
    }

    pub fn streams(&self) -> usize {
        self.heads.len()
    }
}
