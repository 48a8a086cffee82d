//! What one core's packed product reaches at the step shapes of `bench/rnn`: the ceiling
//! against which the fused kernels' figures in BENCHMARKS.md are read. One thread, the
//! best of 5 runs of 20,000 products each.
//!
//!     cargo run --release -p fugato-nn --example tile_peak

use std::time::Instant;

use fugato_nn::fused::gemm::{Isa, Packed, multiply};

fn main() {
    let isa = Isa::detect();
    // (rows, inner, columns): LSTM-256's forward step on one of two threads, GRU-256's,
    // 3 x LSTM-128's, and a small square.
    for (m, k, n) in [(32usize, 256usize, 512usize), (32, 256, 384), (32, 128, 256), (64, 64, 256)] {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
        let b = Packed::new(k, n, |r, c| ((r + c) % 5) as f32 * 0.1);
        let mut c = vec![0.0f32; m * b.padded_width()];
        let reps = 20_000;
        let mut best = f64::MAX;
        for _ in 0..5 {
            let start = Instant::now();
            for _ in 0..reps {
                // SAFETY: `a` holds m × k, `c` m rows of the padded width.
                unsafe { multiply(isa, m, a.as_ptr(), k, &b, c.as_mut_ptr(), b.padded_width()) };
            }
            best = best.min(start.elapsed().as_secs_f64());
        }
        let gflops = 2.0 * (m * k * n * reps) as f64 / best / 1e9;
        println!("{m} x {k} x {n} ({isa:?}): {gflops:.1} GFLOP/s on one thread");
    }
}
