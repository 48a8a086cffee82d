//! fugato's CPU kernels: the recurrent layers' training and sampling arithmetic on plain
//! `f32` buffers, with no tensors (the burn glue is `fugato_nn::fused`). Every `unsafe`
//! block of fugato lives in this crate, each with a `// SAFETY:` comment.
//!
//! # Design
//!
//! A recurrent layer trained op by op is a dozen tensor operations per time step, each a
//! pass over memory and an allocation. Here a layer's whole sequence is one call
//! ([`cell::forward`], [`cell::backward`]):
//!
//! - **Input projection** as one product over the sequence, or, for sparse piano-roll
//!   input, a sum of `W_x` rows formed in the step loop from the nonzero entries, listed
//!   once per forward pass and kept for the backward one ([`cell::SparseRows`]).
//! - **Threads**: the batch rows split between threads when each gets a tile's rows, so no
//!   step waits for another thread; else the hidden units, each thread with its packed
//!   slice of `W_h` and one spin barrier per step. Each thread writes its units of a row's
//!   gates through one slice per gate (`GateRows`), never a slice over another thread's
//!   units. The threads are kept from one operation to the next ([`workers`]): spinning a
//!   while after each, asleep when no work comes; a busy team or a nested call falls back
//!   to threads of its own.
//! - **Memory order**: the LSTM's c and the saved gate activations are kept step after
//!   step ([`cell::step_major`]), so a thread's rows of one step are neighbours in memory,
//!   and the reverse pass streams through them.
//! - **Backward**: the steps in reverse the same way, each thread summing its bias
//!   gradients as it goes and packing its gate gradients (streaming stores past the cache:
//!   they are read only after the whole sequence), then, after one barrier, the weight
//!   gradients as products over the whole sequence split between the threads, so no
//!   serial tail is left. A sparse input's dW_x is summed from each packed block while the
//!   dW_h product has it in cache, the block's entries listed by input
//!   ([`cell::SparseRows::by_input`]) so each input's sum stays in registers.
//! - **Products** ([`gemm`]): a packed AVX-512 tile (8 × 32 in 16 registers) and the
//!   threaded large products, with a visitor of each packed block (for the sparse dW_x);
//!   the left operand read as stored or transposed ([`gemm::Left`]).
//! - **Gate rows** ([`simd`], x86-64 only): the LSTM's gate arithmetic and the sparse
//!   projection with AVX-512 intrinsics, two vectors at a time, and a 16 × 16 transpose in
//!   registers; the portable loops in [`cell`] do the rest and run on other CPUs.
//! - **Around the layers**: [`head`] the sigmoid head and its BCE loss (logits, a
//!   vectorised softplus, σ(l) − x left in the logits' place, its backward as a scaling
//!   and two packed products); [`dropout`] the mask drawn and applied on both threads,
//!   each seeking to its place in the ChaCha8 stream; [`adam`] Adam with clipping and
//!   weight decay as two passes per parameter; [`pool`] the buffers kept between steps
//!   for whatever a kernel overwrites whole; [`timers`] each phase's wall time (with the
//!   `phase-timers` feature).
//! - **Sampling** ([`step`]): a stack of layers at batch 1 on copies of the weights packed
//!   in column panels for matrix–vector products, the hidden units split between two
//!   threads for larger models (a worker that lives as long as the stack); [`attend`] a
//!   Transformer at batch 1 with a cache of keys and values.
//!
//! Unit tests in `fugato_nn` hold every kernel to the op-by-op burn layers within 1e-4 on
//! outputs and every gradient; BENCHMARKS.md has the speed against PyTorch and each
//! change's measured effect.
//!
//! Process-wide tuning is the caller's: a program calls [`tune_allocator`] once at start.

/// Defines `name(isa, args…)`, which runs `body` compiled for AVX-512 where the CPU has
/// it (so the gate loops vectorise 16 wide), and as portable code elsewhere.
macro_rules! vectorised {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name(isa: $crate::gemm::Isa, $($arg: $ty),*) {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn body($($arg: $ty),*) $body
            /// `body` compiled for AVX-512.
            ///
            /// # Safety
            /// The CPU must have AVX-512 (F, VL), AVX2 and FMA: [`Isa::detect`] said so.
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            unsafe fn fast($($arg: $ty),*) {
                body($($arg),*)
            }
            match isa {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `Isa::Avx512` is made only by `Isa::detect` on a CPU that has it.
                $crate::gemm::Isa::Avx512 => unsafe { fast($($arg),*) },
                $crate::gemm::Isa::Portable => body($($arg),*),
            }
        }
    };
}

pub mod adam;
pub mod attend;
pub mod cell;
#[cfg(feature = "cuda")]
pub mod cuda;
pub mod dropout;
pub mod gemm;
pub mod head;
pub mod pool;
#[cfg(target_arch = "x86_64")]
mod simd;
pub mod step;
pub mod timers;
mod workers;

pub(crate) use workers::in_blocks;

/// Threads for the kernels: `FUGATO_THREADS` if set, else the cores (at most 8).
pub fn threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| {
        std::env::var("FUGATO_THREADS")
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()).min(8))
            .max(1)
    })
}

/// Keeps freed memory in the heap for reuse: each training step allocates and frees the
/// same large buffers (megabytes of activations and gradients), and glibc returns such
/// blocks to the kernel at every free and maps them afresh at the next allocation, so
/// every step paid for page faults and page clearing (a fifth of the time). Raising its
/// thresholds keeps them. A process-wide setting: a program calls it once, at its start,
/// before any large allocation (the `fugato` binary's `main` does). Without it the
/// kernels compute the same, slower.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's thresholds, which glibc reads under its
    // own lock; any value is valid (these are within its documented ranges).
    unsafe {
        // 32 MiB is the largest mmap threshold glibc accepts on 64-bit.
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
    }
}
