//! Held-out scores, as ../shared/datasets/polyphonic/README.md defines them: each whole
//! sequence is fed from its first item, every item but the first is scored, and the
//! negative log-likelihoods (nats) are pooled over all scored items of the split.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::batch::{SequenceSet, make_batch, whole_sequences};
use crate::model::{SequenceModel, Target};

/// Sequences evaluated together.
pub const EVAL_BATCH: usize = 16;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Mean negative log-likelihood per scored item, in nats (per frame for piano-rolls,
    /// per token for token models).
    pub nll: f64,
    /// Items scored: every item but the first of each sequence.
    pub frames: usize,
    /// Token models: e^nll.
    pub perplexity: Option<f64>,
    /// Piano-roll models: frame-level accuracy TP / (TP + FP + FN) over all notes of the
    /// scored frames (Bay et al. 2009), each unit on when its probability given the past
    /// (and, for NADE, the frame's lower units) is at least 0.5.
    pub accuracy: Option<f64>,
    /// Piano-roll models: precision, recall and F1 over the same notes.
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub f1: Option<f64>,
}

/// Scores `set` with `model`, which should be in validation mode (`Module::valid`).
pub fn evaluate(model: &SequenceModel, set: &SequenceSet, device: &Device) -> Evaluation {
    let windows = whole_sequences(set);
    let (mut total, mut items) = (0f64, 0usize);
    let (mut tp, mut fp, mut fn_) = (0f64, 0f64, 0f64);
    for chunk in windows.chunks(EVAL_BATCH) {
        let batch = make_batch(set, chunk, device);
        let h = model.hidden_at(batch.inputs.clone(), batch.positions.clone()); // [n, hidden]
        let loss = model.head.loss(h.clone(), &batch.target); // [n]
        total += loss.sum().into_scalar::<f32>() as f64;
        items += batch.n_scored;
        if let Target::Units(x) = &batch.target
            && let Some(p) = model.head.unit_probabilities(h, x)
        {
            let predicted = p.greater_equal_elem(0.5).float(); // [n, units]
            let both = (predicted.clone() * x.clone()).sum().into_scalar::<f32>() as f64;
            tp += both;
            fp += predicted.sum().into_scalar::<f32>() as f64 - both;
            fn_ += x.clone().sum().into_scalar::<f32>() as f64 - both;
        }
    }
    let nll = total / items.max(1) as f64;
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let frames_model = matches!(set, SequenceSet::Frames(_)) && tp + fp + fn_ > 0.0;
    let (precision, recall) = (ratio(tp, tp + fp), ratio(tp, tp + fn_));
    Evaluation {
        nll,
        frames: items,
        perplexity: matches!(set, SequenceSet::Tokens { .. }).then(|| nll.exp()),
        accuracy: frames_model.then(|| ratio(tp, tp + fp + fn_)),
        precision: frames_model.then_some(precision),
        recall: frames_model.then_some(recall),
        f1: frames_model.then(|| ratio(2.0 * precision * recall, precision + recall)),
    }
}
