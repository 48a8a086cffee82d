//! Batches as tensors: [`fugato_data::sequences`]'s arrays of windows for training and
//! whole sequences for evaluation, on a device.

use burn::tensor::{Device, Int, Tensor, TensorData};
use fugato_data::sequences::{BatchItems, batch_arrays};
use fugato_repr::pianoroll::N_KEYS;

pub use fugato_data::sequences::{SequenceSet, Window, epoch_windows, whole_sequences};

use crate::model::{Inputs, Target};

/// Tensors for a batch of windows.
pub struct Batch {
    pub inputs: Inputs,
    /// Row-major positions (`row · time + t`) of the scored steps.
    pub positions: Tensor<1, Int>,
    pub target: Target,
    pub n_scored: usize,
}

/// Builds the batch: each row feeds items `0..len-1` of its window and predicts `1..len`.
pub fn make_batch(set: &SequenceSet, windows: &[Window], device: &Device) -> Batch {
    let a = batch_arrays(set, windows);
    let (rows, time, n_scored) = (a.rows, a.time, a.positions.len());
    let positions = Tensor::<1, Int>::from_data(TensorData::new(a.positions, [n_scored]), device);
    match a.items {
        BatchItems::Frames { input, target } => Batch {
            inputs: Inputs::Frames(Tensor::from_data(TensorData::new(input, [rows, time, N_KEYS]), device)),
            positions,
            target: Target::Units(Tensor::from_data(TensorData::new(target, [n_scored, N_KEYS]), device)),
            n_scored,
        },
        BatchItems::Tokens { input, target, styles } => Batch {
            inputs: Inputs::Tokens {
                ids: Tensor::from_data(TensorData::new(input, [rows, time]), device),
                style: styles.map(|s| Tensor::from_data(TensorData::new(s, [rows]), device)),
            },
            positions,
            target: Target::Tokens(Tensor::from_data(TensorData::new(target, [n_scored]), device)),
            n_scored,
        },
    }
}
