use fugato_nn::fused::gemm::{Isa, Packed, multiply};
use std::time::Instant;
fn main() {
    let isa = Isa::detect();
    for (m, k, n) in [(32usize, 256usize, 512usize), (32, 256, 1024), (32, 128, 256), (64, 64, 256)] {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
        let b = Packed::new(k, n, |r, c| ((r + c) % 5) as f32 * 0.1);
        let mut c = vec![0.0f32; m * b.padded_width()];
        let reps = 20000;
        let mut best = f64::MAX;
        for _ in 0..5 {
            let t = Instant::now();
            for _ in 0..reps {
                unsafe { multiply(isa, m, a.as_ptr(), k, &b, c.as_mut_ptr(), b.padded_width()) };
            }
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!("{m}x{k}x{n}: {:.1} GFLOP/s one thread", 2.0 * (m * k * n * reps) as f64 / best / 1e9);
    }
}
