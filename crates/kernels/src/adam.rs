//! Adam with gradient clipping and weight decay as two passes over each parameter's `f32`
//! values: the clipping norm, then the update (burn's arithmetic in burn's order, so a
//! state written by either continues on the other). burn's `Adam` behind a
//! `ModuleOptimizer` clips each gradient (six tensor operations), then updates the moments
//! and the parameter (a dozen more), each pass allocating a new tensor: 5 % of an LSTM-256
//! training step.

use crate::gemm::{self, Isa};
use crate::in_blocks;

/// Adam's settings: β₁, β₂, ε, the clipping norm and the weight decay.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adam {
    pub beta_1: f32,
    pub beta_2: f32,
    pub epsilon: f32,
    /// Each gradient clipped to this L2 norm.
    pub clip: Option<f32>,
    /// `weight_decay`·θ added to each gradient.
    pub weight_decay: Option<f32>,
}

impl Adam {
    /// One step at learning rate `lr` of a parameter `theta` with gradient `g` (clipped in
    /// place) and moments `m`, `v` after `time` earlier steps.
    pub fn update(&self, lr: f32, time: usize, theta: &mut [f32], g: &mut [f32], m: &mut [f32], v: &mut [f32]) {
        let isa = Isa::detect();
        if let Some(clip) = self.clip {
            let norm = sum_of_squares(isa, g).sqrt();
            let coefficient = (clip / (norm + f32::MIN_POSITIVE)).min(1.0);
            scale(isa, coefficient, g);
        }
        let time = time as i32 + 1;
        let correction_2 = (1.0 - self.beta_2.powi(time)).sqrt();
        let step = Step {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            decay: self.weight_decay.unwrap_or(0.0),
            factor: correction_2 / (1.0 - self.beta_1.powi(time)),
            epsilon: self.epsilon * correction_2,
            lr,
        };
        // Large parameters in a block per thread (each element's update is independent).
        let per = gemm::rows_per_thread(theta.len(), UPDATE_WORK);
        let blocks = theta.chunks_mut(per).zip(g.chunks(per)).zip(m.chunks_mut(per)).zip(v.chunks_mut(per));
        in_blocks(blocks, |_, (((theta, g), m), v)| update(isa, step, theta, g, m, v));
    }
}

/// An element's update as work for `gemm::rows_per_thread` (about a row of sixteen
/// multiply-adds): a parameter of 65,536 elements or more is split between threads.
const UPDATE_WORK: usize = 16;

/// One step's constants.
#[derive(Clone, Copy)]
struct Step {
    beta_1: f32,
    beta_2: f32,
    decay: f32,
    /// √(1 − β₂ᵗ) / (1 − β₁ᵗ)
    factor: f32,
    /// ε·√(1 − β₂ᵗ)
    epsilon: f32,
    lr: f32,
}

vectorised! {
    /// θ −= lr · m̂ / (√v̂ + ε) after the moments take in g + decay·θ, in burn's order of
    /// operations.
    fn update(s: Step, theta: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
        let n = theta.len();
        let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
        for i in 0..n {
            let g = if s.decay == 0.0 { g[i] } else { theta[i] * s.decay + g[i] };
            m[i] = m[i] * s.beta_1 + g * (1.0 - s.beta_1);
            v[i] = v[i] * s.beta_2 + g * g * (1.0 - s.beta_2);
            theta[i] -= m[i] * s.factor / (v[i].sqrt() + s.epsilon) * s.lr;
        }
    }
}

/// Σ x², in sixteen running sums (vectorised).
fn sum_of_squares(isa: Isa, x: &[f32]) -> f32 {
    let mut sums = [0.0f32; 16];
    squares_into(isa, x, &mut sums);
    sums.iter().sum()
}

vectorised! {
    fn squares_into(x: &[f32], sums: &mut [f32; 16]) {
        let mut chunks = x.chunks_exact(16);
        for chunk in &mut chunks {
            for (s, v) in sums.iter_mut().zip(chunk) {
                *s += v * v;
            }
        }
        for (s, v) in sums.iter_mut().zip(chunks.remainder()) {
            *s += v * v;
        }
    }
}

vectorised! {
    fn scale(a: f32, x: &mut [f32]) {
        for v in x.iter_mut() {
            *v *= a;
        }
    }
}
