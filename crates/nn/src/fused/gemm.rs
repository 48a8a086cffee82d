//! The small matrix products of the recurrence: `C[m × n] = A[m × k] · B[k × n]` where `B`
//! (a slice of the recurrent weights) is packed once per sequence into panels of
//! [`NR`] columns, so each step reads it straight from cache in the order the kernel
//! wants. On x86-64 with AVX-512 the tile is written with intrinsics (8 rows × 32
//! columns in 16 registers); elsewhere a portable loop does the same sums.
//!
//! Large products over the whole sequence (input projection, weight gradients) go to the
//! `gemm` crate instead: there packing pays for itself.

/// Columns per panel.
pub const NR: usize = 32;
/// Rows per tile.
const MR: usize = 8;

/// Which instruction set the tile uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Isa {
    /// The best this CPU has.
    pub fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Isa::Avx512;
        }
        Isa::Portable
    }
}

/// `B[k × n]` in panels: panel `p` holds columns `p·NR .. p·NR + NR` for every row, row
/// after row (`NR` floats each), zero-padded past `n`.
pub struct Packed {
    k: usize,
    panels: usize,
    data: Vec<f32>,
}

impl Packed {
    /// Packs the `k × n` matrix whose element `(row, col)` is `at(row, col)`.
    pub fn new(k: usize, n: usize, at: impl Fn(usize, usize) -> f32) -> Packed {
        let panels = n.div_ceil(NR);
        let mut data = vec![0.0; panels * k * NR];
        for p in 0..panels {
            for row in 0..k {
                let dst = &mut data[(p * k + row) * NR..][..NR];
                for (j, d) in dst.iter_mut().enumerate().take(n.saturating_sub(p * NR).min(NR)) {
                    *d = at(row, p * NR + j);
                }
            }
        }
        Packed { k, panels, data }
    }

    /// Width of the product, padded to whole panels: the `ldc` it needs at least.
    pub fn padded_width(&self) -> usize {
        self.panels * NR
    }
}

/// `C[m × padded] = A[m × k] · B`: `a` has row stride `lda`, `c` row stride `ldc`.
///
/// # Safety
/// `a` must be readable for `m` rows of `k` floats at stride `lda`, and `c` writable for
/// `m` rows of `b.padded_width()` floats at stride `ldc`.
pub unsafe fn multiply(isa: Isa, m: usize, a: *const f32, lda: usize, b: &Packed, c: *mut f32, ldc: usize) {
    for p in 0..b.panels {
        let panel = unsafe { b.data.as_ptr().add(p * b.k * NR) };
        let mut row = 0;
        while row < m {
            let rows = (m - row).min(MR);
            let (a, c) = unsafe { (a.add(row * lda), c.add(row * ldc + p * NR)) };
            unsafe {
                match rows {
                    8 => tile::<8>(isa, a, lda, b.k, panel, c, ldc),
                    7 => tile::<7>(isa, a, lda, b.k, panel, c, ldc),
                    6 => tile::<6>(isa, a, lda, b.k, panel, c, ldc),
                    5 => tile::<5>(isa, a, lda, b.k, panel, c, ldc),
                    4 => tile::<4>(isa, a, lda, b.k, panel, c, ldc),
                    3 => tile::<3>(isa, a, lda, b.k, panel, c, ldc),
                    2 => tile::<2>(isa, a, lda, b.k, panel, c, ldc),
                    _ => tile::<1>(isa, a, lda, b.k, panel, c, ldc),
                }
            }
            row += rows;
        }
    }
}

/// One tile: `R` rows of `A` times one panel.
#[inline(always)]
unsafe fn tile<const R: usize>(
    isa: Isa,
    a: *const f32,
    lda: usize,
    k: usize,
    panel: *const f32,
    c: *mut f32,
    ldc: usize,
) {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { tile_avx512::<R>(a, lda, k, panel, c, ldc) },
        Isa::Portable => unsafe { tile_portable::<R>(a, lda, k, panel, c, ldc) },
    }
}

unsafe fn tile_portable<const R: usize>(
    a: *const f32,
    lda: usize,
    k: usize,
    panel: *const f32,
    c: *mut f32,
    ldc: usize,
) {
    let mut acc = [[0.0f32; NR]; R];
    for kk in 0..k {
        let b = unsafe { std::slice::from_raw_parts(panel.add(kk * NR), NR) };
        for (r, acc) in acc.iter_mut().enumerate() {
            let x = unsafe { *a.add(r * lda + kk) };
            for (acc, b) in acc.iter_mut().zip(b) {
                *acc += x * b;
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        unsafe { std::ptr::copy_nonoverlapping(acc.as_ptr(), c.add(r * ldc), NR) };
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn tile_avx512<const R: usize>(a: *const f32, lda: usize, k: usize, panel: *const f32, c: *mut f32, ldc: usize) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm512_setzero_ps(); 2]; R];
    for kk in 0..k {
        unsafe {
            let b0 = _mm512_loadu_ps(panel.add(kk * NR));
            let b1 = _mm512_loadu_ps(panel.add(kk * NR + 16));
            for (r, acc) in acc.iter_mut().enumerate() {
                let x = _mm512_set1_ps(*a.add(r * lda + kk));
                acc[0] = _mm512_fmadd_ps(x, b0, acc[0]);
                acc[1] = _mm512_fmadd_ps(x, b1, acc[1]);
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        unsafe {
            _mm512_storeu_ps(c.add(r * ldc), acc[0]);
            _mm512_storeu_ps(c.add(r * ldc + 16), acc[1]);
        }
    }
}

/// `dst[m × n] (+)= lhs · rhs` through the `gemm` crate, all matrices row-major unless
/// `lhs_t`/`rhs_t` say the stored matrix is the transpose (`lhs` stored `[k × m]`, `rhs`
/// stored `[n × k]`).
pub fn large(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    accumulate: bool,
    lhs: &[f32],
    lhs_t: bool,
    rhs: &[f32],
    rhs_t: bool,
) {
    assert!(dst.len() >= m * n && lhs.len() >= m * k && rhs.len() >= k * n, "matrix sizes");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst[..m * n].fill(0.0);
        }
        return;
    }
    let (lhs_rs, lhs_cs) = if lhs_t { (1, m as isize) } else { (k as isize, 1) };
    let (rhs_rs, rhs_cs) = if rhs_t { (1, k as isize) } else { (n as isize, 1) };
    let threads = if m * n * k > 1 << 16 { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None };
    // SAFETY: the sizes were checked above and the strides stay inside them.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_cs,
            lhs_rs,
            rhs.as_ptr(),
            rhs_cs,
            rhs_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            threads,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, n: usize, k: usize, a: &[f32], b: &[f32]) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|kk| a[i * k + kk] * b[kk * n + j]).sum();
            }
        }
        c
    }

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n).map(|i| ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) % 1000) as f32 / 500.0 - 1.0).collect()
    }

    #[test]
    fn packed_products_match_the_naive_product_on_odd_shapes() {
        for (m, n, k) in [(1, 1, 1), (3, 33, 5), (8, 64, 17), (13, 70, 40), (32, 96, 64)] {
            let a = values(m * k, 1);
            let b = values(k * n, 2);
            let packed = Packed::new(k, n, |r, c| b[r * n + c]);
            let expected = naive(m, n, k, &a, &b);
            let ldc = packed.padded_width();
            let mut isas = vec![Isa::Portable];
            if Isa::detect() != Isa::Portable {
                isas.push(Isa::detect());
            }
            for isa in isas {
                let mut c = vec![f32::NAN; m * ldc];
                unsafe { multiply(isa, m, a.as_ptr(), k, &packed, c.as_mut_ptr(), ldc) };
                for i in 0..m {
                    for j in 0..n {
                        let (got, want) = (c[i * ldc + j], expected[i * n + j]);
                        assert!((got - want).abs() < 1e-4, "{isa:?} {m}x{n}x{k} at ({i},{j}): {got} vs {want}");
                    }
                }
            }
        }
    }

    #[test]
    fn large_products_handle_transposed_operands() {
        let (m, n, k) = (7, 5, 9);
        let a = values(m * k, 3);
        let b = values(k * n, 4);
        let expected = naive(m, n, k, &a, &b);
        let at: Vec<f32> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect(); // [k × m]
        let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect(); // [n × k]
        for (lhs, lhs_t, rhs, rhs_t) in [(&a, false, &b, false), (&at, true, &b, false), (&a, false, &bt, true)] {
            let mut c = vec![0.0; m * n];
            large(m, n, k, &mut c, false, lhs, lhs_t, rhs, rhs_t);
            for (got, want) in c.iter().zip(&expected) {
                assert!((got - want).abs() < 1e-4);
            }
        }
    }
}
