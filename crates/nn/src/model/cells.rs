//! Recurrent layers written out gate by gate, so that the peephole LSTM of the paper is
//! exactly what runs. Each layer takes a whole sequence `[batch, time, d_input]` and a
//! starting state, and returns `[batch, time, d_hidden]` and the final state.
//!
//! The input projection of the whole sequence is one matrix product; each time step
//! then adds one product with the recurrent weights.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::activation::{sigmoid, tanh};
use burn::tensor::{Device, Int, Tensor};
use serde::{Deserialize, Serialize};

use crate::fused;

/// Which recurrent cell — or, for a sequence model only, none: a Transformer body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CellKind {
    /// h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h)
    Rnn,
    /// Long short-term memory, optionally with peepholes.
    Lstm,
    /// Gated recurrent unit (reset gate applied after the recurrent product, as PyTorch).
    Gru,
    /// No recurrent layers: the blocks of [`super::transformer`].
    Transformer,
}

impl CellKind {
    /// Gates per hidden unit of a recurrent cell.
    ///
    /// # Panics
    /// For [`CellKind::Transformer`], which configurations' `validate` keeps away from
    /// recurrent layers.
    pub fn gates(self) -> usize {
        match self {
            CellKind::Rnn => 1,
            CellKind::Lstm => 4,
            CellKind::Gru => 3,
            CellKind::Transformer => panic!("a transformer has no recurrent layers"),
        }
    }
}

impl std::str::FromStr for CellKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "rnn" => Ok(CellKind::Rnn),
            "lstm" => Ok(CellKind::Lstm),
            "gru" => Ok(CellKind::Gru),
            "transformer" => Ok(CellKind::Transformer),
            _ => Err(format!("unknown model {s:?}: expected rnn, lstm, gru or transformer")),
        }
    }
}

/// The state one layer carries from step to step.
// One per layer and only a handful alive at a time: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum LayerState {
    /// Hidden state `[batch, d_hidden]` (tanh RNN, GRU).
    Hidden(Tensor<2>),
    /// Hidden and cell state (LSTM).
    HiddenCell(Tensor<2>, Tensor<2>),
}

impl LayerState {
    pub fn hidden(&self) -> &Tensor<2> {
        match self {
            LayerState::Hidden(h) | LayerState::HiddenCell(h, _) => h,
        }
    }

    /// The states of the batch rows `rows` (`[n]`), in that order (a beam search's survivors).
    pub fn select_rows(self, rows: Tensor<1, Int>) -> LayerState {
        match self {
            LayerState::Hidden(h) => LayerState::Hidden(h.select(0, rows)),
            LayerState::HiddenCell(h, c) => LayerState::HiddenCell(h.select(0, rows.clone()), c.select(0, rows)),
        }
    }
}

#[derive(Config, Debug)]
pub struct LayerConfig {
    pub cell: CellKind,
    pub d_input: usize,
    pub d_hidden: usize,
    /// LSTM only: gates see the cell state (i, f see c_{t-1}; o sees c_t).
    #[config(default = false)]
    pub peephole: bool,
}

/// One recurrent layer of any kind.
#[derive(Module, Debug)]
pub struct Layer {
    /// x_t ↦ the gates' input parts, with their biases: `[d_input] → [n_gates · d_hidden]`.
    input: Linear,
    /// h_{t-1} ↦ the gates' recurrent parts: `[d_hidden] → [n_gates · d_hidden]`
    /// (with a bias for the GRU, whose candidate gate needs it inside the reset product).
    recurrent: Linear,
    /// LSTM peephole weights `[3, d_hidden]`: rows for i, f and o.
    peephole: Option<Param<Tensor<2>>>,
    #[module(skip)]
    cell: CellKind,
    d_hidden: usize,
}

impl LayerConfig {
    pub fn init(&self, device: &Device) -> Layer {
        let gates = self.cell.gates();
        let h = self.d_hidden;
        // PyTorch's default for recurrent layers: U(-1/√h, 1/√h) for every weight and bias.
        let bound = 1.0 / (h as f64).sqrt();
        let init = Initializer::Uniform { min: -bound, max: bound };
        let input = LinearConfig::new(self.d_input, gates * h).with_initializer(init.clone()).init(device);
        let recurrent = LinearConfig::new(h, gates * h)
            .with_bias(self.cell == CellKind::Gru)
            .with_initializer(init.clone())
            .init(device);
        let peephole = (self.cell == CellKind::Lstm && self.peephole).then(|| init.init([3, h], device));
        Layer { input, recurrent, peephole, cell: self.cell, d_hidden: h }
    }
}

impl Layer {
    /// A zero state for `batch` sequences.
    pub fn zero_state(&self, batch: usize, device: &Device) -> LayerState {
        let zeros = Tensor::zeros([batch, self.d_hidden], device);
        if self.cell == CellKind::Lstm {
            LayerState::HiddenCell(zeros.clone(), zeros)
        } else {
            LayerState::Hidden(zeros)
        }
    }

    /// Width of the input it reads.
    pub fn d_input(&self) -> usize {
        self.input.weight.dims()[0]
    }

    /// Runs the layer over a sequence.
    ///
    /// - `x`: `[batch, time, d_input]`
    /// - returns `[batch, time, d_hidden]` and the state after the last step.
    pub fn forward(&self, x: Tensor<3>, state: LayerState) -> (Tensor<3>, LayerState) {
        let (out, last) = self.run(x, state, true);
        (out, last.expect("asked for the final state"))
    }

    /// [`Layer::forward`]'s output alone, `[batch, time, d_hidden]`: the fused LSTM then
    /// hands over h without c (no copy).
    pub fn outputs(&self, x: Tensor<3>, state: LayerState) -> Tensor<3> {
        self.run(x, state, false).0
    }

    /// The fused kernels where the device has them, else op by op; the final state where
    /// asked for (op by op always has it).
    fn run(&self, x: Tensor<3>, state: LayerState, final_state: bool) -> (Tensor<3>, Option<LayerState>) {
        if fused::supported(&x.device()) && x.dims()[1] > 0 {
            return self.fused(x, state, final_state);
        }
        let (out, last) = self.forward_op_by_op(x, state);
        (out, Some(last))
    }

    /// The layer's weights as plain `f32`, for stepping at batch 1 ([`fused::step`]).
    pub fn plain(&self) -> fugato_kernels::step::LayerWeights {
        let gh = self.kernel_cell().gates() * self.d_hidden;
        fugato_kernels::step::LayerWeights {
            cell: self.kernel_cell(),
            input: self.d_input(),
            hidden: self.d_hidden,
            wx: values(self.input.weight.val()),
            bx: self.input.bias.as_ref().map_or_else(|| vec![0.0; gh], |b| values(b.val())),
            wh: values(self.recurrent.weight.val()),
            bh: self.recurrent.bias.as_ref().map(|b| values(b.val())),
            peep: self.peephole.as_ref().map(|p| values(p.val())),
        }
    }

    fn kernel_cell(&self) -> fugato_kernels::cell::Cell {
        match self.cell {
            CellKind::Rnn => fugato_kernels::cell::Cell::Rnn,
            CellKind::Lstm => fugato_kernels::cell::Cell::Lstm,
            CellKind::Gru => fugato_kernels::cell::Cell::Gru,
            CellKind::Transformer => panic!("a transformer has no recurrent layers"),
        }
    }

    /// [`Layer::forward`] through the fused CPU kernels ([`crate::fused`]): the output and,
    /// if `final_state`, the state after the last step.
    fn fused(&self, x: Tensor<3>, state: LayerState, final_state: bool) -> (Tensor<3>, Option<LayerState>) {
        let [_, time, _] = x.dims();
        let h = self.d_hidden;
        let (h0, c0) = match state {
            LayerState::Hidden(h0) => (h0.clone(), h0),
            LayerState::HiddenCell(h0, c0) => (h0, c0),
        };
        let spec = fused::Spec {
            cell: self.kernel_cell(),
            recurrent_bias: self.recurrent.bias.is_some(),
            peephole: self.peephole.is_some(),
            with_cell: final_state,
        };
        let device = x.device();
        // Parameters are initialised lazily, at their first use, from the device's random
        // stream: read them in the op-by-op layer's order so that a seed gives the same
        // model on both paths.
        let wx = self.input.weight.val();
        let bx = self.input.bias.as_ref().map_or_else(|| Tensor::zeros([h * spec.cell.gates()], &device), |b| b.val());
        let peep = self.peephole.as_ref().map(|p| p.val());
        let wh = self.recurrent.weight.val();
        let bh = self.recurrent.bias.as_ref().map(|b| b.val());
        let out = fused::recurrence(spec, x, wx, bx, wh, bh, peep, h0, c0); // [batch, time, h or 2·h]
        let last = |t: Tensor<3>| -> Tensor<2> { t.narrow(1, time - 1, 1).squeeze_dim(1) };
        if !final_state {
            (out, None)
        } else if spec.cell == fugato_kernels::cell::Cell::Lstm {
            let hs = out.clone().narrow(2, 0, h);
            let cs = out.narrow(2, h, h);
            let state = LayerState::HiddenCell(last(hs.clone()), last(cs));
            (hs, Some(state))
        } else {
            (out.clone(), Some(LayerState::Hidden(last(out))))
        }
    }

    /// [`Layer::forward`] as burn tensor operations, step by step (any backend).
    pub fn forward_op_by_op(&self, x: Tensor<3>, state: LayerState) -> (Tensor<3>, LayerState) {
        let [_, time, _] = x.dims();
        let projected = self.input.forward(x); // [batch, time, gates·h]
        let peepholes = self.peepholes();
        let mut state = state;
        let mut outputs = Vec::with_capacity(time);
        for t in 0..time {
            let gates_x: Tensor<2> = projected.clone().narrow(1, t, 1).squeeze_dim(1); // [batch, gates·h]
            state = self.step_projected(gates_x, state, peepholes.as_deref());
            outputs.push(state.hidden().clone());
        }
        (Tensor::stack(outputs, 1), state) // [batch, time, h]
    }

    /// One step from the raw input `x_t`: `[batch, d_input]`.
    pub fn step(&self, x: Tensor<2>, state: LayerState) -> LayerState {
        self.step_projected(self.input.forward(x), state, self.peepholes().as_deref())
    }

    /// The LSTM's peephole weights for i, f and o, each `[1, h]`: sliced once per
    /// sequence, not once per step.
    fn peepholes(&self) -> Option<Vec<Tensor<2>>> {
        self.peephole.as_ref().map(|p| p.val().chunk(3, 0))
    }

    /// One step, given the input part of the gates `[batch, gates·h]` and the peepholes.
    fn step_projected(&self, gates_x: Tensor<2>, state: LayerState, peep: Option<&[Tensor<2>]>) -> LayerState {
        match (self.cell, state) {
            (CellKind::Rnn, LayerState::Hidden(h)) => {
                LayerState::Hidden(tanh(gates_x + self.recurrent.forward(h))) // [batch, h]
            }
            (CellKind::Gru, LayerState::Hidden(h)) => {
                let mut x = gates_x.chunk(3, 1).into_iter(); // r, z, n input parts
                let mut r = self.recurrent.forward(h.clone()).chunk(3, 1).into_iter();
                let (xr, xz, xn) = (x.next().unwrap(), x.next().unwrap(), x.next().unwrap());
                let (hr, hz, hn) = (r.next().unwrap(), r.next().unwrap(), r.next().unwrap());
                let reset = sigmoid(xr + hr); // [batch, h]
                let update = sigmoid(xz + hz); // [batch, h]
                let candidate = tanh(xn + reset * hn); // [batch, h]
                // h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}
                LayerState::Hidden(candidate.clone() + update * (h - candidate))
            }
            (CellKind::Lstm, LayerState::HiddenCell(h, c)) => {
                let g = gates_x + self.recurrent.forward(h); // [batch, 4h]: i, f, c̃, o
                let mut g = g.chunk(4, 1).into_iter();
                let (mut i, mut f, c_tilde, mut o) =
                    (g.next().unwrap(), g.next().unwrap(), g.next().unwrap(), g.next().unwrap());
                if let Some(p) = peep {
                    i = i + c.clone() * p[0].clone();
                    f = f + c.clone() * p[1].clone();
                }
                let c = sigmoid(f) * c + sigmoid(i) * tanh(c_tilde); // [batch, h]
                if let Some(p) = peep {
                    o = o + c.clone() * p[2].clone();
                }
                let h = sigmoid(o) * tanh(c.clone()); // [batch, h]
                LayerState::HiddenCell(h, c)
            }
            (cell, state) => unreachable!("a {cell:?} layer with state {state:?}"),
        }
    }
}

pub(super) use crate::fused::values;

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, TensorData};

    use crate::fused::relative_error;

    fn loss_of(layer: &Layer, x: &Tensor<3>, w: &Tensor<3>) -> Tensor<1> {
        let (out, _) = layer.forward(x.clone(), layer.zero_state(2, &x.device()));
        (out * w.clone()).sum()
    }

    /// The peephole LSTM's gradients (peepholes, input and recurrent weights) against
    /// central finite differences.
    #[test]
    fn peephole_lstm_gradients_match_finite_differences() {
        let device = Device::flex().autodiff();
        device.seed(3);
        let layer = LayerConfig::new(CellKind::Lstm, 3, 4).with_peephole(true).init(&device);
        let x = Tensor::<3>::random([2, 5, 3], Distribution::Normal(0.0, 1.0), &device);
        let w = Tensor::<3>::random([2, 5, 4], Distribution::Normal(0.0, 1.0), &device);
        let grads = loss_of(&layer, &x, &w).backward();

        let params: [(&str, Param<Tensor<2>>); 3] = [
            ("peephole", layer.peephole.clone().unwrap()),
            ("input", layer.input.weight.clone()),
            ("recurrent", layer.recurrent.weight.clone()),
        ];
        for (name, param) in params {
            let analytic: Vec<f32> = param.val().grad(&grads).unwrap().into_data().try_to_vec::<f32>().unwrap();
            let values: Vec<f32> = param.val().into_data().try_to_vec::<f32>().unwrap();
            let shape = param.val().dims();
            let eps = 1e-2f32;
            for i in (0..values.len()).step_by(3) {
                let with = |delta: f32| {
                    let mut v = values.clone();
                    v[i] += delta;
                    let p = Param::from_tensor(Tensor::from_data(TensorData::new(v, shape), &device));
                    let mut l = layer.clone();
                    match name {
                        "peephole" => l.peephole = Some(p),
                        "input" => l.input.weight = p,
                        _ => l.recurrent.weight = p,
                    }
                    loss_of(&l, &x, &w).into_scalar::<f32>()
                };
                let numeric = (with(eps) - with(-eps)) / (2.0 * eps);
                let err = (numeric - analytic[i]).abs() / (numeric.abs() + analytic[i].abs()).max(1e-2);
                assert!(err < 1e-2, "{name}[{i}]: analytic {} numeric {numeric}", analytic[i]);
            }
        }
    }

    /// The fused kernels against the op-by-op layer: outputs, final states and every
    /// gradient (input, starting state, weights, biases, peepholes), for every cell, on
    /// dense and sparse binary input, from a tracked random or an untracked zero state, with shapes large enough to split between threads
    /// (by batch rows and by hidden units).
    #[test]
    fn fused_and_op_by_op_layers_agree_on_outputs_and_gradients() {
        let device = Device::flex().autodiff();
        let cases = [
            (CellKind::Rnn, false, [3, 5, 7, 9]),
            (CellKind::Lstm, false, [3, 5, 7, 9]),
            (CellKind::Lstm, true, [2, 6, 5, 17]),
            (CellKind::Gru, false, [3, 5, 7, 9]),
            (CellKind::Lstm, true, [16, 16, 88, 64]),
            (CellKind::Gru, false, [16, 16, 88, 64]),
            (CellKind::Rnn, false, [16, 32, 88, 128]),
            (CellKind::Rnn, false, [3, 16, 88, 48]),
            (CellKind::Rnn, false, [3, 16, 48, 48]),
            // Dense input split between threads (a stacked model's upper layers).
            (CellKind::Lstm, false, [16, 16, 40, 64]),
            (CellKind::Gru, false, [16, 16, 40, 96]),
            // Too few rows to split the batch: the hidden units split between threads.
            (CellKind::Lstm, true, [2, 64, 88, 128]),
            (CellKind::Lstm, false, [3, 64, 40, 128]),
            (CellKind::Gru, false, [4, 48, 88, 96]),
            (CellKind::Rnn, false, [3, 64, 40, 256]),
        ];
        for (seed, (cell, peephole, [batch, time, input, hidden])) in cases.into_iter().enumerate() {
            device.seed(seed as u64);
            let layer = LayerConfig::new(cell, input, hidden).with_peephole(peephole).init(&device);
            let sparse = input == 88;
            let x = if sparse {
                Tensor::<3>::random([batch, time, input], Distribution::Bernoulli(0.05), &device)
            } else {
                Tensor::<3>::random([batch, time, input], Distribution::Normal(0.0, 1.0), &device)
            }
            .require_grad();
            // Every other case starts from zeros that need no gradient, as a training
            // window does (the fused kernels skip the first step's products then).
            let tracked = seed % 2 == 0;
            let start = || {
                if tracked {
                    Tensor::<2>::random([batch, hidden], Distribution::Normal(0.0, 0.5), &device).require_grad()
                } else {
                    Tensor::<2>::zeros([batch, hidden], &device)
                }
            };
            let (h0, c0) = (start(), start());
            let w = Tensor::<3>::random([batch, time, hidden], Distribution::Normal(0.0, 1.0), &device);
            let wf = Tensor::<2>::random([batch, hidden], Distribution::Normal(0.0, 1.0), &device);
            let state = match cell {
                CellKind::Lstm => LayerState::HiddenCell(h0.clone(), c0.clone()),
                _ => LayerState::Hidden(h0.clone()),
            };
            // With the final state (the LSTM's c too), and the output alone.
            let run = |fused: bool, final_state: bool| {
                let (out, last) = if fused {
                    layer.fused(x.clone(), state.clone(), final_state)
                } else {
                    let (out, last) = layer.forward_op_by_op(x.clone(), state.clone());
                    (out, final_state.then_some(last))
                };
                let last_h: Tensor<2> = out.clone().narrow(1, time - 1, 1).squeeze_dim(1);
                let mut loss = (out.clone() * w.clone()).sum() + (last_h.clone() * wf.clone()).sum();
                if let Some(LayerState::HiddenCell(_, c)) = &last {
                    loss = loss + (c.clone() * wf.clone()).sum() * 0.5;
                }
                let grads = loss.backward();
                let mut values = vec![
                    ("output", out.reshape([batch * time, hidden])),
                    ("final h", last.as_ref().map_or(last_h, |l| l.hidden().clone())),
                    ("dx", x.grad(&grads).unwrap().reshape([batch * time, input])),
                    ("dW_x", layer.input.weight.val().grad(&grads).unwrap()),
                    ("db_x", layer.input.bias.as_ref().unwrap().val().grad(&grads).unwrap().unsqueeze()),
                    ("dW_h", layer.recurrent.weight.val().grad(&grads).unwrap()),
                ];
                if tracked {
                    values.push(("dh0", h0.grad(&grads).unwrap()));
                    if cell == CellKind::Lstm {
                        values.push(("dc0", c0.grad(&grads).unwrap()));
                    }
                } else {
                    assert!(h0.grad(&grads).is_none(), "a gradient for an untracked starting state");
                }
                if let Some(b) = &layer.recurrent.bias {
                    values.push(("db_h", b.val().grad(&grads).unwrap().unsqueeze()));
                }
                if let Some(p) = &layer.peephole {
                    values.push(("dpeep", p.val().grad(&grads).unwrap()));
                }
                values
            };
            for final_state in [true, false] {
                for ((name, fused), (_, reference)) in run(true, final_state).into_iter().zip(run(false, final_state)) {
                    let err = relative_error(fused, reference);
                    assert!(
                        err < 1e-4,
                        "{cell:?} peephole={peephole} {batch}x{time}x{input}x{hidden} final state {final_state}: \
                         {name} off by {err}"
                    );
                }
            }
        }
    }

    #[test]
    fn peepholes_change_the_output() {
        let device = Device::flex();
        device.seed(5);
        let plain = LayerConfig::new(CellKind::Lstm, 3, 4).init(&device);
        let mut peep = LayerConfig::new(CellKind::Lstm, 3, 4).with_peephole(true).init(&device);
        peep.input = plain.input.clone();
        peep.recurrent = plain.recurrent.clone();
        let x = Tensor::<3>::random([1, 4, 3], Distribution::Normal(0.0, 1.0), &device);
        let a: Vec<f32> =
            plain.forward(x.clone(), plain.zero_state(1, &device)).0.into_data().try_to_vec::<f32>().unwrap();
        let b: Vec<f32> = peep.forward(x, peep.zero_state(1, &device)).0.into_data().try_to_vec::<f32>().unwrap();
        assert!(a.iter().zip(&b).any(|(a, b)| (a - b).abs() > 1e-4));
    }
}
