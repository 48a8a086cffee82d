//! What one core's packed product reaches at the step shapes of `bench/rnn`: the ceiling
//! against which the fused kernels' figures in BENCHMARKS.md are read. One thread, the
//! best of 5 runs of 20,000 products each. Then LSTM-256's two kinds of product with
//! their real operand sizes, one thread's share at batch 32 × 64 frames: the step product
//! (16 rows of h_{t-1} times the whole packed W_h, 1 MB, the 64 steps in turn) and the
//! weight gradient's (128 rows of dW_h from both threads' packed gate gradients, 4 MB
//! each), and the sigmoid head's dW (hᵀ times the logits' gradients, 1,024 rows, h read
//! transposed), the best of 3 runs.
//!
//!     cargo run --release -p fugato-nn --example tile_peak

use std::time::Instant;

use fugato_kernels::gemm::{Isa, Left, Packed, multiply, multiply_blocked};

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
    real_sizes(isa);
}

/// The best GFLOP/s of 3 runs of `work`, which does `flops` each time.
fn best_of_3(flops: usize, mut work: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        work();
        best = best.min(start.elapsed().as_secs_f64());
    }
    flops as f64 / best / 1e9
}

fn real_sizes(isa: Isa) {
    let (batch, time, hidden, gh) = (32usize, 64usize, 256usize, 1024usize);
    let (rows, mine) = (batch * time, batch / 2);
    let out: Vec<f32> = (0..rows * hidden).map(|i| (i % 11) as f32 * 0.01).collect();
    let wh = Packed::new(hidden, gh, |r, c| ((r * 3 + c) % 5) as f32 * 0.1);
    let mut c = vec![0.0f32; mine * gh];
    let reps = 50;
    let step = best_of_3(2 * mine * hidden * gh * time * reps, || {
        for _ in 0..reps {
            for t in 0..time {
                // SAFETY: rows t, t + time, … of `out` hold `hidden` floats; `c` holds `mine` rows.
                unsafe { multiply(isa, mine, out.as_ptr().add(t * hidden), time * hidden, &wh, c.as_mut_ptr(), gh) };
            }
        }
    });
    println!("LSTM-256 step products, real sizes: {step:.1} GFLOP/s on one thread");
    let h_prev_t: Vec<f32> = (0..hidden * rows).map(|i| (i % 7) as f32 * 0.1).collect();
    let sources: Vec<Packed> =
        (0..2).map(|s| Packed::new(rows / 2, gh, |r, c| ((r + c + s) % 5) as f32 * 0.1)).collect();
    let share = hidden / 2;
    let mut dw = vec![0.0f32; share * gh];
    let reps = 20;
    let weights = best_of_3(2 * share * rows * gh * reps, || {
        for _ in 0..reps {
            for (n, source) in sources.iter().enumerate() {
                // SAFETY: `share` rows of `h_prev_t` from column n·rows/2 hold rows/2 floats;
                // `dw` holds `share` rows of gh.
                unsafe {
                    let a = h_prev_t.as_ptr().add(n * rows / 2);
                    multiply_blocked(isa, share, Left::rows(a, rows), source, dw.as_mut_ptr(), gh, n > 0, None)
                };
            }
        }
    });
    println!("LSTM-256 weight gradient's product, real sizes: {weights:.1} GFLOP/s on one thread");
    // The sigmoid head's dW = hᵀ·dl on one thread's rows: h read as it is, transposed.
    let (units, width) = (88usize, 96usize);
    let h: Vec<f32> = (0..rows / 2 * hidden).map(|i| (i % 7) as f32 * 0.1).collect();
    let dl: Vec<f32> = (0..rows / 2 * width).map(|i| (i % 5) as f32 * 0.1).collect();
    let packed = Packed::from_rows(rows / 2, units, &dl, width);
    let mut dw = vec![0.0f32; hidden * packed.padded_width()];
    let reps = 200;
    let head = best_of_3(2 * hidden * rows / 2 * width * reps, || {
        for _ in 0..reps {
            // SAFETY: `h` holds rows/2 rows of `hidden` floats (hᵀ stored transposed);
            // `dw` holds `hidden` rows of the padded width.
            unsafe {
                let left = Left::transposed(h.as_ptr(), hidden);
                multiply_blocked(isa, hidden, left, &packed, dw.as_mut_ptr(), packed.padded_width(), false, None)
            };
        }
    });
    println!("the sigmoid head's dW product (h read transposed), real sizes: {head:.1} GFLOP/s on one thread");
}
