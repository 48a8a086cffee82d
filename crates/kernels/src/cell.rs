//! Forward and backward of a whole recurrent layer over a sequence, on plain `f32`
//! buffers.
//!
//! - The input projection `x·W_x + b_x` of every step is one large product (or, for
//!   sparse binary input such as a piano-roll, a sum of the rows of `W_x` for the notes
//!   that sound, formed in the step loop by the thread that needs it).
//! - The batch rows are split between threads when there are enough of them (a tile's
//!   rows each): each thread packs the recurrent weights once and, at every step,
//!   multiplies its rows' previous hidden state by them and applies the gate
//!   nonlinearities, never waiting for another. With fewer rows (evaluation of long
//!   sequences one at a time) the hidden units are split instead: each thread multiplies
//!   every row's state by its slice of the weights, and one barrier per step hands the
//!   new state to the others. Nothing is allocated per step.
//! - The backward pass runs the steps in reverse the same way (gate gradients, then one
//!   product with the transposed recurrent weights per step). Each thread sums its
//!   biases' gradients as the steps go and packs its gate gradients; after one barrier,
//!   the weight gradients are large products over the whole sequence, each thread
//!   computing its units' columns (units split) or its share of the rows from every
//!   thread's packed gradients (batch split), so nothing is left for one core. A sparse
//!   input's dW_x is summed from the packed gradients while the dW_h product has them in
//!   cache, each thread its share of the columns (batch split, but for the GRU), else row
//!   by row in the step loop.
//! - The LSTM's c and the saved gate activations are kept step after step
//!   ([`step_major`]); h, the output, stays batch first.
//!
//! Layouts (row-major, batch first, as burn hands them over): `x [batch, time, input]`,
//! `W_x [input, gates·hidden]`, `W_h [hidden, gates·hidden]`, gates in the order of
//! `fugato_nn::model::Layer`: LSTM i, f, c̃, o; GRU r, z, n; the tanh RNN one.
//! `h` at every step is `[batch, time, hidden]`, and so is the LSTM's `c`.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::gemm::{self, Isa, Packed};
use crate::timers::{self, Phase};
use crate::{pool, threads};

/// The recurrent cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    Rnn,
    Lstm,
    Gru,
}

impl Cell {
    pub fn gates(self) -> usize {
        match self {
            Cell::Rnn => 1,
            Cell::Lstm => 4,
            Cell::Gru => 3,
        }
    }

    /// Values per unit in the state: `h`, and `c` for the LSTM.
    pub fn outputs(self) -> usize {
        if self == Cell::Lstm { 2 } else { 1 }
    }

    /// Activations per unit and step kept for the backward pass.
    fn saved(self) -> usize {
        match self {
            Cell::Rnn => 0,
            Cell::Lstm | Cell::Gru => 4,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    pub batch: usize,
    pub time: usize,
    pub input: usize,
    pub hidden: usize,
}

/// A layer's parameters.
pub struct Weights<'a> {
    /// `[input, gates·hidden]`
    pub wx: &'a [f32],
    /// `[gates·hidden]`
    pub bx: &'a [f32],
    /// `[hidden, gates·hidden]`
    pub wh: &'a [f32],
    /// GRU only: `[gates·hidden]`, added to the recurrent product (inside the reset).
    pub bh: Option<&'a [f32]>,
    /// LSTM only: peepholes `[3, hidden]` for i, f (on c_{t-1}) and o (on c_t).
    pub peep: Option<&'a [f32]>,
}

/// The forward pass's results, and what it leaves for the backward pass.
pub struct Forward {
    /// `[batch, time, hidden]`: h at every step.
    pub h: Vec<f32>,
    /// `[time, batch, hidden]` (rows placed by [`step_major`]): the LSTM's c at every step
    /// (empty for other cells).
    pub c: Vec<f32>,
    /// `[time, batch, 4·hidden]` (rows placed by [`step_major`]) gate activations (LSTM i,
    /// f, c̃, o; GRU r, z, n and the recurrent part of n); empty for the RNN or when not
    /// kept.
    pub saved: Vec<f32>,
    /// A sparse input's nonzero entries.
    pub sparse: Option<SparseRows>,
}

/// Where row `row` (= b·time + t) of the sequence sits in the LSTM's c and the saved gate
/// activations, which are kept step after step: the rows a thread writes at one step (its
/// batch rows) are neighbours in memory, and the backward pass, walking the steps in
/// reverse, streams through them (kept row after row, a thread's next row was 64 rows
/// away, and the backward gate loop waited on memory).
pub fn step_major(d: Dims, row: usize) -> usize {
    (row % d.time) * d.batch + row / d.time
}

/// The forward pass's activations, as the backward pass reads them.
#[derive(Clone, Copy)]
pub struct Activations<'a> {
    pub h: &'a [f32],
    pub c: &'a [f32],
    pub saved: &'a [f32],
    pub sparse: Option<&'a SparseRows>,
}

/// Gradients of a layer's inputs and parameters.
pub struct Grads {
    pub dx: Option<Vec<f32>>,
    pub dwx: Vec<f32>,
    pub dbx: Vec<f32>,
    pub dwh: Vec<f32>,
    pub dbh: Option<Vec<f32>>,
    pub dpeep: Option<Vec<f32>>,
    /// Where asked for (`need_dh0`).
    pub dh0: Option<Vec<f32>>,
    pub dc0: Vec<f32>,
}

/// Runs the layer over the sequence. `h0`, `c0`: `[batch, hidden]` (`c0` unused but for
/// the LSTM). `keep`: save the activations the backward pass needs.
pub fn forward(cell: Cell, d: Dims, w: &Weights, x: &[f32], h0: &[f32], c0: &[f32], keep: bool) -> Forward {
    check(cell, d, w, x, h0);
    let (h, gh) = (d.hidden, cell.gates() * d.hidden);
    let rows = d.batch * d.time;
    let isa = Isa::detect();
    // A sparse input's projection is summed row by row in the step loop, each thread
    // its own columns; a dense one is one large product here.
    let sparse = sparse_rows(x, rows, d.input);
    let dense_proj = sparse.is_none().then(|| project_dense(isa, rows, d.input, gh, x, w.wx, w.bx));
    // Every value of these is written below (h goes to burn, and back to the pool where
    // the backward pass holds the last reference; the others come back to the pool after
    // the backward pass).
    let mut out = pool::take(rows * h);
    let mut cells = pool::take(if cell == Cell::Lstm { rows * h } else { 0 });
    let mut saved = pool::take(if keep { rows * cell.saved() * h } else { 0 });
    let zeros = vec![0.0f32; 3 * h];
    let peep = w.peep.unwrap_or(&zeros);
    // A starting state of zeros (a training window's) adds nothing at the first step.
    let h0_zero = h0.iter().all(|v| *v == 0.0);
    let zeros_gh = vec![0.0f32; gh];
    let bh = w.bh.unwrap_or(&zeros_gh);
    let parts = partition(d, gh, threads());
    let (barrier, sync) = (Barrier::new(parts.len()), splits_units(&parts, d));
    let (out_p, cells_p, saved_p) = (Shared(out.as_mut_ptr()), Shared(cells.as_mut_ptr()), Shared(saved.as_mut_ptr()));
    let pieces: Vec<OnceLock<Packed>> = parts.iter().map(|_| OnceLock::new()).collect();
    let run = |q, part: Part| {
        let Part { b0, b1, u0, u1 } = part;
        let nu = u1 - u0;
        // W_h packed. Units split: this thread's columns, gate after gate (column g·nu + j
        // is unit u0 + j). Batch split: the whole, each thread packing a share of it.
        let piece = if sync {
            let mut packed = Packed::zeroed(h, cell.gates() * nu);
            for k in 0..h {
                for g in 0..cell.gates() {
                    packed.write(k, g * nu, &w.wh[k * gh + g * h + u0..][..nu]);
                }
            }
            packed
        } else {
            let (c0, c1) = panel_share(gh, q, parts.len());
            Packed::from_rows(h, c1 - c0, &w.wh[c0..], gh)
        };
        let pieces = pieces_for(&pieces, piece, q, sync, &barrier);
        let ldc = pieces.iter().map(|(p, _)| p.padded_width()).sum();
        let mut c = vec![0.0f32; (b1 - b0) * ldc];
        let mut sparse_proj = vec![0.0f32; if sparse.is_some() { gh } else { 0 }];
        for t in 0..d.time {
            // A = h_{t-1} of this thread's rows: the starting state, or the previous step's
            // output.
            let (a, lda) = if t == 0 {
                (h0[b0 * h..].as_ptr(), h)
            } else {
                (out_p.at((b0 * d.time + t - 1) * h) as *const f32, d.time * h)
            };
            let products = timers::span(Phase::ForwardProducts, q);
            if t == 0 && h0_zero {
                c.fill(0.0);
            } else {
                for &(piece, col) in &pieces {
                    // SAFETY: `a` holds `b1 − b0` rows of h_{t-1} (`lda` apart, each as wide
                    // as the piece's inner dimension), written by this thread or before the
                    // last barrier; `c` is this thread's, `ldc` wide past column `col`.
                    unsafe { gemm::multiply(isa, b1 - b0, a, lda, piece, c[col..].as_mut_ptr(), ldc) };
                }
            }
            products.end();
            let gates = timers::span(Phase::ForwardGates, q);
            for b in b0..b1 {
                let row = b * d.time + t;
                let cr = &c[(b - b0) * ldc..][..ldc];
                let pr: &[f32] = match (&sparse, &dense_proj) {
                    (Some(nonzero), _) => {
                        let (nonzero, p) = (nonzero.row(row), &mut sparse_proj[..]);
                        project_sparse_row(isa, ProjectRow { nonzero, wx: w.wx, bx: w.bx, hidden: h, u0, nu, p });
                        &sparse_proj
                    }
                    (None, Some(proj)) => &proj[row * gh..][..gh],
                    (None, None) => unreachable!("a dense input is projected before the loop"),
                };
                // SAFETY: each thread writes only its own units u0..u1 of row (b, t).
                let o = unsafe { out_p.slice(row * h + u0, nu) };
                match cell {
                    Cell::Rnn => rnn_forward_row(isa, &cr[..nu], &pr[u0..], o),
                    Cell::Lstm => {
                        let c_prev: &[f32] = if t == 0 {
                            &c0[b * h + u0..][..nu]
                        } else {
                            // SAFETY: c_{t-1} of these units was written by this thread.
                            unsafe { cells_p.read(step_major(d, row - 1) * h + u0, nu) }
                        };
                        // SAFETY: as for `o`: this thread's units of the row, in bounds.
                        let s = keep.then(|| unsafe { saved_p.gates(step_major(d, row) * 4 * h + u0, h, nu, 4) });
                        // SAFETY: as for `o`.
                        let o_c = unsafe { cells_p.slice(step_major(d, row) * h + u0, nu) };
                        let (pre, proj, peep) = (cr, &pr[u0..], &peep[u0..]);
                        let step = LstmStep { pre, proj, hidden: h, peep, c_prev, h: o, c: o_c, saved: s };
                        lstm_forward_row(isa, step);
                    }
                    Cell::Gru => {
                        let h_prev: &[f32] = if t == 0 {
                            &h0[b * h + u0..][..nu]
                        } else {
                            // SAFETY: h_{t-1} of these units was written by this thread.
                            unsafe { out_p.read((row - 1) * h + u0, nu) }
                        };
                        // SAFETY: as for `o`: this thread's units of the row, in bounds.
                        let s = keep.then(|| unsafe { saved_p.gates(step_major(d, row) * 4 * h + u0, h, nu, 4) });
                        gru_forward_row(isa, cr, &pr[u0..], h, &bh[u0..], h_prev, o, s);
                    }
                }
            }
            gates.end();
            if sync {
                barrier.wait();
            }
        }
    };
    crate::in_blocks(parts.iter().copied(), run);
    if let Some(proj) = dense_proj {
        pool::give(proj);
    }
    Forward { h: out, c: cells, saved, sparse }
}

/// The backward pass. `dout`: the gradient of the outputs, `[batch, time, width]` where
/// each row holds h's (`width` = hidden) or h's then c's (the LSTM, `width` = 2·hidden);
/// `need_dx`: whether the input needs its gradient (not for the first layer of a model
/// that reads data); `need_dh0`: whether the starting state h0 needs its gradient (else
/// the first step's product is skipped).
///
/// Each thread runs the gate gradients of its part (batch rows, units) back through time,
/// summing the bias and sparse input gradients as it goes and packing the gate gradients
/// for the weight gradients' products over the whole sequence at the end
/// ([`Backward::run`] has the phases).
#[allow(clippy::too_many_arguments)]
pub fn backward(
    cell: Cell,
    d: Dims,
    w: &Weights,
    x: &[f32],
    h0: &[f32],
    c0: &[f32],
    fwd: Activations,
    dout: &[f32],
    width: usize,
    need_dx: bool,
    need_dh0: bool,
) -> Grads {
    check(cell, d, w, x, h0);
    let (h, gh) = (d.hidden, cell.gates() * d.hidden);
    let (rows, gru) = (d.batch * d.time, cell == Cell::Gru);
    assert!(width == h || (cell == Cell::Lstm && width == 2 * h), "output gradient width");
    assert_eq!(dout.len(), rows * width, "output gradient size");
    assert_eq!(fwd.h.len(), rows * h, "forward activations");
    // Gradients of the gates' pre-activations: the input part and the recurrent part
    // (the same but for the GRU's candidate, where the reset gate sits between them).
    // The input part of every step when the input needs its gradient; the recurrent part,
    // the left operand of each step's product, there too when the two are the same, else
    // in a buffer for two steps (a thread writes step t − 1's while another may still
    // read step t's). Every value of these (and of the transposed operands and packed
    // gate gradients below) is written before it is read: buffers from the pool.
    let mut dgx = pool::take(if need_dx { rows * gh } else { 0 });
    let in_dgx = need_dx && !gru;
    let mut steps = pool::take(if in_dgx { 0 } else { 2 * d.batch * gh });
    let mut dh0 = vec![0.0f32; if need_dh0 { d.batch * h } else { 0 }];
    let mut dc0 = vec![0.0f32; if cell == Cell::Lstm { d.batch * h } else { 0 }];
    let mut dpeep = vec![0.0f32; 3 * h];
    // Every element of these is set once below.
    let mut dwx = pool::take(d.input * gh);
    let mut dwh = pool::take(h * gh);
    let mut dbx = vec![0.0f32; gh];
    let mut dbh = vec![0.0f32; if gru { gh } else { 0 }];
    // h_{t-1} of every row, transposed (`[hidden, rows]`), and a dense input transposed
    // (`[input, rows]`): the left operands of the weight gradients, each thread filling
    // its share of their rows.
    let mut h_prev_t = pool::take(h * rows);
    let mut x_t = pool::take(if fwd.sparse.is_none() { d.input * rows } else { 0 });
    let parts = partition(d, gh, threads());
    let sync = splits_units(&parts, d);
    let zeros = vec![0.0f32; 3 * h];
    let no_dc = vec![0.0f32; if width == h { h } else { 0 }];
    let pass = Backward {
        cell,
        d,
        w,
        x,
        h0,
        c0,
        fwd,
        dout,
        width,
        need_dx,
        need_dh0,
        isa: Isa::detect(),
        peep: w.peep.unwrap_or(&zeros),
        no_dc: &no_dc,
        barrier: Barrier::new(parts.len()),
        sync,
        in_dgx,
        // A sparse input's dW_x: with the batch split (and but for the GRU, whose input
        // part is not packed), summed from the packed gate gradients while the dW_h product
        // has them in cache, each thread its share of the columns; else row by row in the
        // step loop, each thread its own rows.
        dwx_in_product: fwd.sparse.is_some() && !sync && !gru,
        dgx: Shared(dgx.as_mut_ptr()),
        steps: Shared(steps.as_mut_ptr()),
        dh0: Shared(dh0.as_mut_ptr()),
        dc0: Shared(dc0.as_mut_ptr()),
        dpeep: Shared(dpeep.as_mut_ptr()),
        dwx: Shared(dwx.as_mut_ptr()),
        dwh: Shared(dwh.as_mut_ptr()),
        dbx: Shared(dbx.as_mut_ptr()),
        dbh: Shared(dbh.as_mut_ptr()),
        h_prev_t: Shared(h_prev_t.as_mut_ptr()),
        x_t: (Shared(x_t.as_mut_ptr()), x_t.len()),
        shares: (0..parts.len()).map(|_| OnceLock::new()).collect(),
        back_pieces: (0..parts.len()).map(|_| OnceLock::new()).collect(),
        parts: parts.clone(),
    };
    crate::in_blocks(parts.iter().copied(), |q, part| pass.run(q, part));
    for share in pass.shares.into_iter().filter_map(OnceLock::into_inner) {
        pool::give(share.gh.into_buffer());
        if let Some(p) = share.gx {
            pool::give(p.into_buffer());
        }
    }
    let isa = pass.isa;
    let dx = need_dx.then(|| gemm::product(isa, rows, &dgx, gh, &Packed::from_columns(gh, d.input, w.wx, gh), d.input));
    for buffer in [dgx, steps, h_prev_t, x_t] {
        pool::give(buffer);
    }
    Grads {
        dx,
        dwx,
        dbx,
        dwh,
        dbh: gru.then_some(dbh),
        dpeep: w.peep.map(|_| dpeep),
        dh0: need_dh0.then_some(dh0),
        dc0,
    }
}

/// What every thread of one backward pass reads, and where they write (each its own
/// elements: its rows or its units, as [`Part`]s divide them).
struct Backward<'a> {
    cell: Cell,
    d: Dims,
    w: &'a Weights<'a>,
    x: &'a [f32],
    h0: &'a [f32],
    c0: &'a [f32],
    fwd: Activations<'a>,
    dout: &'a [f32],
    width: usize,
    need_dx: bool,
    need_dh0: bool,
    isa: Isa,
    peep: &'a [f32],
    /// Zeros for the c part of the output's gradient where the output is h alone.
    no_dc: &'a [f32],
    parts: Vec<Part>,
    barrier: Barrier,
    /// The hidden units are split (else the batch rows).
    sync: bool,
    /// The recurrent part of the gate gradients is kept in `dgx` (else in `steps`).
    in_dgx: bool,
    dwx_in_product: bool,
    dgx: Shared,
    steps: Shared,
    dh0: Shared,
    dc0: Shared,
    dpeep: Shared,
    dwx: Shared,
    dwh: Shared,
    dbx: Shared,
    dbh: Shared,
    h_prev_t: Shared,
    /// A dense input transposed, and its length.
    x_t: (Shared, usize),
    /// What each thread leaves for the weight gradients, read by all after the barrier.
    shares: Vec<OnceLock<Share>>,
    back_pieces: Vec<OnceLock<Packed>>,
}

/// One thread's part of a backward pass and its running state.
struct Through<'p> {
    q: usize,
    b0: usize,
    b1: usize,
    u0: usize,
    u1: usize,
    nu: usize,
    /// This thread's first row of the sequence.
    first: usize,
    /// The packed `W_hᵀ` pieces of each step's dh product, with their first columns.
    pieces: Vec<(&'p Packed, usize)>,
    ldc: usize,
    /// The dh product goes straight into `dh_rec` (else through `c`).
    direct: bool,
    c: Vec<f32>,
    dh_rec: Vec<f32>,
    dc: Vec<f32>,
    dp: Vec<f32>,
    packed_gh: Packed,
    packed_gx: Option<Packed>,
    sum_gx: Vec<f32>,
    sum_gh: Vec<f32>,
    sparse_dwx: Vec<f32>,
    /// The GRU's input part of a row when nobody keeps it.
    scratch: Vec<f32>,
}

impl Backward<'_> {
    /// Thread `q`'s whole backward pass over `part`: its operands set up, the gate
    /// gradients back through time, its share left for the others, then (after one
    /// barrier) its part of the weight gradients.
    fn run(&self, q: usize, part: Part) {
        let mut me = self.setup(q, part);
        for t in (0..self.d.time).rev() {
            let span = timers::span(Phase::BackwardGates, q);
            for b in me.b0..me.b1 {
                self.gate_row(&mut me, b, t);
            }
            span.end();
            if t == 0 && !self.need_dh0 {
                // The last product would give h0's gradient, which nobody asked for.
                break;
            }
            if self.sync {
                self.barrier.wait();
            }
            self.recurrent_product(&mut me, t);
        }
        self.initial_state_gradients(&me);
        // The packed gate gradients were streamed past the cache.
        gemm::fence();
        let Through { packed_gh: gh, packed_gx: gx, sum_gx, sum_gh, sparse_dwx, dp, .. } = me;
        let _ = self.shares[q].set(Share { gh, gx, sum_gx, sum_gh, sparse_dwx, dp });
        // Past this barrier every thread's share and transposed operands are finished.
        self.barrier.wait();
        self.weight_gradients(q, part);
    }

    /// This thread's transposed operands, packed `W_hᵀ` and buffers.
    fn setup(&self, q: usize, part: Part) -> Through<'_> {
        let _setup = timers::span(Phase::BackwardSetup, q);
        let (d, h, isa) = (self.d, self.d.hidden, self.isa);
        let (gh, gates, gru, threads) =
            (self.cell.gates() * h, self.cell.gates(), self.cell == Cell::Gru, self.parts.len());
        let rows = d.batch * d.time;
        let Part { b0, b1, u0, u1 } = part;
        let nu = u1 - u0;
        let (first, mine) = (b0 * d.time, (b1 - b0) * d.time);
        // This thread's units of h_{t-1} for its rows, transposed, and its share of a
        // dense input's.
        let (h0, out) = (self.h0, self.fwd.h);
        // SAFETY: `h_prev_t` holds `hidden` rows of `rows`; the threads fill disjoint parts
        // (their units, their rows), and read others' only after the barrier.
        unsafe {
            transpose_into(isa, rows, (u0, u1), (first, first + mine), self.h_prev_t, |row| {
                if row % d.time == 0 { &h0[row / d.time * h..][..h] } else { &out[(row - 1) * h..][..h] }
            })
        };
        if self.fwd.sparse.is_none() {
            let inputs = if self.sync { share(d.input, q, threads) } else { (0, d.input) };
            let x = self.x;
            // SAFETY: `x_t` holds `input` rows of `rows`; disjoint parts as above.
            unsafe {
                transpose_into(isa, rows, inputs, (first, first + mine), self.x_t.0, |row| {
                    &x[row * d.input..][..d.input]
                })
            };
        }
        // dh_{t-1}[j] = Σ_k dG_t[k] · W_h[j, k]: B[k, j] = W_h[j, k] for this thread's units
        // (units split), or the whole, each thread packing a share (batch split).
        let (j0, j1) = if self.sync { (u0, u1) } else { panel_share(h, q, threads) };
        let piece = Packed::from_columns(gh, j1 - j0, &self.w.wh[j0 * gh..j1 * gh], gh);
        let pieces = pieces_for(&self.back_pieces, piece, q, self.sync, &self.barrier);
        let ldc = pieces.iter().map(|(p, _)| p.padded_width()).sum();
        // Each step's dh product goes straight into dh_rec where it has the product's layout
        // and nothing is added (copied element by element after each step's product, the
        // copy took about 2% of an LSTM-256 training step in `perf`); else through `c`.
        let direct = !gru && ldc == nu;
        // This thread's gate columns (gate g, unit u0 + j is column g·nu + j) of its rows:
        // the recurrent part packed for dW_h, the input part for a dense input's dW_x, and
        // the running sums of the biases' and a sparse input's weight gradients.
        let gate_columns = || Packed::overwritten(isa, mine, gates * nu, pool::take(Packed::floats(mine, gates * nu)));
        let sparse_dwx = self.fwd.sparse.is_some() && !self.dwx_in_product;
        Through {
            q,
            b0,
            b1,
            u0,
            u1,
            nu,
            first,
            pieces,
            ldc,
            direct,
            c: vec![0.0f32; if direct { 0 } else { (b1 - b0) * ldc }],
            dh_rec: vec![0.0f32; (b1 - b0) * nu],
            dc: vec![0.0f32; (b1 - b0) * nu],
            dp: vec![0.0f32; 3 * nu],
            packed_gh: gate_columns(),
            packed_gx: (gru && self.fwd.sparse.is_none()).then(gate_columns),
            sum_gx: vec![0.0f32; gates * nu],
            sum_gh: vec![0.0f32; if gru { gates * nu } else { 0 }],
            sparse_dwx: vec![0.0f32; if sparse_dwx { d.input * gates * nu } else { 0 }],
            scratch: vec![0.0f32; if gru && !self.need_dx { gh } else { 0 }],
        }
    }

    /// The gate gradients of this thread's units of batch row `b` at step `t`, packed and
    /// summed.
    fn gate_row(&self, me: &mut Through, b: usize, t: usize) {
        let (d, h, isa, cell) = (self.d, self.d.hidden, self.isa, self.cell);
        let (gh, gates, gru) = (cell.gates() * h, cell.gates(), cell == Cell::Gru);
        let (u0, u1, nu) = (me.u0, me.u1, me.nu);
        let (out, cells, saved) = (self.fwd.h, self.fwd.c, self.fwd.saved);
        let row = b * d.time + t;
        let dor = &self.dout[row * self.width..][..h];
        let dor_c = if self.width == h { self.no_dc } else { &self.dout[row * self.width + h..][..h] };
        let dhr = &mut me.dh_rec[(b - me.b0) * nu..][..nu];
        let step_row = ((t % 2) * d.batch + b) * gh;
        // This thread's units of the row's gate gradients: the input part (`gx`) and, for
        // the GRU, the recurrent part (`gr`; the other cells' recurrent part is `gx`
        // itself).
        let (at, gx_p) = match (self.need_dx, gru) {
            (true, _) => (row * gh, self.dgx),
            (false, false) => (step_row, self.steps),
            (false, true) => (0, Shared(me.scratch.as_mut_ptr())),
        };
        // SAFETY: in bounds (a row of `dgx`, of the two steps of `steps`, or `scratch`),
        // and each thread writes only its own units of its own rows.
        let mut gx = unsafe { gx_p.gates(at + u0, h, nu, gates) };
        // SAFETY: as for `gx`.
        let mut gr = if gru { unsafe { self.steps.gates(step_row + u0, h, nu, gates) } } else { Default::default() };
        let dc = &mut me.dc[(b - me.b0) * nu..][..nu];
        match cell {
            Cell::Rnn => rnn_backward_row(isa, &out[row * h + u0..row * h + u1], &dor[u0..u1], dhr, gx[0]),
            Cell::Lstm => {
                let c_prev: &[f32] =
                    if t == 0 { &self.c0[b * h..][..h] } else { &cells[step_major(d, row - 1) * h..][..h] };
                let step = LstmBackStep {
                    saved: &saved[step_major(d, row) * 4 * h + u0..],
                    hidden: h,
                    c: &cells[step_major(d, row) * h + u0..][..nu],
                    c_prev: &c_prev[u0..u1],
                    dout_h: &dor[u0..u1],
                    dout_c: &dor_c[u0..u1],
                    dh_rec: dhr,
                    dc,
                    peep: &self.peep[u0..],
                    gx: reborrow(&mut gx),
                    dp: &mut me.dp,
                };
                lstm_backward_row(isa, step);
            }
            Cell::Gru => {
                let h_prev: &[f32] = if t == 0 { &self.h0[b * h..][..h] } else { &out[(row - 1) * h..][..h] };
                let saved = &saved[step_major(d, row) * 4 * h + u0..];
                let (gx, gr) = (reborrow(&mut gx), reborrow(&mut gr));
                gru_backward_row(isa, saved, h, &h_prev[u0..u1], &dor[u0..u1], dhr, gx, gr, dc);
            }
        }
        let rec = if gru { &gr } else { &gx };
        for g in 0..gates {
            me.packed_gh.write(row - me.first, g * nu, rec[g]);
            if let Some(p) = me.packed_gx.as_mut() {
                p.write(row - me.first, g * nu, gx[g]);
            }
        }
        let nonzero = self.fwd.sparse.filter(|_| !self.dwx_in_product).map_or(&[][..], |s| s.row(row));
        let gr = if gru { Some(&gr) } else { None };
        sum_row(isa, &gx, gr, nonzero, gates, nu, &mut me.sum_gx, &mut me.sum_gh, &mut me.sparse_dwx);
    }

    /// dh_{t-1} for this thread's units and rows, from every unit's gate gradients at `t`.
    fn recurrent_product(&self, me: &mut Through, t: usize) {
        let _products = timers::span(Phase::BackwardProducts, me.q);
        let (gh, gru, nu) = (self.cell.gates() * self.d.hidden, self.cell == Cell::Gru, me.nu);
        let (a, lda) = if self.in_dgx {
            (self.dgx.at((me.first + t) * gh), self.d.time * gh)
        } else {
            (self.steps.at(((t % 2) * self.d.batch + me.b0) * gh), gh)
        };
        let (m, ldc) = (me.b1 - me.b0, me.ldc);
        let out = if me.direct { &mut me.dh_rec } else { &mut me.c };
        for &(piece, col) in &me.pieces {
            // SAFETY: `a` holds `m` rows (`lda` apart) of step t's gate gradients, finished
            // by this thread or before the barrier; `out` holds `m` rows of `ldc` past `col`.
            unsafe { gemm::multiply(self.isa, m, a, lda, piece, out[col..].as_mut_ptr(), ldc) };
        }
        if !me.direct {
            for ((dh, c), dc) in me.dh_rec.chunks_exact_mut(nu).zip(me.c.chunks_exact(ldc)).zip(me.dc.chunks_exact(nu))
            {
                dh.copy_from_slice(&c[..nu]);
                if gru {
                    dh.iter_mut().zip(dc).for_each(|(d, v)| *d += v);
                }
            }
        }
    }

    /// This thread's rows and units of the starting state's gradients.
    fn initial_state_gradients(&self, me: &Through) {
        let h = self.d.hidden;
        for b in 0..me.b1 - me.b0 {
            for j in 0..me.nu {
                let at = (me.b0 + b) * h + me.u0 + j;
                if self.need_dh0 {
                    // SAFETY: `dh0` is `[batch, hidden]`; this thread's rows and units only.
                    unsafe { *self.dh0.at(at) = me.dh_rec[b * me.nu + j] };
                }
                if self.cell == Cell::Lstm {
                    // SAFETY: as for `dh0`.
                    unsafe { *self.dc0.at(at) = me.dc[b * me.nu + j] };
                }
            }
        }
    }

    /// This thread's part of the weight gradients, once every share is left. Units split:
    /// this thread's columns, from its own share. Batch split: every column of this
    /// thread's share of the weights' rows, summed over every thread's share.
    fn weight_gradients(&self, q: usize, part: Part) {
        let _weights = timers::span(Phase::WeightProducts, q);
        let (d, isa, threads) = (self.d, self.isa, self.parts.len());
        let (h, gates, gru) = (d.hidden, self.cell.gates(), self.cell == Cell::Gru);
        let gh = gates * h;
        let nu = part.u1 - part.u0;
        // Each source with its first row of the sequence.
        let sources: Vec<(&Share, usize)> = read_by(q, self.sync, threads)
            .map(|p| {
                let share = self.shares[p].get().expect("every thread left its share before the barrier");
                (share, self.parts[p].b0 * d.time)
            })
            .collect();
        let rows_of = |m: usize| if self.sync { (0, m) } else { share(m, q, threads) };
        let columns = Columns { hidden: h, gates, u0: part.u0, nu };
        // SAFETY: every thread finished its part of the transposed operands (the barrier).
        let (h_prev_t, x_t) = unsafe { (self.h_prev_t.read(0, h * d.batch * d.time), self.x_t.0.read(0, self.x_t.1)) };
        // A sparse input's dW_x, this thread's panels of it, panel after panel (`[input,
        // NR]` each, in L1 while a block is summed in).
        let (c0, c1) = if self.dwx_in_product { panel_share(gh, q, threads) } else { (0, 0) };
        let (p0, p1) = (c0 / gemm::NR, c1.div_ceil(gemm::NR));
        let mut panels_dwx = vec![0.0f32; (p1 - p0) * d.input * gemm::NR];
        // The block's entries by input (its first row and rows with them), listed once for
        // all of the block's panels.
        let mut by_input: Option<((usize, usize), SparseRows)> = None;
        let sparse = self.fwd.sparse;
        let mut sum_panel = |row: usize, p: usize, block: &[f32]| {
            let rows = block.len() / gemm::NR;
            if by_input.as_ref().is_none_or(|(listed, _)| *listed != (row, rows)) {
                by_input = Some(((row, rows), sparse.expect("a sparse input").by_input(row, rows, d.input)));
            }
            let (_, entries) = by_input.as_ref().expect("listed above");
            let dwx = &mut panels_dwx[(p - p0) * d.input * gemm::NR..][..d.input * gemm::NR];
            sparse_panel(isa, entries, block, dwx);
        };
        let visit: Option<gemm::Visit> =
            self.dwx_in_product.then_some((p0..p1, &mut sum_panel as &mut dyn FnMut(usize, usize, &[f32])));
        let ks = rows_of(h);
        let (dwh_part, width) = self.product(&sources, ks, h_prev_t, &|s| &s.gh, visit);
        // SAFETY: the gradient holds these rows, and each of its elements is set by one
        // thread (its rows of the weights, or its units' columns); so for each `set` below.
        unsafe { columns.set(self.dwh, ks, &[&dwh_part], width) };
        pool::give(dwh_part);
        for (p, panel) in (p0..p1).zip(panels_dwx.chunks_exact(d.input * gemm::NR)) {
            let cols = (gh - p * gemm::NR).min(gemm::NR);
            for (i, row) in panel.chunks_exact(gemm::NR).enumerate() {
                // SAFETY: in `dwx` (`[input, gh]`), and panel p's columns are this thread's.
                unsafe { self.dwx.slice(i * gh + p * gemm::NR, cols) }.copy_from_slice(&row[..cols]);
            }
        }
        let ks = rows_of(d.input);
        if self.dwx_in_product {
            // Done above.
        } else if sparse.is_some() {
            let parts: Vec<&[f32]> = sources.iter().map(|(s, _)| &s.sparse_dwx[ks.0 * gates * nu..]).collect();
            // SAFETY: as for dW_h.
            unsafe { columns.set(self.dwx, ks, &parts, gates * nu) };
        } else if ks.1 > ks.0 {
            let (dwx_part, width) = self.product(&sources, ks, x_t, &|s| s.gx.as_ref().unwrap_or(&s.gh), None);
            // SAFETY: as for dW_h.
            unsafe { columns.set(self.dwx, ks, &[&dwx_part], width) };
            pool::give(dwx_part);
        }
        // The sums (biases, peepholes): with the batch split, the first thread adds them up.
        if self.sync || q == 0 {
            let sums = |f: fn(&Share) -> &[f32]| sources.iter().map(|(s, _)| f(s)).collect::<Vec<_>>();
            // SAFETY: as for dW_h (one row, this thread's columns or every column once).
            unsafe { columns.set(self.dbx, (0, 1), &sums(|s| &s.sum_gx), gates * nu) };
            if gru {
                // SAFETY: as for dW_h.
                unsafe { columns.set(self.dbh, (0, 1), &sums(|s| &s.sum_gh), gates * nu) };
            }
            let peepholes = Columns { gates: 3, ..columns };
            // SAFETY: as for dW_h (`dpeep` is `[3, hidden]`).
            unsafe { peepholes.set(self.dpeep, (0, 1), &sums(|s| &s.dp), 3 * nu) };
        }
    }

    /// Rows k0..k1 of A·G summed over the sources, where A (`[…, rows]`) is transposed
    /// and G a source's packed gate gradients (its rows of the sequence), and the product's
    /// padded width. `visit(row, panel, block)`, where given, sees each block of the
    /// visited panels of every source's G (its first row of the sequence `row`) while the
    /// product has it in cache.
    fn product(
        &self,
        sources: &[(&Share, usize)],
        (k0, k1): (usize, usize),
        a: &[f32],
        packed: &dyn Fn(&Share) -> &Packed,
        mut visit: Option<gemm::Visit>,
    ) -> (Vec<f32>, usize) {
        let rows = self.d.batch * self.d.time;
        let width = packed(sources[0].0).padded_width();
        let mut c = pool::take((k1 - k0) * width);
        for (n, &(source, first)) in sources.iter().enumerate() {
            let panels = visit.as_ref().map_or(0..0, |(panels, _)| panels.clone());
            let mut at_row = |p: usize, k: usize, block: &[f32]| {
                if let Some((_, f)) = visit.as_mut() {
                    f(first + k, p, block);
                }
            };
            let mut visitor: gemm::Visit = (panels, &mut at_row);
            let (b, c) = (packed(source), c.as_mut_ptr());
            // SAFETY: rows k0..k1 of `a` from column `first` hold the source's rows of the
            // sequence (`rows` apart); `c` holds k1 − k0 rows of the padded width.
            unsafe {
                let a = gemm::Left::rows(a.as_ptr().add(k0 * rows + first), rows);
                gemm::multiply_blocked(self.isa, k1 - k0, a, b, c, width, n > 0, Some(&mut visitor));
            }
        }
        (c, width)
    }
}

/// Rows `r0..r1`, columns `s0..s1` of the transpose (`[…, rows]`) of the `[rows × …]`
/// matrix whose row `row` is `row_of(row)`, into `dst`, sixteen source rows at a time:
/// each destination row gets a run of sixteen (one cache line) from source rows that stay
/// in L1 while the columns sweep; with AVX-512, sixteen columns at a time in registers.
///
/// # Safety
/// `dst` must hold `r1` rows of `rows` floats, and no other thread may touch these
/// elements meanwhile.
unsafe fn transpose_into<'a>(
    isa: Isa,
    rows: usize,
    (r0, r1): (usize, usize),
    (s0, s1): (usize, usize),
    dst: Shared,
    row_of: impl Fn(usize) -> &'a [f32],
) {
    const BLOCK: usize = 16;
    for row0 in (s0..s1).step_by(BLOCK) {
        let n = (s1 - row0).min(BLOCK);
        let sources: [&[f32]; BLOCK] = std::array::from_fn(|i| if i < n { &row_of(row0 + i)[r0..r1] } else { &[] });
        let mut done = 0;
        #[cfg(target_arch = "x86_64")]
        if isa == Isa::Avx512 && n == BLOCK {
            // Whole 16 × 16 blocks in registers.
            done = (r1 - r0) / BLOCK * BLOCK;
            for r in (0..done).step_by(BLOCK) {
                let block: [*const f32; BLOCK] = std::array::from_fn(|i| sources[i][r..r + BLOCK].as_ptr());
                // SAFETY: AVX-512; each source row holds columns r..r + 16; `dst` as below.
                unsafe { crate::simd::transpose16(&block, dst.at((r0 + r) * rows + row0), rows) };
            }
        }
        for r in done..r1 - r0 {
            // SAFETY: in `dst`, and this thread's (the caller's promise).
            let line = unsafe { dst.slice((r0 + r) * rows + row0, n) };
            for (v, source) in line.iter_mut().zip(&sources) {
                *v = source[r];
            }
        }
    }
}

/// What a thread leaves for the weight gradients after the backward pass through time:
/// its gate gradients, packed (its rows of the sequence, its units' columns), and its
/// running sums.
struct Share {
    /// The recurrent part, for dW_h (and a dense input's dW_x but for the GRU).
    gh: Packed,
    /// The GRU's input part, for a dense input's dW_x.
    gx: Option<Packed>,
    /// `[gates·nu]`: the input bias's gradient.
    sum_gx: Vec<f32>,
    /// `[gates·nu]`: the GRU's recurrent bias's gradient.
    sum_gh: Vec<f32>,
    /// `[input, gates·nu]`: a sparse input's dW_x.
    sparse_dwx: Vec<f32>,
    /// `[3, nu]`: the peepholes' gradients.
    dp: Vec<f32>,
}

/// One part's columns of a `[…, gates·hidden]` gradient: unit `u0 + j` of gate `g`, for
/// `j < nu`, is column `g·hidden + u0 + j` there and `g·nu + j` in the part's own results.
#[derive(Clone, Copy)]
struct Columns {
    hidden: usize,
    gates: usize,
    u0: usize,
    nu: usize,
}

impl Columns {
    /// Sets rows `k0..k1` of `dst`, these columns, to the sum of `parts` (each with row
    /// stride `ld`, its row 0 being `dst`'s row `k0`).
    ///
    /// # Safety
    /// `dst` must hold `k1` rows, and no other thread may touch these elements meanwhile.
    unsafe fn set(self, dst: Shared, (k0, k1): (usize, usize), parts: &[&[f32]], ld: usize) {
        let Columns { hidden, gates, u0, nu } = self;
        for k in k0..k1 {
            for g in 0..gates {
                // SAFETY: the caller's promise.
                let d = unsafe { dst.slice(k * gates * hidden + g * hidden + u0, nu) };
                let at = (k - k0) * ld + g * nu;
                d.copy_from_slice(&parts[0][at..][..nu]);
                for part in &parts[1..] {
                    d.iter_mut().zip(&part[at..][..nu]).for_each(|(d, p)| *d += p);
                }
            }
        }
    }
}

// The gate arithmetic of one batch row and one thread's `nu` units. `pre` holds the
// recurrent products gate after gate (`nu` apart); `proj`, `peep`, `saved` and the gate
// gradients start at the thread's first unit, with gates `hidden` apart.

vectorised! {
    /// h = tanh(W_h h_{t-1} + W_x x + b)
    pub(crate) fn rnn_forward_row(pre: &[f32], proj: &[f32], h: &mut [f32]) {
        let nu = h.len();
        let (pre, proj) = (&pre[..nu], &proj[..nu]);
        for j in 0..nu {
            h[j] = tanh(pre[j] + proj[j]);
        }
    }
}

/// The LSTM's gates for one unit from the pre-activations (i, f, c̃, o; peepholes not yet
/// added), the peepholes (i, f, o) and c_{t-1}: returns i, f, c̃, o and c_t.
#[inline(always)]
fn lstm_gates(a: [f32; 4], peep: [f32; 3], c_prev: f32) -> (f32, f32, f32, f32, f32) {
    let i = sigmoid(a[0] + peep[0] * c_prev);
    let f = sigmoid(a[1] + peep[1] * c_prev);
    let g = tanh(a[2]);
    let c = f * c_prev + i * g;
    (i, f, g, sigmoid(a[3] + peep[2] * c), c)
}

/// The GRU's gates for one unit from the input parts (r, z, n) and the recurrent parts
/// with their biases: returns r, z, n and the candidate's recurrent part.
#[inline(always)]
fn gru_gates(x: [f32; 3], rec: [f32; 3]) -> (f32, f32, f32, f32) {
    let r = sigmoid(x[0] + rec[0]);
    let z = sigmoid(x[1] + rec[1]);
    (r, z, tanh(x[2] + r * rec[2]), rec[2])
}

/// One batch row of the (peephole) LSTM's step, for one thread's units (`h.len()` of
/// them): h and c from the recurrent products `pre` (gate after gate, `h.len()` apart),
/// the input's projection `proj` and c_{t-1}; the gate activations (i, f, c̃, o) into
/// `saved` where given. `proj` and `peep` have their gates `hidden` apart.
pub(crate) struct LstmStep<'a> {
    pub pre: &'a [f32],
    pub proj: &'a [f32],
    pub hidden: usize,
    pub peep: &'a [f32],
    pub c_prev: &'a [f32],
    pub h: &'a mut [f32],
    pub c: &'a mut [f32],
    pub saved: Option<GateRows<'a>>,
}

/// The LSTM's step for one row. With AVX-512 the whole vectors go to `simd.rs`'s kernel,
/// the rest (and everything elsewhere) to the portable loop.
pub(crate) fn lstm_forward_row(isa: Isa, mut row: LstmStep) {
    let done = match isa {
        // SAFETY: the CPU has AVX-512; the slices are the portable loop's.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { crate::simd::lstm_forward_row(&mut row) },
        Isa::Portable => 0,
    };
    lstm_forward_units(isa, &mut row, done);
}

vectorised! {
    /// [`lstm_forward_row`]'s portable loop, for units `from..`.
    fn lstm_forward_units(row: &mut LstmStep, from: usize) {
        let (pre, proj, hidden, peep, c_prev) = (row.pre, row.proj, row.hidden, row.peep, row.c_prev);
        let (h, c, saved) = (&mut *row.h, &mut *row.c, &mut row.saved);
        let nu = h.len();
        let (c_prev, c) = (&c_prev[..nu], &mut c[..nu]);
        let (xi, xf, xg, xo) = (&pre[..nu], &pre[nu..2 * nu], &pre[2 * nu..3 * nu], &pre[3 * nu..4 * nu]);
        let (pi, pf) = (&proj[..nu], &proj[hidden..hidden + nu]);
        let (pg, po) = (&proj[2 * hidden..2 * hidden + nu], &proj[3 * hidden..3 * hidden + nu]);
        let (wi, wf, wo) = (&peep[..nu], &peep[hidden..hidden + nu], &peep[2 * hidden..2 * hidden + nu]);
        let Some([si, sf, sg, so]) = saved else {
            for j in from..nu {
                let (_, _, _, o, cn) = lstm_gates(
                    [xi[j] + pi[j], xf[j] + pf[j], xg[j] + pg[j], xo[j] + po[j]],
                    [wi[j], wf[j], wo[j]],
                    c_prev[j],
                );
                h[j] = o * tanh(cn);
                c[j] = cn;
            }
            return;
        };
        let (si, sf, sg, so) = (&mut si[..nu], &mut sf[..nu], &mut sg[..nu], &mut so[..nu]);
        for j in from..nu {
            let (i, f, g, o, cn) = lstm_gates(
                [xi[j] + pi[j], xf[j] + pf[j], xg[j] + pg[j], xo[j] + po[j]],
                [wi[j], wf[j], wo[j]],
                c_prev[j],
            );
            h[j] = o * tanh(cn);
            c[j] = cn;
            si[j] = i;
            sf[j] = f;
            sg[j] = g;
            so[j] = o;
        }
    }
}

vectorised! {
    /// PyTorch's GRU: r and z from both parts, n = tanh(x_n + r ⊙ (W_hn h + b_hn)),
    /// h = n + z ⊙ (h_{t-1} − n).
    pub(crate) fn gru_forward_row(
        pre: &[f32],
        proj: &[f32],
        hidden: usize,
        bh: &[f32],
        h_prev: &[f32],
        h: &mut [f32],
        saved: Option<GateRows>,
    ) {
        let nu = h.len();
        let h_prev = &h_prev[..nu];
        let (hr, hz, hn) = (&pre[..nu], &pre[nu..2 * nu], &pre[2 * nu..3 * nu]);
        let (xr, xz, xn) = (&proj[..nu], &proj[hidden..hidden + nu], &proj[2 * hidden..2 * hidden + nu]);
        let (br, bz, bn) = (&bh[..nu], &bh[hidden..hidden + nu], &bh[2 * hidden..2 * hidden + nu]);
        let Some([sr, sz, sn, shn]) = saved else {
            for j in 0..nu {
                let (_, z, n, _) = gru_gates([xr[j], xz[j], xn[j]], [hr[j] + br[j], hz[j] + bz[j], hn[j] + bn[j]]);
                h[j] = n + z * (h_prev[j] - n);
            }
            return;
        };
        let (sr, sz, sn, shn) = (&mut sr[..nu], &mut sz[..nu], &mut sn[..nu], &mut shn[..nu]);
        for j in 0..nu {
            let (r, z, n, rec_n) = gru_gates([xr[j], xz[j], xn[j]], [hr[j] + br[j], hz[j] + bz[j], hn[j] + bn[j]]);
            h[j] = n + z * (h_prev[j] - n);
            sr[j] = r;
            sz[j] = z;
            sn[j] = n;
            shn[j] = rec_n;
        }
    }
}

vectorised! {
    fn rnn_backward_row(h: &[f32], dout: &[f32], dh_rec: &[f32], gx: &mut [f32]) {
        let nu = gx.len();
        let (h, dout, dh_rec) = (&h[..nu], &dout[..nu], &dh_rec[..nu]);
        for j in 0..nu {
            gx[j] = (dout[j] + dh_rec[j]) * (1.0 - h[j] * h[j]);
        }
    }
}

/// One batch row of the (peephole) LSTM's backward step, for one thread's units
/// (`dc.len()` of them): the gate gradients into `gx` from the output's gradients
/// (`dout_h`, `dout_c`) and the recurrent one (`dh_rec`); `dc` carries dL/dc_t back to
/// c_{t-1}, `dp` sums the peepholes' gradients (i, f, o, `dc.len()` apart). `saved` and
/// `peep` have their gates `hidden` apart.
pub(crate) struct LstmBackStep<'a> {
    pub saved: &'a [f32],
    pub hidden: usize,
    pub c: &'a [f32],
    pub c_prev: &'a [f32],
    pub dout_h: &'a [f32],
    pub dout_c: &'a [f32],
    pub dh_rec: &'a [f32],
    pub dc: &'a mut [f32],
    pub peep: &'a [f32],
    pub gx: GateRows<'a>,
    pub dp: &'a mut [f32],
}

/// The LSTM's backward step for one row; with AVX-512 the whole vectors go to `simd.rs`'s
/// kernel, as in [`lstm_forward_row`].
fn lstm_backward_row(isa: Isa, mut row: LstmBackStep) {
    let done = match isa {
        // SAFETY: the CPU has AVX-512; the slices are the portable loop's.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { crate::simd::lstm_backward_row(&mut row) },
        Isa::Portable => 0,
    };
    lstm_backward_units(isa, &mut row, done);
}

vectorised! {
    /// [`lstm_backward_row`]'s portable loop, for units `from..`.
    fn lstm_backward_units(row: &mut LstmBackStep, from: usize) {
        let (saved, hidden, c, c_prev, peep) = (row.saved, row.hidden, row.c, row.c_prev, row.peep);
        let (dout_h, dout_c, dh_rec) = (row.dout_h, row.dout_c, row.dh_rec);
        let (dc, [gi, gf, gg, go], dp) = (&mut *row.dc, &mut row.gx, &mut *row.dp);
        let nu = dc.len();
        let (c, c_prev, dout_h, dout_c, dh_rec) = (&c[..nu], &c_prev[..nu], &dout_h[..nu], &dout_c[..nu], &dh_rec[..nu]);
        let (si, sf) = (&saved[..nu], &saved[hidden..hidden + nu]);
        let (sg, so) = (&saved[2 * hidden..2 * hidden + nu], &saved[3 * hidden..3 * hidden + nu]);
        let (wi, wf, wo) = (&peep[..nu], &peep[hidden..hidden + nu], &peep[2 * hidden..2 * hidden + nu]);
        let (gi, gf, gg, go) = (&mut gi[..nu], &mut gf[..nu], &mut gg[..nu], &mut go[..nu]);
        let (dpi, rest) = dp.split_at_mut(nu);
        let (dpf, dpo) = rest.split_at_mut(nu);
        let (dpi, dpf, dpo) = (&mut dpi[..nu], &mut dpf[..nu], &mut dpo[..nu]);
        for j in from..nu {
            let (i, f, g, o) = (si[j], sf[j], sg[j], so[j]);
            let (cn, cp) = (c[j], c_prev[j]);
            let tc = tanh(cn);
            let dh = dout_h[j] + dh_rec[j];
            let dao = dh * tc * o * (1.0 - o);
            let dct = dc[j] + dout_c[j] + dh * o * (1.0 - tc * tc) + dao * wo[j];
            let dai = dct * g * i * (1.0 - i);
            let daf = dct * cp * f * (1.0 - f);
            let dag = dct * i * (1.0 - g * g);
            dc[j] = dct * f + dai * wi[j] + daf * wf[j];
            gi[j] = dai;
            gf[j] = daf;
            gg[j] = dag;
            go[j] = dao;
            dpi[j] += dai * cp;
            dpf[j] += daf * cp;
            dpo[j] += dao * cn;
        }
    }
}

vectorised! {
    /// Gate gradients of the GRU: `gx` for the input part, `gr` for the recurrent part
    /// (the candidate's is scaled by the reset gate), `direct` the path h_{t-1} → h_t.
    fn gru_backward_row(
        saved: &[f32],
        hidden: usize,
        h_prev: &[f32],
        dout: &[f32],
        dh_rec: &[f32],
        gx: GateRows,
        gr: GateRows,
        direct: &mut [f32],
    ) {
        let nu = direct.len();
        let (h_prev, dout, dh_rec) = (&h_prev[..nu], &dout[..nu], &dh_rec[..nu]);
        let (sr, sz) = (&saved[..nu], &saved[hidden..hidden + nu]);
        let (sn, shn) = (&saved[2 * hidden..2 * hidden + nu], &saved[3 * hidden..3 * hidden + nu]);
        let ([xr, xz, xn, _], [rr, rz, rn, _]) = (gx, gr);
        let (xr, xz, xn) = (&mut xr[..nu], &mut xz[..nu], &mut xn[..nu]);
        let (rr, rz, rn) = (&mut rr[..nu], &mut rz[..nu], &mut rn[..nu]);
        for j in 0..nu {
            let (r, z, n, hn) = (sr[j], sz[j], sn[j], shn[j]);
            let dh = dout[j] + dh_rec[j];
            let dan = dh * (1.0 - z) * (1.0 - n * n);
            let dar = dan * hn * r * (1.0 - r);
            let daz = dh * (h_prev[j] - n) * z * (1.0 - z);
            xr[j] = dar;
            xz[j] = daz;
            xn[j] = dan;
            rr[j] = dar;
            rz[j] = daz;
            rn[j] = dan * r;
            direct[j] = dh * z;
        }
    }
}

fn check(cell: Cell, d: Dims, w: &Weights, x: &[f32], h0: &[f32]) {
    let gh = cell.gates() * d.hidden;
    assert_eq!(x.len(), d.batch * d.time * d.input, "input size");
    assert_eq!(w.wx.len(), d.input * gh, "input weights");
    assert_eq!(w.bx.len(), gh, "input bias");
    assert_eq!(w.wh.len(), d.hidden * gh, "recurrent weights");
    assert_eq!(h0.len(), d.batch * d.hidden, "starting state");
    assert!(w.bh.is_none_or(|b| b.len() == gh), "recurrent bias");
    assert!(w.peep.is_none_or(|p| p.len() == 3 * d.hidden), "peepholes");
}

/// A dense input's projection `x·W_x + b_x`, `[rows, gh]`.
fn project_dense(isa: Isa, rows: usize, input: usize, gh: usize, x: &[f32], wx: &[f32], bx: &[f32]) -> Vec<f32> {
    let mut proj = gemm::product(isa, rows, x, input, &Packed::from_rows(input, gh, wx, gh), gh);
    for p in proj.chunks_exact_mut(gh) {
        axpy(isa, 1.0, bx, p);
    }
    proj
}

/// This thread's columns of a sparse input row's projection, `b_x + Σ v·W_x[i]` over the
/// row's nonzero `(i, v)`, into `p` (`[gates·hidden]`; columns `g·hidden + u0 ..` `+ nu`
/// of every gate g).
pub(crate) struct ProjectRow<'a> {
    pub nonzero: &'a [(usize, f32)],
    pub wx: &'a [f32],
    pub bx: &'a [f32],
    pub hidden: usize,
    pub u0: usize,
    pub nu: usize,
    pub p: &'a mut [f32],
}

/// The projection of one row. With AVX-512 the whole vectors go to `simd.rs`, which sums
/// each in registers over all the entries instead of a pass over the row per entry; the
/// same sums in the same order.
fn project_sparse_row(isa: Isa, mut row: ProjectRow) {
    let done = match isa {
        // SAFETY: the CPU has AVX-512; the slices are the portable loop's.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { crate::simd::project_sparse_row(&mut row) },
        Isa::Portable => 0,
    };
    project_sparse_units(isa, &mut row, done);
}

vectorised! {
    /// [`project_sparse_row`]'s portable loop, for each gate's columns `from..` of the
    /// thread's.
    fn project_sparse_units(row: &mut ProjectRow, from: usize) {
        let (nonzero, wx, bx, hidden, u0, nu) = (row.nonzero, row.wx, row.bx, row.hidden, row.u0, row.nu);
        let p = &mut *row.p;
        let gh = p.len();
        for c0 in (u0 + from..gh).step_by(hidden) {
            let n = nu - from;
            let p = &mut p[c0..c0 + n];
            p.copy_from_slice(&bx[c0..c0 + n]);
            for &(i, v) in nonzero {
                let w = &wx[i * gh + c0..][..n];
                for j in 0..n {
                    p[j] += v * w[j];
                }
            }
        }
    }
}

vectorised! {
    /// Adds this thread's units of one row's gate gradients (`gx`, and `gr` for the
    /// GRU's recurrent part) to the bias gradients' running sums (`[gates·nu]`, column
    /// g·nu + j for unit j of gate g) and, for a sparse input row, to the input weights'
    /// (`dwx`, `[input, gates·nu]`).
    fn sum_row(
        gx: &GateRows,
        gr: Option<&GateRows>,
        nonzero: &[(usize, f32)],
        gates: usize,
        nu: usize,
        sum_gx: &mut [f32],
        sum_gh: &mut [f32],
        dwx: &mut [f32],
    ) {
        for g in 0..gates {
            let ax = &gx[g][..nu];
            let s = &mut sum_gx[g * nu..][..nu];
            for j in 0..nu {
                s[j] += ax[j];
            }
            if let Some(gr) = gr {
                let ah = &gr[g][..nu];
                let s = &mut sum_gh[g * nu..][..nu];
                for j in 0..nu {
                    s[j] += ah[j];
                }
            }
            for &(i, v) in nonzero {
                let d = &mut dwx[(i * gates + g) * nu..][..nu];
                for j in 0..nu {
                    d[j] += v * ax[j];
                }
            }
        }
    }
}

vectorised! {
    /// Adds one block of a panel of packed gate gradients (rows of `NR` floats; the
    /// block's sparse input rows listed by input in `entries`, [`SparseRows::by_input`]) to the panel's columns of a sparse input's dW_x (`dwx`,
    /// `[input, NR]`): row `i` gets `Σ v·g_r` over the nonzero `(i, v)` of each row r,
    /// summed in registers (two sums, for two independent chains) before it is added.
    /// (Row after row, each entry's add went through memory, and an input on in one row
    /// and the next waited on the last store.)
    fn sparse_panel(entries: &SparseRows, block: &[f32], dwx: &mut [f32]) {
        for (i, d) in dwx.chunks_exact_mut(gemm::NR).enumerate() {
            let list = entries.row(i);
            if list.is_empty() {
                continue;
            }
            let g = |r: usize| -> &[f32; gemm::NR] { block[r * gemm::NR..][..gemm::NR].try_into().expect("a panel row") };
            let (mut a, mut b) = ([0.0f32; gemm::NR], [0.0f32; gemm::NR]);
            let mut pairs = list.chunks_exact(2);
            for pair in &mut pairs {
                let ((r0, v0), (r1, v1)) = (pair[0], pair[1]);
                let (g0, g1) = (g(r0), g(r1));
                for j in 0..gemm::NR {
                    a[j] += v0 * g0[j];
                    b[j] += v1 * g1[j];
                }
            }
            if let [(r, v)] = pairs.remainder() {
                let g0 = g(*r);
                for j in 0..gemm::NR {
                    a[j] += v * g0[j];
                }
            }
            for j in 0..gemm::NR {
                d[j] += a[j] + b[j];
            }
        }
    }
}

vectorised! {
    /// y += a·x
    fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
        let x = &x[..y.len()];
        for (y, x) in y.iter_mut().zip(x) {
            *y += a * x;
        }
    }
}

/// The nonzero entries `(column, value)` of each row of an input, row after row.
pub struct SparseRows {
    /// Row `r`'s entries are `entries[starts[r]..starts[r + 1]]`.
    starts: Vec<usize>,
    entries: Vec<(usize, f32)>,
}

impl SparseRows {
    fn row(&self, r: usize) -> &[(usize, f32)] {
        &self.entries[self.starts[r]..self.starts[r + 1]]
    }

    /// Rows `first .. first + rows`, whose rows have `inputs` columns, listed by input
    /// (the transpose): "row" `i` of the result holds input `i`'s `(row, value)` pairs,
    /// rows counted from `first`, in row order.
    fn by_input(&self, first: usize, rows: usize, inputs: usize) -> SparseRows {
        let mut starts = vec![0usize; inputs + 1];
        for r in first..first + rows {
            for &(i, _) in self.row(r) {
                starts[i + 1] += 1;
            }
        }
        for i in 0..inputs {
            starts[i + 1] += starts[i];
        }
        let mut next = starts.clone();
        let mut entries = vec![(0, 0.0); starts[inputs]];
        for r in 0..rows {
            for &(i, v) in self.row(first + r) {
                entries[next[i]] = (r, v);
                next[i] += 1;
            }
        }
        SparseRows { starts, entries }
    }
}

/// The nonzero entries of each row when at most one in eight is nonzero (a piano-roll's
/// frames), else `None`: then a dense product is faster. The values are read once, sixteen
/// at a time (a compare and a bit mask per sixteen), and the entries listed from the masks
/// only when there are few enough.
fn sparse_rows(x: &[f32], rows: usize, input: usize) -> Option<SparseRows> {
    if input == 0 {
        return None;
    }
    let isa = Isa::detect();
    let per_row = input.div_ceil(16);
    let mut masks = vec![0u32; rows * per_row];
    for (row, masks) in x.chunks_exact(input).zip(masks.chunks_exact_mut(per_row)) {
        nonzero_masks(isa, row, masks);
    }
    let nonzero = masks.iter().map(|m| m.count_ones() as usize).sum::<usize>();
    if nonzero > x.len() / 8 {
        return None;
    }
    let mut sparse = SparseRows { starts: Vec::with_capacity(rows + 1), entries: Vec::with_capacity(nonzero) };
    sparse.starts.push(0);
    for (row, masks) in x.chunks_exact(input).zip(masks.chunks_exact(per_row)) {
        for (c, &mask) in masks.iter().enumerate() {
            let mut mask = mask;
            while mask != 0 {
                let i = c * 16 + mask.trailing_zeros() as usize;
                sparse.entries.push((i, row[i]));
                mask &= mask - 1;
            }
        }
        sparse.starts.push(sparse.entries.len());
    }
    Some(sparse)
}

vectorised! {
    /// Bit i of `masks[c]`: whether `x[16·c + i]` is nonzero.
    fn nonzero_masks(x: &[f32], masks: &mut [u32]) {
        let mask = |chunk: &[f32]| chunk.iter().enumerate().fold(0u32, |m, (i, v)| m | u32::from(*v != 0.0) << i);
        // Whole chunks of sixteen (a compare each), then the short rest.
        let mut chunks = x.chunks_exact(16);
        for (m, chunk) in masks.iter_mut().zip(&mut chunks) {
            *m = mask(chunk);
        }
        if !chunks.remainder().is_empty() {
            masks[x.len() / 16] = mask(chunks.remainder());
        }
    }
}

/// One thread's share of a layer: batch rows `b0..b1`, hidden units `u0..u1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Part {
    b0: usize,
    b1: usize,
    u0: usize,
    u1: usize,
}

/// Rows per thread at least for the batch split: a tile's.
const ROWS_PER_THREAD: usize = 8;

/// Splits a layer between `cores` threads, but only when each gets enough work to pay
/// for it. The batch rows when there are enough of them: each thread then runs its rows'
/// whole recurrence and no step waits for another. Else the hidden units: each thread
/// runs its units for every row, and a barrier at every step hands the new state to the
/// others.
fn partition(d: Dims, gh: usize, cores: usize) -> Vec<Part> {
    let work = d.batch * d.time * d.hidden * gh; // multiply-adds of the recurrence
    let threads = if work < 4_000_000 { 1 } else { cores.max(1) };
    if threads > 1 && d.batch >= ROWS_PER_THREAD * threads {
        let (b, h) = (d.batch, d.hidden);
        return (0..threads).map(|i| Part { b0: b * i / threads, b1: b * (i + 1) / threads, u0: 0, u1: h }).collect();
    }
    let threads = threads.min(d.hidden / 16).max(1);
    // Whole multiples of 16 units each, so the gate loops vectorise.
    let chunk = d.hidden.div_ceil(threads).div_ceil(16) * 16;
    (0..d.hidden)
        .step_by(chunk.max(1))
        .map(|u0| Part { b0: 0, b1: d.batch, u0, u1: (u0 + chunk).min(d.hidden) })
        .collect()
}

/// Whether the parts split the hidden units (and so must meet at every step).
fn splits_units(parts: &[Part], d: Dims) -> bool {
    parts.iter().any(|p| p.u1 - p.u0 < d.hidden)
}

/// Leaves this thread's packed `piece` of a step's right operand in `pieces[q]`, and
/// returns the pieces it multiplies by, each with its first column in the product: its
/// own (units split), or, once every thread has left its piece, all of them (batch split:
/// each piece a share of the columns, cut at whole panels).
fn pieces_for<'a>(
    pieces: &'a [OnceLock<Packed>],
    piece: Packed,
    q: usize,
    sync: bool,
    barrier: &Barrier,
) -> Vec<(&'a Packed, usize)> {
    let _ = pieces[q].set(piece);
    if !sync {
        barrier.wait();
    }
    let mut col = 0;
    pieces[read_by(q, sync, pieces.len())]
        .iter()
        .map(|p| {
            let p = p.get().expect("every thread left its piece before the barrier");
            col += p.padded_width();
            (p, col - p.padded_width())
        })
        .collect()
}

/// The parts whose results thread `q` reads once they are left: its own (units split) or
/// every thread's (batch split).
fn read_by(q: usize, sync: bool, threads: usize) -> std::ops::Range<usize> {
    if sync { q..q + 1 } else { 0..threads }
}

/// Part `i` of `n` of `0..m`, cut at whole panels of the packed products.
fn panel_share(m: usize, i: usize, n: usize) -> (usize, usize) {
    let cut = |i: usize| if i == n { m } else { m * i / n / gemm::NR * gemm::NR };
    (cut(i), cut(i + 1))
}

/// Part `i` of `n` of `0..m`.
fn share(m: usize, i: usize, n: usize) -> (usize, usize) {
    (m * i / n, m * (i + 1) / n)
}

/// A raw pointer into a buffer that several threads write, each to its own units.
#[derive(Clone, Copy)]
struct Shared(*mut f32);
// SAFETY: a `Shared` is only a pointer; every access is an `unsafe` method whose caller
// promises that the threads write disjoint elements and read others' only after a barrier.
unsafe impl Send for Shared {}
// SAFETY: as for `Send`.
unsafe impl Sync for Shared {}

impl Shared {
    /// The element at `i` (a method, so closures capture the whole `Shared`).
    fn at(self, i: usize) -> *mut f32 {
        self.0.wrapping_add(i)
    }

    /// `len` elements from `i`.
    ///
    /// # Safety
    /// They must lie in the buffer, and no other thread may touch them while the slice
    /// lives (or only read them, if the caller only reads).
    #[allow(clippy::mut_from_ref)]
    unsafe fn slice<'a>(self, i: usize, len: usize) -> &'a mut [f32] {
        // SAFETY: the caller's promise: in the buffer (one allocation of initialised
        // floats), and no other reference to these elements while the slice lives.
        unsafe { std::slice::from_raw_parts_mut(self.at(i), len) }
    }

    /// `len` elements from `i`, to read.
    ///
    /// # Safety
    /// They must lie in the buffer, and no thread may write them while the slice lives.
    unsafe fn read<'a>(self, i: usize, len: usize) -> &'a [f32] {
        // SAFETY: the caller's promise: in the buffer, and not written while it lives.
        unsafe { std::slice::from_raw_parts(self.at(i), len) }
    }

    /// `nu` elements from `i + g·hidden` for each of the first `gates` gates g: a row's
    /// units of one thread, gate by gate, and not the other threads' units between them.
    ///
    /// # Safety
    /// As [`Shared::slice`], for each gate's elements.
    unsafe fn gates<'a>(self, i: usize, hidden: usize, nu: usize, gates: usize) -> GateRows<'a> {
        std::array::from_fn(|g| {
            if g < gates {
                // SAFETY: the caller's promise, for each gate's elements (disjoint: `nu` ≤
                // `hidden` apart).
                unsafe { self.slice(i + g * hidden, nu) }
            } else {
                &mut []
            }
        })
    }
}

/// One row's gate values for one thread's units, gate by gate (the RNN uses the first
/// slice, the GRU three, the LSTM four; the rest are empty).
pub(crate) type GateRows<'a> = [&'a mut [f32]; 4];

/// Reborrows each gate's slice of `rows`.
fn reborrow<'a>(rows: &'a mut GateRows) -> GateRows<'a> {
    rows.each_mut().map(|s| &mut **s)
}

/// A reusable barrier that spins (steps take microseconds; a futex wake-up costs as much).
pub(crate) struct Barrier {
    threads: usize,
    /// Spins before each yield of the time slice.
    spins: u32,
    arrived: AtomicUsize,
    generation: AtomicUsize,
}

impl Barrier {
    pub(crate) fn new(threads: usize) -> Barrier {
        Barrier::with_spins(threads, 20_000)
    }

    pub(crate) fn with_spins(threads: usize, spins: u32) -> Barrier {
        Barrier { threads, spins, arrived: AtomicUsize::new(0), generation: AtomicUsize::new(0) }
    }

    pub(crate) fn wait(&self) {
        if self.threads == 1 {
            return;
        }
        let generation = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.threads {
            self.arrived.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
            return;
        }
        crate::workers::spin_until(
            self.spins,
            || self.generation.load(Ordering::Acquire) != generation,
            std::thread::yield_now,
        );
    }
}

/// tanh as a rational function (the minimax fit Eigen uses for `float`), within a few
/// ulp of `f32::tanh` and vectorisable.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let x = x.clamp(-7.905_311, 7.905_311);
    let x2 = x * x;
    let mut p = -2.760_768_5e-16f32;
    p = p * x2 + 2.000_188e-13;
    p = p * x2 + -8.604_671e-11;
    p = p * x2 + 5.122_297e-8;
    p = p * x2 + 1.485_722_4e-5;
    p = p * x2 + 6.372_619_3e-4;
    p = p * x2 + 4.893_524_6e-3;
    let mut q = 1.198_258_4e-6f32;
    q = q * x2 + 1.185_347e-4;
    q = q * x2 + 2.268_434_6e-3;
    q = q * x2 + 4.893_525e-3;
    x * p / q
}

#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    0.5 + 0.5 * tanh(0.5 * x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every (batch row, unit) pair in exactly one part, the batch split where each thread
    /// gets a tile's rows, and nothing split that is too small to pay for a thread.
    #[test]
    fn partitions_cover_the_layer_once() {
        let dims = |batch, hidden| Dims { batch, time: 64, input: 88, hidden };
        for (d, cores, threads, by_batch) in [
            (dims(32, 256), 2, 2, true),
            (dims(33, 256), 2, 2, true),
            (dims(8, 256), 2, 2, false),
            (dims(32, 256), 8, 8, false),
            (dims(64, 256), 8, 8, true),
            (dims(32, 40), 2, 2, true),
            (dims(3, 128), 2, 2, false),
            (dims(2, 8), 2, 1, false),
            (dims(32, 256), 1, 1, false),
        ] {
            let parts = partition(d, 4 * d.hidden, cores);
            assert_eq!(parts.len(), threads, "{d:?} on {cores} cores: {parts:?}");
            assert_eq!(splits_units(&parts, d), threads > 1 && !by_batch, "{d:?} on {cores} cores: {parts:?}");
            let mut seen = vec![0u8; d.batch * d.hidden];
            for p in &parts {
                for b in p.b0..p.b1 {
                    for u in p.u0..p.u1 {
                        seen[b * d.hidden + u] += 1;
                    }
                }
            }
            assert!(seen.iter().all(|&n| n == 1), "{d:?} on {cores} cores: {parts:?}");
        }
    }

    /// Each row's nonzero entries in order, across the sixteen-value chunks and the short
    /// last chunk; a matrix with more than one in eight nonzero has none.
    #[test]
    fn sparse_rows_list_each_rows_nonzero_entries() {
        let (rows, input) = (3, 88);
        let mut x = vec![0.0f32; rows * input];
        let expected: [&[(usize, f32)]; 3] =
            [&[(0, 1.0), (15, 0.5), (16, -2.0), (87, 3.0)], &[], &[(80, 1.0), (81, 1.0)]];
        for (r, entries) in expected.iter().enumerate() {
            for &(i, v) in entries.iter() {
                x[r * input + i] = v;
            }
        }
        let sparse = sparse_rows(&x, rows, input).expect("six of 264 values are nonzero");
        for (r, entries) in expected.iter().enumerate() {
            assert_eq!(sparse.row(r), *entries, "row {r}");
        }
        // 33 of 264 nonzero is one in eight: still sparse; one more is not.
        let mut x = vec![0.0f32; rows * input];
        x[..33].fill(1.0);
        assert!(sparse_rows(&x, rows, input).is_some());
        x[200] = 1.0;
        assert!(sparse_rows(&x, rows, input).is_none());
        assert!(sparse_rows(&[], 0, 0).is_none());
    }

    #[test]
    fn the_rational_tanh_is_within_a_few_ulp() {
        let mut worst = 0.0f32;
        for i in -200_000..=200_000 {
            let x = i as f32 / 10_000.0;
            worst = worst.max((tanh(x) - x.tanh()).abs());
        }
        assert!(worst < 2e-6, "worst error {worst}");
        assert!((sigmoid(0.0) - 0.5).abs() < 1e-7 && sigmoid(30.0) <= 1.0 && sigmoid(-30.0) >= 0.0);
    }
}
