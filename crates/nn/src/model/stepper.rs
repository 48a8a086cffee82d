//! Sampling's view of a model: [`Stepper::new`] copies a [`SequenceModel`]'s weights out
//! of burn once into plain `f32` layers ([`fugato_kernels::step`], or a Transformer with
//! its key–value cache, [`fugato_kernels::attend`]) and then advances them one item at a
//! time at batch 1, with no tensor graph per step. Any backend's model can
//! be stepped this way (the weights are read back to the host once).

use fugato_repr::pianoroll::Frame;

use super::SequenceModel;
use super::cells::values;
use fugato_kernels::attend::Decoder;
use fugato_kernels::cell::sigmoid;
use fugato_kernels::gemm::Isa;
use fugato_kernels::step::{LayerWeights, PanelMatrix, StepInput, StepStack, add};

/// `y = b + x·W` with `W [inputs, outputs]` row-major, as burn's `Linear` stores it.
pub struct PlainLinear {
    weight: PanelMatrix,
    bias: Vec<f32>,
}

impl PlainLinear {
    pub(super) fn of(linear: &burn::nn::Linear) -> PlainLinear {
        let [inputs, outputs] = linear.weight.dims();
        let weight = PanelMatrix::new(&values(linear.weight.val()), inputs, outputs);
        let bias = linear.bias.as_ref().map_or_else(|| vec![0.0; outputs], |b| values(b.val()));
        PlainLinear { weight, bias }
    }

    fn outputs(&self) -> usize {
        self.bias.len()
    }

    fn apply(&self, isa: Isa, x: &[f32], y: &mut Vec<f32>) {
        y.clear();
        y.extend_from_slice(&self.bias);
        self.weight.multiply_add(isa, x, y);
    }
}

/// A head's weights as plain `f32`.
pub enum PlainHead {
    /// Logits (sigmoid and softmax heads) or values (regression).
    Linear(PlainLinear),
    /// The NADE: visible and hidden biases from the state, `W` and `V` `[units, hidden]`.
    Nade { visible: PlainLinear, hidden: PlainLinear, w: Vec<f32>, v: Vec<f32> },
}

/// One item of a sequence, as the model reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepItem {
    Frame(Frame),
    /// A token, with the piece's style for a model that has styles.
    Token {
        id: u16,
        style: Option<u16>,
    },
}

/// A model at batch 1 with its state carried between calls.
pub struct Stepper {
    isa: Isa,
    body: Body,
    tables: Option<Tables>,
    head: PlainHead,
    /// Scratch: a frame's sounding units, the body's input, the NADE's hidden
    /// pre-activations and visible biases.
    ones: Vec<usize>,
    input: Vec<f32>,
    nade_a: Vec<f32>,
    nade_bv: Vec<f32>,
}

/// What carries the state: recurrent layers or a Transformer's cache. Token models'
/// tables hold rows of the body's input: for recurrent layers every token's and every
/// style's embedding already multiplied by the first layer's input weights,
/// `[rows, gates·hidden]` (the embeddings are only ever read through that product, and it
/// is linear); for a Transformer the embeddings themselves.
// One per stepper, made once: boxing the larger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
enum Body {
    Recurrent(StepStack),
    Transformer {
        decoder: Decoder,
        /// Piano-roll models: the frame embedding `[units, width]` and its bias.
        frames: Option<(Vec<f32>, Vec<f32>)>,
    },
}

/// Token models' input rows (see [`Body`]).
struct Tables {
    tokens: Vec<f32>,
    styles: Option<Vec<f32>>,
    width: usize,
}

impl Stepper {
    /// Copies the model's weights; the state starts at zero.
    pub fn new(model: &SequenceModel) -> Stepper {
        let isa = Isa::detect();
        let (body, tables) = match &model.transformer {
            Some(t) => {
                let (blocks, norm, position) = t.plain();
                // A query sees its window: the relative distances or the absolute positions.
                let rows = position.as_ref().map(|p| p.len() / norm.gamma.len());
                let distances = blocks.first().and_then(|b| b.relative.as_ref()).map(|r| r.1);
                let capacity = distances.or(rows).unwrap_or(1);
                let frames = t.frames.as_ref().map(|l| {
                    let n = l.weight.dims()[1];
                    (values(l.weight.val()), l.bias.as_ref().map_or_else(|| vec![0.0; n], |b| values(b.val())))
                });
                let decoder = Decoder::new(&blocks, norm, position, capacity);
                let width = decoder.width();
                let tables = model.embedding.as_ref().map(|e| Tables {
                    tokens: values(e.weight.val()),
                    styles: model.style.as_ref().map(|s| values(s.weight.val())),
                    width,
                });
                (Body::Transformer { decoder, frames }, tables)
            }
            None => {
                let layers: Vec<LayerWeights> = model.layers.iter().map(|l| l.plain()).collect();
                let first = &layers[0];
                let projected = first.cell.gates() * first.hidden;
                let wx = PanelMatrix::new(&first.wx, first.input, projected);
                let project = |table: &burn::nn::Embedding| -> Vec<f32> {
                    let width = table.weight.dims()[1];
                    let table = values(table.weight.val());
                    let mut out = vec![0.0; table.len() / width * projected];
                    for (x, y) in table.chunks_exact(width).zip(out.chunks_exact_mut(projected)) {
                        wx.multiply_add(isa, x, y);
                    }
                    out
                };
                let tables = model.embedding.as_ref().map(|e| Tables {
                    tokens: project(e),
                    styles: model.style.as_ref().map(project),
                    width: projected,
                });
                (Body::Recurrent(StepStack::new(&layers)), tables)
            }
        };
        Stepper {
            isa,
            body,
            tables,
            head: model.head.plain(),
            ones: Vec::new(),
            input: Vec::new(),
            nade_a: Vec::new(),
            nade_bv: Vec::new(),
        }
    }

    /// Reads one item and advances the state.
    ///
    /// # Panics
    /// On an item the model cannot read (a frame for a token model, a token outside the
    /// vocabulary, no style for a model with styles): the callers check these first.
    pub fn feed(&mut self, item: StepItem) {
        match (item, &self.tables) {
            (StepItem::Frame(frame), None) => {
                self.ones.clear();
                self.ones.extend((0..Frame::BITS as usize).filter(|k| frame >> k & 1 == 1));
                match &mut self.body {
                    Body::Recurrent(stack) => stack.feed(StepInput::Ones(&self.ones)),
                    Body::Transformer { decoder, frames: Some((w, b)) } => {
                        self.input.clear();
                        self.input.extend_from_slice(b);
                        for &k in &self.ones {
                            add(self.isa, table_row(w, b.len(), k), &mut self.input);
                        }
                        decoder.feed(&self.input);
                    }
                    Body::Transformer { frames: None, .. } => panic!("this model cannot read frames"),
                }
            }
            (StepItem::Token { id, style }, Some(tables)) => {
                self.input.clear();
                self.input.extend_from_slice(table_row(&tables.tokens, tables.width, usize::from(id)));
                match (&tables.styles, style) {
                    (Some(styles), Some(s)) => {
                        add(self.isa, table_row(styles, tables.width, usize::from(s)), &mut self.input)
                    }
                    (Some(_), None) => panic!("this model needs a style for every sequence"),
                    (None, _) => {}
                }
                match &mut self.body {
                    Body::Recurrent(stack) => stack.feed(StepInput::Projected(&self.input)),
                    Body::Transformer { decoder, .. } => decoder.feed(&self.input),
                }
            }
            (item, _) => panic!("this model cannot read {item:?}"),
        }
    }

    /// The body's output after the last item: `[hidden]`.
    pub fn hidden(&self) -> &[f32] {
        match &self.body {
            Body::Recurrent(stack) => stack.top(),
            Body::Transformer { decoder, .. } => decoder.top(),
        }
    }

    /// The linear head's output (logits or values) after the last item.
    ///
    /// # Panics
    /// For a NADE head, which has no single vector of logits: use [`Stepper::sample_nade`].
    pub fn logits(&self, out: &mut Vec<f32>) {
        match &self.head {
            PlainHead::Linear(linear) => linear.apply(self.isa, self.hidden(), out),
            PlainHead::Nade { .. } => panic!("a NADE head is sampled unit by unit"),
        }
    }

    /// Samples a frame from the NADE head unit by unit: unit i is on when `uniform[i]` is
    /// below σ(l_i / temperature), l_i its logit given the units already drawn.
    ///
    /// # Panics
    /// For a linear head.
    pub fn sample_nade(&mut self, uniform: &[f32], temperature: f32) -> Frame {
        let isa = self.isa;
        let top = match &self.body {
            Body::Recurrent(stack) => stack.top(),
            Body::Transformer { decoder, .. } => decoder.top(),
        };
        let PlainHead::Nade { visible, hidden, w, v } = &self.head else {
            panic!("only a NADE head is sampled unit by unit")
        };
        visible.apply(isa, top, &mut self.nade_bv);
        hidden.apply(isa, top, &mut self.nade_a);
        let nh = hidden.outputs();
        let mut frame: Frame = 0;
        for (i, &u) in uniform.iter().enumerate().take(visible.outputs()) {
            let v_i = &v[i * nh..][..nh];
            let logit = self.nade_bv[i] + self.nade_a.iter().zip(v_i).map(|(a, v)| sigmoid(*a) * v).sum::<f32>();
            if u < sigmoid(logit / temperature) {
                frame |= 1 << i;
                add(isa, &w[i * nh..][..nh], &mut self.nade_a);
            }
        }
        frame
    }
}

/// Row `i` of a `[rows, width]` table.
fn table_row(table: &[f32], width: usize, i: usize) -> &[f32] {
    assert!((i + 1) * width <= table.len(), "row {i} is outside the model's table");
    &table[i * width..][..width]
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Int, Tensor, TensorData};

    use super::*;
    use crate::model::{CellKind, Head, HeadKind, Input, Inputs, ModelConfig};

    fn config(cell: CellKind, peephole: bool, head: HeadKind, input: Input, outputs: usize) -> ModelConfig {
        ModelConfig {
            cell,
            peephole,
            hidden: 24,
            layers: 2,
            dropout: 0.0,
            head,
            input,
            outputs,
            nade_hidden: 10,
            attention: None,
        }
    }

    fn close(a: &[f32], b: &[f32], what: &str) {
        assert_eq!(a.len(), b.len(), "{what}: lengths");
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-4, "{what}: {x} vs {y}");
        }
    }

    /// The stepper's state and logits after each item are the burn model's outputs over
    /// the whole sequence at that step, for token models with styles and frame models,
    /// every cell.
    #[test]
    fn steps_agree_with_the_burn_model() {
        let device = Device::flex();
        let tokens = Input::Tokens { vocab: 12, embedding: 8, styles: 3 };
        let ids: Vec<u16> = (0..6).map(|t| t * 2 % 12).collect();
        let frames: Vec<Frame> = (0..6).map(|t| (1 << (40 + t)) | (1 << (50 + 2 * t)) | 1).collect();
        for (cell, peephole) in [(CellKind::Rnn, false), (CellKind::Lstm, true), (CellKind::Gru, false)] {
            for (input, head, outputs) in
                [(tokens, HeadKind::Softmax, 12), (Input::Frames { units: 88 }, HeadKind::Sigmoid, 88)]
            {
                let model = config(cell, peephole, head, input, outputs).init(&device);
                let (items, inputs): (Vec<StepItem>, Inputs) = match input {
                    Input::Tokens { .. } => (
                        ids.iter().map(|&id| StepItem::Token { id, style: Some(2) }).collect(),
                        Inputs::Tokens {
                            ids: Tensor::<2, Int>::from_data(
                                TensorData::new(ids.iter().map(|&i| i64::from(i)).collect(), [1, 6]),
                                &device,
                            ),
                            style: Some(Tensor::<1, Int>::from_data(TensorData::new(vec![2i64], [1]), &device)),
                        },
                    ),
                    Input::Frames { .. } => {
                        let units: Vec<f32> =
                            frames.iter().flat_map(|f| (0..88).map(move |k| (f >> k & 1) as f32)).collect();
                        (
                            frames.iter().map(|&f| StepItem::Frame(f)).collect(),
                            Inputs::Frames(Tensor::from_data(TensorData::new(units, [1, 6, 88]), &device)),
                        )
                    }
                };
                let hidden = model.hidden(inputs); // [1, 6, 24]
                let (Head::Sigmoid(linear) | Head::Softmax(linear)) = &model.head else { unreachable!() };
                let mut stepper = Stepper::new(&model);
                let mut logits = Vec::new();
                for (t, item) in items.into_iter().enumerate() {
                    stepper.feed(item);
                    let h: Tensor<2> = hidden.clone().narrow(1, t, 1).reshape([1, 24]);
                    close(stepper.hidden(), &values(h.clone()), &format!("{cell:?} hidden, step {t}"));
                    stepper.logits(&mut logits);
                    close(&logits, &values(linear.forward(h)), &format!("{cell:?} logits, step {t}"));
                }
            }
        }
    }

    /// A Transformer's cached steps give the op-by-op model's outputs over the whole
    /// sequence at every position — relative and absolute positions, tokens with styles
    /// and frames, a sequence three times the window long (older items fall out of the
    /// cache as they fall out of the window) — and go on without error after that.
    #[test]
    fn transformer_steps_agree_with_the_burn_model() {
        use crate::model::AttentionConfig;
        let device = Device::flex();
        let time = 30;
        let ids: Vec<u16> = (0..time as u16).map(|t| (t * 5 + t / 3) % 12).collect();
        let frames: Vec<Frame> = (0..time).map(|t| (1 << (40 + t % 7)) | (1 << (50 + t % 11)) | 1).collect();
        for absolute in [false, true] {
            for frames_model in [false, true] {
                let attention = AttentionConfig { heads: 4, feed_forward: 40, distances: 10, absolute };
                let (input, head, outputs) = if frames_model {
                    (Input::Frames { units: 88 }, HeadKind::Sigmoid, 88)
                } else {
                    (Input::Tokens { vocab: 12, embedding: 24, styles: 3 }, HeadKind::Softmax, 12)
                };
                let config = ModelConfig {
                    cell: CellKind::Transformer,
                    attention: Some(attention),
                    ..config(CellKind::Lstm, false, head, input, outputs)
                };
                config.validate().unwrap();
                let model = config.init(&device);
                let (items, inputs): (Vec<StepItem>, Inputs) = if frames_model {
                    let units: Vec<f32> =
                        frames.iter().flat_map(|f| (0..88).map(move |k| (f >> k & 1) as f32)).collect();
                    (
                        frames.iter().map(|&f| StepItem::Frame(f)).collect(),
                        Inputs::Frames(Tensor::from_data(TensorData::new(units, [1, time, 88]), &device)),
                    )
                } else {
                    (
                        ids.iter().map(|&id| StepItem::Token { id, style: Some(2) }).collect(),
                        Inputs::Tokens {
                            ids: Tensor::<2, Int>::from_data(
                                TensorData::new(ids.iter().map(|&i| i64::from(i)).collect(), [1, time]),
                                &device,
                            ),
                            style: Some(Tensor::<1, Int>::from_data(TensorData::new(vec![2i64], [1]), &device)),
                        },
                    )
                };
                let hidden = model.hidden(inputs); // [1, time, 24]
                let (Head::Sigmoid(linear) | Head::Softmax(linear)) = &model.head else { unreachable!() };
                let mut stepper = Stepper::new(&model);
                let mut logits = Vec::new();
                let what = format!("absolute {absolute}, frames {frames_model}");
                for (t, item) in items.iter().enumerate() {
                    stepper.feed(*item);
                    let h: Tensor<2> = hidden.clone().narrow(1, t, 1).reshape([1, 24]);
                    close(stepper.hidden(), &values(h.clone()), &format!("{what}: hidden, step {t}"));
                    stepper.logits(&mut logits);
                    close(&logits, &values(linear.forward(h)), &format!("{what}: logits, step {t}"));
                }
                // Long past the window: the steps go on.
                for item in items.iter().cycle().take(3 * time) {
                    stepper.feed(*item);
                    assert!(stepper.hidden().iter().all(|v| v.is_finite()));
                }
            }
        }
    }

    /// Each unit of a NADE draw is on exactly when its uniform is below its probability
    /// given the units drawn before it, as the burn head computes that probability.
    #[test]
    fn nade_draws_follow_the_burn_heads_probabilities() {
        let device = Device::flex();
        let model = config(CellKind::Gru, false, HeadKind::Nade, Input::Frames { units: 88 }, 88).init(&device);
        let Head::Nade(nade) = &model.head else { unreachable!() };
        let mut stepper = Stepper::new(&model);
        stepper.feed(StepItem::Frame(0b1011 << 40));
        let h = Tensor::<2>::from_data(TensorData::new(stepper.hidden().to_vec(), [1, 24]), &device);
        let temperature = 0.8f32;
        for seed in 0..4u32 {
            // Uniforms near 0.5 make the draw depend on every logit.
            let uniform: Vec<f32> = (0..88u32).map(|i| 0.3 + 0.4 * ((i * 37 + seed * 11) % 89) as f32 / 89.0).collect();
            let frame = stepper.sample_nade(&uniform, temperature);
            assert!(frame != 0 && frame.count_ones() < 88, "a draw with both values: {frame:b}");
            let units: Vec<f32> = (0..88).map(|k| (frame >> k & 1) as f32).collect();
            let x = Tensor::<2>::from_data(TensorData::new(units, [1, 88]), &device);
            for (k, l) in values(nade.logits(h.clone(), x)).into_iter().enumerate() {
                let p = 1.0 / (1.0 + (-l / temperature).exp());
                assert_eq!(frame >> k & 1 == 1, uniform[k] < p, "unit {k}: u {} p {p}", uniform[k]);
            }
        }
    }
}
