//! Output heads: what the recurrent state predicts, and the loss that trains it.

use burn::module::{Module, Param};
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::activation::{log_sigmoid, log_softmax, sigmoid};
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::cells::values;
use super::stepper::{PlainHead, PlainLinear};

/// Which head.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HeadKind {
    /// One sigmoid per piano-roll unit, trained with binary cross-entropy. Treats the
    /// notes of a chord as independent given the past.
    Sigmoid,
    /// A NADE over the piano-roll units whose biases come from the recurrent state
    /// (RNN-NADE, Boulanger-Lewandowski et al. 2012): exact joint likelihood of a frame.
    Nade,
    /// A softmax over a token vocabulary, trained with cross-entropy.
    Softmax,
    /// Continuous outputs, trained with mean squared error.
    Regression,
}

impl std::str::FromStr for HeadKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sigmoid" => Ok(HeadKind::Sigmoid),
            "nade" => Ok(HeadKind::Nade),
            "softmax" => Ok(HeadKind::Softmax),
            "regression" => Ok(HeadKind::Regression),
            _ => Err(format!("unknown head {s:?}: expected sigmoid, nade, softmax or regression")),
        }
    }
}

/// What a head is asked to predict at each scored step.
#[derive(Clone, Debug)]
pub enum Target {
    /// Binary frames `[n, units]` (0 or 1).
    Units(Tensor<2>),
    /// Token ids `[n]`.
    Tokens(Tensor<1, Int>),
    /// Continuous values `[n, outputs]`.
    Values(Tensor<2>),
}

// A model has one head: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Head {
    Sigmoid(Linear),
    Softmax(Linear),
    Regression(Linear),
    Nade(Nade),
}

impl Head {
    pub fn init(kind: HeadKind, d_hidden: usize, d_output: usize, nade_hidden: usize, device: &Device) -> Head {
        let linear = || LinearConfig::new(d_hidden, d_output).init(device);
        match kind {
            HeadKind::Sigmoid => Head::Sigmoid(linear()),
            HeadKind::Softmax => Head::Softmax(linear()),
            HeadKind::Regression => Head::Regression(linear()),
            HeadKind::Nade => Head::Nade(Nade::init(d_hidden, d_output, nade_hidden, device)),
        }
    }

    /// The loss of each of `n` scored steps: `h` is `[n, d_hidden]`; returns `[n]`.
    ///
    /// Sigmoid and NADE: −log p(frame) in nats, summed over units. Softmax: −log p(token).
    /// Regression: squared error summed over outputs.
    pub fn loss(&self, h: Tensor<2>, target: &Target) -> Tensor<1> {
        match (self, target) {
            (Head::Sigmoid(linear), Target::Units(x)) if crate::fused::supported(&h.device()) => {
                // The product and the loss as one operation on the CPU backend; the bias is
                // read after the weight, as `Linear::forward` does (lazy initialisation).
                let w = linear.weight.val();
                let b = linear.bias.as_ref().map_or_else(|| Tensor::zeros([w.dims()[1]], &h.device()), |b| b.val());
                crate::fused::bernoulli_nll(h, w, b, x.clone())
            }
            (Head::Sigmoid(linear), Target::Units(x)) => bernoulli_nll(linear.forward(h), x.clone()),
            (Head::Nade(nade), Target::Units(x)) => nade.nll(h, x.clone()),
            (Head::Softmax(linear), Target::Tokens(ids)) => {
                let logp = log_softmax(linear.forward(h), 1); // [n, vocab]
                let picked: Tensor<2> = logp.gather(1, ids.clone().unsqueeze_dim(1)); // [n, 1]
                picked.squeeze_dim::<1>(1).neg()
            }
            (Head::Regression(linear), Target::Values(y)) => {
                (linear.forward(h) - y.clone()).powi_scalar(2).sum_dim(1).squeeze_dim::<1>(1)
            }
            (head, target) => panic!("head {} cannot score {target:?}", head.name()),
        }
    }

    /// Probabilities of each unit being on, `[n, units]`, for the sigmoid head, or for the
    /// NADE head given the true earlier units of the frame (teacher forcing).
    pub fn unit_probabilities(&self, h: Tensor<2>, x: &Tensor<2>) -> Option<Tensor<2>> {
        match self {
            Head::Sigmoid(linear) => Some(sigmoid(linear.forward(h))),
            Head::Nade(nade) => Some(sigmoid(nade.logits(h, x.clone()))),
            _ => None,
        }
    }

    /// Sets the output biases so that, before training, the head predicts `prior`: each
    /// unit's frequency (sigmoid, NADE) or each token's (softmax). Training then starts at
    /// the data's marginal distribution instead of p = 0.5 per unit, which Adam would need
    /// thousands of steps to leave.
    pub fn set_prior(&mut self, prior: &[f64]) {
        let device = match self {
            Head::Sigmoid(l) | Head::Softmax(l) | Head::Regression(l) => l.weight.val().device(),
            Head::Nade(n) => n.to_visible_bias.weight.val().device(),
        };
        let p = |x: f64| x.clamp(1e-4, 1.0 - 1e-4);
        let values: Vec<f32> = match self {
            Head::Softmax(_) => prior.iter().map(|&x| p(x).ln() as f32).collect(),
            _ => prior.iter().map(|&x| (p(x) / (1.0 - p(x))).ln() as f32).collect(),
        };
        let n = values.len();
        let bias = Param::from_tensor(Tensor::<1>::from_data(TensorData::new(values, [n]), &device));
        match self {
            Head::Sigmoid(l) | Head::Softmax(l) => l.bias = Some(bias),
            Head::Nade(nade) => nade.to_visible_bias.bias = Some(bias),
            Head::Regression(_) => {}
        }
    }

    /// The head's weights as plain `f32`, for sampling at batch 1.
    pub fn plain(&self) -> PlainHead {
        match self {
            Head::Sigmoid(l) | Head::Softmax(l) | Head::Regression(l) => PlainHead::Linear(PlainLinear::of(l)),
            Head::Nade(n) => PlainHead::Nade {
                visible: PlainLinear::of(&n.to_visible_bias),
                hidden: PlainLinear::of(&n.to_hidden_bias),
                w: values(n.w.val()),
                v: values(n.v.val()),
            },
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Head::Sigmoid(_) => "sigmoid",
            Head::Softmax(_) => "softmax",
            Head::Regression(_) => "regression",
            Head::Nade(_) => "nade",
        }
    }
}

/// −Σ_i [x_i log σ(l_i) + (1 − x_i) log σ(−l_i)] per row: `[n, units] → [n]`.
fn bernoulli_nll(logits: Tensor<2>, x: Tensor<2>) -> Tensor<1> {
    let ll = x.clone() * log_sigmoid(logits.clone()) + (x.neg() + 1.0) * log_sigmoid(logits.neg());
    ll.sum_dim(1).squeeze_dim::<1>(1).neg()
}

/// A NADE (Larochelle & Murray 2011) over `units` binary units, with `hidden` hidden
/// units, whose visible and hidden biases are linear functions of the recurrent state.
///
/// p(x) = Π_i p(x_i | x_<i), with p(x_i = 1 | x_<i) = σ(b_v,i + V_i · σ(b_h + W_<i x_<i)).
#[derive(Module, Debug)]
pub struct Nade {
    /// Recurrent state → visible biases `[d_hidden] → [units]`.
    to_visible_bias: Linear,
    /// Recurrent state → hidden biases `[d_hidden] → [hidden]`.
    to_hidden_bias: Linear,
    /// Visible → hidden weights `[units, hidden]`.
    w: Param<Tensor<2>>,
    /// Hidden → visible weights `[units, hidden]`.
    v: Param<Tensor<2>>,
}

impl Nade {
    pub fn init(d_hidden: usize, units: usize, hidden: usize, device: &Device) -> Nade {
        let init = Initializer::Normal { mean: 0.0, std: 0.01 };
        Nade {
            to_visible_bias: LinearConfig::new(d_hidden, units).init(device),
            to_hidden_bias: LinearConfig::new(d_hidden, hidden).init(device),
            w: init.init([units, hidden], device),
            v: init.init([units, hidden], device),
        }
    }

    /// Logit of each unit given the earlier units of `x`: `[n, d_hidden], [n, units] → [n, units]`.
    pub fn logits(&self, h: Tensor<2>, x: Tensor<2>) -> Tensor<2> {
        let b_v = self.to_visible_bias.forward(h.clone()); // [n, units]
        let b_h: Tensor<3> = self.to_hidden_bias.forward(h).unsqueeze_dim(1); // [n, 1, hidden]
        let w: Tensor<3> = self.w.val().unsqueeze_dim(0); // [1, units, hidden]
        let contributions = x.unsqueeze_dim::<3>(2) * w; // [n, units, hidden]: x_i W_i
        // Exclusive prefix sum: unit i sees x_<i only.
        let before = contributions.clone().cumsum(1) - contributions; // [n, units, hidden]
        let hidden = sigmoid(before + b_h); // [n, units, hidden]
        let v: Tensor<3> = self.v.val().unsqueeze_dim(0); // [1, units, hidden]
        b_v + (hidden * v).sum_dim(2).squeeze_dim::<2>(2) // [n, units]
    }

    /// −log p(x) per row, exact: `[n, d_hidden], [n, units] → [n]`.
    pub fn nll(&self, h: Tensor<2>, x: Tensor<2>) -> Tensor<1> {
        bernoulli_nll(self.logits(h, x.clone()), x)
    }
}
