//! Buffers that the fused kernels overwrite whole before reading them (activations, gate
//! gradients, packed operands), kept from one training step to the next. Every step needs
//! the same few buffers of megabytes; allocating them zeroed cost a memset each (about
//! 4 % of a step in `perf`), which a kept buffer skips.

use std::sync::{Mutex, MutexGuard};

/// Buffers kept at most.
const KEPT: usize = 24;

static FREE: Mutex<Pool> = Mutex::new(Pool { kept: Vec::new(), limit: KEPT });

/// Kept buffers, at most `limit`.
struct Pool {
    kept: Vec<Vec<f32>>,
    limit: usize,
}

impl Pool {
    fn take(&mut self, n: usize) -> Vec<f32> {
        if n == 0 {
            return Vec::new();
        }
        let best = self.kept.iter().enumerate().filter(|(_, b)| b.capacity() >= n).min_by_key(|(_, b)| b.capacity());
        match best.map(|(i, _)| i) {
            Some(i) => {
                let mut buffer = self.kept.swap_remove(i);
                buffer.resize(n, 0.0); // within its capacity: no allocation, zeroes only a tail
                buffer
            }
            None => vec![0.0; n],
        }
    }

    fn give(&mut self, buffer: Vec<f32>) {
        if buffer.capacity() == 0 {
            return;
        }
        if self.kept.len() < self.limit {
            self.kept.push(buffer);
        } else if let Some((i, _)) = self.kept.iter().enumerate().min_by_key(|(_, b)| b.capacity())
            && self.kept[i].capacity() < buffer.capacity()
        {
            self.kept[i] = buffer;
        }
    }
}

fn pool() -> MutexGuard<'static, Pool> {
    // A panic elsewhere cannot leave the list half-changed: every change is one push,
    // swap or remove.
    FREE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `n` floats for a caller that writes every one before it reads any: the smallest kept
/// buffer that is large enough, with its old values left in place, else a new one.
pub fn take(n: usize) -> Vec<f32> {
    pool().take(n)
}

/// Keeps `buffer` for a later [`take`]; when enough are kept, it replaces the smallest
/// if it is larger, else it is freed.
pub fn give(buffer: Vec<f32>) {
    pool().give(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_buffers_are_taken_again_smallest_first_with_their_values() {
        let mut pool = Pool { kept: Vec::new(), limit: 2 };
        let (small, large) = (vec![1.0f32; 100], vec![2.0f32; 1000]);
        let (small_at, large_at) = (small.as_ptr(), large.as_ptr());
        pool.give(large);
        pool.give(small);
        // The smallest that fits, shortened, its values kept.
        let a = pool.take(80);
        assert_eq!((a.as_ptr(), a.len()), (small_at, 80));
        assert!(a.iter().all(|v| *v == 1.0));
        // Longer than its length: the same memory, the new tail zero.
        pool.give(a);
        let b = pool.take(100);
        assert_eq!(b.as_ptr(), small_at);
        assert!(b[..80].iter().all(|v| *v == 1.0) && b[80..].iter().all(|v| *v == 0.0));
        // Too large for any: a new buffer of zeros; the large one stays kept.
        let c = pool.take(5000);
        assert!(c.len() == 5000 && c.iter().all(|v| *v == 0.0));
        let d = pool.take(500);
        assert_eq!(d.as_ptr(), large_at);
        // Full: a larger buffer replaces the smallest kept, a smaller one is dropped.
        pool.give(b);
        pool.give(vec![3.0; 10]);
        pool.give(c);
        pool.give(vec![4.0; 50]);
        let mut capacities: Vec<usize> = pool.kept.iter().map(Vec::capacity).collect();
        capacities.sort();
        assert_eq!(capacities, [100, 5000]);
        assert!(pool.take(0).is_empty());
    }
}
