//! The burn glue of fugato's CPU kernels ([`fugato_kernels`]): the recurrence of a tanh
//! RNN, LSTM (with or without peepholes) or GRU layer over a whole sequence, the sigmoid
//! head with its loss and dropout as three burn operations (backend extensions for the CPU
//! backend, each with a hand-written backward pass for autodiff), and Adam behind burn's
//! optimizer interface. [`crate::model::Layer`] uses them wherever [`supported`] says the
//! device allows; elsewhere (CUDA) the layers run op by op.

mod adam;
mod dropout;
mod head;
mod op;

pub use adam::FusedAdam;
pub use dropout::dropout;
pub use fugato_kernels::dropout::Mask;
pub use head::bernoulli_nll;
pub use op::{Spec, recurrence, supported};

use fugato_kernels::pool;

/// A tensor's values, row-major, as `f32` (without a copy where the tensor's memory is
/// its own and already `f32`).
pub(crate) fn values<const D: usize>(t: burn::tensor::Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 values")
}

/// Keeps the memory of a tensor that is the only owner of it (a gradient or an
/// activation burn would free at its last use) for a later [`pool::take`].
pub fn reclaim(t: burn::backend::flex::FlexTensor) {
    if let Some(values) = sole_values(t) {
        pool::give(values);
    }
}

/// A tensor's values without a copy where the tensor is the only owner of its memory, all
/// of it `f32` values in order; `None` for a shared tensor, a view or another type
/// (taking their values would copy them).
fn sole_values(t: burn::backend::flex::FlexTensor) -> Option<Vec<f32>> {
    let whole = t.is_contiguous()
        && t.layout().start_offset() == 0
        && t.bytes().len() == t.layout().num_elements() * size_of::<f32>();
    if t.is_unique() && whole && t.dtype() == burn::tensor::DType::F32 {
        t.into_data().try_into_vec::<f32>().ok()
    } else {
        None
    }
}

/// Tests' measure of agreement between a fused result and burn's: max |a − b| over
/// max |b| (at least 1e-3).
#[cfg(test)]
pub(crate) fn relative_error<const D: usize>(a: burn::tensor::Tensor<D>, b: burn::tensor::Tensor<D>) -> f32 {
    let a: Vec<f32> = a.into_data().try_to_vec::<f32>().unwrap();
    let b: Vec<f32> = b.into_data().try_to_vec::<f32>().unwrap();
    let diff = a.iter().zip(&b).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    diff / b.iter().map(|b| b.abs()).fold(1e-3f32, f32::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tensor's memory is taken back when the tensor is its only owner, and not otherwise.
    #[test]
    fn only_a_sole_owners_memory_is_taken_back() {
        use burn::backend::flex::FlexTensor;
        use burn::tensor::TensorData;
        let values = vec![7.0f32; 4096];
        let at = values.as_ptr();
        let t = FlexTensor::from_data(TensorData::new(values, [64, 64]));
        let shared = t.clone();
        assert!(sole_values(t).is_none(), "taken while shared");
        let back = sole_values(shared).expect("its sole owner");
        assert_eq!((back.as_ptr(), back.len()), (at, 4096));
        let t = FlexTensor::from_data(TensorData::new(vec![1.0f32; 4096], [64, 64]));
        let view = t.narrow(0, 8, 8);
        drop(t);
        assert!(view.is_unique() && sole_values(view).is_none(), "a view taken");
    }
}
