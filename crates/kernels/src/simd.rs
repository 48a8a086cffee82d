//! The LSTM's gate arithmetic and a sparse input's projection with AVX-512 intrinsics,
//! two vectors (32 units) at a time.
//!
//! Written per unit, as in `cell.rs`, one unit's work is a chain of dependent steps (the
//! gates' rational tanh, then c, then o and tanh(c)), and the vectorised loop ran one
//! vector through the chain at a time: the core waited on each step's latency. Here
//! every step is issued for two independent vectors before the next, and the polynomials
//! use fused multiply-adds (the whole step's gain: `bench/ab 3538d46 87fab70`, in
//! BENCHMARKS.md). The results agree with the portable code's to a few ulp, not bit for
//! bit (the fused multiply-adds round once).
//!
//! Each kernel does the whole 16-unit vectors of its row and returns how many units that
//! was; the caller does the rest with the portable code.

use std::arch::x86_64::*;

use crate::cell::{LstmBackStep, LstmStep, ProjectRow};

/// Vectors per step.
const N: usize = 2;

type V = [__m512; N];

/// `N` vectors from `s[at..]`.
///
/// # Safety
/// `s` must hold `at + 16·N` floats; AVX-512.
#[inline(always)]
unsafe fn load(s: &[f32], at: usize) -> V {
    debug_assert!(at + 16 * N <= s.len());
    // SAFETY: AVX-512 (the caller's promise).
    let mut v: V = unsafe { [_mm512_setzero_ps(); N] };
    for (k, v) in v.iter_mut().enumerate() {
        // SAFETY: 16 floats from `at + 16·k` lie in `s` (the caller's promise).
        *v = unsafe { _mm512_loadu_ps(s.as_ptr().add(at + 16 * k)) };
    }
    v
}

/// # Safety
/// As [`load`].
#[inline(always)]
unsafe fn store(s: &mut [f32], at: usize, v: V) {
    debug_assert!(at + 16 * N <= s.len());
    for (k, v) in v.into_iter().enumerate() {
        // SAFETY: as in [`load`].
        unsafe { _mm512_storeu_ps(s.as_mut_ptr().add(at + 16 * k), v) };
    }
}

/// `f` applied lane-vector by lane-vector to the `V`s named (plain names: each is read
/// `N` times).
macro_rules! lanes {
    ($f:ident($($a:ident),*)) => {{
        #[allow(unused_unsafe)]
        // SAFETY: AVX-512 (the promise of the function the macro is used in).
        let mut v: V = unsafe { [_mm512_setzero_ps(); N] };
        for k in 0..N {
            #[allow(unused_unsafe)]
            // SAFETY: as above; the intrinsic reads and writes registers only.
            let lane = unsafe { $f($($a[k]),*) };
            v[k] = lane;
        }
        v
    }};
}

/// `x` in every lane.
///
/// # Safety
/// AVX-512.
#[inline(always)]
unsafe fn splat(x: f32) -> V {
    // SAFETY: AVX-512 (the caller's promise).
    [unsafe { _mm512_set1_ps(x) }; N]
}

/// # Safety
/// AVX-512.
#[inline(always)]
unsafe fn add(a: V, b: V) -> V {
    lanes!(_mm512_add_ps(a, b))
}

/// # Safety
/// AVX-512.
#[inline(always)]
unsafe fn sub(a: V, b: V) -> V {
    lanes!(_mm512_sub_ps(a, b))
}

/// # Safety
/// AVX-512.
#[inline(always)]
unsafe fn mul(a: V, b: V) -> V {
    lanes!(_mm512_mul_ps(a, b))
}

/// a·b + c, rounded once.
///
/// # Safety
/// AVX-512.
#[inline(always)]
unsafe fn fma(a: V, b: V, c: V) -> V {
    lanes!(_mm512_fmadd_ps(a, b, c))
}

/// `cell::tanh` (the same rational function), its polynomials by fused multiply-adds.
///
/// # Safety
/// AVX-512.
#[inline(always)]
unsafe fn tanh(x: V) -> V {
    // SAFETY: AVX-512 (the caller's promise); registers only.
    unsafe {
        let (lo, hi) = (splat(-7.905_311), splat(7.905_311));
        let below = lanes!(_mm512_min_ps(x, hi));
        let x = lanes!(_mm512_max_ps(lo, below));
        let x2 = mul(x, x);
        let mut p = splat(-2.760_768_5e-16);
        for c in [2.000_188e-13, -8.604_671e-11, 5.122_297e-8, 1.485_722_4e-5, 6.372_619_3e-4, 4.893_524_6e-3] {
            p = fma(p, x2, splat(c));
        }
        let mut q = splat(1.198_258_4e-6);
        for c in [1.185_347e-4, 2.268_434_6e-3, 4.893_525e-3] {
            q = fma(q, x2, splat(c));
        }
        let xp = mul(x, p);
        lanes!(_mm512_div_ps(xp, q))
    }
}

/// # Safety
/// AVX-512.
#[inline(always)]
unsafe fn sigmoid(x: V) -> V {
    // SAFETY: AVX-512 (the caller's promise); registers only.
    unsafe {
        let half = splat(0.5);
        fma(half, tanh(mul(half, x)), half)
    }
}

/// `cell::lstm_forward_row` for the whole vectors of the row. Returns the units done.
///
/// # Safety
/// AVX-512.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn lstm_forward_row(row: &mut LstmStep) -> usize {
    let (pre, proj, hidden, peep, c_prev) = (row.pre, row.proj, row.hidden, row.peep, row.c_prev);
    let (h, c, saved) = (&mut *row.h, &mut *row.c, &mut row.saved);
    let nu = h.len();
    let whole = nu / (16 * N) * (16 * N);
    assert!(pre.len() >= 4 * nu && proj.len() >= 3 * hidden + nu && peep.len() >= 2 * hidden + nu);
    assert!(c_prev.len() >= nu && c.len() >= nu && saved.as_ref().is_none_or(|s| s.iter().all(|s| s.len() >= nu)));
    for j in (0..whole).step_by(16 * N) {
        // SAFETY: j + 16·N ≤ nu, within every slice (asserted above).
        unsafe {
            let cp = load(c_prev, j);
            let i = sigmoid(fma(load(peep, j), cp, add(load(pre, j), load(proj, j))));
            let f = sigmoid(fma(load(peep, hidden + j), cp, add(load(pre, nu + j), load(proj, hidden + j))));
            let g = tanh(add(load(pre, 2 * nu + j), load(proj, 2 * hidden + j)));
            let cn = fma(f, cp, mul(i, g));
            let o =
                sigmoid(fma(load(peep, 2 * hidden + j), cn, add(load(pre, 3 * nu + j), load(proj, 3 * hidden + j))));
            store(h, j, mul(o, tanh(cn)));
            store(c, j, cn);
            if let Some([si, sf, sg, so]) = saved {
                store(si, j, i);
                store(sf, j, f);
                store(sg, j, g);
                store(so, j, o);
            }
        }
    }
    whole
}

/// `cell::lstm_backward_row` for the whole vectors of the row. Returns the units done.
///
/// # Safety
/// AVX-512.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn lstm_backward_row(row: &mut LstmBackStep) -> usize {
    let (saved, hidden, c, c_prev, peep) = (row.saved, row.hidden, row.c, row.c_prev, row.peep);
    let (dout_h, dout_c, dh_rec) = (row.dout_h, row.dout_c, row.dh_rec);
    let (dc, [gi, gf, gg, go], dp) = (&mut *row.dc, &mut row.gx, &mut *row.dp);
    let nu = dc.len();
    let whole = nu / (16 * N) * (16 * N);
    assert!(saved.len() >= 3 * hidden + nu && peep.len() >= 2 * hidden + nu);
    assert!(gi.len() >= nu && gf.len() >= nu && gg.len() >= nu && go.len() >= nu);
    assert!(c.len() >= nu && c_prev.len() >= nu && dout_h.len() >= nu && dout_c.len() >= nu);
    assert!(dh_rec.len() >= nu && dp.len() >= 3 * nu);
    for j in (0..whole).step_by(16 * N) {
        // SAFETY: j + 16·N ≤ nu, within every slice (asserted above).
        unsafe {
            let one = splat(1.0);
            let (i, f) = (load(saved, j), load(saved, hidden + j));
            let (g, o) = (load(saved, 2 * hidden + j), load(saved, 3 * hidden + j));
            let (cn, cp) = (load(c, j), load(c_prev, j));
            let tc = tanh(cn);
            let dh = add(load(dout_h, j), load(dh_rec, j));
            let dao = mul(mul(mul(dh, tc), o), sub(one, o));
            let dct = add(add(load(dc, j), load(dout_c, j)), mul(mul(dh, o), sub(one, mul(tc, tc))));
            let dct = fma(dao, load(peep, 2 * hidden + j), dct);
            let dai = mul(mul(mul(dct, g), i), sub(one, i));
            let daf = mul(mul(mul(dct, cp), f), sub(one, f));
            let dag = mul(mul(dct, i), sub(one, mul(g, g)));
            let dc_prev = fma(daf, load(peep, hidden + j), fma(dai, load(peep, j), mul(dct, f)));
            store(dc, j, dc_prev);
            store(gi, j, dai);
            store(gf, j, daf);
            store(gg, j, dag);
            store(go, j, dao);
            store(dp, j, fma(dai, cp, load(dp, j)));
            store(dp, nu + j, fma(daf, cp, load(dp, nu + j)));
            store(dp, 2 * nu + j, fma(dao, cn, load(dp, 2 * nu + j)));
        }
    }
    whole
}

/// `cell::project_sparse_row` for the whole vectors of this thread's columns of every
/// gate: each summed in registers over the row's entries, in their order. Returns the
/// columns done per gate (from `u0`).
///
/// # Safety
/// AVX-512, and the slices as long as the portable code needs them.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn project_sparse_row(row: &mut ProjectRow) -> usize {
    let (nonzero, wx, bx, hidden, u0, nu) = (row.nonzero, row.wx, row.bx, row.hidden, row.u0, row.nu);
    let p = &mut *row.p;
    let gh = p.len();
    let whole = nu / (16 * N) * (16 * N);
    assert!(bx.len() >= gh && u0 + nu <= hidden && gh.is_multiple_of(hidden));
    assert!(nonzero.iter().all(|&(i, _)| (i + 1) * gh <= wx.len()));
    for c0 in (u0..gh).step_by(hidden) {
        for j in (c0..c0 + whole).step_by(16 * N) {
            // SAFETY: j + 16·N ≤ c0 + nu ≤ gh, within p, bx and each entry's row of wx
            // (asserted above).
            unsafe {
                let mut sum = load(bx, j);
                for &(i, v) in nonzero {
                    let v = splat(v);
                    let w = load(wx, i * gh + j);
                    sum = add(sum, mul(v, w));
                }
                store(p, j, sum);
            }
        }
    }
    whole
}

/// Transposes a 16 × 16 block: row `i` of the block is 16 floats at `rows[i]`; column `j`
/// goes to `dst + j·ldd` (in registers: three rounds of shuffles between 16 loads and 16
/// stores).
///
/// # Safety
/// AVX-512; each `rows[i]` readable for 16 floats, `dst` writable for 16 rows of 16
/// floats at stride `ldd`.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn transpose16(rows: &[*const f32; 16], dst: *mut f32, ldd: usize) {
    // SAFETY: the caller's promise: 16 readable floats from each row, 16 writable rows of
    // 16 from `dst` at stride `ldd`.
    unsafe {
        let r: [__m512; 16] = std::array::from_fn(|i| _mm512_loadu_ps(rows[i]));
        // Pairs of rows interleaved, then pairs of pairs, then 128-bit lanes twice.
        let mut t = [_mm512_setzero_ps(); 16];
        for i in 0..8 {
            t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
        }
        let mut u = [_mm512_setzero_ps(); 16];
        for q in 0..4 {
            let (a, b) = (4 * q, 4 * q + 2);
            u[4 * q] = _mm512_shuffle_ps::<0x44>(t[a], t[b]);
            u[4 * q + 1] = _mm512_shuffle_ps::<0xEE>(t[a], t[b]);
            u[4 * q + 2] = _mm512_shuffle_ps::<0x44>(t[a + 1], t[b + 1]);
            u[4 * q + 3] = _mm512_shuffle_ps::<0xEE>(t[a + 1], t[b + 1]);
        }
        for h in 0..2 {
            for i in 0..4 {
                let (a, b) = (8 * h + i, 8 * h + i + 4);
                t[8 * h + i] = _mm512_shuffle_f32x4::<0x88>(u[a], u[b]);
                t[8 * h + i + 4] = _mm512_shuffle_f32x4::<0xDD>(u[a], u[b]);
            }
        }
        for i in 0..8 {
            _mm512_storeu_ps(dst.add(i * ldd), _mm512_shuffle_f32x4::<0x88>(t[i], t[i + 8]));
            _mm512_storeu_ps(dst.add((i + 8) * ldd), _mm512_shuffle_f32x4::<0xDD>(t[i], t[i + 8]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_transposes() {
        if !std::arch::is_x86_feature_detected!("avx512f") {
            return;
        }
        let src: Vec<f32> = (0..16 * 20).map(|i| i as f32).collect();
        let rows: [*const f32; 16] = std::array::from_fn(|i| src[i * 20 + 3..].as_ptr());
        let mut dst = vec![-1.0f32; 16 * 18];
        // SAFETY: AVX-512 (checked above); each row holds 16 floats from column 3, `dst`
        // 16 rows of 18.
        unsafe { transpose16(&rows, dst.as_mut_ptr(), 18) };
        for j in 0..16 {
            for i in 0..16 {
                assert_eq!(dst[j * 18 + i], src[i * 20 + 3 + j], "({i}, {j})");
            }
            assert_eq!(&dst[j * 18 + 16..j * 18 + 18], &[-1.0, -1.0]);
        }
    }
}
