//! Dropout as one burn operation on the CPU backend: [`fugato_kernels::dropout`]'s fused
//! pass forward, its kept bits applied to the output's gradient backward.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Flex, TensorMetadata, backend_extension};
use burn::tensor::{Tensor, TensorData};
use fugato_kernels::dropout::{Mask, apply_bits, forward};

#[backend_extension(Flex, Autodiff)]
pub trait FusedDropout: Backend {
    /// `x` with each value multiplied by its value of `mask`.
    fn dropout(x: FloatTensor<Self>, mask: Mask) -> FloatTensor<Self>;
}

/// `x` times the values of `mask` ([`Mask::values`], in row-major order).
pub fn dropout<const D: usize>(x: Tensor<D>, mask: Mask) -> Tensor<D> {
    Tensor::from_dispatch(<burn::backend::Dispatch as FusedDropout>::dropout(x.into_dispatch(), mask))
}

impl FusedDropout for Flex {
    fn dropout(x: FloatTensor<Self>, mask: Mask) -> FloatTensor<Self> {
        let x = if x.is_contiguous() { x } else { x.to_contiguous() };
        let (y, _) = forward(mask, x.as_slice::<f32>().expect("f32 values"));
        FlexTensor::from_data(TensorData::new(y, x.shape()))
    }
}

impl<C: CheckpointStrategy> FusedDropout for Autodiff<Flex, C> {
    fn dropout(x: FloatTensor<Self>, mask: Mask) -> FloatTensor<Self> {
        let node = x.node();
        let x = x.primitive().clone();
        let x = if x.is_contiguous() { x } else { x.to_contiguous() };
        let (y, bits) = forward(mask, x.as_slice::<f32>().expect("f32 values"));
        let y = FlexTensor::from_data(TensorData::new(y, x.shape()));
        match DropoutBackward.prepare::<C>([node]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish(Saved { mask, bits: Arc::new(bits) }, y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }
}

/// The mask's bits, for the backward pass.
#[derive(Clone, Debug)]
struct Saved {
    mask: Mask,
    bits: Arc<Vec<u16>>,
}

#[derive(Debug)]
struct DropoutBackward;

impl Backward<Flex, 1> for DropoutBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let Saved { mask, bits } = ops.state;
        let dy = grads.consume::<Flex>(&ops.node);
        let dy = if dy.is_contiguous() { dy } else { dy.to_contiguous() };
        if let [Some(node)] = ops.parents {
            let dx = apply_bits(mask, dy.as_slice::<f32>().expect("f32 gradient"), &bits);
            grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(dx, dy.shape())));
        }
        super::reclaim(dy);
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Tensor, TensorData};
    use fugato_kernels::dropout::ONE_THREAD;

    use super::*;

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    /// The fused dropout gives `x` times [`Mask::values`] and, backward, the gradient
    /// times the same values, bit for bit: on one thread and split between threads, with
    /// lengths that end mid-block.
    #[test]
    fn fused_dropout_matches_the_mask_and_its_gradient() {
        let device = Device::flex().autodiff();
        for (n, keep) in [(1000, 0.5), (ONE_THREAD + 37, 0.7), (3 * ONE_THREAD + 1024, 0.5)] {
            let mask = Mask { seed: n as u64, keep };
            let xs: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let m = mask.values(n);
            let x = Tensor::<2>::from_data(TensorData::new(xs.clone(), [1, n]), &device).require_grad();
            let y = dropout(x.clone(), mask);
            let want: Vec<f32> = xs.iter().zip(&m).map(|(x, m)| x * m).collect();
            assert_eq!(values(y.clone()), want, "forward, {n} values");
            // The loss Σ y·w: the gradient of x is w·m.
            let w: Vec<f32> = (0..n).map(|i| (i % 7) as f32 - 3.0).collect();
            let wt = Tensor::<2>::from_data(TensorData::new(w.clone(), [1, n]), &device);
            let grads = (y * wt).sum().backward();
            let dx = values(x.grad(&grads).expect("x's gradient"));
            let want: Vec<f32> = w.iter().zip(&m).map(|(w, m)| w * m).collect();
            assert_eq!(dx, want, "backward, {n} values");
            let kept = m.iter().filter(|v| **v != 0.0).count() as f64 / n as f64;
            assert!((kept - keep).abs() < 0.05, "kept {kept} of {n}, want {keep}");
        }
        // Without autodiff, the same values.
        let mask = Mask { seed: 3, keep: 0.5 };
        let x = Tensor::<1>::ones([5000], &Device::flex());
        assert_eq!(values(dropout(x, mask)), mask.values(5000));
    }
}
