//! The sigmoid head and its loss as one burn operation on the CPU backend: logits
//! `l = h·W + b`, then each row's Bernoulli negative log-likelihood
//! `Σ_u softplus(l_u) − x_u·l_u` (= −Σ_u [x_u log σ(l_u) + (1 − x_u) log σ(−l_u)]).
//! Op by op this was a matrix product, two `log_sigmoid`s and five element-wise passes
//! forward, as many backward, about a third of an LSTM-256 training step; here it is
//! two packed products forward and three backward, with one vectorised pass between.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, ExtensionType, Flex, TensorMetadata, backend_extension};
use burn::tensor::{Tensor, TensorData};

use super::gemm::{self, Isa, Packed};
use super::timers::{self, Phase};
use super::{in_blocks, pool};

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

    /// Each row's loss and, in place of its logits (`[rows, width]`, `units` used), the
    /// loss's gradient by each logit but for the row's weight, σ(l_u) − x_u. The rows
    /// split between threads.
    fn forward(&self) -> (Residuals, FlexTensor) {
        let _whole = timers::span(Phase::HeadForward, 0);
        let (rows, d, units) = self.dims();
        let isa = Isa::detect();
        let w = Packed::from_rows(d, units, self.slice(1), units);
        let width = w.padded_width();
        let (h, b, x) = (self.slice(0), self.slice(2), self.slice(3));
        let mut values = pool::take(rows * width); // every value written by the product
        let mut nll = vec![0.0f32; rows];
        let per = gemm::rows_per_thread(rows, d * units);
        let work = |r0: usize, l: &mut [f32], nll: &mut [f32]| {
            // SAFETY: `h` holds these rows of `d` floats, `l` as many of `width`.
            unsafe { gemm::multiply(isa, nll.len(), h[r0 * d..].as_ptr(), d, &w, l.as_mut_ptr(), width) };
            let mut terms = vec![0.0f32; units];
            for ((l, x), nll) in l.chunks_exact_mut(width).zip(x[r0 * units..].chunks_exact(units)).zip(nll) {
                row_loss(isa, &mut l[..units], b, x, &mut terms);
                *nll = terms.iter().sum();
            }
        };
        in_blocks(values.chunks_mut(per * width).zip(nll.chunks_mut(per)), |i, (l, n)| work(i * per, l, n));
        (Residuals { values, width }, FlexTensor::from_data(TensorData::new(nll, [rows])))
    }
}

/// σ(l) − x for every unit of every row (the forward pass's logits overwritten), rows
/// `width` apart (the product's padded width).
#[derive(Clone)]
struct Residuals {
    values: Vec<f32>,
    width: usize,
}

vectorised! {
    /// Adds the bias to one row of logits, writes each unit's loss,
    /// softplus(l_u) − x_u·l_u, to `terms`, and leaves σ(l_u) − x_u in the logit's place
    /// (from the same e^−|l|: the backward pass then only scales it).
    fn row_loss(l: &mut [f32], b: &[f32], x: &[f32], terms: &mut [f32]) {
        for (((l, b), x), t) in l.iter_mut().zip(b).zip(x).zip(terms) {
            let v = *l + b;
            let z = exp_negative(-v.abs());
            *t = v.max(0.0) + log1p_unit(z) - x * v;
            let p = if v >= 0.0 { 1.0 / (1.0 + z) } else { z / (1.0 + z) };
            *l = p - x;
        }
    }
}

vectorised! {
    /// One row's logit gradients, g·(σ(l_u) − x_u), over its residuals, added to `db`.
    fn row_gradient(g: f32, r: &mut [f32], db: &mut [f32]) {
        for (r, s) in r.iter_mut().zip(db) {
            *r *= g;
            *s += *r;
        }
    }
}

/// softplus(l) = log(1 + e^l) = max(l, 0) + log1p(e^−|l|), vectorisable, within about
/// 1e-7 relative.
#[cfg(test)]
fn softplus(l: f32) -> f32 {
    l.max(0.0) + log1p_unit(exp_negative(-l.abs()))
}

/// e^a for a ≤ 0 (Cephes' `expf`: a = n·ln 2 + r, |r| ≤ ln 2 / 2, a degree-7 polynomial
/// in r, then the exponent bits); held at e^−87 below −87 (f32's normal range ends there).
#[inline(always)]
fn exp_negative(a: f32) -> f32 {
    let a = a.max(-87.0);
    let n = (a * std::f32::consts::LOG2_E).round_ties_even();
    let r = a - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    e * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// log(1 + z) for 0 ≤ z ≤ 1: 2·atanh(s) with s = z / (2 + z) ≤ 1/3, as its series to s¹³
/// (the next term is below 2e-8 relative), so no cancellation for small z.
#[inline(always)]
fn log1p_unit(z: f32) -> f32 {
    let s = z / (2.0 + z);
    let s2 = s * s;
    let mut p = 1.0f32 / 13.0;
    p = p * s2 + 1.0 / 11.0;
    p = p * s2 + 1.0 / 9.0;
    p = p * s2 + 1.0 / 7.0;
    p = p * s2 + 1.0 / 5.0;
    p = p * s2 + 1.0 / 3.0;
    p = p * s2 + 1.0;
    2.0 * s * p
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

/// The gradients of `h` (`[rows, d]`), `W` (`[d, units]`) and `b` from each row's loss
/// gradient `g`, with the residuals `r` (overwritten by the logits' gradients). Each
/// thread takes a block of rows: their logits' gradients, their rows of dh, and its
/// block's share of dW (from `h` as it is, read transposed) and db, summed at the end.
#[allow(clippy::too_many_arguments)]
fn gradients(
    rows: usize,
    d: usize,
    units: usize,
    h: &[f32],
    w: &[f32],
    g: &[f32],
    r: &mut [f32],
    width: usize,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let isa = Isa::detect();
    let wt = Packed::from_columns(units, d, w, units);
    let dh_width = wt.padded_width();
    let mut dh = pool::take(rows * dh_width); // every row written whole by the product
    let per = gemm::rows_per_thread(rows, 3 * d * units);
    let work = |r0: usize, l: &mut [f32], dh: &mut [f32]| -> (Vec<f32>, Vec<f32>) {
        let n = dh.len() / dh_width;
        let mut db = vec![0.0f32; units];
        for (l, g) in l.chunks_exact_mut(width).zip(&g[r0..]) {
            row_gradient(isa, *g, &mut l[..units], &mut db);
        }
        // SAFETY: `l` holds `n` rows of `width` ≥ `units` floats, `dh` `n` of `dh_width`.
        unsafe { gemm::multiply(isa, n, l.as_ptr(), width, &wt, dh.as_mut_ptr(), dh_width) };
        let packed = Packed::from_rows(n, units, l, width);
        let mut dw = vec![0.0f32; d * packed.padded_width()];
        // SAFETY: `h` holds these `n` rows of `d` floats: hᵀ is `d` rows of `n`, stored
        // transposed with stride `d`; `dw` holds `d` rows of the padded width.
        unsafe {
            let ht = gemm::Left::transposed(h[r0 * d..][..n * d].as_ptr(), d);
            gemm::multiply_blocked(isa, d, ht, &packed, dw.as_mut_ptr(), packed.padded_width(), false, None)
        };
        (dw, db)
    };
    let partial =
        in_blocks(r.chunks_mut(per * width).zip(dh.chunks_mut(per * dh_width)), |i, (l, dh)| work(i * per, l, dh));
    let mut dw = vec![0.0f32; d * units];
    let mut db = vec![0.0f32; units];
    for (pdw, pdb) in &partial {
        let pw = pdw.len() / d.max(1);
        for (row, prow) in dw.chunks_exact_mut(units).zip(pdw.chunks_exact(pw)) {
            row.iter_mut().zip(prow).for_each(|(s, v)| *s += v);
        }
        db.iter_mut().zip(pdb).for_each(|(s, v)| *s += v);
    }
    gemm::without_padding(&mut dh, rows, dh_width, d);
    (dh, dw, db)
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

    #[test]
    fn softplus_matches_the_library_functions() {
        let mut worst = 0.0f64;
        for i in -4000..=4000 {
            let l = i as f32 * 0.025; // −100 … 100
            let exact = (l as f64).max(0.0) + (-(l as f64).abs()).exp().ln_1p();
            // Relative, but absolute below 1e-30 (e^−69).
            let rel = (softplus(l) as f64 - exact).abs() / exact.max(1e-30);
            worst = worst.max(rel);
        }
        assert!(worst < 5e-7, "worst relative error {worst}");
    }
}
