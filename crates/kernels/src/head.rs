//! The sigmoid head and its loss on `f32` buffers: logits `l = h·W + b`, then each row's
//! Bernoulli negative log-likelihood `Σ_u softplus(l_u) − x_u·l_u`
//! (= −Σ_u [x_u log σ(l_u) + (1 − x_u) log σ(−l_u)]). Op by op this was a matrix product,
//! two `log_sigmoid`s and five element-wise passes forward, as many backward, about a third
//! of an LSTM-256 training step; here it is two packed products forward and three
//! backward, with one vectorised pass between.

use crate::gemm::{self, Isa, Packed};
use crate::timers::{self, Phase};
use crate::{in_blocks, pool};

/// Each row's loss, `[rows]`, and the residuals σ(l_u) − x_u of its logits: `h [rows, d]`,
/// `w [d, units]`, `b [units]`, `x [rows, units]`. The rows split between threads.
pub fn forward(
    rows: usize,
    d: usize,
    units: usize,
    h: &[f32],
    w: &[f32],
    b: &[f32],
    x: &[f32],
) -> (Residuals, Vec<f32>) {
    let _whole = timers::span(Phase::HeadForward, 0);
    let isa = Isa::detect();
    let w = Packed::from_rows(d, units, w, units);
    let width = w.padded_width();
    let mut values = pool::take(rows * width); // every value written by the product
    let mut nll = vec![0.0f32; rows];
    let per = gemm::rows_per_thread(rows, d * units);
    let work = |r0: usize, l: &mut [f32], nll: &mut [f32]| {
        // SAFETY: `h` holds these rows of `d` floats, `l` as many of `width`.
        unsafe { gemm::multiply(isa, nll.len(), h[r0 * d..].as_ptr(), d, &w, l.as_mut_ptr(), width) };
        let mut terms = vec![0.0f32; units];
        for ((l, x), nll) in l.chunks_exact_mut(width).zip(x[r0 * units..].chunks_exact(units)).zip(nll) {
            row_loss(isa, &mut l[..units], b, x, &mut terms);
            *nll = terms.iter().sum();
        }
    };
    in_blocks(values.chunks_mut(per * width).zip(nll.chunks_mut(per)), |i, (l, n)| work(i * per, l, n));
    (Residuals { values, width }, nll)
}

/// σ(l) − x for every unit of every row (the forward pass's logits overwritten), rows
/// `width` apart (the product's padded width).
#[derive(Clone)]
pub struct Residuals {
    /// `[rows, width]`, `units` of each row used.
    pub values: Vec<f32>,
    /// The product's padded row width.
    pub width: usize,
}

vectorised! {
    /// Adds the bias to one row of logits, writes each unit's loss,
    /// softplus(l_u) − x_u·l_u, to `terms`, and leaves σ(l_u) − x_u in the logit's place
    /// (from the same e^−|l|: the backward pass then only scales it).
    fn row_loss(l: &mut [f32], b: &[f32], x: &[f32], terms: &mut [f32]) {
        for (((l, b), x), t) in l.iter_mut().zip(b).zip(x).zip(terms) {
            let v = *l + b;
            let z = exp_negative(-v.abs());
            *t = v.max(0.0) + log1p_unit(z) - x * v;
            let p = if v >= 0.0 { 1.0 / (1.0 + z) } else { z / (1.0 + z) };
            *l = p - x;
        }
    }
}

vectorised! {
    /// One row's logit gradients, g·(σ(l_u) − x_u), over its residuals, added to `db`.
    fn row_gradient(g: f32, r: &mut [f32], db: &mut [f32]) {
        for (r, s) in r.iter_mut().zip(db) {
            *r *= g;
            *s += *r;
        }
    }
}

/// softplus(l) = log(1 + e^l) = max(l, 0) + log1p(e^−|l|), vectorisable, within about
/// 1e-7 relative.
#[cfg(test)]
fn softplus(l: f32) -> f32 {
    l.max(0.0) + log1p_unit(exp_negative(-l.abs()))
}

/// e^a for a ≤ 0 (Cephes' `expf`: a = n·ln 2 + r, |r| ≤ ln 2 / 2, a degree-7 polynomial
/// in r, then the exponent bits); held at e^−87 below −87 (f32's normal range ends there).
#[inline(always)]
fn exp_negative(a: f32) -> f32 {
    let a = a.max(-87.0);
    let n = (a * std::f32::consts::LOG2_E).round_ties_even();
    let r = a - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    e * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// log(1 + z) for 0 ≤ z ≤ 1: 2·atanh(s) with s = z / (2 + z) ≤ 1/3, as its series to s¹³
/// (the next term is below 2e-8 relative), so no cancellation for small z.
#[inline(always)]
fn log1p_unit(z: f32) -> f32 {
    let s = z / (2.0 + z);
    let s2 = s * s;
    let mut p = 1.0f32 / 13.0;
    p = p * s2 + 1.0 / 11.0;
    p = p * s2 + 1.0 / 9.0;
    p = p * s2 + 1.0 / 7.0;
    p = p * s2 + 1.0 / 5.0;
    p = p * s2 + 1.0 / 3.0;
    p = p * s2 + 1.0;
    2.0 * s * p
}

/// The gradients of `h` (`[rows, d]`), `W` (`[d, units]`) and `b` from each row's loss
/// gradient `g`, with the residuals `r` (overwritten by the logits' gradients). Each
/// thread takes a block of rows: their logits' gradients, their rows of dh, and its
/// block's share of dW (from `h` as it is, read transposed) and db, summed at the end.
#[allow(clippy::too_many_arguments)]
pub fn gradients(
    rows: usize,
    d: usize,
    units: usize,
    h: &[f32],
    w: &[f32],
    g: &[f32],
    r: &mut [f32],
    width: usize,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let isa = Isa::detect();
    let wt = Packed::from_columns(units, d, w, units);
    let dh_width = wt.padded_width();
    let mut dh = pool::take(rows * dh_width); // every row written whole by the product
    let per = gemm::rows_per_thread(rows, 3 * d * units);
    let work = |r0: usize, l: &mut [f32], dh: &mut [f32]| -> (Vec<f32>, Vec<f32>) {
        let n = dh.len() / dh_width;
        let mut db = vec![0.0f32; units];
        for (l, g) in l.chunks_exact_mut(width).zip(&g[r0..]) {
            row_gradient(isa, *g, &mut l[..units], &mut db);
        }
        // SAFETY: `l` holds `n` rows of `width` ≥ `units` floats, `dh` `n` of `dh_width`.
        unsafe { gemm::multiply(isa, n, l.as_ptr(), width, &wt, dh.as_mut_ptr(), dh_width) };
        let packed = Packed::from_rows(n, units, l, width);
        let mut dw = vec![0.0f32; d * packed.padded_width()];
        // SAFETY: `h` holds these `n` rows of `d` floats: hᵀ is `d` rows of `n`, stored
        // transposed with stride `d`; `dw` holds `d` rows of the padded width.
        unsafe {
            let ht = gemm::Left::transposed(h[r0 * d..][..n * d].as_ptr(), d);
            gemm::multiply_blocked(isa, d, ht, &packed, dw.as_mut_ptr(), packed.padded_width(), false, None)
        };
        (dw, db)
    };
    let partial =
        in_blocks(r.chunks_mut(per * width).zip(dh.chunks_mut(per * dh_width)), |i, (l, dh)| work(i * per, l, dh));
    let mut dw = vec![0.0f32; d * units];
    let mut db = vec![0.0f32; units];
    for (pdw, pdb) in &partial {
        let pw = pdw.len() / d.max(1);
        for (row, prow) in dw.chunks_exact_mut(units).zip(pdw.chunks_exact(pw)) {
            row.iter_mut().zip(prow).for_each(|(s, v)| *s += v);
        }
        db.iter_mut().zip(pdb).for_each(|(s, v)| *s += v);
    }
    gemm::without_padding(&mut dh, rows, dh_width, d);
    (dh, dw, db)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softplus_matches_the_library_functions() {
        let mut worst = 0.0f64;
        for i in -4000..=4000 {
            let l = i as f32 * 0.025; // −100 … 100
            let exact = (l as f64).max(0.0) + (-(l as f64).abs()).exp().ln_1p();
            // Relative, but absolute below 1e-30 (e^−69).
            let rel = (softplus(l) as f64 - exact).abs() / exact.max(1e-30);
            worst = worst.max(rel);
        }
        assert!(worst < 5e-7, "worst relative error {worst}");
    }
}
