//! The sigmoid head and its loss as one burn operation on the CPU backend, over
//! [`fugato_kernels::head`]'s arithmetic.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, ExtensionType, Flex, TensorMetadata, backend_extension};
use burn::tensor::{Tensor, TensorData};

use fugato_kernels::gemm::{self, Isa, Packed};
use fugato_kernels::head::{Residuals, gradients};
use fugato_kernels::pool;
use fugato_kernels::timers::{self, Phase};

/// The head's tensors: `h [rows, d]`, `w [d, units]`, `b [units]`, targets `x [rows, units]`.
#[derive(ExtensionType)]
pub struct HeadInputs<B: Backend> {
    pub h: FloatTensor<B>,
    pub w: FloatTensor<B>,
    pub b: FloatTensor<B>,
    pub x: FloatTensor<B>,
}

#[backend_extension(Flex, Autodiff)]
pub trait FusedBernoulli: Backend {
    /// `[rows]`: each row's negative log-likelihood of its targets, in nats.
    fn bernoulli_nll(#[extension_type] inputs: HeadInputs<Self>) -> FloatTensor<Self>;
}

/// −Σ_u [x_u log σ(l_u) + (1 − x_u) log σ(−l_u)] per row, `l = h·W + b`: `h [rows, d]`,
/// `w [d, units]`, `b [units]`, `x [rows, units]` → `[rows]`.
pub fn bernoulli_nll(h: Tensor<2>, w: Tensor<2>, b: Tensor<1>, x: Tensor<2>) -> Tensor<1> {
    let inputs = HeadInputs { h: h.into_dispatch(), w: w.into_dispatch(), b: b.into_dispatch(), x: x.into_dispatch() };
    Tensor::from_dispatch(<burn::backend::Dispatch as FusedBernoulli>::bernoulli_nll(inputs))
}

/// The head's inputs: `h`, `w`, `b`, `x`.
type Host = super::op::Host<4>;

impl Host {
    /// `(rows, d, units)`.
    fn dims(&self) -> (usize, usize, usize) {
        let (h, w) = (self.tensors[0].shape(), self.tensors[1].shape());
        assert_eq!(h[1], w[0], "head input width");
        assert_eq!(self.tensors[3].shape().dims::<2>(), [h[0], w[1]], "head targets");
        (h[0], h[1], w[1])
    }

    /// Each row's loss and, in place of its logits, the loss's gradient by each logit but
    /// for the row's weight, σ(l_u) − x_u ([`fugato_kernels::head::forward`]).
    fn forward(&self) -> (Residuals, FlexTensor) {
        let (rows, d, units) = self.dims();
        let (h, w, b, x) = (self.slice(0), self.slice(1), self.slice(2), self.slice(3));
        let (residuals, nll) = fugato_kernels::head::forward(rows, d, units, h, w, b, x);
        (residuals, FlexTensor::from_data(TensorData::new(nll, [rows])))
    }
}

impl FusedBernoulli for Flex {
    fn bernoulli_nll(inputs: HeadInputs<Self>) -> FloatTensor<Self> {
        let HeadInputs { h, w, b, x } = inputs;
        let (residuals, nll) = Host::new([h, w, b, x]).forward();
        pool::give(residuals.values);
        nll
    }
}

/// What the backward pass needs: the inputs and the residuals.
#[derive(Clone)]
struct Saved {
    host: Host,
    residuals: Arc<Residuals>,
}

impl std::fmt::Debug for Saved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Saved").finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct HeadBackward;

impl Backward<Flex, 4> for HeadBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Self::State, 4>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let _whole = timers::span(Phase::HeadBackward, 0);
        let Saved { host, residuals } = ops.state;
        let g = grads.consume::<Flex>(&ops.node);
        let g = if g.is_contiguous() { g } else { g.to_contiguous() };
        let g = g.as_slice::<f32>().expect("f32 gradient");
        let (rows, d, units) = host.dims();
        let (h, w) = (host.slice(0), host.slice(1));
        // The targets' gradient, −g·l, where asked for (targets are data in training): the
        // logits computed again.
        let dx = ops.parents[3].is_some().then(|| {
            let isa = Isa::detect();
            let logits = gemm::product(isa, rows, h, d, &Packed::from_rows(d, units, w, units), units);
            let b = host.slice(2);
            let rows = logits.chunks_exact(units).zip(g);
            rows.flat_map(|(l, g)| l.iter().zip(b).map(move |(l, b)| -g * (l + b))).collect::<Vec<f32>>()
        });
        let Residuals { values: mut dl, width } = Arc::unwrap_or_clone(residuals);
        let (dh, dw, db) = gradients(rows, d, units, h, w, g, &mut dl, width);
        pool::give(dl);
        let dh = ops.parents[0].is_some().then_some(dh);
        let dw = ops.parents[1].is_some().then_some(dw);
        let db = ops.parents[2].is_some().then_some(db);
        let computed = [
            dh.map(|v| (v, vec![rows, d])),
            dw.map(|v| (v, vec![d, units])),
            db.map(|v| (v, vec![units])),
            dx.map(|v| (v, vec![rows, units])),
        ];
        for (node, grad) in ops.parents.into_iter().zip(computed) {
            if let (Some(node), Some((values, shape))) = (node, grad) {
                grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(values, shape)));
            }
        }
    }
}

impl<C: CheckpointStrategy> FusedBernoulli for Autodiff<Flex, C> {
    fn bernoulli_nll(inputs: HeadInputs<Self>) -> FloatTensor<Self> {
        let HeadInputs { h, w, b, x } = inputs;
        let nodes = [h.node(), w.node(), b.node(), x.node()];
        let host = Host::new([h, w, b, x].map(|t| t.primitive().clone()));
        match HeadBackward.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (residuals, nll) = host.forward();
                prep.finish(Saved { host, residuals: Arc::new(residuals) }, nll)
            }
            OpsKind::UnTracked(prep) => {
                let (residuals, nll) = host.forward();
                pool::give(residuals.values);
                prep.finish(nll)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::activation::log_sigmoid;
    use burn::tensor::{Device, Distribution};

    use super::*;
    use crate::fused::relative_error;

    /// The fused head against burn's operations: each row's loss and the gradients of
    /// the state, the weights, the bias and (in two cases) the targets, on shapes large enough to split the products
    /// between threads and with logits far in both tails.
    #[test]
    fn fused_and_op_by_op_heads_agree_on_losses_and_gradients() {
        let device = Device::flex().autodiff();
        for (seed, [rows, d, units, scale]) in
            [[5, 3, 7, 1], [37, 16, 88, 1], [2048, 256, 88, 1], [64, 8, 20, 40]].into_iter().enumerate()
        {
            device.seed(seed as u64);
            let normal = |shape: [usize; 2]| Tensor::<2>::random(shape, Distribution::Normal(0.0, 1.0), &device);
            let h = (normal([rows, d]) * scale as f32).require_grad();
            let w = normal([d, units]).require_grad();
            let b = Tensor::<1>::random([units], Distribution::Normal(0.0, 1.0), &device).require_grad();
            // The targets' gradient only in some cases: the forward pass keeps the logits
            // only for it.
            let x = Tensor::<2>::random([rows, units], Distribution::Bernoulli(0.1), &device);
            let x = if seed % 2 == 1 { x.require_grad() } else { x };

            let fused = bernoulli_nll(h.clone(), w.clone(), b.clone(), x.clone());
            let logits = h.clone().matmul(w.clone()) + b.clone().unsqueeze::<2>();
            let ll = x.clone() * log_sigmoid(logits.clone()) + (x.clone().neg() + 1.0) * log_sigmoid(logits.neg());
            let reference = ll.sum_dim(1).squeeze_dim::<1>(1).neg();
            let loss_error = relative_error(fused.clone(), reference.clone());
            assert!(loss_error < 1e-5, "case {seed}: losses differ by {loss_error}");

            // A weight per row, so a row's gradient is not the same for every row.
            let weights = Tensor::<1>::random([rows], Distribution::Normal(0.0, 1.0), &device);
            let fused_grads = (fused * weights.clone()).sum().backward();
            let reference_grads = (reference * weights).sum().backward();
            let errors = [
                relative_error(h.grad(&fused_grads).unwrap(), h.grad(&reference_grads).unwrap()),
                relative_error(w.grad(&fused_grads).unwrap(), w.grad(&reference_grads).unwrap()),
                relative_error(b.grad(&fused_grads).unwrap(), b.grad(&reference_grads).unwrap()),
            ];
            assert!(errors.iter().all(|e| *e < 1e-4), "case {seed}: gradients (h, W, b) differ by {errors:?}");
            if seed % 2 == 1 {
                let error = relative_error(x.grad(&fused_grads).unwrap(), x.grad(&reference_grads).unwrap());
                assert!(error < 1e-4, "case {seed}: the targets' gradients differ by {error}");
            }
        }
    }
}
