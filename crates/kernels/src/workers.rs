//! The threads that run the fused kernels' blocks beside the calling thread, kept from
//! one operation to the next.
//!
//! A training step runs a handful of parallel operations (each layer's forward and
//! backward pass, the head's). A thread spawned for each started late (on its creator's
//! CPU until the scheduler moved it), and the calling thread, done with its own block,
//! waited for it at the join. A kept worker is already running on its own CPU: it spins
//! a little after each block, so the next operation of the step finds it awake, and
//! sleeps when no work comes. (`timers` measures what waiting is left: `Phase::Wait`.)

use std::cell::UnsafeCell;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, TryLockError};
use std::thread::Thread;

use crate::timers::{self, Phase};

/// Runs `work(i, block)` on every block, the first on this thread and each other on a
/// worker, and returns the results in order. Where the workers are busy (another thread's
/// operation, or a block that itself calls this) or too few, the other blocks get threads
/// of their own for this call.
pub(crate) fn in_blocks<T: Send, R: Send>(
    blocks: impl Iterator<Item = T>,
    work: impl Fn(usize, T) -> R + Sync,
) -> Vec<R> {
    let blocks: Vec<T> = blocks.collect();
    if blocks.len() <= 1 {
        return blocks.into_iter().enumerate().map(|(i, block)| work(i, block)).collect();
    }
    let Some(team) = team().filter(|t| t.workers.len() + 1 >= blocks.len()) else {
        return spawned(blocks, work);
    };
    // A panic in an earlier operation's block poisons the lock, not the team.
    let _turn = match team.busy.try_lock() {
        Ok(turn) => turn,
        Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        Err(TryLockError::WouldBlock) => return spawned(blocks, work),
    };
    let n = blocks.len();
    let blocks: Vec<Mutex<Option<T>>> = blocks.into_iter().map(|b| Mutex::new(Some(b))).collect();
    let results: Vec<Mutex<Option<R>>> = (0..n).map(|_| Mutex::new(None)).collect();
    let job = |i: usize| {
        let block = blocks[i].lock().expect("a block").take().expect("each block runs once");
        let result = work(i, block);
        *results[i].lock().expect("a result") = Some(result);
    };
    team.run(n, &job);
    results.into_iter().map(|r| r.into_inner().expect("a result").expect("every block ran")).collect()
}

/// The fallback: a scoped thread for each block but the first.
fn spawned<T: Send, R: Send>(blocks: Vec<T>, work: impl Fn(usize, T) -> R + Sync) -> Vec<R> {
    std::thread::scope(|s| {
        let mut blocks = blocks.into_iter().enumerate();
        let first = blocks.next();
        let work = &work;
        let others: Vec<_> = blocks.map(|(i, block)| s.spawn(move || work(i, block))).collect();
        let mut results: Vec<R> = first.into_iter().map(|(i, block)| work(i, block)).collect();
        let _wait = timers::span(Phase::Wait, 0);
        results.extend(others.into_iter().map(|t| t.join().expect("a fused kernel's thread")));
        results
    })
}

/// The kept workers: `threads() − 1` of them, started at the first parallel operation.
fn team() -> Option<&'static Team> {
    static TEAM: OnceLock<Option<Team>> = OnceLock::new();
    TEAM.get_or_init(|| Team::start(crate::threads().saturating_sub(1))).as_ref()
}

/// A job as the workers see it: block `i` of the current operation. Its lifetime is
/// erased; [`Team::run`] does not return before every worker is done with it.
type Job = *const (dyn Fn(usize) + Sync);

struct Team {
    /// Held by the operation that has the workers.
    busy: Mutex<()>,
    workers: Vec<Thread>,
    shared: Arc<Shared>,
}

struct Shared {
    /// Written by the operation that holds `busy`, before it advances `epoch`.
    job: UnsafeCell<Option<Job>>,
    /// Operations started.
    epoch: AtomicUsize,
    /// Workers taking part in the current operation (the first `wanted`).
    wanted: AtomicUsize,
    /// Workers of the current operation not yet done.
    pending: AtomicUsize,
    /// Whether a worker's block panicked in the current operation.
    panicked: AtomicBool,
}

// SAFETY: `job` is written only by the thread holding `Team::busy` while no worker reads
// it (all are done with the previous operation: `pending` is zero), and read by workers
// only after the `epoch` store that follows the write.
unsafe impl Sync for Shared {}
// SAFETY: the raw job pointer is the only field that is not `Send`; it is used as `Sync`
// above says.
unsafe impl Send for Shared {}

/// Waits until `done()`: spinning for the first `spins` checks, then calling `rest()` (a
/// yield of the time slice, or a sleep until woken) between the checks. Every spin-then-
/// wait of the fused kernels' threads is this: the barriers of a layer's steps, the kept
/// workers, the sampler's second thread.
#[inline(always)]
pub(crate) fn spin_until(spins: u32, done: impl Fn() -> bool, rest: impl Fn()) {
    let mut spun = 0u32;
    while !done() {
        if spun < spins {
            spun += 1;
            std::hint::spin_loop();
        } else {
            rest();
        }
    }
}

/// Spins before a waiting thread sleeps: long enough for the gaps between one training
/// step's operations, short enough not to hold a core when the work stops.
const SPINS: u32 = 100_000;

impl Team {
    fn start(count: usize) -> Option<Team> {
        if count == 0 {
            return None;
        }
        let shared = Arc::new(Shared {
            job: UnsafeCell::new(None),
            epoch: AtomicUsize::new(0),
            wanted: AtomicUsize::new(0),
            pending: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
        });
        let mut workers = Vec::with_capacity(count);
        for k in 0..count {
            let shared = Arc::clone(&shared);
            let spawned =
                std::thread::Builder::new().name(format!("fugato-fused-{}", k + 1)).spawn(move || serve(&shared, k));
            match spawned {
                Ok(handle) => workers.push(handle.thread().clone()),
                Err(_) => break,
            }
        }
        (!workers.is_empty()).then_some(Team { busy: Mutex::new(()), workers, shared })
    }

    /// Runs `job(0)` here and `job(1) .. job(n − 1)` on the first `n − 1` workers; returns
    /// when all are done, panicking if any did.
    fn run(&self, n: usize, job: &(dyn Fn(usize) + Sync)) {
        let s = &self.shared;
        // SAFETY: see `Shared`: the caller holds `busy` and every worker is done with the
        // previous job. The lifetime is erased for the workers, who are done with it
        // before this function returns (the wait on `pending` below).
        unsafe {
            let job: Job = std::mem::transmute::<&(dyn Fn(usize) + Sync), &'static (dyn Fn(usize) + Sync)>(job);
            *s.job.get() = Some(job);
        }
        s.panicked.store(false, Ordering::Relaxed);
        s.wanted.store(n - 1, Ordering::Relaxed);
        s.pending.store(n - 1, Ordering::Relaxed);
        s.epoch.fetch_add(1, Ordering::SeqCst);
        for worker in &self.workers[..n - 1] {
            worker.unpark();
        }
        let mine = catch_unwind(AssertUnwindSafe(|| job(0)));
        let _wait = timers::span(Phase::Wait, 0);
        spin_until(SPINS, || s.pending.load(Ordering::Acquire) == 0, std::thread::yield_now);
        if let Err(panic) = mine {
            resume_unwind(panic);
        }
        assert!(!s.panicked.load(Ordering::Relaxed), "a fused kernel's thread panicked");
    }
}

/// Worker `k`: waits for each operation (spinning a while, then asleep) and runs its block
/// `k + 1` where it takes part.
fn serve(s: &Shared, k: usize) {
    let mut seen = 0;
    loop {
        // An unpark between a check and the park makes the park return at once.
        spin_until(SPINS, || s.epoch.load(Ordering::Acquire) != seen, std::thread::park);
        seen = s.epoch.load(Ordering::Acquire);
        if k < s.wanted.load(Ordering::Relaxed) {
            // SAFETY: published before `epoch` (acquired above) and kept until `pending`
            // reaches zero, which needs this worker's decrement below.
            let job = unsafe { (*s.job.get()).expect("a job with its epoch") };
            // SAFETY: as above: the job outlives this call.
            if catch_unwind(AssertUnwindSafe(|| unsafe { (*job)(k + 1) })).is_err() {
                s.panicked.store(true, Ordering::Relaxed);
            }
            s.pending.fetch_sub(1, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Results come back in order, from operations run one after another, at once from
    /// several threads (some then fall back to spawned threads), and nested.
    #[test]
    fn blocks_run_once_each_in_order() {
        for n in [1, 2, 3, 9] {
            let out = in_blocks(0..n, |i, b| (i, b * 10));
            assert_eq!(out, (0..n).map(|i| (i, i * 10)).collect::<Vec<_>>());
        }
        std::thread::scope(|s| {
            for t in 0..4 {
                s.spawn(move || {
                    for _ in 0..200 {
                        let out = in_blocks(0..2usize, |i, b| in_blocks(0..2usize, |j, c| i * 10 + j + b + c + t));
                        assert_eq!(out, vec![vec![t, 2 + t], vec![11 + t, 13 + t]]);
                    }
                });
            }
        });
    }

    /// A block that panics makes the operation panic, and the workers serve the next one.
    #[test]
    fn a_panicking_block_panics_the_caller() {
        for failing in [0, 1] {
            let failed = catch_unwind(|| in_blocks(0..2usize, |i, _| assert!(i != failing, "block {i} fails")));
            assert!(failed.is_err());
            assert_eq!(in_blocks(0..2usize, |i, b| i + b), vec![0, 2]);
        }
        // The team still serves (other tests may hold it a while: then threads of their own).
        if team().is_some() {
            let on_worker = |_: usize| {
                in_blocks(0..2usize, |_, _| {
                    std::thread::current().name().is_some_and(|n| n.starts_with("fugato-fused"))
                })[1]
            };
            let start = std::time::Instant::now();
            let served = std::iter::repeat_with(|| {
                std::thread::sleep(std::time::Duration::from_millis(1));
                on_worker(0)
            })
            .take_while(|_| start.elapsed().as_secs() < 20)
            .any(|on| on);
            assert!(served, "block 1 never ran on a kept worker in 20 s");
        }
    }
}
