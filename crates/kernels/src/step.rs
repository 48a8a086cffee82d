//! A stack of recurrent layers stepped at batch 1, for sampling: the weights copied out
//! of burn once, the gate arithmetic of the sequence kernels ([`super::cell`]), and
//! nothing else — no graph and no allocation per step.
//!
//! At batch 1 a step is a matrix–vector product per layer, bound by reading the
//! weights. Each weight matrix is packed into column panels that a product reads front to
//! back ([`PanelMatrix`]), and, where the model is large enough, the hidden units are
//! split between two threads: each core then reads only its half of the weights, which
//! stays in its own cache from step to step. The second thread lives as long as the
//! [`StepStack`], spins between steps while they come quickly, and sleeps when they stop.

use std::cell::UnsafeCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;

use crate::cell::{Barrier, Cell, LstmStep, gru_forward_row, lstm_forward_row, rnn_forward_row};
use crate::gemm::Isa;
use crate::threads;
use crate::workers::spin_until;

/// What the first layer reads at one step.
#[derive(Clone, Copy, Debug)]
pub enum StepInput<'a> {
    /// A dense vector as wide as the layer's input.
    Dense(&'a [f32]),
    /// A binary vector given by the positions of its ones (a piano-roll frame): the input
    /// projection is then a sum of rows of `W_x`.
    Ones(&'a [usize]),
    /// The input projection `x · W_x` itself, `[gates·hidden]`, computed beforehand (a
    /// token model projects its whole embedding table once).
    Projected(&'a [f32]),
}

/// One layer's parameters, owned, laid out as for [`super::cell::forward`].
#[derive(Clone, Debug)]
pub struct LayerWeights {
    pub cell: Cell,
    pub input: usize,
    pub hidden: usize,
    /// `[input, gates·hidden]`
    pub wx: Vec<f32>,
    /// `[gates·hidden]`
    pub bx: Vec<f32>,
    /// `[hidden, gates·hidden]`
    pub wh: Vec<f32>,
    /// GRU: `[gates·hidden]`, added to the recurrent product.
    pub bh: Option<Vec<f32>>,
    /// LSTM with peepholes: `[3, hidden]`.
    pub peep: Option<Vec<f32>>,
}

/// A matrix `[k, n]` packed for products with a vector: column panels of 128 columns
/// (narrower at the end, zero-padded to 16), each stored row after row, so that a
/// product reads the matrix once, front to back, while each panel's sums stay in
/// registers.
pub struct PanelMatrix {
    k: usize,
    n: usize,
    values: Vec<f32>,
}

/// The width of the next panel when `rest` columns are left.
fn panel_width(rest: usize) -> usize {
    match rest {
        128.. => 128,
        33.. => 64,
        17.. => 32,
        _ => 16,
    }
}

impl PanelMatrix {
    /// Packs `w [k, n]`, row-major.
    pub fn new(w: &[f32], k: usize, n: usize) -> PanelMatrix {
        assert_eq!(w.len(), k * n, "matrix size");
        PanelMatrix::gather(k, n, |r, j| w[r * n + j])
    }

    /// Packs the matrix whose element `(r, j)` is `at(r, j)`.
    fn gather(k: usize, n: usize, at: impl Fn(usize, usize) -> f32) -> PanelMatrix {
        let mut values = Vec::with_capacity(k * (n + 128));
        let mut j0 = 0;
        while j0 < n {
            let width = panel_width(n - j0);
            for r in 0..k {
                values.extend((j0..j0 + width).map(|j| if j < n { at(r, j) } else { 0.0 }));
            }
            j0 += width;
        }
        PanelMatrix { k, n, values }
    }

    /// y += x · W
    pub fn multiply_add(&self, isa: Isa, x: &[f32], y: &mut [f32]) {
        assert_eq!((x.len(), y.len()), (self.k, self.n), "vector sizes");
        panels_multiply_add(isa, x, &self.values, y);
    }
}

/// One thread's units `u0 .. u0 + nu` of a layer, with its columns of the weights, gate
/// after gate (`nu` apart), as the gate rows of [`super::cell`] read them.
struct Part {
    cell: Cell,
    hidden: usize,
    u0: usize,
    nu: usize,
    /// `[input, gates·nu]` row-major (binary input) and packed (dense input).
    wx: Vec<f32>,
    wx_panels: PanelMatrix,
    bx: Vec<f32>,
    /// `[hidden, gates·nu]`
    wh: PanelMatrix,
    bh: Vec<f32>,
    peep: Vec<f32>,
    proj: Vec<f32>,
    pre: Vec<f32>,
}

impl Part {
    fn new(w: &LayerWeights, u0: usize, nu: usize) -> Part {
        let (h, gates) = (w.hidden, w.cell.gates());
        let (gh, gn) = (gates * h, gates * nu);
        // Column c of the part is unit u0 + c % nu of gate c / nu.
        let cols: Vec<usize> = (0..gates).flat_map(|g| g * h + u0..g * h + u0 + nu).collect();
        let slice = |v: &[f32], gates: usize| cols[..gates * nu].iter().map(|&c| v[c]).collect::<Vec<f32>>();
        let wx: Vec<f32> = (0..w.input).flat_map(|r| cols.iter().map(move |&c| w.wx[r * gh + c])).collect();
        Part {
            cell: w.cell,
            hidden: h,
            u0,
            nu,
            wx_panels: PanelMatrix::new(&wx, w.input, gn),
            wx,
            bx: slice(&w.bx, gates),
            wh: PanelMatrix::gather(h, gn, |r, c| w.wh[r * gh + cols[c]]),
            bh: w.bh.as_deref().map_or_else(|| vec![0.0; gn], |b| slice(b, gates)),
            peep: w.peep.as_deref().map_or_else(|| vec![0.0; 3 * nu], |p| slice(p, 3)),
            proj: vec![0.0; gn],
            pre: vec![0.0; gn],
        }
    }

    /// Computes this part's units of the next state from the input and the whole previous
    /// state `prev` (`[h]`, or `[h, c]` for the LSTM); writes them to `next_h`, `next_c`.
    fn step(&mut self, isa: Isa, x: StepInput, prev: &[f32], next_h: &mut [f32], next_c: &mut [f32]) {
        let (h, u0, nu) = (self.hidden, self.u0, self.nu);
        let gn = self.cell.gates() * nu;
        self.proj.copy_from_slice(&self.bx);
        match x {
            StepInput::Dense(x) => self.wx_panels.multiply_add(isa, x, &mut self.proj),
            StepInput::Ones(ones) => {
                for &i in ones {
                    add(isa, &self.wx[i * gn..][..gn], &mut self.proj);
                }
            }
            StepInput::Projected(row) => {
                for (g, proj) in self.proj.chunks_exact_mut(nu).enumerate() {
                    add(isa, &row[g * h + u0..][..nu], proj);
                }
            }
        }
        self.pre.fill(0.0);
        self.wh.multiply_add(isa, &prev[..h], &mut self.pre);
        let units = u0..u0 + nu;
        match self.cell {
            Cell::Rnn => rnn_forward_row(isa, &self.pre, &self.proj, next_h),
            Cell::Lstm => {
                let c_prev = &prev[h..][units];
                let (pre, proj, peep) = (&self.pre[..], &self.proj[..], &self.peep[..]);
                let step = LstmStep { pre, proj, hidden: nu, peep, c_prev, h: next_h, c: next_c, saved: None };
                lstm_forward_row(isa, step);
            }
            Cell::Gru => gru_forward_row(isa, &self.pre, &self.proj, nu, &self.bh, &prev[units], next_h, None),
        }
    }
}

/// A layer's shape, as every thread needs it.
#[derive(Clone, Copy)]
struct Shape {
    cell: Cell,
    input: usize,
    hidden: usize,
}

impl Shape {
    fn state_len(self) -> usize {
        self.cell.outputs() * self.hidden
    }
}

/// The first layer's input of the current step, as the driving thread hands it over:
/// [`StepInput`] with buffers of its own.
#[derive(Default)]
struct Published {
    kind: Kind,
    values: Vec<f32>,
    ones: Vec<usize>,
}

#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Kind {
    #[default]
    Dense,
    Ones,
    Projected,
}

/// What the threads share. The states are double-buffered: step `e` reads buffer `e % 2`
/// and writes the other; each thread writes only its own units, and reads the others'
/// only after a barrier.
struct Shared {
    isa: Isa,
    shapes: Vec<Shape>,
    /// Per layer, two buffers of `[h]` or `[h, c]`.
    states: Vec<[UnsafeCell<Vec<f32>>; 2]>,
    input: UnsafeCell<Published>,
    /// Steps started by the driving thread.
    epoch: AtomicUsize,
    barrier: Barrier,
    parked: AtomicBool,
    stop: AtomicBool,
}

// SAFETY: the buffers are written as the type's comment says: the published input only by
// the driving thread before it starts a step (released through `epoch`), each state
// buffer's units only by the thread that owns them, and read across threads only after
// the barrier that ends the layer's step.
unsafe impl Sync for Shared {}

impl Shared {
    /// Runs step `epoch` on one thread's parts (one per layer).
    fn run(&self, parts: &mut [Part], epoch: usize) {
        let (cur, next) = (epoch % 2, (epoch + 1) % 2);
        for (l, part) in parts.iter_mut().enumerate() {
            let shape = self.shapes[l];
            // SAFETY: see `Shared`: the published input is not written during a step; the
            // previous state and the layer below's new state are complete (barriers), and
            // this thread writes only its own units of the new state.
            unsafe {
                let prev: &[f32] = &*self.states[l][cur].get();
                let out = (*self.states[l][next].get()).as_mut_ptr();
                let next_h = std::slice::from_raw_parts_mut(out.add(part.u0), part.nu);
                let next_c: &mut [f32] = if shape.cell == Cell::Lstm {
                    std::slice::from_raw_parts_mut(out.add(shape.hidden + part.u0), part.nu)
                } else {
                    &mut []
                };
                let x = if l == 0 {
                    let input = &*self.input.get();
                    match input.kind {
                        Kind::Dense => StepInput::Dense(&input.values),
                        Kind::Ones => StepInput::Ones(&input.ones),
                        Kind::Projected => StepInput::Projected(&input.values),
                    }
                } else {
                    let below: &[f32] = &*self.states[l - 1][next].get();
                    StepInput::Dense(&below[..self.shapes[l - 1].hidden])
                };
                part.step(self.isa, x, prev, next_h, next_c);
            }
            self.barrier.wait();
        }
    }
}

/// A stack of layers at batch 1 with its state carried between calls.
pub struct StepStack {
    shared: Arc<Shared>,
    /// The driving thread's part of each layer.
    parts: Vec<Part>,
    worker: Option<JoinHandle<()>>,
    epoch: usize,
}

/// Below this many recurrent weights in all, one thread steps the stack: a second one
/// would cost more in hand-overs than it saves.
const THREADED_WEIGHTS: usize = 100_000;

impl StepStack {
    /// Copies the layers' weights; the state starts at zero. Each layer reads the one
    /// below (`input` = the lower layer's `hidden`).
    pub fn new(layers: &[LayerWeights]) -> StepStack {
        assert!(!layers.is_empty(), "a stack needs a layer");
        for pair in layers.windows(2) {
            assert_eq!(pair[1].input, pair[0].hidden, "layer widths");
        }
        let weights: usize = layers.iter().map(|w| w.wh.len()).sum();
        let threads = if weights < THREADED_WEIGHTS { 1 } else { threads().min(2) };
        let shapes: Vec<Shape> =
            layers.iter().map(|w| Shape { cell: w.cell, input: w.input, hidden: w.hidden }).collect();
        let split = |w: &LayerWeights, t: usize| {
            let (u0, u1) = (w.hidden * t / threads, w.hidden * (t + 1) / threads);
            Part::new(w, u0, u1 - u0)
        };
        let shared = Arc::new(Shared {
            isa: Isa::detect(),
            states: shapes
                .iter()
                .map(|s| [UnsafeCell::new(vec![0.0; s.state_len()]), UnsafeCell::new(vec![0.0; s.state_len()])])
                .collect(),
            shapes,
            input: UnsafeCell::new(Published::default()),
            epoch: AtomicUsize::new(0),
            barrier: Barrier::new(threads),
            parked: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        });
        let worker = (threads == 2).then(|| {
            let mut parts: Vec<Part> = layers.iter().map(|w| split(w, 1)).collect();
            let shared = Arc::clone(&shared);
            let driver_cpu = current_cpu();
            std::thread::spawn(move || {
                avoid_cpu(driver_cpu);
                work(&shared, &mut parts)
            })
        });
        StepStack { parts: layers.iter().map(|w| split(w, 0)).collect(), shared, worker, epoch: 0 }
    }

    /// Advances every layer by one step.
    ///
    /// # Panics
    /// When the input does not fit the first layer.
    pub fn feed(&mut self, x: StepInput) {
        let first = self.shared.shapes[0];
        // SAFETY: between steps only the driving thread touches the published input.
        let published = unsafe { &mut *self.shared.input.get() };
        match x {
            // Many ones: the packed dense product beats adding row after row.
            StepInput::Ones(ones) if ones.len() * 4 > first.input => {
                published.kind = Kind::Dense;
                published.values.clear();
                published.values.resize(first.input, 0.0);
                for &i in ones {
                    assert!(i < first.input, "input position {i} past the width {}", first.input);
                    published.values[i] = 1.0;
                }
            }
            StepInput::Ones(ones) => {
                assert!(ones.iter().all(|&i| i < first.input), "input position past the width {}", first.input);
                published.kind = Kind::Ones;
                published.ones.clear();
                published.ones.extend_from_slice(ones);
            }
            StepInput::Dense(x) => {
                assert_eq!(x.len(), first.input, "input width");
                published.kind = Kind::Dense;
                published.values.clear();
                published.values.extend_from_slice(x);
            }
            StepInput::Projected(x) => {
                assert_eq!(x.len(), first.cell.gates() * first.hidden, "projected input width");
                published.kind = Kind::Projected;
                published.values.clear();
                published.values.extend_from_slice(x);
            }
        }
        let epoch = self.epoch;
        self.shared.epoch.store(epoch + 1, Ordering::SeqCst);
        if let Some(worker) = &self.worker
            && self.shared.parked.load(Ordering::SeqCst)
        {
            worker.thread().unpark();
        }
        self.shared.run(&mut self.parts, epoch);
        self.epoch += 1;
    }

    /// The top layer's output after the last step: `[hidden]`.
    pub fn top(&self) -> &[f32] {
        let last = self.shared.shapes.len() - 1;
        // SAFETY: between steps the states are not written.
        let state = unsafe { &*self.shared.states[last][self.epoch % 2].get() };
        &state[..self.shared.shapes[last].hidden]
    }
}

impl Drop for StepStack {
    fn drop(&mut self) {
        if let Some(worker) = self.worker.take() {
            self.shared.stop.store(true, Ordering::SeqCst);
            worker.thread().unpark();
            let _ = worker.join();
        }
    }
}

/// The CPU the calling thread runs on, where the platform says.
fn current_cpu() -> Option<usize> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: sched_getcpu has no preconditions.
        let cpu = unsafe { libc::sched_getcpu() };
        return usize::try_from(cpu).ok();
    }
    #[allow(unreachable_code)]
    None
}

/// Keeps the calling thread off `cpu` when another CPU is allowed. A new thread starts on
/// its creator's CPU, and the scheduler may take tens of milliseconds to move it: until
/// then the two threads would take turns at every step's barrier.
fn avoid_cpu(cpu: Option<usize>) {
    #[cfg(target_os = "linux")]
    if let Some(cpu) = cpu.filter(|&c| c < libc::CPU_SETSIZE as usize) {
        // SAFETY: the set is a plain bit set, initialised by sched_getaffinity before it
        // is read, and only this thread's affinity (pid 0) changes.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
                return;
            }
            if libc::CPU_ISSET(cpu, &set) && libc::CPU_COUNT(&set) > 1 {
                libc::CPU_CLR(cpu, &mut set);
                libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cpu;
}

/// The second thread: waits for each step (spinning while they come quickly, asleep
/// when they stop) and runs its parts of it.
fn work(shared: &Shared, parts: &mut [Part]) {
    let mut seen = 0;
    loop {
        let started = || shared.epoch.load(Ordering::Acquire) != seen || shared.stop.load(Ordering::Acquire);
        spin_until(50_000, started, || {
            shared.parked.store(true, Ordering::SeqCst);
            if shared.epoch.load(Ordering::SeqCst) == seen && !shared.stop.load(Ordering::SeqCst) {
                std::thread::park();
            }
            shared.parked.store(false, Ordering::SeqCst);
        });
        if shared.epoch.load(Ordering::Acquire) == seen {
            return; // stopped
        }
        shared.run(parts, seen);
        seen += 1;
    }
}

vectorised! {
    fn panels_multiply_add(x: &[f32], values: &[f32], y: &mut [f32]) {
        let (k, n) = (x.len(), y.len());
        let (mut j0, mut offset) = (0, 0);
        while j0 < n {
            let width = panel_width(n - j0);
            let panel = &values[offset..][..k * width];
            let y = &mut y[j0..];
            match width {
                128 => panel_multiply_add::<128>(x, panel, y),
                64 => panel_multiply_add::<64>(x, panel, y),
                32 => panel_multiply_add::<32>(x, panel, y),
                _ => panel_multiply_add::<16>(x, panel, y),
            }
            j0 += width;
            offset += k * width;
        }
    }
}

/// One panel: `y[..W] += x · panel` (fewer than `W` outputs for a padded panel).
#[inline(always)]
fn panel_multiply_add<const W: usize>(x: &[f32], panel: &[f32], y: &mut [f32]) {
    let mut acc = [0.0f32; W];
    for (row, &a) in panel.chunks_exact(W).zip(x) {
        let row: &[f32; W] = row.try_into().expect("a panel row");
        for j in 0..W {
            acc[j] += a * row[j];
        }
    }
    for (y, acc) in y.iter_mut().zip(acc) {
        *y += acc;
    }
}

vectorised! {
    /// y += x
    pub fn add(x: &[f32], y: &mut [f32]) {
        for (y, x) in y.iter_mut().zip(x) {
            *y += x;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::cell::{self, Dims, Weights};

    /// `n` values in ±0.3 from a seeded LCG.
    pub(crate) fn random(n: usize, seed: &mut u64) -> Vec<f32> {
        (0..n)
            .map(|_| {
                *seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                ((*seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.6
            })
            .collect()
    }

    /// The packed product matches the plain one for widths that leave every kind of
    /// last panel.
    #[test]
    fn panel_products_match_the_plain_product() {
        let mut seed = 3;
        for (k, n) in [(1, 1), (5, 17), (9, 40), (7, 130), (33, 300), (4, 256)] {
            let (w, x) = (random(k * n, &mut seed), random(k, &mut seed));
            let mut y = random(n, &mut seed);
            let want: Vec<f32> = (0..n).map(|j| y[j] + (0..k).map(|r| x[r] * w[r * n + j]).sum::<f32>()).collect();
            PanelMatrix::new(&w, k, n).multiply_add(Isa::detect(), &x, &mut y);
            for (a, b) in y.iter().zip(&want) {
                assert!((a - b).abs() < 1e-5, "{k}×{n}: {a} vs {b}");
            }
        }
    }

    fn weights(cell: Cell, input: usize, hidden: usize, peephole: bool, seed: &mut u64) -> LayerWeights {
        let gh = cell.gates() * hidden;
        LayerWeights {
            cell,
            input,
            hidden,
            wx: random(input * gh, seed),
            bx: random(gh, seed),
            wh: random(hidden * gh, seed),
            bh: (cell == Cell::Gru).then(|| random(gh, seed)),
            peep: peephole.then(|| random(3 * hidden, seed)),
        }
    }

    fn view(w: &LayerWeights) -> Weights<'_> {
        Weights { wx: &w.wx, bx: &w.bx, wh: &w.wh, bh: w.bh.as_deref(), peep: w.peep.as_deref() }
    }

    /// Stepping a two-layer stack through a sequence gives what the sequence kernel
    /// gives, for every cell, with dense, binary (few and many ones) and projected input,
    /// on one thread and (at the larger size) on two.
    #[test]
    fn steps_agree_with_the_sequence_kernel() {
        let mut seed = 7;
        let (input, time) = (20, 9);
        for (cell, peephole) in [(Cell::Rnn, false), (Cell::Lstm, false), (Cell::Lstm, true), (Cell::Gru, false)] {
            for hidden in [24, 181] {
                let layers = [
                    weights(cell, input, hidden, peephole, &mut seed),
                    weights(cell, hidden, hidden, peephole, &mut seed),
                ];
                let dense = random(time * input, &mut seed);
                let few: Vec<f32> = (0..time * input).map(|i| f32::from(u8::from(i % 7 == 3))).collect();
                let many: Vec<f32> = (0..time * input).map(|i| f32::from(u8::from(i % 3 != 0))).collect();
                for (name, x) in [("dense", &dense), ("few ones", &few), ("many ones", &many), ("projected", &dense)] {
                    let d = |input| Dims { batch: 1, time, input, hidden };
                    let zeros = vec![0.0; hidden];
                    let low_h = cell::forward(cell, d(input), &view(&layers[0]), x, &zeros, &zeros, false).h;
                    let want = cell::forward(cell, d(hidden), &view(&layers[1]), &low_h, &zeros, &zeros, false).h;
                    let mut stack = StepStack::new(&layers);
                    let gh = cell.gates() * hidden;
                    for t in 0..time {
                        let row = &x[t * input..][..input];
                        let ones: Vec<usize> = (0..input).filter(|&i| row[i] == 1.0).collect();
                        let projected: Vec<f32> =
                            (0..gh).map(|c| (0..input).map(|r| row[r] * layers[0].wx[r * gh + c]).sum()).collect();
                        stack.feed(match name {
                            "dense" => StepInput::Dense(row),
                            "projected" => StepInput::Projected(&projected),
                            _ => StepInput::Ones(&ones),
                        });
                        for (a, b) in stack.top().iter().zip(&want[t * hidden..][..hidden]) {
                            assert!((a - b).abs() < 1e-4, "{cell:?} {hidden} {name}, step {t}: {a} vs {b}");
                        }
                    }
                }
            }
        }
    }
}
