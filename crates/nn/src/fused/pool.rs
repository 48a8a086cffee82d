//! Buffers that the fused kernels overwrite whole before reading them (activations, gate
//! gradients, packed operands), kept from one training step to the next. Every step needs
//! the same few buffers of megabytes; allocating them zeroed cost a memset each (about
//! 4 % of a step in `perf`), which a kept buffer skips.

use std::sync::{Mutex, MutexGuard};

/// Buffers kept at most.
const KEPT: usize = 24;

static FREE: Mutex<Vec<Vec<f32>>> = Mutex::new(Vec::new());

fn free() -> MutexGuard<'static, Vec<Vec<f32>>> {
    // A panic elsewhere cannot leave the list half-changed: every change is one push,
    // swap or remove.
    FREE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `n` floats for a caller that writes every one before it reads any: the smallest kept
/// buffer that is large enough, with its old values left in place, else a new one.
pub fn take(n: usize) -> Vec<f32> {
    if n == 0 {
        return Vec::new();
    }
    let mut free = free();
    let best = free.iter().enumerate().filter(|(_, b)| b.capacity() >= n).min_by_key(|(_, b)| b.capacity());
    match best.map(|(i, _)| i) {
        Some(i) => {
            let mut buffer = free.swap_remove(i);
            drop(free);
            buffer.resize(n, 0.0); // within its capacity: no allocation, zeroes only a tail
            buffer
        }
        None => vec![0.0; n],
    }
}

/// Keeps `buffer` for a later [`take`]; when enough are kept, it replaces the smallest
/// if it is larger, else it is freed.
pub fn give(buffer: Vec<f32>) {
    if buffer.capacity() == 0 {
        return;
    }
    let mut free = free();
    if free.len() < KEPT {
        free.push(buffer);
    } else if let Some((i, _)) = free.iter().enumerate().min_by_key(|(_, b)| b.capacity())
        && free[i].capacity() < buffer.capacity()
    {
        free[i] = buffer;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_buffer_is_taken_again_without_a_new_allocation() {
        let buffer = vec![7.0f32; 1 << 20];
        let address = buffer.as_ptr();
        give(buffer);
        // Another test may take it first; then this one allocates afresh, also correct.
        let again = take((1 << 20) - 5);
        assert_eq!(again.len(), (1 << 20) - 5);
        if again.as_ptr() == address {
            assert!(again.iter().all(|v| *v == 7.0), "a kept buffer keeps its values");
        }
        let longer = {
            give(again);
            take(1 << 20)
        };
        assert_eq!(longer.len(), 1 << 20);
        give(longer);
        assert!(take(0).is_empty());
    }
}
