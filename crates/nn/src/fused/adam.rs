//! Adam with gradient clipping and weight decay as one pass over each parameter on the
//! CPU backend. burn's `Adam` behind a `ModuleOptimizer` clips each gradient (six tensor
//! operations), then updates the moments and the parameter (a dozen more), each pass
//! allocating a new tensor: 5 % of an LSTM-256 training step. Here the clipping norm is
//! one pass and the update a second, on plain `f32`, with burn's arithmetic in burn's
//! order. The state is burn's `AdamState`, so checkpoints read and write the same
//! records; on other backends (CUDA) it runs burn's `Adam` itself.

use burn::optim::decay::WeightDecayConfig;
use burn::optim::grad_clipping::GradientClipping;
use burn::optim::{Adam, AdamConfig, AdamState, AdaptiveMomentumState, LearningRate, ModuleOptimizer, Optimizer};
use burn::tensor::{Device, Tensor, TensorData};

use super::gemm::{self, Isa};
use super::timers::{self, Phase};
use super::values;
use super::{in_blocks, pool};

/// Adam (β₁ 0.9, β₂ 0.999, ε 1e-5, burn's defaults), each gradient clipped to `clip` in
/// L2 norm and `weight_decay`·θ added to it, as `AdamConfig` with the same settings does.
#[derive(Clone)]
pub struct FusedAdam {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    clip: Option<f32>,
    weight_decay: Option<f32>,
    /// burn's Adam with the same settings, for devices without the fused pass.
    burn: Adam,
}

impl FusedAdam {
    /// The optimizer for a whole module.
    pub fn module_optimizer(clip: Option<f32>, weight_decay: Option<f32>) -> ModuleOptimizer {
        let config = AdamConfig::new().with_weight_decay(weight_decay.map(WeightDecayConfig::new));
        ModuleOptimizer::from(FusedAdam {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-5,
            clip,
            weight_decay,
            burn: config.build(),
        })
    }
}

impl Optimizer for FusedAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<AdamState<D>>,
    ) -> (Tensor<D>, Option<AdamState<D>>) {
        let device = tensor.device();
        if !super::supported(&device) {
            let grad = match self.clip {
                Some(clip) => GradientClipping::Norm(clip).clip_gradient(grad),
                None => grad,
            };
            return self.burn.step(lr, tensor, grad, state);
        }
        let _whole = timers::span(Phase::Optimizer, 0);
        let shape = tensor.shape();
        let mut theta = values(tensor);
        let mut g = values(grad);
        let (time, mut m, mut v) = match state {
            Some(s) => (s.momentum.time, values(s.momentum.moment_1), values(s.momentum.moment_2)),
            None => (0, vec![0.0; theta.len()], vec![0.0; theta.len()]),
        };
        let isa = Isa::detect();
        if let Some(clip) = self.clip {
            let norm = sum_of_squares(isa, &g).sqrt();
            let coefficient = (clip / (norm + f32::MIN_POSITIVE)).min(1.0);
            scale(isa, coefficient, &mut g);
        }
        let time = time + 1;
        let correction_2 = (1.0 - self.beta_2.powi(time as i32)).sqrt();
        let step = Step {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            decay: self.weight_decay.unwrap_or(0.0),
            factor: correction_2 / (1.0 - self.beta_1.powi(time as i32)),
            epsilon: self.epsilon * correction_2,
            lr: lr as f32,
        };
        // Large parameters in a block per thread (each element's update is independent).
        let per = gemm::rows_per_thread(theta.len(), UPDATE_WORK);
        let blocks = theta.chunks_mut(per).zip(g.chunks(per)).zip(m.chunks_mut(per)).zip(v.chunks_mut(per));
        in_blocks(blocks, |_, (((theta, g), m), v)| update(isa, step, theta, g, m, v));
        pool::give(g);
        let tensor = |values: Vec<f32>| Tensor::from_data(TensorData::new(values, shape.clone()), &device);
        let state = AdamState::new(AdaptiveMomentumState::new(time, tensor(m), tensor(v)));
        (tensor(theta), Some(state))
    }

    fn to_device<const D: usize>(state: AdamState<D>, device: &Device) -> AdamState<D> {
        <Adam as Optimizer>::to_device(state, device)
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

#[cfg(test)]
mod tests {
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::GradientsParams;
    use burn::optim::grad_clipping::GradientClippingConfig;
    use burn::tensor::Distribution;

    use super::*;

    fn loss(model: &Linear, x: &Tensor<2>) -> Tensor<1> {
        let d = model.forward(x.clone()) - 0.5;
        (d.clone() * d).sum() * 40.0
    }

    /// Against burn's Adam with the same settings, over steps whose gradients are clipped
    /// (norms above the limit) or not, with and without weight decay, on a parameter
    /// updated on one thread and one split between threads; then a checkpoint round trip
    /// of its state, continued on both.
    #[test]
    fn fused_adam_follows_burns_adam() {
        let device = Device::flex().autodiff();
        // The last layer's weights are enough to split the update between threads.
        let cases = [(Some(1.0f32), None, 37, 19), (None, Some(0.01f32), 37, 19), (Some(50.0), Some(0.1), 37, 19)];
        for (clip, decay, inputs, outputs) in cases.into_iter().chain([(Some(1.0), None, 300, 257)]) {
            device.seed(4);
            let start = LinearConfig::new(inputs, outputs).init(&device);
            let x = Tensor::<2>::random([8, inputs], Distribution::Normal(0.0, 1.0), &device);
            let burn_config = AdamConfig::new()
                .with_grad_clipping(clip.map(GradientClippingConfig::Norm))
                .with_weight_decay(decay.map(WeightDecayConfig::new));
            let mut optimizers = [burn_config.init(), FusedAdam::module_optimizer(clip, decay)];
            let initial = values(start.weight.val());
            let mut models = [start.clone(), start];
            for step in 0..12 {
                if step == 6 {
                    // Continue the fused run from its saved state.
                    let bytes = optimizers[1].into_bytes().unwrap();
                    optimizers[1] = FusedAdam::module_optimizer(clip, decay).from_bytes(bytes).unwrap();
                }
                for (model, optimizer) in models.iter_mut().zip(optimizers.iter_mut()) {
                    let grads = GradientsParams::from_grads(loss(model, &x).backward(), &*model);
                    *model = optimizer.step(1e-2, model.clone(), grads);
                }
                let [a, b] = [&models[0], &models[1]].map(|m| values(m.weight.val()));
                let worst = a.iter().zip(&b).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
                assert!(worst < 1e-5, "clip {clip:?} decay {decay:?} step {step}: weights differ by {worst}");
            }
            let moved =
                values(models[1].weight.val()).iter().zip(&initial).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(moved > 1e-3, "the weights moved by {moved} only");
        }
    }
}
