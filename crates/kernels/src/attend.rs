//! A Transformer stepped at batch 1 with a cache of keys and values, for sampling: each
//! new item costs one pass over the weights and one over the cached keys and values of
//! the items before it, never a pass over the whole prefix.
//!
//! The arithmetic is the op-by-op model's (`fugato_nn`'s `transformer` module): pre-norm
//! blocks, causal multi-head attention with relative position embeddings (Music
//! Transformer's `q · E[min(i − j, distances − 1)]` added to `q · k`) or absolute ones
//! (added to the input, the last row reused past the table), exact GELU, final norm.
//! The cache keeps the last [`Decoder::capacity`] items, the model's window (a query sees
//! that many items, itself included), so a step's output is the op-by-op model's output
//! at that position of the whole sequence.

use std::collections::VecDeque;

use crate::gemm::Isa;
use crate::step::{PanelMatrix, add};
use crate::workers::in_blocks;

/// A layer norm's parameters.
#[derive(Clone, Debug)]
pub struct Norm {
    pub gamma: Vec<f32>,
    pub beta: Option<Vec<f32>>,
    pub epsilon: f32,
}

/// `y = b + x · W`, `W [k, n]` row-major.
#[derive(Clone, Debug)]
pub struct Dense {
    pub w: Vec<f32>,
    pub k: usize,
    pub n: usize,
    pub b: Vec<f32>,
}

/// One block's parameters as the op-by-op model holds them.
#[derive(Clone, Debug)]
pub struct BlockWeights {
    pub heads: usize,
    pub norm_attention: Norm,
    /// `[width] → [3·width]`: queries, keys, values.
    pub qkv: Dense,
    /// Relative embeddings `[heads, distances, head width]` and `distances`.
    pub relative: Option<(Vec<f32>, usize)>,
    pub out: Dense,
    pub norm_ff: Norm,
    pub ff_in: Dense,
    pub ff_out: Dense,
}

/// A dense layer packed for matrix–vector products, its columns split into a block per
/// thread (one block for small layers).
struct Packed {
    parts: Vec<(PanelMatrix, Vec<f32>)>,
}

/// Below this many weights a layer's product (and below half as many cached keys' values
/// an attention) runs on one thread: a hand-over would cost more than it saves. Each
/// hand-over waits for the other thread, so on a machine busy with other work the split
/// costs a scheduler's time slice per product: a Transformer of width 128 (the chorale
/// model) sampled at 0.2 ms/token on one thread and at 61 ms/token on two split at 32K
/// weights, with a test build and a training run on the same two cores.
const THREADED_WEIGHTS: usize = 131_072;

impl Packed {
    fn of(d: &Dense, threads: usize, threaded: usize) -> Packed {
        let parts = if d.k * d.n < threaded { 1 } else { threads };
        // Column blocks of whole panels of 16 where the width allows it.
        let step = d.n.div_ceil(parts).div_ceil(16) * 16;
        let parts = (0..d.n)
            .step_by(step.max(1))
            .map(|c0| {
                let c1 = (c0 + step).min(d.n);
                let w: Vec<f32> = (0..d.k).flat_map(|r| d.w[r * d.n + c0..r * d.n + c1].iter().copied()).collect();
                (PanelMatrix::new(&w, d.k, c1 - c0), d.b[c0..c1].to_vec())
            })
            .collect();
        Packed { parts }
    }

    fn apply(&self, isa: Isa, x: &[f32], y: &mut Vec<f32>) {
        y.clear();
        if let [(w, b)] = &self.parts[..] {
            y.extend_from_slice(b);
            w.multiply_add(isa, x, y);
            return;
        }
        let outs = in_blocks(self.parts.iter(), |_, (w, b)| {
            let mut y = b.clone();
            w.multiply_add(isa, x, &mut y);
            y
        });
        outs.iter().for_each(|o| y.extend_from_slice(o));
    }
}

struct Block {
    heads: usize,
    norm_attention: Norm,
    qkv: Packed,
    relative: Option<(Vec<f32>, usize)>,
    out: Packed,
    norm_ff: Norm,
    ff_in: Packed,
    ff_out: Packed,
    /// The cached items' keys and values, `[width]` each, oldest first.
    keys: VecDeque<Vec<f32>>,
    values: VecDeque<Vec<f32>>,
}

/// A Transformer at batch 1 with its cache.
pub struct Decoder {
    isa: Isa,
    width: usize,
    blocks: Vec<Block>,
    norm: Norm,
    /// Absolute positions: `[rows, width]`.
    position: Option<Vec<f32>>,
    capacity: usize,
    threads: usize,
    threaded: usize,
    /// Items fed so far.
    fed: usize,
    x: Vec<f32>,
    top: Vec<f32>,
    normed: Vec<f32>,
    qkv: Vec<f32>,
    scores: Vec<f32>,
    attended: Vec<f32>,
    projected: Vec<f32>,
    hidden: Vec<f32>,
}

impl Decoder {
    /// `capacity`: the most items whose keys and values are kept (at least 1).
    pub fn new(blocks: &[BlockWeights], norm: Norm, position: Option<Vec<f32>>, capacity: usize) -> Decoder {
        Decoder::on_threads(blocks, norm, position, capacity, crate::threads().min(2), THREADED_WEIGHTS)
    }

    /// `threaded`: the least weights (or cached keys' values) split between the threads.
    fn on_threads(
        blocks: &[BlockWeights],
        norm: Norm,
        position: Option<Vec<f32>>,
        capacity: usize,
        threads: usize,
        threaded: usize,
    ) -> Decoder {
        let width = norm.gamma.len();
        Decoder {
            isa: Isa::detect(),
            width,
            blocks: blocks
                .iter()
                .map(|b| Block {
                    heads: b.heads,
                    norm_attention: b.norm_attention.clone(),
                    qkv: Packed::of(&b.qkv, threads, threaded),
                    relative: b.relative.clone(),
                    out: Packed::of(&b.out, threads, threaded),
                    norm_ff: b.norm_ff.clone(),
                    ff_in: Packed::of(&b.ff_in, threads, threaded),
                    ff_out: Packed::of(&b.ff_out, threads, threaded),
                    keys: VecDeque::new(),
                    values: VecDeque::new(),
                })
                .collect(),
            norm,
            position,
            capacity: capacity.max(1),
            threads,
            threaded,
            fed: 0,
            x: Vec::new(),
            top: vec![0.0; width],
            normed: Vec::new(),
            qkv: Vec::new(),
            scores: Vec::new(),
            attended: Vec::new(),
            projected: Vec::new(),
            hidden: Vec::new(),
        }
    }

    pub fn width(&self) -> usize {
        self.width
    }

    /// The most items attended to.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Reads one embedded item `x [width]`.
    pub fn feed(&mut self, x: &[f32]) {
        assert_eq!(x.len(), self.width, "item width");
        let isa = self.isa;
        self.x.clear();
        self.x.extend_from_slice(x);
        if let Some(table) = &self.position {
            let rows = table.len() / self.width;
            add(isa, &table[self.fed.min(rows - 1) * self.width..][..self.width], &mut self.x);
        }
        for block in &mut self.blocks {
            let width = self.width;
            layer_norm(&block.norm_attention, &self.x, &mut self.normed);
            block.qkv.apply(isa, &self.normed, &mut self.qkv);
            if block.keys.len() == self.capacity {
                block.keys.pop_front();
                block.values.pop_front();
            }
            block.keys.push_back(self.qkv[width..2 * width].to_vec());
            block.values.push_back(self.qkv[2 * width..].to_vec());
            self.attended.clear();
            self.attended.resize(width, 0.0);
            let heads = block.heads;
            if heads > 1 && self.threads > 1 && block.keys.len() * width >= self.threaded / 2 {
                // Half the heads each, into the halves of the output.
                let hw = width / heads;
                let half = heads / 2 * hw;
                let (low, high) = self.attended.split_at_mut(half);
                let q = &self.qkv[..width];
                let block = &*block;
                in_blocks([(0, low), (heads / 2, high)].into_iter(), |_, (h0, out)| {
                    let mut scores = Vec::new();
                    attend(isa, block, q, h0, &mut scores, out);
                });
            } else {
                attend(isa, block, &self.qkv[..width], 0, &mut self.scores, &mut self.attended);
            }
            block.out.apply(isa, &self.attended, &mut self.projected);
            add(isa, &self.projected, &mut self.x);
            layer_norm(&block.norm_ff, &self.x, &mut self.normed);
            block.ff_in.apply(isa, &self.normed, &mut self.hidden);
            self.hidden.iter_mut().for_each(|h| *h = gelu(*h));
            block.ff_out.apply(isa, &self.hidden, &mut self.projected);
            add(isa, &self.projected, &mut self.x);
        }
        layer_norm(&self.norm, &self.x, &mut self.top);
        self.fed += 1;
    }

    /// The final norm's output after the last item: `[width]`.
    pub fn top(&self) -> &[f32] {
        &self.top
    }
}

vectorised! {
    /// The attention of the newest item (query `q [width]`) over the cached items, the
    /// newest last, for the heads from `h0` on that `out` (zeros) has room for.
    fn attend(block: &Block, q: &[f32], h0: usize, scores: &mut Vec<f32>, out: &mut [f32]) {
        let width = q.len();
        let hw = width / block.heads;
        let n = block.keys.len();
        let scale = 1.0 / (hw as f32).sqrt();
        for h in h0..h0 + out.len() / hw {
            let qh = &q[h * hw..][..hw];
            scores.clear();
            for (j, k) in block.keys.iter().enumerate() {
                let mut s = dot(qh, &k[h * hw..][..hw]);
                if let Some((table, distances)) = &block.relative {
                    let d = (n - 1 - j).min(distances - 1);
                    s += dot(qh, &table[(h * distances + d) * hw..][..hw]);
                }
                scores.push(s * scale);
            }
            let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0.0;
            for s in scores.iter_mut() {
                *s = (*s - max).exp();
                sum += *s;
            }
            let oh = &mut out[(h - h0) * hw..][..hw];
            for (p, v) in scores.iter().zip(&block.values) {
                let p = p / sum;
                for (o, v) in oh.iter_mut().zip(&v[h * hw..][..hw]) {
                    *o += p * v;
                }
            }
        }
    }
}

/// Σ a·b in sixteen running sums, so that it vectorises.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    let mut acc = [0f32; 16];
    for (x, y) in ca.zip(cb) {
        for i in 0..16 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

fn layer_norm(norm: &Norm, x: &[f32], y: &mut Vec<f32>) {
    let n = x.len() as f32;
    let mean = x.iter().sum::<f32>() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    let inv = 1.0 / (var + norm.epsilon).sqrt();
    y.clear();
    y.extend(x.iter().zip(&norm.gamma).map(|(v, g)| (v - mean) * inv * g));
    if let Some(beta) = &norm.beta {
        y.iter_mut().zip(beta).for_each(|(y, b)| *y += b);
    }
}

/// GELU, `x · Φ(x)`, with erf from Abramowitz and Stegun 7.1.26 (error below 1.5e-7).
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

fn erf(x: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t * (0.254_829_6 + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152_1 + t * 1.061_405_4))));
    let y = 1.0 - poly * (-x * x).exp();
    y.copysign(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step::tests::random;

    fn dense(k: usize, n: usize, seed: &mut u64) -> Dense {
        Dense { w: random(k * n, seed), k, n, b: random(n, seed) }
    }

    /// Two threads (the products' columns and the heads split between them) step to the
    /// same outputs as one, with relative and absolute positions, past the cache's size.
    #[test]
    fn two_threads_step_as_one() {
        let mut seed = 5;
        let (width, heads, ff, distances) = (64, 4, 128, 40);
        let norm = |seed: &mut u64| Norm {
            gamma: random(width, seed).iter().map(|g| 1.0 + g).collect(),
            beta: Some(random(width, seed)),
            epsilon: 1e-5,
        };
        for absolute in [false, true] {
            let blocks: Vec<BlockWeights> = (0..2)
                .map(|_| BlockWeights {
                    heads,
                    norm_attention: norm(&mut seed),
                    qkv: dense(width, 3 * width, &mut seed),
                    relative: (!absolute).then(|| (random(heads * distances * (width / heads), &mut seed), distances)),
                    out: dense(width, width, &mut seed),
                    norm_ff: norm(&mut seed),
                    ff_in: dense(width, ff, &mut seed),
                    ff_out: dense(ff, width, &mut seed),
                })
                .collect();
            let position = absolute.then(|| random(distances * width, &mut seed));
            let (final_norm, inputs) = (norm(&mut seed), random(150 * width, &mut seed));
            let mut one = Decoder::on_threads(&blocks, final_norm.clone(), position.clone(), 100, 1, 4096);
            let mut two = Decoder::on_threads(&blocks, final_norm, position, 100, 2, 4096);
            for (t, x) in inputs.chunks_exact(width).enumerate() {
                one.feed(x);
                two.feed(x);
                for (a, b) in one.top().iter().zip(two.top()) {
                    assert!((a - b).abs() < 1e-4, "absolute {absolute}, step {t}: {a} vs {b}");
                }
            }
        }
    }

    /// erf against values from a table (Abramowitz and Stegun, table 7.1).
    #[test]
    fn gelu_uses_an_accurate_erf() {
        for (x, want) in [(0.0, 0.0), (0.5, 0.520_499_9), (1.0, 0.842_700_8), (2.0, 0.995_322_3), (-1.0, -0.842_700_8)]
        {
            assert!((erf(x) - want).abs() < 5e-7, "erf({x}) = {} (want {want})", erf(x));
        }
        assert!((gelu(1.0) - 0.841_344_7).abs() < 1e-6);
    }
}
