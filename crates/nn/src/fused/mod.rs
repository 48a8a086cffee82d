//! Fused recurrent layers for the CPU: the whole sequence's forward and backward pass of
//! a tanh RNN, LSTM (with or without peepholes) or GRU layer as one burn operation with
//! its own kernels, instead of a dozen tensor operations per time step.
//!
//! [`cell`] holds the arithmetic on `f32` buffers, [`gemm`] the small packed products of
//! each step, and `op` the burn glue (a backend extension for the CPU backend, with a
//! hand-written backward pass for autodiff). [`crate::model::Layer`] uses it wherever
//! [`supported`] says the device allows; elsewhere (CUDA) it runs op by op.

pub mod cell;
pub mod gemm;
mod op;

pub use op::{Spec, recurrence, supported};
