//! Objective music metrics: MusPy's set (with MusPy 0.5's exact definitions) and MuseGAN's
//! qualified-note rate and tonal distance.
//!
//! Every metric works on ticks at the score's own resolution, as MusPy's do on a `Music`
//! read from MIDI (`resolution` = ticks per quarter). Rates that MusPy leaves undefined
//! (no notes, zero length) are `NaN` here too; JSON writes them as `null`.
//!
//! ```
//! use fugato_score::{Note, Score, Track, metrics};
//!
//! let mut score = Score::new(4);
//! let mut track = Track::new("chords");
//! for pitch in [60, 64, 67] {
//!     track.notes.push(Note::new(pitch, 80, 0, 8)?);
//! }
//! score.tracks.push(track);
//! let m = metrics::MusPy::of(&score);
//! assert_eq!(m.n_pitches_used, 3);
//! assert_eq!(m.polyphony, 3.0);
//! assert_eq!(m.scale_consistency, 1.0);
//! # Ok::<(), fugato_score::ScoreError>(())
//! ```
//!
//! Where fugato's MIDI reader and MusPy's see a file differently, the metrics differ too:
//! MusPy pairs repeated note-ons of one pitch first-in-first-out and keeps zero-length
//! notes, fugato pairs them as pretty_midi does and drops zero-length notes; MusPy's
//! length also counts every control change, fugato's only the four controls it keeps.

use serde::{Deserialize, Serialize};

use crate::{Score, TimeSignature};

/// The scale MusPy's `pitch_in_scale_rate` checks against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scale {
    /// Pitch class of the tonic, 0 = C.
    pub root: u8,
    pub minor: bool,
}

impl Scale {
    const MAJOR: [bool; 12] = [true, false, true, false, true, true, false, true, false, true, false, true];
    const MINOR: [bool; 12] = [true, false, true, true, false, true, false, true, true, false, true, false];

    /// Whether `pitch` belongs to the scale (MusPy's `_get_scale`: the C scale rolled by `root`).
    pub fn contains(self, pitch: u8) -> bool {
        let steps = if self.minor { Scale::MINOR } else { Scale::MAJOR };
        steps[usize::from((pitch % 12 + 12 - self.root % 12) % 12)]
    }
}

/// Whether drum hits are checked against a duple or a triple grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Meter {
    Duple,
    Triple,
}

/// The parameters MusPy's metrics take, chosen from the score unless given.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// Ticks per bar, for empty_measure_rate and groove_consistency.
    pub measure_resolution: u64,
    /// For pitch_in_scale_rate.
    pub scale: Scale,
    /// For drum_in_pattern_rate.
    pub meter: Meter,
}

impl Params {
    /// One bar of the first time signature (4/4 when none), the first key signature's scale
    /// (C major when none), and a triple drum grid for meters of 3, 6, 9 or 12 beats.
    pub fn of(score: &Score) -> Params {
        let ts = score.first_time_signature();
        let scale = match score.key_signatures.first() {
            Some(k) => Scale { root: k.tonic_pitch_class(), minor: k.minor },
            None => Scale { root: 0, minor: false },
        };
        let meter = if ts.numerator.is_multiple_of(3) { Meter::Triple } else { Meter::Duple };
        Params { measure_resolution: measure_ticks(ts, score.ticks_per_quarter()), scale, meter }
    }
}

/// Ticks in one bar of `ts`, rounded where the bar is not a whole number of ticks.
fn measure_ticks(ts: TimeSignature, ticks_per_quarter: u16) -> u64 {
    let tpq = u64::from(ticks_per_quarter);
    ts.bar_ticks(tpq)
        .unwrap_or_else(|| {
            let (n, d) = ts.bar_quarters();
            ((u64::from(n) * tpq) as f64 / f64::from(d)).round() as u64
        })
        .max(1)
}

/// MusPy's metrics of one score, under MusPy's names.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MusPy {
    pub n_pitches_used: u32,
    pub n_pitch_classes_used: u32,
    pub pitch_range: u32,
    pub empty_beat_rate: f64,
    pub empty_measure_rate: f64,
    pub polyphony: f64,
    pub polyphony_rate: f64,
    pub pitch_in_scale_rate: f64,
    pub scale_consistency: f64,
    pub drum_in_pattern_rate: f64,
    pub drum_pattern_consistency: f64,
    pub pitch_entropy: f64,
    pub pitch_class_entropy: f64,
    pub groove_consistency: f64,
}

impl MusPy {
    /// All of MusPy's metrics with the parameters [`Params::of`] picks.
    pub fn of(score: &Score) -> MusPy {
        MusPy::with(score, &Params::of(score))
    }

    pub fn with(score: &Score, params: &Params) -> MusPy {
        let resolution = u64::from(score.ticks_per_quarter());
        MusPy {
            n_pitches_used: n_pitches_used(score),
            n_pitch_classes_used: n_pitch_classes_used(score),
            pitch_range: pitch_range(score),
            empty_beat_rate: empty_span_rate(score, resolution),
            empty_measure_rate: empty_span_rate(score, params.measure_resolution),
            polyphony: polyphony(score),
            polyphony_rate: polyphony_rate(score, 2),
            pitch_in_scale_rate: pitch_in_scale_rate(score, params.scale),
            scale_consistency: scale_consistency(score),
            drum_in_pattern_rate: drum_in_pattern_rate(score, params.meter),
            drum_pattern_consistency: drum_pattern_consistency(score),
            pitch_entropy: pitch_entropy(score),
            pitch_class_entropy: pitch_class_entropy(score),
            groove_consistency: groove_consistency(score, params.measure_resolution),
        }
    }
}

/// Pitches of every non-drum note.
fn pitched(score: &Score) -> impl Iterator<Item = u8> + '_ {
    score.tracks.iter().filter(|t| !t.is_drum).flat_map(|t| t.notes.iter().map(|n| n.pitch.get()))
}

/// MusPy's song length: the latest note end or control change of any track.
pub fn length_ticks(score: &Score) -> u64 {
    let note_end = score.last_note_end_tick();
    let control = score.tracks.iter().flat_map(|t| t.controls.iter().map(|c| c.tick)).max().unwrap_or(0);
    note_end.max(control)
}

pub fn n_pitches_used(score: &Score) -> u32 {
    let mut used = [false; 128];
    pitched(score).for_each(|p| used[usize::from(p)] = true);
    used.iter().filter(|&&u| u).count() as u32
}

pub fn n_pitch_classes_used(score: &Score) -> u32 {
    let mut used = [false; 12];
    pitched(score).for_each(|p| used[usize::from(p % 12)] = true);
    used.iter().filter(|&&u| u).count() as u32
}

/// Highest minus lowest pitch; 0 without notes.
pub fn pitch_range(score: &Score) -> u32 {
    let (lo, hi) = pitched(score).fold((u8::MAX, 0), |(lo, hi), p| (lo.min(p), hi.max(p)));
    u32::from(hi.saturating_sub(lo))
}

/// Ratio of spans (beats or measures of `span_ticks`) that no note touches, drums included.
/// As MusPy counts, a note covers the spans of its start and of its end tick, inclusive.
fn empty_span_rate(score: &Score, span_ticks: u64) -> f64 {
    let length = length_ticks(score);
    if length < 1 || span_ticks == 0 {
        return f64::NAN;
    }
    let n_spans = (length / span_ticks + 1) as usize;
    let mut touched = vec![false; n_spans];
    for note in score.tracks.iter().flat_map(|t| &t.notes) {
        let first = (note.start_tick / span_ticks) as usize;
        let last = (note.end_tick / span_ticks) as usize;
        touched[first..=last.min(n_spans - 1)].iter_mut().for_each(|t| *t = true);
    }
    1.0 - touched.iter().filter(|&&t| t).count() as f64 / n_spans as f64
}

pub fn empty_beat_rate(score: &Score) -> f64 {
    empty_span_rate(score, u64::from(score.ticks_per_quarter()))
}

pub fn empty_measure_rate(score: &Score, measure_resolution: u64) -> f64 {
    empty_span_rate(score, measure_resolution)
}

/// The binary piano-roll's row sums as runs: `(ticks, pitches sounding)` over `0..length`.
/// Same-pitch notes that overlap count once, as in MusPy's boolean roll.
fn sounding_runs(score: &Score) -> Vec<(u64, u32)> {
    let length = length_ticks(score);
    let mut by_pitch: Vec<Vec<(u64, u64)>> = vec![Vec::new(); 128];
    for track in score.tracks.iter().filter(|t| !t.is_drum) {
        for n in &track.notes {
            by_pitch[usize::from(n.pitch.get())].push((n.start_tick, n.end_tick));
        }
    }
    // Union each pitch's intervals, then sweep the boundaries.
    let mut edges: Vec<(u64, i32)> = Vec::new();
    for spans in &mut by_pitch {
        spans.sort_unstable();
        let mut current: Option<(u64, u64)> = None;
        for &(s, e) in spans.iter() {
            match current {
                Some((cs, ce)) if s <= ce => current = Some((cs, ce.max(e))),
                _ => {
                    if let Some((cs, ce)) = current {
                        edges.extend([(cs, 1), (ce, -1)]);
                    }
                    current = Some((s, e));
                }
            }
        }
        if let Some((cs, ce)) = current {
            edges.extend([(cs, 1), (ce, -1)]);
        }
    }
    edges.sort_unstable();
    let mut runs = Vec::new();
    let (mut tick, mut count, mut i) = (0u64, 0i32, 0);
    while tick < length {
        while i < edges.len() && edges[i].0 <= tick {
            count += edges[i].1;
            i += 1;
        }
        let next = edges.get(i).map_or(length, |e| e.0.min(length));
        runs.push((next - tick, count.max(0) as u32));
        tick = next;
    }
    runs
}

/// Mean number of pitches sounding, over the ticks where at least one sounds.
pub fn polyphony(score: &Score) -> f64 {
    let runs = sounding_runs(score);
    let sounding: u64 = runs.iter().filter(|r| r.1 > 0).map(|r| r.0).sum();
    if sounding == 0 {
        return f64::NAN;
    }
    runs.iter().map(|&(ticks, n)| ticks as f64 * f64::from(n)).sum::<f64>() / sounding as f64
}

/// Ratio of ticks with more than `threshold` pitches sounding (MusPy's default: 2).
pub fn polyphony_rate(score: &Score, threshold: u32) -> f64 {
    let length = length_ticks(score);
    if length == 0 {
        return f64::NAN;
    }
    let many: u64 = sounding_runs(score).iter().filter(|r| r.1 > threshold).map(|r| r.0).sum();
    many as f64 / length as f64
}

pub fn pitch_in_scale_rate(score: &Score, scale: Scale) -> f64 {
    let (mut n, mut inside) = (0usize, 0usize);
    for p in pitched(score) {
        n += 1;
        inside += usize::from(scale.contains(p));
    }
    if n == 0 { f64::NAN } else { inside as f64 / n as f64 }
}

/// The best pitch-in-scale rate over the 24 major and minor scales.
pub fn scale_consistency(score: &Score) -> f64 {
    let mut best = f64::NAN;
    for minor in [false, true] {
        for root in 0..12 {
            let rate = pitch_in_scale_rate(score, Scale { root, minor });
            if rate.is_nan() {
                return f64::NAN;
            }
            best = if best.is_nan() { rate } else { best.max(rate) };
        }
    }
    best
}

/// MusPy's drum grid within one beat of `resolution` ticks.
fn drum_pattern(resolution: u64, meter: Meter) -> Vec<bool> {
    let res = resolution as usize;
    let mut grid = vec![false; res.max(1)];
    grid[0] = true;
    let mut mark = |parts: usize| {
        if res.is_multiple_of(parts) {
            grid.iter_mut().step_by(res / parts).for_each(|g| *g = true);
        }
    };
    match meter {
        Meter::Duple => {
            mark(4);
            mark(2);
        }
        Meter::Triple => mark(3),
    }
    grid
}

/// Ratio of drum notes whose onset falls on the meter's grid; NaN without drum notes.
pub fn drum_in_pattern_rate(score: &Score, meter: Meter) -> f64 {
    let resolution = u64::from(score.ticks_per_quarter()).max(1);
    let grid = drum_pattern(resolution, meter);
    let (mut n, mut inside) = (0usize, 0usize);
    for note in score.tracks.iter().filter(|t| t.is_drum).flat_map(|t| &t.notes) {
        n += 1;
        inside += usize::from(grid[(note.start_tick % resolution) as usize]);
    }
    if n == 0 { f64::NAN } else { inside as f64 / n as f64 }
}

pub fn drum_pattern_consistency(score: &Score) -> f64 {
    let duple = drum_in_pattern_rate(score, Meter::Duple);
    if duple.is_nan() {
        return f64::NAN;
    }
    duple.max(drum_in_pattern_rate(score, Meter::Triple))
}

/// Entropy in bits of a histogram of counts; NaN when empty.
pub fn entropy_bits(counts: &[f64]) -> f64 {
    let total: f64 = counts.iter().sum();
    if total < 1.0 {
        return f64::NAN;
    }
    -counts.iter().filter(|&&c| c > 0.0).map(|&c| (c / total) * (c / total).log2()).sum::<f64>()
}

pub fn pitch_entropy(score: &Score) -> f64 {
    let mut counts = [0.0; 128];
    pitched(score).for_each(|p| counts[usize::from(p)] += 1.0);
    entropy_bits(&counts)
}

pub fn pitch_class_entropy(score: &Score) -> f64 {
    let mut counts = [0.0; 12];
    pitched(score).for_each(|p| counts[usize::from(p % 12)] += 1.0);
    entropy_bits(&counts)
}

/// One minus the mean Hamming distance between neighbouring measures' onset patterns
/// (drums included); NaN for fewer than two measures.
pub fn groove_consistency(score: &Score, measure_resolution: u64) -> f64 {
    if measure_resolution == 0 {
        return f64::NAN;
    }
    let length = length_ticks(score);
    let n_measures = (length / measure_resolution + 1) as usize;
    if n_measures < 2 {
        return f64::NAN;
    }
    let mut onsets: Vec<Vec<u64>> = vec![Vec::new(); n_measures];
    for note in score.tracks.iter().flat_map(|t| &t.notes) {
        let measure = (note.start_tick / measure_resolution) as usize;
        if let Some(m) = onsets.get_mut(measure) {
            m.push(note.start_tick % measure_resolution);
        }
    }
    for m in &mut onsets {
        m.sort_unstable();
        m.dedup();
    }
    let hamming: usize = onsets.windows(2).map(|w| symmetric_difference(&w[0], &w[1])).sum();
    1.0 - hamming as f64 / (measure_resolution as f64 * (n_measures - 1) as f64)
}

/// Size of the symmetric difference of two sorted, deduplicated lists.
fn symmetric_difference(a: &[u64], b: &[u64]) -> usize {
    let (mut i, mut j, mut common) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    a.len() + b.len() - 2 * common
}

/// MuseGAN's qualified-note rate: the share of pitched notes at least a 32nd note long
/// (3 steps at MuseGAN's 24 per quarter, i.e. an eighth of a quarter); NaN without notes.
pub fn qualified_note_rate(score: &Score) -> f64 {
    let tpq = u64::from(score.ticks_per_quarter());
    let (mut n, mut qualified) = (0usize, 0usize);
    for note in score.tracks.iter().filter(|t| !t.is_drum).flat_map(|t| &t.notes) {
        n += 1;
        qualified += usize::from(note.duration_ticks() * 8 >= tpq);
    }
    if n == 0 { f64::NAN } else { qualified as f64 / n as f64 }
}

/// Harte, Sandler and Gasser's (2006) 6-D tonal centroid of a 12-bin chroma vector:
/// the circles of fifths, minor thirds and major thirds, with radii 1, 1 and 0.5.
pub fn tonal_centroid(chroma: &[f64; 12]) -> [f64; 6] {
    use std::f64::consts::PI;
    let total: f64 = chroma.iter().sum();
    let mut centroid = [0.0; 6];
    if total <= 0.0 {
        return centroid;
    }
    for (pc, &c) in chroma.iter().enumerate() {
        let l = pc as f64;
        let w = c / total;
        let angles = [(1.0, l * 7.0 * PI / 6.0), (1.0, l * 3.0 * PI / 2.0), (0.5, l * 2.0 * PI / 3.0)];
        for (k, (r, a)) in angles.into_iter().enumerate() {
            centroid[2 * k] += w * r * a.sin();
            centroid[2 * k + 1] += w * r * a.cos();
        }
    }
    centroid
}

/// Duration-weighted chroma of one track in each measure.
fn measure_chroma(track: &crate::Track, measure_resolution: u64, n_measures: usize) -> Vec<[f64; 12]> {
    let mut chroma = vec![[0.0; 12]; n_measures];
    for n in &track.notes {
        let mut tick = n.start_tick;
        while tick < n.end_tick {
            let m = (tick / measure_resolution) as usize;
            let until = ((m as u64 + 1) * measure_resolution).min(n.end_tick);
            if let Some(c) = chroma.get_mut(m) {
                c[usize::from(n.pitch.get() % 12)] += (until - tick) as f64;
            }
            tick = until;
        }
    }
    chroma
}

/// MuseGAN's tonal distance: the distance between two parts' tonal centroids, per measure
/// where both sound, averaged over measures and over every pair of pitched parts. NaN for
/// fewer than two pitched parts or no measure they share.
pub fn tonal_distance(score: &Score, measure_resolution: u64) -> f64 {
    let parts: Vec<&crate::Track> = score.tracks.iter().filter(|t| !t.is_drum && !t.notes.is_empty()).collect();
    if parts.len() < 2 || measure_resolution == 0 {
        return f64::NAN;
    }
    let n_measures = (length_ticks(score) / measure_resolution + 1) as usize;
    let chromas: Vec<Vec<[f64; 12]>> =
        parts.iter().map(|t| measure_chroma(t, measure_resolution, n_measures)).collect();
    let (mut sum, mut n) = (0.0, 0usize);
    for a in 0..chromas.len() {
        for b in a + 1..chromas.len() {
            for (ca, cb) in chromas[a].iter().zip(&chromas[b]) {
                if ca.iter().sum::<f64>() > 0.0 && cb.iter().sum::<f64>() > 0.0 {
                    let (ta, tb) = (tonal_centroid(ca), tonal_centroid(cb));
                    sum += ta.iter().zip(&tb).map(|(x, y)| (x - y).powi(2)).sum::<f64>().sqrt();
                    n += 1;
                }
            }
        }
    }
    if n == 0 { f64::NAN } else { sum / n as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Note, Track};

    /// A score at 4 ticks per quarter from (pitch, start, end) notes; `drums` go on channel 10.
    fn score(notes: &[(u8, u64, u64)], drums: &[(u8, u64, u64)]) -> Score {
        let mut s = Score::new(4);
        for (list, is_drum) in [(notes, false), (drums, true)] {
            if list.is_empty() {
                continue;
            }
            let mut t = Track::new(if is_drum { "drums" } else { "part" });
            t.is_drum = is_drum;
            t.notes = list.iter().map(|&(p, s, e)| Note::new(p, 80, s, e).unwrap()).collect();
            t.sort();
            s.tracks.push(t);
        }
        s.end_tick = s.last_note_end_tick();
        s
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12 || (a.is_nan() && b.is_nan())
    }

    #[test]
    fn counts_and_range_ignore_drums() {
        let s = score(&[(60, 0, 4), (72, 4, 8), (64, 8, 12)], &[(36, 0, 1), (100, 4, 5)]);
        let m = MusPy::of(&s);
        assert_eq!((m.n_pitches_used, m.n_pitch_classes_used, m.pitch_range), (3, 2, 12));
    }

    #[test]
    fn empty_beats_count_a_note_end_on_a_boundary() {
        // Length 16 ticks → 5 beats (16 // 4 + 1). The note 0..4 touches beats 0 and 1;
        // the note 12..16 touches beats 3 and 4; beat 2 stays empty.
        let s = score(&[(60, 0, 4), (62, 12, 16)], &[]);
        assert!(close(empty_beat_rate(&s), 1.0 - 4.0 / 5.0));
        // Measures of 16 ticks: 2 measures, both touched.
        assert!(close(empty_measure_rate(&s, 16), 0.0));
    }

    #[test]
    fn polyphony_counts_only_sounding_ticks() {
        // Ticks 0..4: 3 pitches; 4..8: nothing; 8..12: 1 pitch (two overlapping C4s count once).
        let s = score(&[(60, 0, 4), (64, 0, 4), (67, 0, 4), (60, 8, 12), (60, 9, 11)], &[]);
        assert!(close(polyphony(&s), (3.0 * 4.0 + 4.0) / 8.0));
        // More than two pitches at ticks 0..4 out of 12.
        assert!(close(polyphony_rate(&s, 2), 4.0 / 12.0));
    }

    #[test]
    fn scales_and_keys() {
        let c_major = [60, 62, 64, 65, 67, 69, 71];
        let s = score(&c_major.map(|p| (p, 0, 4)), &[]);
        assert!(close(pitch_in_scale_rate(&s, Scale { root: 0, minor: false }), 1.0));
        assert!(close(pitch_in_scale_rate(&s, Scale { root: 9, minor: true }), 1.0));
        assert!(close(pitch_in_scale_rate(&s, Scale { root: 2, minor: false }), 5.0 / 7.0));
        assert!(close(scale_consistency(&s), 1.0));
        assert!(scale_consistency(&score(&[], &[])).is_nan());
    }

    #[test]
    fn drum_grid_follows_muspy() {
        // Resolution 4: the duple grid is every tick of 0, 1, 2, 3 (res/4 = 1); triple: only 0.
        let s = score(&[], &[(36, 0, 1), (38, 1, 2), (42, 3, 4)]);
        assert!(close(drum_in_pattern_rate(&s, Meter::Duple), 1.0));
        assert!(close(drum_in_pattern_rate(&s, Meter::Triple), 1.0 / 3.0));
        assert!(close(drum_pattern_consistency(&s), 1.0));
        assert!(drum_pattern_consistency(&score(&[(60, 0, 1)], &[])).is_nan());
    }

    #[test]
    fn entropies_in_bits() {
        let s = score(&[(60, 0, 1), (62, 1, 2), (72, 2, 3), (74, 3, 4)], &[]);
        assert!(close(pitch_entropy(&s), 2.0));
        assert!(close(pitch_class_entropy(&s), 1.0));
    }

    #[test]
    fn groove_compares_neighbouring_measures() {
        // Measures of 16 ticks; onsets {0, 4} in measure 0, {0, 8} in measure 1 and {0} in
        // measure 2 (the note at 32 runs to 36): distances 2 and 1 over 2 × 16 positions.
        let s = score(&[(60, 0, 2), (60, 4, 6), (60, 16, 18), (60, 24, 26), (60, 32, 36)], &[]);
        assert!(close(groove_consistency(&s, 16), 1.0 - 3.0 / 32.0));
        assert!(groove_consistency(&score(&[(60, 0, 2)], &[]), 16).is_nan());
    }

    #[test]
    fn qualified_notes_are_at_least_a_32nd() {
        let mut s = score(&[(60, 0, 1), (62, 1, 8)], &[]);
        s.tempo_map = crate::TempoMap::new(8, Vec::new()).unwrap();
        // At 8 ticks per quarter a 32nd is 1 tick: both qualify.
        assert!(close(qualified_note_rate(&s), 1.0));
        s.tempo_map = crate::TempoMap::new(16, Vec::new()).unwrap();
        assert!(close(qualified_note_rate(&s), 0.5));
    }

    #[test]
    fn tonal_distance_is_zero_for_doubled_parts_and_grows_with_clashes() {
        let mut s = score(&[(60, 0, 16), (64, 0, 16), (67, 0, 16)], &[]);
        let mut doubled = s.tracks[0].clone();
        doubled.notes.iter_mut().for_each(|n| n.pitch = crate::Pitch::new(n.pitch.get() + 12).unwrap());
        s.tracks.push(doubled.clone());
        assert!(close(tonal_distance(&s, 16), 0.0));
        s.tracks[1].notes = vec![Note::new(61, 80, 0, 16).unwrap(), Note::new(66, 80, 0, 16).unwrap()];
        assert!(tonal_distance(&s, 16) > 0.5);
        assert!(tonal_distance(&score(&[(60, 0, 4)], &[]), 16).is_nan());
    }
}
