//! Dropout's mask drawn and applied in one pass split between the threads, its bits kept
//! for the backward pass, which applies them to the output's gradient. Op by op the mask
//! was drawn on one thread into a tensor and multiplied in as two more passes forward and
//! one backward, while the other core waited (about a tenth of a 3 × LSTM-128 training
//! step in `perf`).
//!
//! The values are those of [`Mask::values`], bit for bit: value `i` keeps where the
//! `i`-th `u32` of the mask's ChaCha8 stream is below keep·2³², and each thread seeks to
//! its block's place in the stream.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::gemm::Isa;
use crate::timers::{self, Phase};
use crate::{in_blocks, pool};

/// A dropout mask: the seed of its random stream and the probability of keeping a value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mask {
    pub seed: u64,
    pub keep: f64,
}

impl Mask {
    /// A value keeps where its draw is below this.
    fn threshold(self) -> u64 {
        (self.keep * 4_294_967_296.0) as u64
    }

    /// What a kept value is multiplied by.
    fn scale(self) -> f32 {
        (1.0 / self.keep) as f32
    }

    /// `n` values, each 1 / keep where its draw is below keep·2³², else 0: the mask that
    /// other backends multiply in (the fused pass over ones).
    pub fn values(self, n: usize) -> Vec<f32> {
        forward(self, &vec![1.0; n]).0
    }
}

/// Draws taken from the stream at a time; a thread's block is a whole number of them.
const DRAWS: usize = 1024;

/// Values below which one thread does the whole.
pub const ONE_THREAD: usize = 1 << 15;

/// Values per thread: all on one below [`ONE_THREAD`], else a whole number of draw
/// blocks each.
fn per_thread(n: usize) -> usize {
    let threads = crate::threads();
    if n < ONE_THREAD || threads == 1 { n.max(1) } else { n.div_ceil(threads).next_multiple_of(DRAWS) }
}

/// `x` times the mask (a buffer from [`pool`]), and the mask's bits (bit `i % 16` of word `i / 16` for value `i`).
pub fn forward(mask: Mask, x: &[f32]) -> (Vec<f32>, Vec<u16>) {
    let _span = timers::span(Phase::Dropout, 0);
    let (isa, n, per) = (Isa::detect(), x.len(), per_thread(x.len()));
    let (threshold, scale) = (mask.threshold(), mask.scale());
    let mut y = pool::take(n); // every value written below
    let mut bits = vec![0u16; n.div_ceil(16)];
    in_blocks(y.chunks_mut(per).zip(bits.chunks_mut(per.div_ceil(16))), |i, (y, bits)| {
        let start = i * per;
        let mut rng = ChaCha8Rng::seed_from_u64(mask.seed);
        rng.set_word_pos(start as u128);
        let mut draws = [0u32; DRAWS];
        let x = &x[start..][..y.len()];
        for ((y, x), bits) in y.chunks_mut(DRAWS).zip(x.chunks(DRAWS)).zip(bits.chunks_mut(DRAWS / 16)) {
            let draws = &mut draws[..y.len()];
            rng.fill(draws);
            mask_block(isa, draws, threshold, scale, x, y, bits);
        }
    });
    (y, bits)
}

/// `dy` times the mask whose bits are `bits`.
pub fn apply_bits(mask: Mask, dy: &[f32], bits: &[u16]) -> Vec<f32> {
    let _span = timers::span(Phase::Dropout, 0);
    let (isa, n, per) = (Isa::detect(), dy.len(), per_thread(dy.len()));
    let scale = mask.scale();
    let mut dx = pool::take(n); // every value written below
    in_blocks(dx.chunks_mut(per).zip(bits.chunks(per.div_ceil(16))), |i, (dx, bits)| {
        unmask_block(isa, scale, &dy[i * per..][..dx.len()], bits, dx);
    });
    dx
}

vectorised! {
    /// `y = x · m` for one block of draws, `m` = scale where the draw is below
    /// `threshold`, else 0, and `m`'s bits.
    fn mask_block(draws: &[u32], threshold: u64, scale: f32, x: &[f32], y: &mut [f32], bits: &mut [u16]) {
        for (((y, x), d), bits) in y.chunks_mut(16).zip(x.chunks(16)).zip(draws.chunks(16)).zip(bits.iter_mut()) {
            let mut word = 0u16;
            for (k, ((y, x), d)) in y.iter_mut().zip(x).zip(d).enumerate() {
                let keep = u64::from(*d) < threshold;
                *y = x * if keep { scale } else { 0.0 };
                word |= u16::from(keep) << k;
            }
            *bits = word;
        }
    }
}

vectorised! {
    /// `dx = dy · m`, `m` = scale where its bit is set, else 0.
    fn unmask_block(scale: f32, dy: &[f32], bits: &[u16], dx: &mut [f32]) {
        for ((dx, dy), bits) in dx.chunks_mut(16).zip(dy.chunks(16)).zip(bits) {
            for (k, (dx, dy)) in dx.iter_mut().zip(dy).enumerate() {
                *dx = dy * if bits >> k & 1 == 1 { scale } else { 0.0 };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::RngCore;

    use super::*;

    /// The mask: about 1 − keep of the values dropped, the rest 1 / keep, the same from the
    /// same seed, and the stream's draws in order though the threads each draw a block.
    #[test]
    fn the_mask_drops_scales_and_follows_the_seed() {
        let n = 3 * ONE_THREAD + 1000;
        let mask = |seed| Mask { seed, keep: 0.7 }.values(n);
        let a = mask(1);
        let dropped = a.iter().filter(|v| **v == 0.0).count() as f64 / a.len() as f64;
        assert!((dropped - 0.3).abs() < 0.02, "dropped {dropped}");
        assert!(a.iter().all(|v| *v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-6));
        assert_eq!(a, mask(1));
        assert_ne!(a, mask(2));
        // The stream's u32s in order, one per value, as trained models' masks were drawn.
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let one_by_one: Vec<f32> =
            (0..n).map(|_| if f64::from(rng.next_u32()) < 0.7 * 4_294_967_296.0 { 1.0 / 0.7 } else { 0.0 }).collect();
        assert_eq!(a, one_by_one);
    }
}
