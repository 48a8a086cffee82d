//! Fused recurrent layers for the CPU: the whole sequence's forward and backward pass of
//! a tanh RNN, LSTM (with or without peepholes) or GRU layer as one burn operation with
//! its own kernels, instead of a dozen tensor operations per time step.
//!
//! [`cell`] holds the arithmetic on `f32` buffers, [`gemm`] the small packed products of
//! each step, `head` the sigmoid head with its loss and `dropout` the dropout masks (two
//! more fused operations), and `op`
//! the burn glue (a backend extension for the CPU backend, with a
//! hand-written backward pass for autodiff). [`crate::model::Layer`] uses it wherever
//! [`supported`] says the device allows; elsewhere (CUDA) it runs op by op.

/// Defines `name(isa, args…)`, which runs `body` compiled for AVX-512 where the CPU has
/// it (so the gate loops vectorise 16 wide), and as portable code elsewhere.
macro_rules! vectorised {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name(isa: $crate::fused::gemm::Isa, $($arg: $ty),*) {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn body($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            unsafe fn fast($($arg: $ty),*) {
                body($($arg),*)
            }
            match isa {
                #[cfg(target_arch = "x86_64")]
                $crate::fused::gemm::Isa::Avx512 => unsafe { fast($($arg),*) },
                $crate::fused::gemm::Isa::Portable => body($($arg),*),
            }
        }
    };
}

mod adam;
pub mod cell;
mod dropout;
pub mod gemm;
mod head;
mod op;
mod pool;
#[cfg(target_arch = "x86_64")]
mod simd;
pub mod step;
pub mod timers;
mod workers;

pub use adam::FusedAdam;
pub use dropout::{Mask, dropout};
pub use head::bernoulli_nll;
pub use op::{Spec, recurrence, supported};
use workers::in_blocks;

/// A tensor's values, row-major, as `f32` (without a copy where the tensor's memory is
/// its own and already `f32`).
pub(crate) fn values<const D: usize>(t: burn::tensor::Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 values")
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
