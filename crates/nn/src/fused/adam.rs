//! burn's optimizer interface over [`fugato_kernels::adam`] on the CPU backend: the state
//! is burn's `AdamState`, so checkpoints read and write the same records; on other
//! backends (CUDA) it runs burn's `Adam` itself.

use burn::optim::decay::WeightDecayConfig;
use burn::optim::grad_clipping::GradientClipping;
use burn::optim::{Adam, AdamConfig, AdamState, AdaptiveMomentumState, LearningRate, ModuleOptimizer, Optimizer};
use burn::tensor::{Device, Tensor, TensorData};

use fugato_kernels::pool;
use fugato_kernels::timers::{self, Phase};

use super::values;

/// Adam (β₁ 0.9, β₂ 0.999, ε 1e-5, burn's defaults), each gradient clipped to `clip` in
/// L2 norm and `weight_decay`·θ added to it, as `AdamConfig` with the same settings does.
#[derive(Clone)]
pub struct FusedAdam {
    fused: fugato_kernels::adam::Adam,
    /// burn's Adam with the same settings, for devices without the fused pass.
    burn: Adam,
}

impl FusedAdam {
    /// The optimizer for a whole module.
    pub fn module_optimizer(clip: Option<f32>, weight_decay: Option<f32>) -> ModuleOptimizer {
        let config = AdamConfig::new().with_weight_decay(weight_decay.map(WeightDecayConfig::new));
        let fused = fugato_kernels::adam::Adam { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-5, clip, weight_decay };
        ModuleOptimizer::from(FusedAdam { fused, burn: config.build() })
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
            let grad = match self.fused.clip {
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
        self.fused.update(lr as f32, time, &mut theta, &mut g, &mut m, &mut v);
        pool::give(g);
        let time = time + 1;
        let tensor = |values: Vec<f32>| Tensor::from_data(TensorData::new(values, shape.clone()), &device);
        let state = AdamState::new(AdaptiveMomentumState::new(time, tensor(m), tensor(v)));
        (tensor(theta), Some(state))
    }

    fn to_device<const D: usize>(state: AdamState<D>, device: &Device) -> AdamState<D> {
        <Adam as Optimizer>::to_device(state, device)
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
