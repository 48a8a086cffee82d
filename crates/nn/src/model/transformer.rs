//! The Transformer body of a sequence model, op by op on burn: pre-layer-norm blocks of
//! causal multi-head self-attention and a GELU feed-forward, each with dropout on its
//! output before the residual sum, then a final layer norm.
//!
//! Positions are relative by default, as in Music Transformer (Huang et al. 2018): each
//! layer learns, per head, an embedding `E[h, d]` for every distance `d` from 0 to
//! `distances − 1` between a query and an earlier key (longer distances share the last
//! one), and a query's score for a key adds `q · E[h, i − j]` to `q · k`. The relative
//! scores of all pairs are one product `Q · Eᵀ` followed by the paper's "skewing" (pad a
//! column, reshape, drop a row), so no `[T, T, d]` tensor is made, and a piece longer than
//! the training window is read the way a window is: each query sees the `distances` items
//! up to itself and no further back (on the chorales' validation pieces, up to 2,000
//! tokens long, a model trained on windows of 256 scored 0.637 nats per token seeing the
//! whole past and 0.554 seeing its window, RESULTS.md). `absolute` positions (a learned embedding per
//! position, added to the input) are there to compare; a position past the table reuses
//! its last row.
//!
//! The sampler does not run this: it steps the same weights with a cache of keys and
//! values ([`fugato_kernels::attend`]), held to this module by the stepper's tests.

use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::{gelu, softmax};
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::dropout;
use crate::fused::values;
use fugato_kernels::attend::{BlockWeights, Dense, Norm};

/// The attention settings of a Transformer body; its width is the model's `hidden` and
/// its blocks the model's `layers`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttentionConfig {
    pub heads: usize,
    /// Width of each block's feed-forward layer.
    pub feed_forward: usize,
    /// Relative distances learned (relative positions) or positions embedded (absolute):
    /// also the most items a query sees, itself included.
    pub distances: usize,
    #[serde(default)]
    pub absolute: bool,
}

impl AttentionConfig {
    pub fn validate(&self, width: usize) -> Result<(), String> {
        use crate::sizes::{MAX_FRAMES, MAX_WIDTH, check};
        check(&[
            ("heads", self.heads, 256),
            ("feed_forward", self.feed_forward, MAX_WIDTH * 4),
            ("distances", self.distances, MAX_FRAMES * 4),
        ])?;
        if !width.is_multiple_of(self.heads) {
            return Err(format!("the width {width} must be a multiple of the {} heads", self.heads));
        }
        Ok(())
    }
}

/// One pre-norm block: `x + attend(norm(x))`, then `x + ff(norm(x))`.
#[derive(Module, Debug)]
pub struct Block {
    norm_attention: LayerNorm,
    /// `[width] → [3·width]`: queries, keys and values, head after head within each.
    qkv: Linear,
    /// Relative embeddings `[heads, distances, head width]` (none for absolute positions).
    relative: Option<Param<Tensor<3>>>,
    out: Linear,
    norm_ff: LayerNorm,
    ff_in: Linear,
    ff_out: Linear,
    #[module(skip)]
    heads: usize,
}

/// The blocks, their input's position embedding (absolute positions) and final norm.
#[derive(Module, Debug)]
pub struct Transformer {
    /// Piano-roll models: frames `[units] → [width]`.
    pub(super) frames: Option<Linear>,
    position: Option<Param<Tensor<2>>>,
    blocks: Vec<Block>,
    norm: LayerNorm,
    dropout: Dropout,
    /// The most items a query sees, itself included (`distances`).
    #[module(skip)]
    window: usize,
}

impl AttentionConfig {
    /// `frame_units`: piano-roll models' input width (token models embed their tokens
    /// outside, at the model's width).
    pub fn init(
        &self,
        width: usize,
        layers: usize,
        dropout: f64,
        frame_units: Option<usize>,
        device: &Device,
    ) -> Transformer {
        let small = Initializer::Normal { mean: 0.0, std: 0.02 };
        let head_width = width / self.heads;
        let blocks = (0..layers)
            .map(|_| Block {
                norm_attention: LayerNormConfig::new(width).init(device),
                qkv: LinearConfig::new(width, 3 * width).init(device),
                relative: (!self.absolute).then(|| small.init([self.heads, self.distances, head_width], device)),
                out: LinearConfig::new(width, width).init(device),
                norm_ff: LayerNormConfig::new(width).init(device),
                ff_in: LinearConfig::new(width, self.feed_forward).init(device),
                ff_out: LinearConfig::new(self.feed_forward, width).init(device),
                heads: self.heads,
            })
            .collect();
        Transformer {
            frames: frame_units.map(|units| LinearConfig::new(units, width).init(device)),
            position: self.absolute.then(|| small.init([self.distances, width], device)),
            blocks,
            norm: LayerNormConfig::new(width).init(device),
            dropout: DropoutConfig::new(dropout).init(),
            window: self.distances,
        }
    }
}

impl Transformer {
    /// `x [batch, time, width]` (embedded items) ↦ the final norm's output, same shape.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [_, time, width] = x.dims();
        let device = x.device();
        let mut x = match &self.position {
            Some(table) => {
                let rows = table.dims()[0];
                let at: Vec<i64> = (0..time).map(|t| t.min(rows - 1) as i64).collect();
                let at = Tensor::<1, Int>::from_data(TensorData::new(at, [time]), &device);
                x + table.val().select(0, at).reshape([1, time, width])
            }
            None => x,
        };
        // 0 where a query may see a key (0 ≤ i − j < window), −∞ (large) elsewhere.
        let causal = Tensor::<2>::zeros([time, time], &device)
            .mask_fill(Tensor::<2, Bool>::tril_mask([time, time], 0, &device), -1e9) // j > i
            .mask_fill(Tensor::<2, Bool>::triu_mask([time, time], 1 - self.window as i64, &device), -1e9) // i − j ≥ window
            .reshape([1, 1, time, time]);
        for block in &self.blocks {
            x = block.forward(x, causal.clone(), &self.dropout);
        }
        self.norm.forward(x)
    }

    /// The weights as plain `f32`, for the sampler's cached steps.
    pub fn plain(&self) -> (Vec<BlockWeights>, Norm, Option<Vec<f32>>) {
        let blocks = self.blocks.iter().map(Block::plain).collect();
        (blocks, plain_norm(&self.norm), self.position.as_ref().map(|p| values(p.val())))
    }
}

impl Block {
    fn forward(&self, x: Tensor<3>, causal: Tensor<4>, d: &Dropout) -> Tensor<3> {
        let [batch, time, width] = x.dims();
        let (heads, hw) = (self.heads, width / self.heads);
        let qkv = self.qkv.forward(self.norm_attention.forward(x.clone())); // [batch, time, 3·width]
        let part = |i: usize| -> Tensor<4> {
            // [batch, heads, time, head width]
            qkv.clone().narrow(2, i * width, width).reshape([batch, time, heads, hw]).swap_dims(1, 2)
        };
        let (q, k, v) = (part(0), part(1), part(2));
        let mut scores = q.clone().matmul(k.swap_dims(2, 3)); // [batch, heads, time, time]
        if let Some(relative) = &self.relative {
            scores = scores + skewed(q, relative.val(), time);
        }
        let scores = scores / (hw as f64).sqrt() + causal;
        let attended = softmax(scores, 3).matmul(v); // [batch, heads, time, head width]
        let attended = attended.swap_dims(1, 2).reshape([batch, time, width]);
        let x = x + dropout(d, self.out.forward(attended));
        let ff = self.ff_out.forward(gelu(self.ff_in.forward(self.norm_ff.forward(x.clone()))));
        x + dropout(d, ff)
    }

    fn plain(&self) -> BlockWeights {
        let linear = |l: &Linear| {
            let [k, n] = l.weight.dims();
            let b = l.bias.as_ref().map_or_else(|| vec![0.0; n], |b| values(b.val()));
            Dense { w: values(l.weight.val()), k, n, b }
        };
        BlockWeights {
            heads: self.heads,
            norm_attention: plain_norm(&self.norm_attention),
            qkv: linear(&self.qkv),
            relative: self.relative.as_ref().map(|r| (values(r.val()), r.dims()[1])),
            out: linear(&self.out),
            norm_ff: plain_norm(&self.norm_ff),
            ff_in: linear(&self.ff_in),
            ff_out: linear(&self.ff_out),
        }
    }
}

/// The relative scores `S[b, h, i, j] = q_i · E[h, min(i − j, distances − 1)]` for
/// `j ≤ i` (entries above the diagonal are left for the causal mask):
/// `q [batch, heads, time, hw]`, `table [heads, distances, hw]`.
fn skewed(q: Tensor<4>, table: Tensor<3>, time: usize) -> Tensor<4> {
    let [batch, heads, _, hw] = q.dims();
    let distances = table.dims()[1];
    let device = q.device();
    // Row m of `e` is distance time − 1 − m (relative position m − (time − 1)).
    let rows: Vec<i64> = (0..time).map(|m| (time - 1 - m).min(distances - 1) as i64).collect();
    let e = table.select(1, Tensor::<1, Int>::from_data(TensorData::new(rows, [time]), &device)); // [heads, time, hw]
    let qe = q.matmul(e.reshape([1, heads, time, hw]).swap_dims(2, 3)); // [batch, heads, time, time]
    let padded = Tensor::cat(vec![Tensor::zeros([batch, heads, time, 1], &device), qe], 3); // [.., time, time + 1]
    padded.reshape([batch, heads, time + 1, time]).narrow(2, 1, time)
}

fn plain_norm(norm: &LayerNorm) -> Norm {
    Norm { gamma: values(norm.gamma.val()), beta: norm.beta.as_ref().map(|b| values(b.val())), epsilon: 1e-5 }
}
