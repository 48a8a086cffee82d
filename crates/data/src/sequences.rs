//! A dataset split in memory and what training and evaluation draw from it: windows of
//! sequences (training), whole sequences (evaluation), and a batch of either as plain
//! arrays (`fugato_nn::batch` makes tensors of them).
//!
//! A batch holds `[batch, time]` inputs (padded) and, for each real step but the last of
//! each sequence, the step it must predict: position `t` of a row predicts item `t + 1`.

use fugato_repr::ReprKind;
use fugato_repr::pianoroll::{Frame, N_KEYS};
use rand::Rng;
use rand::seq::SliceRandom;

use crate::{PolyphonicSet, Sequences, Shards, Split, transpose};

/// A dataset split in memory.
#[derive(Clone, Debug)]
pub enum SequenceSet {
    Frames(Sequences<Frame>),
    /// Token sequences of a representation, with each one's style where the data has styles.
    Tokens {
        seqs: Sequences<u16>,
        styles: Option<Vec<u16>>,
        repr: ReprKind,
    },
}

impl SequenceSet {
    pub fn len(&self) -> usize {
        match self {
            SequenceSet::Frames(s) => s.len(),
            SequenceSet::Tokens { seqs, .. } => seqs.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn seq_len(&self, i: usize) -> usize {
        match self {
            SequenceSet::Frames(s) => s.get(i).len(),
            SequenceSet::Tokens { seqs, .. } => seqs.get(i).len(),
        }
    }

    /// Appends `other`'s sequences (a split of the same data: the same kind, styles on
    /// both or neither).
    ///
    /// # Panics
    /// When the two sets are of different kinds.
    pub fn append(&mut self, other: &SequenceSet) {
        match (self, other) {
            (SequenceSet::Frames(a), SequenceSet::Frames(b)) => (0..b.len()).for_each(|i| a.push(b.get(i))),
            (SequenceSet::Tokens { seqs: a, styles: sa, .. }, SequenceSet::Tokens { seqs: b, styles: sb, .. }) => {
                (0..b.len()).for_each(|i| a.push(b.get(i)));
                match (sa, sb) {
                    (Some(sa), Some(sb)) => sa.extend_from_slice(sb),
                    (None, None) => {}
                    _ => panic!("appending sequences with styles to sequences without"),
                }
            }
            _ => panic!("appending frames to tokens or tokens to frames"),
        }
    }

    /// A split of a piano-roll benchmark file.
    pub fn from_polyphonic(set: &PolyphonicSet, split: Split) -> Option<SequenceSet> {
        let mut seqs = Sequences::default();
        for s in set.split(split)? {
            seqs.push(s);
        }
        Some(SequenceSet::Frames(seqs))
    }

    /// A split of a shards folder, if it has that split.
    pub fn from_shards(shards: &Shards, split: Split) -> Result<Option<SequenceSet>, crate::DataError> {
        if !shards.meta.splits.contains_key(&split) {
            return Ok(None);
        }
        Ok(Some(match shards.meta.repr {
            ReprKind::PianoRoll => SequenceSet::Frames(shards.frames(split)?),
            repr => SequenceSet::Tokens { seqs: shards.tokens(split)?, styles: shards.styles(split)?, repr },
        }))
    }

    /// How often each unit is on (frames) or each token occurs (tokens), with add-0.5
    /// smoothing: `outputs` values.
    pub fn prior(&self, outputs: usize) -> Vec<f64> {
        match self {
            SequenceSet::Frames(s) => {
                let mut on = vec![0.5f64; outputs];
                for f in &s.data {
                    for (k, c) in on.iter_mut().enumerate().take(N_KEYS) {
                        *c += (f >> k & 1) as f64;
                    }
                }
                let n = s.data.len() as f64 + 1.0;
                on.iter().map(|c| c / n).collect()
            }
            SequenceSet::Tokens { seqs: s, .. } => {
                let mut count = vec![0.5f64; outputs];
                for &t in &s.data {
                    if let Some(c) = count.get_mut(usize::from(t)) {
                        *c += 1.0;
                    }
                }
                let total: f64 = count.iter().sum();
                count.iter().map(|c| c / total).collect()
            }
        }
    }

    /// Items that evaluation scores: every item but the first of each sequence.
    pub fn scored_items(&self) -> usize {
        (0..self.len()).map(|i| self.seq_len(i).saturating_sub(1)).sum()
    }

    /// Window `w`'s items moved by `shift` semitones, or `None` where a note would leave
    /// the keyboard (or the token representation's range).
    fn moved(&self, w: &Window, shift: i32) -> Option<Moved> {
        match self {
            SequenceSet::Frames(s) => {
                transpose::frames(&s.get(w.sequence)[w.start..w.start + w.len], shift).map(Moved::Frames)
            }
            SequenceSet::Tokens { seqs, repr, .. } => {
                let from = w.start.saturating_sub(fugato_repr::TRANSPOSE_CONTEXT);
                let tokens = &seqs.get(w.sequence)[from..w.start + w.len];
                transpose::tokens(*repr, tokens, w.start - from, shift).map(Moved::Tokens)
            }
        }
    }
}

/// A window's items, moved.
enum Moved {
    Frames(Vec<Frame>),
    Tokens(Vec<u16>),
}

/// A piece of one sequence: `sequence[start..start + len]`, transposed by `shift` semitones.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub sequence: usize,
    pub start: usize,
    pub len: usize,
    pub shift: i32,
}

/// One epoch's training windows: each sequence cut into pieces of `seq_len + 1` items
/// (neighbours share one item, so every transition is trained once) from a random
/// offset, each transposed by a random shift in ±`transpose` where that keeps its notes
/// on the keyboard (or in the token representation's range), in random order.
pub fn epoch_windows(set: &SequenceSet, seq_len: usize, transpose: u32, rng: &mut impl Rng) -> Vec<Window> {
    let mut windows = Vec::new();
    for sequence in 0..set.len() {
        let n = set.seq_len(sequence);
        if n < 2 {
            continue;
        }
        let mut start = if n > seq_len + 1 { rng.random_range(0..seq_len) } else { 0 };
        if start > 0 {
            // The items before the offset still train, as a short first window.
            windows.push(Window { sequence, start: 0, len: start + 1, shift: 0 });
        }
        while start + 1 < n {
            let len = (seq_len + 1).min(n - start);
            windows.push(Window { sequence, start, len, shift: 0 });
            start += len - 1;
        }
    }
    transpose::each(&mut windows, transpose, rng, |w, shift| set.moved(w, shift).map(|_| Window { shift, ..*w }));
    windows.shuffle(rng);
    windows
}

/// Whole sequences, longest first, for evaluation.
pub fn whole_sequences(set: &SequenceSet) -> Vec<Window> {
    let mut w: Vec<Window> = (0..set.len())
        .map(|i| Window { sequence: i, start: 0, len: set.seq_len(i), shift: 0 })
        .filter(|w| w.len >= 2)
        .collect();
    w.sort_by_key(|w| std::cmp::Reverse(w.len));
    w
}

/// A batch of windows as arrays: each row feeds items `0..len-1` of its window and
/// predicts `1..len`.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchArrays {
    pub rows: usize,
    /// Steps per row (the longest window's, less one).
    pub time: usize,
    /// Row-major positions (`row · time + t`) of the scored steps.
    pub positions: Vec<i64>,
    pub items: BatchItems,
}

/// A batch's inputs and targets.
#[derive(Clone, Debug, PartialEq)]
pub enum BatchItems {
    /// `input [rows, time, 88]` (zero-padded), `target [scored, 88]`.
    Frames { input: Vec<f32>, target: Vec<f32> },
    /// `input [rows, time]` (zero-padded), `target [scored]`, each row's style where the
    /// data has styles.
    Tokens { input: Vec<i64>, target: Vec<i64>, styles: Option<Vec<i64>> },
}

/// Builds the batch of `windows` of `set`.
pub fn batch_arrays(set: &SequenceSet, windows: &[Window]) -> BatchArrays {
    let time = windows.iter().map(|w| w.len - 1).max().unwrap_or(1).max(1);
    let rows = windows.len();
    let mut positions = Vec::new();
    for (row, w) in windows.iter().enumerate() {
        positions.extend((0..w.len - 1).map(|t| (row * time + t) as i64));
    }
    let n_scored = positions.len();
    let moved = |w: &Window| if w.shift == 0 { None } else { set.moved(w, w.shift) };
    let items = match set {
        SequenceSet::Frames(s) => {
            let mut input = vec![0f32; rows * time * N_KEYS];
            let mut target = Vec::with_capacity(n_scored * N_KEYS);
            for (row, w) in windows.iter().enumerate() {
                let frames = match moved(w) {
                    Some(Moved::Frames(f)) => f,
                    _ => s.get(w.sequence)[w.start..w.start + w.len].to_vec(),
                };
                for (t, &f) in frames[..w.len - 1].iter().enumerate() {
                    write_units(f, &mut input[(row * time + t) * N_KEYS..][..N_KEYS]);
                }
                for &f in &frames[1..] {
                    let start = target.len();
                    target.resize(start + N_KEYS, 0.0);
                    write_units(f, &mut target[start..]);
                }
            }
            BatchItems::Frames { input, target }
        }
        SequenceSet::Tokens { seqs: s, styles, .. } => {
            let mut input = vec![0i64; rows * time];
            let mut target = Vec::with_capacity(n_scored);
            for (row, w) in windows.iter().enumerate() {
                let sequence = &s.get(w.sequence)[w.start..w.start + w.len];
                // Moved windows are copied; the others are read in place.
                let moved = match moved(w) {
                    Some(Moved::Tokens(t)) => Some(t),
                    _ => None,
                };
                let token = |i: usize| moved.as_ref().map_or(i64::from(sequence[i]), |m| i64::from(m[i]));
                for t in 0..w.len - 1 {
                    input[row * time + t] = token(t);
                }
                target.extend((1..w.len).map(token));
            }
            let styles = styles.as_ref().map(|styles| windows.iter().map(|w| i64::from(styles[w.sequence])).collect());
            BatchItems::Tokens { input, target, styles }
        }
    };
    BatchArrays { rows, time, positions, items }
}

fn write_units(frame: Frame, out: &mut [f32]) {
    for (k, v) in out.iter_mut().enumerate() {
        *v = (frame >> k & 1) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn windows_cover_every_transition_once() {
        let mut seqs = Sequences::default();
        seqs.push(&(0..100u16).collect::<Vec<_>>());
        seqs.push(&[1, 2, 3]);
        let set = SequenceSet::Tokens { seqs, styles: None, repr: ReprKind::Melody };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let windows = epoch_windows(&set, 16, 0, &mut rng);
        let transitions: usize = windows.iter().map(|w| w.len - 1).sum();
        assert_eq!(transitions, set.scored_items());
        assert!(windows.iter().all(|w| w.len <= 17 && w.len >= 2));
    }

    #[test]
    fn token_windows_are_transposed_note_by_note() {
        use fugato_repr::melody::{HOLD, REST, pitch_token};
        let tune: Vec<u16> = [60, 62, 64, 65, 67, 69, 71, 72]
            .iter()
            .flat_map(|&p| [pitch_token(p).unwrap() as u16, HOLD as u16])
            .chain([REST as u16])
            .collect();
        let mut seqs = Sequences::default();
        seqs.push(&tune);
        let set = SequenceSet::Tokens { seqs, styles: None, repr: ReprKind::Melody };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let windows = epoch_windows(&set, 4, 5, &mut rng);
        assert!(windows.iter().any(|w| w.shift != 0), "some window moves");
        let batch = batch_arrays(&set, &windows);
        let BatchItems::Tokens { input: ids, .. } = batch.items else { panic!("token inputs") };
        for (row, w) in windows.iter().enumerate() {
            for t in 0..w.len - 1 {
                let was = u32::from(tune[w.start + t]);
                let want = match fugato_repr::melody::token_pitch(was) {
                    Some(p) => pitch_token((i32::from(p) + w.shift) as u8).unwrap(),
                    None => was,
                };
                assert_eq!(ids[row * batch.time + t], i64::from(want), "window {w:?} step {t}");
            }
        }
    }
}
