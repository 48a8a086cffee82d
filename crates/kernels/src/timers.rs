//! Wall time of each phase of the fused kernels, summed over a run, as the first thread
//! of each operation sees it: where a training step's time goes, for BENCHMARKS.md.
//! Compiled in only with the `phase-timers` feature; without it a [`Span`] is empty and
//! costs nothing.
//!
//! ```text
//! cargo run --release -p fugato-nn --features phase-timers --example rnn_bench -- 100 1 "train LSTM-256"
//! ```

/// A part of the fused kernels' work.
#[derive(Clone, Copy, Debug)]
pub enum Phase {
    /// The forward pass's step products.
    ForwardProducts,
    /// The forward pass's gate loops, the sparse input's projection included.
    ForwardGates,
    /// The backward pass before its steps: the transposed operands, W_h^T packed.
    BackwardSetup,
    /// The backward pass's gate loops, with the gate gradients' packing and sums.
    BackwardGates,
    /// The backward pass's step products.
    BackwardProducts,
    /// The weight gradients' products after the steps.
    WeightProducts,
    /// The calling thread, done with its block, waiting for the others.
    Wait,
    /// A recurrence's forward pass, whole, as its caller sees it (the phases above and
    /// what surrounds them).
    RecurrenceForward,
    /// A recurrence's backward pass, whole.
    RecurrenceBackward,
    /// The sigmoid head and its loss, forward.
    HeadForward,
    /// The sigmoid head and its loss, backward.
    HeadBackward,
    /// The optimizer's step, every parameter.
    Optimizer,
    /// Dropout's masks, forward and backward.
    Dropout,
}

/// Every phase with its name as `rnn_bench` prints it.
const PHASES: [(Phase, &str); 13] = [
    (Phase::ForwardProducts, "forward step products"),
    (Phase::ForwardGates, "forward gate loops"),
    (Phase::BackwardSetup, "backward setup"),
    (Phase::BackwardGates, "backward gate loops"),
    (Phase::BackwardProducts, "backward step products"),
    (Phase::WeightProducts, "weight gradients' products"),
    (Phase::Wait, "waiting for the other threads"),
    (Phase::RecurrenceForward, "recurrence forward, whole"),
    (Phase::RecurrenceBackward, "recurrence backward, whole"),
    (Phase::HeadForward, "head forward"),
    (Phase::HeadBackward, "head backward"),
    (Phase::Optimizer, "optimizer"),
    (Phase::Dropout, "dropout"),
];

/// Each phase's nanoseconds (zero without the feature), by the phase's number.
static NANOS: [std::sync::atomic::AtomicU64; PHASES.len()] =
    [const { std::sync::atomic::AtomicU64::new(0) }; PHASES.len()];

/// Times its phase from [`span`] until dropped.
pub struct Span {
    #[cfg(feature = "phase-timers")]
    started: Option<(Phase, std::time::Instant)>,
}

/// Starts timing `phase` where `thread` is 0 (the first thread of an operation).
#[inline(always)]
pub fn span(phase: Phase, thread: usize) -> Span {
    #[cfg(feature = "phase-timers")]
    return Span { started: (thread == 0).then(|| (phase, std::time::Instant::now())) };
    #[cfg(not(feature = "phase-timers"))]
    {
        let _ = (phase, thread);
        Span {}
    }
}

impl Span {
    /// Stops timing (as dropping it does).
    #[inline(always)]
    pub fn end(self) {}
}

#[cfg(feature = "phase-timers")]
impl Drop for Span {
    fn drop(&mut self) {
        if let Some((phase, started)) = self.started {
            let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            NANOS[phase as usize].fetch_add(nanos, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// Each phase's name and its time since the last [`reset`] (all zero without the
/// feature).
pub fn totals() -> Vec<(&'static str, std::time::Duration)> {
    PHASES
        .iter()
        .map(|&(phase, name)| {
            let nanos = NANOS[phase as usize].load(std::sync::atomic::Ordering::Relaxed);
            (name, std::time::Duration::from_nanos(nanos))
        })
        .collect()
}

/// Sets every phase's time back to zero.
pub fn reset() {
    for n in &NANOS {
        n.store(0, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Whether the timers are compiled in.
pub const ENABLED: bool = cfg!(feature = "phase-timers");
