//! The fused recurrence as one burn operation: a backend extension implemented for the
//! CPU backend (`Flex`) and for autodiff over it, with a hand-written backward pass.
//! Other backends (CUDA) keep the op-by-op layer.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, DispatchDevice, ExtensionType, Flex, TensorMetadata, backend_extension};
use burn::tensor::{Device, Tensor, TensorData};

use fugato_kernels::cell::{self, Cell, Dims, Weights};
use fugato_kernels::pool;
use fugato_kernels::timers::{self, Phase};

/// The tensors of one layer's recurrence. `bh` and `peep` are one-element placeholders
/// where the cell has none (`Spec` says which).
#[derive(ExtensionType)]
pub struct RecurrenceInputs<B: Backend> {
    pub x: FloatTensor<B>,
    pub wx: FloatTensor<B>,
    pub bx: FloatTensor<B>,
    pub wh: FloatTensor<B>,
    pub bh: FloatTensor<B>,
    pub peep: FloatTensor<B>,
    pub h0: FloatTensor<B>,
    pub c0: FloatTensor<B>,
}

/// Which cell, which optional parameters are real, and what the output holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    pub cell: Cell,
    pub recurrent_bias: bool,
    pub peephole: bool,
    /// The LSTM's c at every step after h in the output, for a caller that needs the
    /// final c; else h alone (and no copy).
    pub with_cell: bool,
}

impl Spec {
    /// Values per step and unit in the output.
    fn width(self, hidden: usize) -> usize {
        if self.with_cell { self.cell.outputs() * hidden } else { hidden }
    }
}

#[backend_extension(Flex, Autodiff)]
pub trait FusedRecurrence: Backend {
    /// `[batch, time, hidden]`: h at every step; `[batch, time, 2·hidden]`, h then c, for
    /// an LSTM [`Spec::with_cell`].
    fn recurrence(#[extension_type] inputs: RecurrenceInputs<Self>, spec: Spec) -> FloatTensor<Self>;
}

/// Whether `device` runs the fused recurrence: the CPU backend, with or without
/// autodiff, unless `FUGATO_FUSED=0` asks for the op-by-op layers (to compare them).
pub fn supported(device: &Device) -> bool {
    std::env::var_os("FUGATO_FUSED").is_none_or(|v| v != "0")
        && matches!(device.clone().inner().as_dispatch(), DispatchDevice::Flex(_))
}

/// Runs the fused recurrence on burn tensors: `x [batch, time, input]`, weights as in
/// [`RecurrenceInputs`], states `[batch, hidden]`.
#[allow(clippy::too_many_arguments)]
pub fn recurrence(
    spec: Spec,
    x: Tensor<3>,
    wx: Tensor<2>,
    bx: Tensor<1>,
    wh: Tensor<2>,
    bh: Option<Tensor<1>>,
    peep: Option<Tensor<2>>,
    h0: Tensor<2>,
    c0: Tensor<2>,
) -> Tensor<3> {
    let device = x.device();
    let placeholder = || Tensor::<1>::zeros([1], &device).into_dispatch();
    let inputs = RecurrenceInputs {
        x: x.into_dispatch(),
        wx: wx.into_dispatch(),
        bx: bx.into_dispatch(),
        wh: wh.into_dispatch(),
        bh: bh.map_or_else(placeholder, Tensor::into_dispatch),
        peep: peep.map_or_else(placeholder, Tensor::into_dispatch),
        h0: h0.into_dispatch(),
        c0: c0.into_dispatch(),
    };
    Tensor::from_dispatch(<burn::backend::Dispatch as FusedRecurrence>::recurrence(inputs, spec))
}

/// A fused operation's `N` inputs as `f32` buffers, in the backend's own memory where it
/// is contiguous (the recurrence here, the head in `head.rs`).
#[derive(Clone, Debug)]
pub(super) struct Host<const N: usize> {
    pub(super) tensors: [FlexTensor; N],
}

impl<const N: usize> Host<N> {
    pub(super) fn new(tensors: [FlexTensor; N]) -> Host<N> {
        Host { tensors: tensors.map(|t| if t.is_contiguous() { t } else { t.to_contiguous() }) }
    }

    pub(super) fn slice(&self, i: usize) -> &[f32] {
        self.tensors[i].as_slice::<f32>().expect("the fused operations run on f32 tensors")
    }
}

impl Host<8> {
    fn dims(&self) -> Dims {
        let x = self.tensors[0].shape();
        Dims { batch: x[0], time: x[1], input: x[2], hidden: self.tensors[3].shape()[0] }
    }

    fn weights(&self, spec: Spec) -> Weights<'_> {
        Weights {
            wx: self.slice(1),
            bx: self.slice(2),
            wh: self.slice(3),
            bh: spec.recurrent_bias.then(|| self.slice(4)),
            peep: spec.peephole.then(|| self.slice(5)),
        }
    }

    /// The output, and what the backward pass needs: h at every step (sharing the
    /// output's memory where that is h alone), the LSTM's c and the gate activations.
    fn forward(&self, spec: Spec, keep: bool) -> (FlexTensor, FlexTensor, Buffers) {
        let _whole = timers::span(Phase::RecurrenceForward, 0);
        let d = self.dims();
        let fwd = cell::forward(spec.cell, d, &self.weights(spec), self.slice(0), self.slice(6), self.slice(7), keep);
        let h = flex(fwd.h, [d.batch, d.time, d.hidden]);
        let out = if spec.width(d.hidden) == d.hidden {
            h.clone()
        } else {
            let hs = h.as_slice::<f32>().expect("f32 values").chunks_exact(d.hidden);
            let c_of = |row: usize| &fwd.c[cell::step_major(d, row) * d.hidden..][..d.hidden];
            let both: Vec<f32> = hs.enumerate().flat_map(|(row, h)| h.iter().chain(c_of(row))).copied().collect();
            flex(both, [d.batch, d.time, 2 * d.hidden])
        };
        (out, h, Buffers { c: fwd.c, saved: fwd.saved, sparse: fwd.sparse })
    }
}

/// The LSTM's c and the gate activations of a forward pass, in buffers from the pool,
/// and a sparse input's nonzero entries.
struct Buffers {
    c: Vec<f32>,
    saved: Vec<f32>,
    sparse: Option<cell::SparseRows>,
}

impl Buffers {
    /// Their buffers back to the pool.
    fn release(self) {
        pool::give(self.c);
        pool::give(self.saved);
    }
}

fn flex<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

impl FusedRecurrence for Flex {
    fn recurrence(inputs: RecurrenceInputs<Self>, spec: Spec) -> FloatTensor<Self> {
        let RecurrenceInputs { x, wx, bx, wh, bh, peep, h0, c0 } = inputs;
        let (out, _, activations) = Host::new([x, wx, bx, wh, bh, peep, h0, c0]).forward(spec, false);
        activations.release();
        out
    }
}

/// What the backward pass needs: the inputs and the forward activations.
#[derive(Clone)]
struct Saved {
    spec: Spec,
    host: Host<8>,
    h: FlexTensor,
    activations: Arc<Buffers>,
}

impl std::fmt::Debug for Saved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Saved").field("spec", &self.spec).finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct RecurrenceBackward;

impl Backward<Flex, 8> for RecurrenceBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Self::State, 8>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let _whole = timers::span(Phase::RecurrenceBackward, 0);
        let Saved { spec, host, h, activations } = ops.state;
        let dout = grads.consume::<Flex>(&ops.node);
        let dout = if dout.is_contiguous() { dout } else { dout.to_contiguous() };
        let d = host.dims();
        let g = cell::backward(
            spec.cell,
            d,
            &host.weights(spec),
            host.slice(0),
            host.slice(6),
            host.slice(7),
            cell::Activations {
                h: h.as_slice::<f32>().expect("f32 values"),
                c: &activations.c,
                saved: &activations.saved,
                sparse: activations.sparse.as_ref(),
            },
            dout.as_slice::<f32>().expect("f32 gradient"),
            spec.width(d.hidden),
            ops.parents[0].is_some(),
            ops.parents[6].is_some(),
        );
        // The last use of the activations and the output's gradient (unless a graph is
        // walked backward twice).
        if let Ok(activations) = Arc::try_unwrap(activations) {
            activations.release();
        }
        super::reclaim(dout);
        super::reclaim(h);
        let gh = spec.cell.gates() * d.hidden;
        let computed = [
            g.dx.map(|v| (v, vec![d.batch, d.time, d.input])),
            Some((g.dwx, vec![d.input, gh])),
            Some((g.dbx, vec![gh])),
            Some((g.dwh, vec![d.hidden, gh])),
            g.dbh.map(|v| (v, vec![gh])),
            g.dpeep.map(|v| (v, vec![3, d.hidden])),
            g.dh0.map(|v| (v, vec![d.batch, d.hidden])),
            (spec.cell == Cell::Lstm).then_some((g.dc0, vec![d.batch, d.hidden])),
        ];
        for (node, grad) in ops.parents.into_iter().zip(computed) {
            if let (Some(node), Some((values, shape))) = (node, grad) {
                grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(values, shape)));
            }
        }
    }
}

impl<C: CheckpointStrategy> FusedRecurrence for Autodiff<Flex, C> {
    fn recurrence(inputs: RecurrenceInputs<Self>, spec: Spec) -> FloatTensor<Self> {
        let RecurrenceInputs { x, wx, bx, wh, bh, peep, h0, c0 } = inputs;
        let nodes = [x.node(), wx.node(), bx.node(), wh.node(), bh.node(), peep.node(), h0.node(), c0.node()];
        let host = Host::new([x, wx, bx, wh, bh, peep, h0, c0].map(|t| t.primitive().clone()));
        match RecurrenceBackward.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (out, h, activations) = host.forward(spec, true);
                prep.finish(Saved { spec, host, h, activations: Arc::new(activations) }, out)
            }
            OpsKind::UnTracked(prep) => {
                let (out, _, activations) = host.forward(spec, false);
                activations.release();
                prep.finish(out)
            }
        }
    }
}
