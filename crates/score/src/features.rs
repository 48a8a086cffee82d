//! Yang and Lerch's (2020) features of a piece and their set-against-set comparison:
//! intra-set and inter-set distance distributions, compared by KL divergence and
//! overlapping area, as their `mgeval` toolbox does.
//!
//! ```
//! use fugato_score::features::{Features, compare};
//! use fugato_score::{Note, Score, Track};
//!
//! let piece = |pitches: &[u8]| {
//!     let mut s = Score::new(4);
//!     let mut t = Track::new("melody");
//!     for (i, &p) in pitches.iter().enumerate() {
//!         t.notes.push(Note::new(p, 80, 4 * i as u64, 4 * i as u64 + 4).unwrap());
//!     }
//!     s.tracks.push(t);
//!     Features::of(&s)
//! };
//! let steps = vec![piece(&[60, 62, 64]), piece(&[60, 62, 65]), piece(&[62, 64, 65])];
//! let leaps = vec![piece(&[48, 72, 50]), piece(&[50, 74, 49]), piece(&[47, 71, 46])];
//! let interval = |cmp: Vec<_>| -> f64 {
//!     let c: Vec<fugato_score::features::Comparison> = cmp;
//!     c.iter().find(|c| c.feature == "avg_pitch_interval").unwrap().inter.mean
//! };
//! assert!(interval(compare(&steps, &leaps)) > interval(compare(&steps, &steps)));
//! ```

use serde::{Deserialize, Serialize};

use crate::Score;

/// Note-length classes, in quarter notes: whole, half, quarter, 8th, 16th; dotted half,
/// quarter, 8th, 16th; half, quarter and 8th triplets (mgeval's twelve).
pub const NOTE_LENGTH_CLASSES: [f64; 12] =
    [4.0, 2.0, 1.0, 0.5, 0.25, 3.0, 1.5, 0.75, 0.375, 4.0 / 3.0, 2.0 / 3.0, 1.0 / 3.0];

/// The features of one piece (pitched notes only).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Features {
    pub pitch_count: f64,
    /// Share of notes per pitch class, C first.
    pub pitch_class_histogram: [f64; 12],
    /// Share of transitions between consecutive notes' pitch classes, row = from.
    pub pitch_class_transition_matrix: [[f64; 12]; 12],
    /// Mean absolute interval between consecutive notes, in semitones.
    pub avg_pitch_interval: f64,
    /// Mean time between consecutive distinct onsets, in seconds.
    pub avg_ioi_s: f64,
    /// Share of notes per [`NOTE_LENGTH_CLASSES`] class (nearest class).
    pub note_length_histogram: [f64; 12],
}

impl Features {
    pub fn of(score: &Score) -> Features {
        let mut notes: Vec<crate::Note> =
            score.tracks.iter().filter(|t| !t.is_drum).flat_map(|t| t.notes.iter().copied()).collect();
        notes.sort_by_key(|n| (n.start_tick, n.pitch, n.end_tick));
        let n = notes.len() as f64;
        let normalise = |v: &mut [f64], total: f64| {
            if total > 0.0 {
                v.iter_mut().for_each(|x| *x /= total);
            }
        };

        let mut pch = [0.0; 12];
        notes.iter().for_each(|x| pch[usize::from(x.pitch.get() % 12)] += 1.0);
        normalise(&mut pch, n);

        let mut pctm = [[0.0; 12]; 12];
        for w in notes.windows(2) {
            pctm[usize::from(w[0].pitch.get() % 12)][usize::from(w[1].pitch.get() % 12)] += 1.0;
        }
        let transitions = notes.len().saturating_sub(1) as f64;
        pctm.iter_mut().for_each(|row| normalise(row, transitions));

        let avg_pitch_interval =
            mean(notes.windows(2).map(|w| (f64::from(w[1].pitch.get()) - f64::from(w[0].pitch.get())).abs()));

        let mut onsets: Vec<u64> = notes.iter().map(|x| x.start_tick).collect();
        onsets.dedup();
        let avg_ioi_s = mean(onsets.windows(2).map(|w| score.seconds(w[1]) - score.seconds(w[0])));

        let tpq = f64::from(score.ticks_per_quarter());
        let mut nlh = [0.0; 12];
        for x in &notes {
            let quarters = x.duration_ticks() as f64 / tpq;
            let nearest = (0..12)
                .min_by(|&a, &b| {
                    (NOTE_LENGTH_CLASSES[a] - quarters).abs().total_cmp(&(NOTE_LENGTH_CLASSES[b] - quarters).abs())
                })
                .unwrap_or(0);
            nlh[nearest] += 1.0;
        }
        normalise(&mut nlh, n);

        Features {
            pitch_count: crate::metrics::n_pitches_used(score) as f64,
            pitch_class_histogram: pch,
            pitch_class_transition_matrix: pctm,
            avg_pitch_interval,
            avg_ioi_s,
            note_length_histogram: nlh,
        }
    }

    /// Each feature as (name, vector), the form the set comparison measures distances in.
    pub fn vectors(&self) -> Vec<(&'static str, Vec<f64>)> {
        vec![
            ("pitch_count", vec![self.pitch_count]),
            ("pitch_class_histogram", self.pitch_class_histogram.to_vec()),
            ("pitch_class_transition_matrix", self.pitch_class_transition_matrix.concat()),
            ("avg_pitch_interval", vec![self.avg_pitch_interval]),
            ("avg_ioi_s", vec![self.avg_ioi_s]),
            ("note_length_histogram", self.note_length_histogram.to_vec()),
        ]
    }
}

/// Mean of the finite values; 0 when there are none (a one-note piece has no intervals).
fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.filter(|v| v.is_finite()).fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { 0.0 } else { sum / n as f64 }
}

/// Mean and standard deviation (population) of a list.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MeanStd {
    pub mean: f64,
    pub std: f64,
}

impl MeanStd {
    pub fn of(values: &[f64]) -> MeanStd {
        let n = values.len() as f64;
        if values.is_empty() {
            return MeanStd { mean: f64::NAN, std: f64::NAN };
        }
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        MeanStd { mean, std: var.sqrt() }
    }
}

/// One feature compared between a set (A, e.g. generated) and a reference set (B).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub feature: String,
    /// Distances between pieces of A.
    pub intra_a: MeanStd,
    /// Distances between pieces of B.
    pub intra_b: MeanStd,
    /// Distances from pieces of A to pieces of B.
    pub inter: MeanStd,
    /// KL divergence of A's intra-set distance distribution from the inter-set one (nats).
    pub kl_divergence: f64,
    /// Overlapping area of those two distributions, 0..=1 (1: A looks like B).
    pub overlap: f64,
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>().sqrt()
}

/// Compares every feature of set `a` against reference set `b`.
pub fn compare(a: &[Features], b: &[Features]) -> Vec<Comparison> {
    let names: Vec<&str> = match a.first().or(b.first()) {
        Some(f) => f.vectors().iter().map(|(n, _)| *n).collect(),
        None => return Vec::new(),
    };
    let va: Vec<Vec<(&str, Vec<f64>)>> = a.iter().map(Features::vectors).collect();
    let vb: Vec<Vec<(&str, Vec<f64>)>> = b.iter().map(Features::vectors).collect();
    names
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let fa: Vec<&[f64]> = va.iter().map(|v| v[k].1.as_slice()).collect();
            let fb: Vec<&[f64]> = vb.iter().map(|v| v[k].1.as_slice()).collect();
            let intra = |set: &[&[f64]]| -> Vec<f64> {
                let mut d = Vec::new();
                for i in 0..set.len() {
                    for j in i + 1..set.len() {
                        d.push(distance(set[i], set[j]));
                    }
                }
                d
            };
            let intra_a = intra(&fa);
            let intra_b = intra(&fb);
            let inter: Vec<f64> = fa.iter().flat_map(|x| fb.iter().map(move |y| distance(x, y))).collect();
            let (kl_divergence, overlap) = kl_and_overlap(&intra_a, &inter);
            Comparison {
                feature: name.to_string(),
                intra_a: MeanStd::of(&intra_a),
                intra_b: MeanStd::of(&intra_b),
                inter: MeanStd::of(&inter),
                kl_divergence,
                overlap,
            }
        })
        .collect()
}

/// A Gaussian kernel density estimate with Scott's bandwidth (scipy's default).
struct Kde<'a> {
    points: &'a [f64],
    bandwidth: f64,
}

impl<'a> Kde<'a> {
    fn new(points: &'a [f64]) -> Kde<'a> {
        let n = points.len() as f64;
        let std = MeanStd::of(points).std;
        // A set whose distances are all equal still gets a narrow bump, not a spike.
        let bandwidth = (std * n.powf(-0.2)).max(1e-3 * (1.0 + MeanStd::of(points).mean.abs()));
        Kde { points, bandwidth }
    }

    fn density(&self, x: f64) -> f64 {
        let norm = 1.0 / (self.points.len() as f64 * self.bandwidth * (2.0 * std::f64::consts::PI).sqrt());
        norm * self.points.iter().map(|p| (-0.5 * ((x - p) / self.bandwidth).powi(2)).exp()).sum::<f64>()
    }
}

/// KL(P‖Q) and the overlapping area of the KDEs of two samples, on a 1,000-point grid
/// that covers both. NaN when either sample is empty.
pub fn kl_and_overlap(p: &[f64], q: &[f64]) -> (f64, f64) {
    if p.is_empty() || q.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let (kp, kq) = (Kde::new(p), Kde::new(q));
    let lo = p.iter().chain(q).fold(f64::MAX, |m, &x| m.min(x)) - 4.0 * kp.bandwidth.max(kq.bandwidth);
    let hi = p.iter().chain(q).fold(f64::MIN, |m, &x| m.max(x)) + 4.0 * kp.bandwidth.max(kq.bandwidth);
    const STEPS: usize = 1000;
    let dx = (hi - lo) / STEPS as f64;
    let (mut kl, mut overlap) = (0.0, 0.0);
    for i in 0..STEPS {
        let x = lo + (i as f64 + 0.5) * dx;
        let (dp, dq) = (kp.density(x), kq.density(x));
        if dp > 1e-300 {
            kl += dp * (dp / dq.max(1e-300)).ln() * dx;
        }
        overlap += dp.min(dq) * dx;
    }
    (kl.max(0.0), overlap.min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Note, Track};

    fn melody(notes: &[(u8, u64, u64)]) -> Score {
        let mut s = Score::new(4);
        let mut t = Track::new("melody");
        t.notes = notes.iter().map(|&(p, a, b)| Note::new(p, 80, a, b).unwrap()).collect();
        s.tracks.push(t);
        s
    }

    #[test]
    fn features_of_a_scale() {
        // C D E G, quarter notes at 120 bpm: intervals 2, 2, 3; IOI 0.5 s.
        let f = Features::of(&melody(&[(60, 0, 4), (62, 4, 8), (64, 8, 12), (67, 12, 16)]));
        assert_eq!(f.pitch_count, 4.0);
        assert_eq!(f.pitch_class_histogram[0], 0.25);
        assert!((f.avg_pitch_interval - 7.0 / 3.0).abs() < 1e-12);
        assert!((f.avg_ioi_s - 0.5).abs() < 1e-12);
        assert_eq!(f.note_length_histogram[2], 1.0);
        assert!((f.pitch_class_transition_matrix[0][2] - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn note_lengths_go_to_the_nearest_class() {
        // A dotted quarter (6 ticks at 4 per quarter) and an eighth triplet (~1.33 ticks → 1).
        let f = Features::of(&melody(&[(60, 0, 6), (62, 6, 8)]));
        assert_eq!(f.note_length_histogram[6], 0.5);
        assert_eq!(f.note_length_histogram[3], 0.5);
    }

    #[test]
    fn identical_sets_overlap_and_distant_sets_do_not() {
        let (kl, oa) = kl_and_overlap(&[1.0, 2.0, 3.0, 2.5], &[1.0, 2.0, 3.0, 2.5]);
        assert!(kl.abs() < 1e-9 && (oa - 1.0).abs() < 1e-3, "kl {kl} oa {oa}");
        let (kl, oa) = kl_and_overlap(&[1.0, 1.1, 0.9], &[10.0, 10.2, 9.9]);
        assert!(kl > 10.0 && oa < 1e-3, "kl {kl} oa {oa}");
    }

    #[test]
    fn compare_measures_every_feature() {
        let a: Vec<Features> =
            [60u8, 62, 64].iter().map(|&p| Features::of(&melody(&[(p, 0, 4), (p + 4, 4, 8)]))).collect();
        let b: Vec<Features> =
            [48u8, 50].iter().map(|&p| Features::of(&melody(&[(p, 0, 1), (p + 11, 1, 2), (p, 2, 3)]))).collect();
        let cmp = compare(&a, &b);
        assert_eq!(cmp.len(), 6);
        let ioi = cmp.iter().find(|c| c.feature == "avg_ioi_s").unwrap();
        assert!(ioi.inter.mean > ioi.intra_a.mean);
    }
}
