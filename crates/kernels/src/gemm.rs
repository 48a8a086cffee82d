//! The small matrix products of the recurrence: `C[m × n] = A[m × k] · B[k × n]` where `B`
//! (a slice of the recurrent weights) is packed once per sequence into panels of
//! [`NR`] columns, so each step reads it straight from cache in the order the kernel
//! wants. On x86-64 with AVX-512 the tile is written with intrinsics (8 rows × 32
//! columns in 16 registers); elsewhere a portable loop does the same sums.
//!
//! The large products over a whole sequence (input projection, weight and input
//! gradients) use the same tile, with the rows split between threads.

/// Columns per panel.
pub const NR: usize = 32;
/// Rows per tile.
const MR: usize = 8;
/// Inner-dimension block of the large products: a panel's block (128 KiB) stays in L2,
/// and each tile's sums stay in registers for 1,024 steps before they are added to C
/// (against 256: no clear difference on the whole training step, BENCHMARKS.md).
const KC: usize = 1024;

/// The inner-dimension block where the left operand is stored transposed: a tile's rows
/// take one cache line per step of the inner dimension, and the 128 lines of a block
/// stay in L1 for the next tile, which reads the same lines (with 1,024 they had left L1
/// by then; `tile_peak` prints what the fused head's dW product reaches).
const KC_TRANSPOSED: usize = 128;

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
    /// Where the matrix starts in `data`.
    start: usize,
    /// Whether [`Packed::write`] streams whole panel rows past the cache (then `start`
    /// aligns every panel row to a cache line).
    streamed: bool,
}

/// Floats of slack a streamed matrix's buffer needs to align its start to a cache line.
const ALIGN_SLACK: usize = 15;

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
        Packed { k, panels, data, start: 0, streamed: false }
    }

    /// Packs the row-major `[k × n]` matrix `src` (row stride `ld`).
    pub fn from_rows(k: usize, n: usize, src: &[f32], ld: usize) -> Packed {
        let panels = n.div_ceil(NR);
        // Filled in order, so never zeroed first.
        let mut data = Vec::with_capacity(panels * k * NR);
        for p in 0..panels {
            let cols = (n - p * NR).min(NR);
            for row in 0..k {
                data.extend_from_slice(&src[row * ld + p * NR..][..cols]);
                data.resize(data.len() + NR - cols, 0.0);
            }
        }
        Packed { k, panels, data, start: 0, streamed: false }
    }

    /// Packs the transpose of the row-major `[n × k]` matrix `src` (row stride `ld`):
    /// element `(row, col)` is `src[col·ld + row]`.
    pub fn from_columns(k: usize, n: usize, src: &[f32], ld: usize) -> Packed {
        let panels = n.div_ceil(NR);
        let mut data = Vec::with_capacity(panels * k * NR);
        const BLOCK: usize = 64;
        #[cfg(target_arch = "x86_64")]
        let isa = Isa::detect();
        for p in 0..panels {
            let cols = (n - p * NR).min(NR);
            let mut done = 0;
            #[cfg(target_arch = "x86_64")]
            if isa == Isa::Avx512 && cols == NR {
                // Whole sixteen rows by sixteen columns at a time, in registers.
                done = k / 16 * 16;
                let at = data.len();
                data.resize(at + done * NR, 0.0);
                for r0 in (0..done).step_by(16) {
                    for half in 0..NR / 16 {
                        let first = (p * NR + half * 16) * ld + r0;
                        let rows: [*const f32; 16] = std::array::from_fn(|j| src[first + j * ld..][..16].as_ptr());
                        // SAFETY: AVX-512; each source run holds 16 floats, and the panel's
                        // rows r0..r0 + 16 hold NR floats each.
                        unsafe { crate::simd::transpose16(&rows, data[at + r0 * NR + half * 16..].as_mut_ptr(), NR) };
                    }
                }
            }
            // The rest 64 rows at a time: each source row's run of four cache lines is read
            // once, in order (so the prefetcher follows), into a block (8 KiB) that stays in
            // L1.
            for r0 in (done..k).step_by(BLOCK) {
                let rows = (k - r0).min(BLOCK);
                let at = data.len();
                data.resize(at + rows * NR, 0.0);
                let block = &mut data[at..];
                for j in 0..cols {
                    for (i, v) in src[(p * NR + j) * ld + r0..][..rows].iter().enumerate() {
                        block[i * NR + j] = *v;
                    }
                }
            }
        }
        Packed { k, panels, data, start: 0, streamed: false }
    }

    /// A `k × n` matrix of zeros, to be filled with [`Packed::write`].
    pub fn zeroed(k: usize, n: usize) -> Packed {
        let panels = n.div_ceil(NR);
        Packed { k, panels, data: vec![0.0; panels * k * NR], start: 0, streamed: false }
    }

    /// A `k × n` matrix in `buffer` (resized), its values whatever `buffer` held: every
    /// one of the `k × n` must be set with [`Packed::write`] before a product reads it
    /// (the padding past `n` only reaches the product's padding).
    ///
    /// For a matrix written once and read much later (a layer's gate gradients, read by
    /// the weight gradients' products after the whole sequence): with AVX-512, whole
    /// panel rows are written with streaming stores, which skip reading each cache line
    /// before overwriting it and keep the rest of the cache for the sequence's other
    /// work. Another thread may read it only after this one's [`fence`].
    pub fn overwritten(isa: Isa, k: usize, n: usize, mut buffer: Vec<f32>) -> Packed {
        buffer.resize(Packed::floats(k, n), 0.0);
        // Floats from the buffer's start to the next 64-byte boundary.
        let start = (buffer.as_ptr() as usize / 4).wrapping_neg() % 16;
        Packed { k, panels: n.div_ceil(NR), data: buffer, start, streamed: isa != Isa::Portable }
    }

    /// Floats that [`Packed::overwritten`] needs for a `k × n` matrix (padding and
    /// alignment included).
    pub fn floats(k: usize, n: usize) -> usize {
        n.div_ceil(NR) * k * NR + ALIGN_SLACK
    }

    /// The buffer, for reuse.
    pub fn into_buffer(self) -> Vec<f32> {
        self.data
    }

    /// Sets row `row`, columns `col .. col + values.len()`.
    pub fn write(&mut self, row: usize, col: usize, values: &[f32]) {
        let (mut col, mut values) = (col, values);
        while !values.is_empty() {
            let (p, j) = (col / NR, col % NR);
            let run = values.len().min(NR - j);
            let dst = &mut self.data[self.start + (p * self.k + row) * NR + j..][..run];
            #[cfg(target_arch = "x86_64")]
            if self.streamed && run == NR {
                debug_assert_eq!(dst.as_ptr() as usize % 64, 0, "a streamed panel row starts a cache line");
                // SAFETY: `streamed` only with AVX-512; a whole panel row (j = 0) of a
                // streamed matrix starts a cache line (`start` aligns them).
                unsafe { stream_row(dst, values) };
                (col, values) = (col + run, &values[run..]);
                continue;
            }
            dst.copy_from_slice(&values[..run]);
            (col, values) = (col + run, &values[run..]);
        }
    }

    /// Width of the product, padded to whole panels: the `ldc` it needs at least.
    pub fn padded_width(&self) -> usize {
        self.panels * NR
    }
}

/// One panel row (`NR` floats) into `dst`, past the cache.
///
/// # Safety
/// The CPU must have AVX-512, and `dst` must start a cache line.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn stream_row(dst: &mut [f32], src: &[f32]) {
    use std::arch::x86_64::*;
    let (dst, src) = (&mut dst[..NR], &src[..NR]);
    // SAFETY: both hold NR floats; dst is aligned (the caller's promise).
    unsafe {
        _mm512_stream_ps(dst.as_mut_ptr(), _mm512_loadu_ps(src.as_ptr()));
        _mm512_stream_ps(dst.as_mut_ptr().add(16), _mm512_loadu_ps(src.as_ptr().add(16)));
    }
}

/// Makes this thread's streaming stores (see [`Packed::overwritten`]) visible to other
/// threads before its later stores (an SFENCE).
pub fn fence() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of x86-64.
    unsafe {
        std::arch::x86_64::_mm_sfence()
    };
}

/// `C[m × padded] = A[m × k] · B`: `a` has row stride `lda`, `c` row stride `ldc`.
///
/// # Safety
/// `a` must be readable for `m` rows of `k` floats at stride `lda`, and `c` writable for
/// `m` rows of `b.padded_width()` floats at stride `ldc`.
pub unsafe fn multiply(isa: Isa, m: usize, a: *const f32, lda: usize, b: &Packed, c: *mut f32, ldc: usize) {
    // SAFETY: the caller's promise, for the whole inner dimension `0..b.k`.
    unsafe { multiply_range::<false>(isa, m, a, lda, b, 0, b.k, c, ldc, false, None) }
}

/// A product's left operand `A[m × k]` as [`multiply_blocked`] reads it: row after row
/// (element `(r, kk)` at `at[r·ld + kk]`), or stored transposed (at `at[kk·ld + r]`), as
/// a layer's states are for its weight gradient, which then needs no transposed copy.
#[derive(Clone, Copy)]
pub struct Left {
    pub at: *const f32,
    pub ld: usize,
    pub transposed: bool,
}

impl Left {
    pub fn rows(at: *const f32, ld: usize) -> Left {
        Left { at, ld, transposed: false }
    }

    pub fn transposed(at: *const f32, ld: usize) -> Left {
        Left { at, ld, transposed: true }
    }
}

/// A visitor of a packed operand's blocks: the panels it wants, and what it does with
/// panel `p`'s rows `k0..` (`NR` floats each, row after row).
pub type Visit<'a> = (std::ops::Range<usize>, &'a mut dyn FnMut(usize, usize, &[f32]));

/// `C (+)= A[:, k0..k1] · B[k0..k1, :]`: one block of the inner dimension, added to `C`
/// when `accumulate`; and `visit`, where given, on each block of its panels right after
/// the tiles that read it, while it is in cache.
///
/// # Safety
/// As [`multiply`], with `k1 ≤ b.k`; `T`: `a` holds A transposed (see [`Left`]).
#[allow(clippy::too_many_arguments)]
unsafe fn multiply_range<const T: bool>(
    isa: Isa,
    m: usize,
    a: *const f32,
    lda: usize,
    b: &Packed,
    k0: usize,
    k1: usize,
    c: *mut f32,
    ldc: usize,
    accumulate: bool,
    mut visit: Option<&mut Visit>,
) {
    let k = k1 - k0;
    for p in 0..b.panels {
        // SAFETY: panel `p`'s rows k0..k1 lie in `b.data` (`panels` panels of `k` rows of
        // NR floats from `start`).
        let panel = unsafe { b.data.as_ptr().add(b.start + (p * b.k + k0) * NR) };
        let mut row = 0;
        while row < m {
            let rows = (m - row).min(MR);
            let first = if T { k0 * lda + row } else { row * lda + k0 };
            // SAFETY: the caller's promise: `a` holds these rows (or columns, `T`) from `k0`,
            // `c` these rows of the padded width.
            let (a, c) = unsafe { (a.add(first), c.add(row * ldc + p * NR)) };
            // SAFETY: `rows` rows of A from `a`, `k` of the panel, `rows` of C from `c`, as
            // above.
            unsafe {
                match rows {
                    8 => tile::<8, T>(isa, a, lda, k, panel, c, ldc, accumulate),
                    7 => tile::<7, T>(isa, a, lda, k, panel, c, ldc, accumulate),
                    6 => tile::<6, T>(isa, a, lda, k, panel, c, ldc, accumulate),
                    5 => tile::<5, T>(isa, a, lda, k, panel, c, ldc, accumulate),
                    4 => tile::<4, T>(isa, a, lda, k, panel, c, ldc, accumulate),
                    3 => tile::<3, T>(isa, a, lda, k, panel, c, ldc, accumulate),
                    2 => tile::<2, T>(isa, a, lda, k, panel, c, ldc, accumulate),
                    _ => tile::<1, T>(isa, a, lda, k, panel, c, ldc, accumulate),
                }
            }
            row += rows;
        }
        if let Some((panels, f)) = visit.as_deref_mut()
            && panels.contains(&p)
        {
            // SAFETY: the panel holds rows k0..k1 of NR floats from `panel`.
            f(p, k0, unsafe { std::slice::from_raw_parts(panel, k * NR) });
        }
    }
}

/// One tile: `R` rows of `A` times one panel.
///
/// # Safety
/// `a` readable for `R` rows (or columns, `T`) of `k` floats at stride `lda`, `panel` for
/// `k` rows of `NR`, `c` writable for `R` rows of `NR` at stride `ldc`; `isa` from
/// [`Isa::detect`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn tile<const R: usize, const T: bool>(
    isa: Isa,
    a: *const f32,
    lda: usize,
    k: usize,
    panel: *const f32,
    c: *mut f32,
    ldc: usize,
    accumulate: bool,
) {
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller's promise; `Isa::Avx512` comes from a CPU that has it.
        Isa::Avx512 => unsafe { tile_avx512::<R, T>(a, lda, k, panel, c, ldc, accumulate) },
        // SAFETY: the caller's promise.
        Isa::Portable => unsafe { tile_portable::<R, T>(a, lda, k, panel, c, ldc, accumulate) },
    }
}

/// [`tile`] in portable code.
///
/// # Safety
/// As [`tile`].
#[allow(clippy::too_many_arguments)]
unsafe fn tile_portable<const R: usize, const T: bool>(
    a: *const f32,
    lda: usize,
    k: usize,
    panel: *const f32,
    c: *mut f32,
    ldc: usize,
    accumulate: bool,
) {
    let mut acc = [[0.0f32; NR]; R];
    for kk in 0..k {
        // SAFETY: row `kk` of the panel (the caller's promise).
        let b = unsafe { std::slice::from_raw_parts(panel.add(kk * NR), NR) };
        for (r, acc) in acc.iter_mut().enumerate() {
            // SAFETY: element (r, kk) of A (the caller's promise).
            let x = unsafe { *a.add(if T { kk * lda + r } else { r * lda + kk }) };
            for (acc, b) in acc.iter_mut().zip(b) {
                *acc += x * b;
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        // SAFETY: row `r` of C (the caller's promise).
        let c = unsafe { std::slice::from_raw_parts_mut(c.add(r * ldc), NR) };
        if accumulate {
            c.iter_mut().zip(acc).for_each(|(c, a)| *c += a);
        } else {
            c.copy_from_slice(acc);
        }
    }
}

/// [`tile`] with AVX-512 intrinsics: 2·`R` accumulators of 16 lanes.
///
/// # Safety
/// As [`tile`], on a CPU with AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn tile_avx512<const R: usize, const T: bool>(
    a: *const f32,
    lda: usize,
    k: usize,
    panel: *const f32,
    c: *mut f32,
    ldc: usize,
    accumulate: bool,
) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm512_setzero_ps(); 2]; R];
    for kk in 0..k {
        // SAFETY: row `kk` of the panel and element (r, kk) of A (the caller's promise).
        unsafe {
            let b0 = _mm512_loadu_ps(panel.add(kk * NR));
            let b1 = _mm512_loadu_ps(panel.add(kk * NR + 16));
            for (r, acc) in acc.iter_mut().enumerate() {
                let x = _mm512_set1_ps(*a.add(if T { kk * lda + r } else { r * lda + kk }));
                acc[0] = _mm512_fmadd_ps(x, b0, acc[0]);
                acc[1] = _mm512_fmadd_ps(x, b1, acc[1]);
            }
        }
    }
    for (r, acc) in acc.iter_mut().enumerate() {
        // SAFETY: row `r` of C, NR = 32 floats (the caller's promise).
        unsafe {
            if accumulate {
                acc[0] = _mm512_add_ps(acc[0], _mm512_loadu_ps(c.add(r * ldc)));
                acc[1] = _mm512_add_ps(acc[1], _mm512_loadu_ps(c.add(r * ldc + 16)));
            }
            _mm512_storeu_ps(c.add(r * ldc), acc[0]);
            _mm512_storeu_ps(c.add(r * ldc + 16), acc[1]);
        }
    }
}

/// `A[m × k] · B[k × n]` for the large products over a whole sequence (input
/// projection, weight and input gradients): `B` packed once, the rows of `A` split
/// between threads. `a` is row-major with row stride `lda`; returns `[m × n]`.
pub fn product(isa: Isa, m: usize, a: &[f32], lda: usize, b: &Packed, n: usize) -> Vec<f32> {
    let width = b.padded_width();
    assert!(n <= width && (m == 0 || a.len() >= (m - 1) * lda + b.k), "matrix sizes");
    // Every value is written below (the padding columns too, before the cut), but for an
    // empty inner dimension.
    let mut c = crate::pool::take(m * width);
    if b.k == 0 {
        c.fill(0.0);
    }
    let per = rows_per_thread(m, n * b.k);
    crate::in_blocks(c.chunks_mut(per * width), |i, chunk| {
        let rows = chunk.len() / width;
        let a = &a[i * per * lda..];
        // SAFETY: `a` holds `rows` rows of `b.k` floats at stride `lda` (checked above), and
        // `chunk` holds `rows` rows of `width`.
        unsafe { multiply_blocked(isa, rows, Left::rows(a.as_ptr(), lda), b, chunk.as_mut_ptr(), width, false, None) };
    });
    without_padding(&mut c, m, width, n);
    c
}

/// Drops the padding columns of a `[rows × width]` product: its rows become `n` apart.
pub fn without_padding(c: &mut Vec<f32>, rows: usize, width: usize, n: usize) {
    if n < width {
        for row in 1..rows {
            c.copy_within(row * width..row * width + n, row * n);
        }
        c.truncate(rows * n);
    }
}

/// Rows per thread for `rows` of `work` multiply-adds each: all on one thread when the
/// whole is too small to pay for another, else split in whole tiles.
pub fn rows_per_thread(rows: usize, work: usize) -> usize {
    let threads = crate::threads();
    if rows * work < 1 << 20 || threads == 1 { rows.max(1) } else { rows.div_ceil(threads).div_ceil(MR).max(1) * MR }
}

/// `C[m × padded] (+)= A[m × k] · B` on this thread (added to `C` when `accumulate`), for
/// products too large for one step's [`multiply`]: blocks of [`KC`] of the inner dimension
/// keep a panel's block in L2. `visit`, where given, sees each block of its panels while
/// it is in cache (every block of those panels once, whatever `m`).
///
/// # Safety
/// As [`multiply`], `a` readable as [`Left`] says.
#[allow(clippy::too_many_arguments)]
pub unsafe fn multiply_blocked(
    isa: Isa,
    m: usize,
    a: Left,
    b: &Packed,
    c: *mut f32,
    ldc: usize,
    accumulate: bool,
    mut visit: Option<&mut Visit>,
) {
    let kc = if a.transposed { KC_TRANSPOSED } else { KC };
    for k0 in (0..b.k).step_by(kc) {
        let k1 = (k0 + kc).min(b.k);
        let visit = visit.as_deref_mut();
        let (at, ld, accumulate) = (a.at, a.ld, accumulate || k0 > 0);
        if a.transposed {
            // SAFETY: the caller's promise, for the block k0..k1 ≤ b.k.
            unsafe { multiply_range::<true>(isa, m, at, ld, b, k0, k1, c, ldc, accumulate, visit) };
        } else {
            // SAFETY: as above.
            unsafe { multiply_range::<false>(isa, m, at, ld, b, k0, k1, c, ldc, accumulate, visit) };
        }
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
                // SAFETY: `a` holds m rows of k floats, `c` m rows of ldc.
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

    /// The transpose of the row-major `[rows × cols]` matrix `src`.
    fn transpose(src: &[f32], rows: usize, cols: usize) -> Vec<f32> {
        let mut out = vec![0.0f32; rows * cols];
        for r in 0..rows {
            for c in 0..cols {
                out[c * rows + r] = src[r * cols + c];
            }
        }
        out
    }

    /// A left operand stored transposed gives the product of the operand itself, across
    /// inner blocks and added to C where asked.
    #[test]
    fn products_of_a_transposed_left_operand_match_the_naive_product() {
        for (m, n, k) in [(3, 5, 7), (256, 96, 1100), (13, 40, 2100)] {
            let (a, b) = (values(m * k, 5), values(k * n, 6));
            let expected = naive(m, n, k, &a, &b);
            let at = transpose(&a, m, k);
            let packed = Packed::from_rows(k, n, &b, n);
            let ldc = packed.padded_width();
            for isa in [Isa::Portable, Isa::detect()] {
                for accumulate in [false, true] {
                    let mut c = vec![if accumulate { 1.0 } else { f32::NAN }; m * ldc];
                    // SAFETY: `at` holds k rows of m floats (A transposed); `c` m rows of ldc.
                    unsafe {
                        let left = Left::transposed(at.as_ptr(), m);
                        multiply_blocked(isa, m, left, &packed, c.as_mut_ptr(), ldc, accumulate, None)
                    };
                    for i in 0..m {
                        for j in 0..n {
                            let want = expected[i * n + j] + if accumulate { 1.0 } else { 0.0 };
                            let got = c[i * ldc + j];
                            assert!((got - want).abs() < 1e-3, "{isa:?} {m}x{n}x{k} at ({i},{j}): {got} vs {want}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn threaded_products_match_the_naive_product() {
        for (m, n, k) in [(7, 5, 9), (300, 70, 130), (1000, 96, 40)] {
            let a = values(m * k, 3);
            let b = values(k * n, 4);
            let expected = naive(m, n, k, &a, &b);
            let bt = transpose(&b, k, n);
            assert!((0..k * n).all(|i| bt[(i % n) * k + i / n] == b[i]));
            // The same matrix packed from its rows and from its transpose's.
            for packed in [Packed::from_rows(k, n, &b, n), Packed::from_columns(k, n, &bt, k)] {
                for isa in [Isa::Portable, Isa::detect()] {
                    let c = product(isa, m, &a, k, &packed, n);
                    assert_eq!(c.len(), m * n);
                    for (got, want) in c.iter().zip(&expected) {
                        assert!((got - want).abs() < 1e-3, "{m}x{n}x{k}: {got} vs {want}");
                    }
                }
            }
        }
    }
}
