//! Key finding: the Krumhansl–Schmuckler algorithm with the Krumhansl–Kessler profiles.
//! The duration-weighted pitch-class histogram of a score is correlated with the major
//! and minor profiles rotated to each of the twelve tonics; the best correlation wins.

use crate::{KeySignature, Score};

/// Krumhansl & Kessler (1982): how well each scale degree fits a major key.
const MAJOR: [f64; 12] = [6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88];
/// … and a minor key.
const MINOR: [f64; 12] = [6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17];

/// The key that best fits the pitched notes of `score` (at tick 0), or `None` when
/// nothing sounds. Transposing a score moves its estimated tonic by the same interval.
pub fn estimate_key(score: &Score) -> Option<KeySignature> {
    let mut histogram = [0f64; 12];
    for note in score.tracks.iter().filter(|t| !t.is_drum).flat_map(|t| &t.notes) {
        histogram[usize::from(note.pitch.get() % 12)] += note.duration_ticks().max(1) as f64;
    }
    if histogram.iter().all(|&w| w == 0.0) {
        return None;
    }
    let mut best: Option<(f64, u8, bool)> = None;
    for minor in [false, true] {
        let profile = if minor { &MINOR } else { &MAJOR };
        for tonic in 0..12u8 {
            let rotated: [f64; 12] = std::array::from_fn(|pc| profile[(pc + 12 - usize::from(tonic)) % 12]);
            let r = correlation(&histogram, &rotated);
            // Ties keep the first: major before minor, lower tonic first.
            if best.is_none_or(|(b, _, _)| r > b) {
                best = Some((r, tonic, minor));
            }
        }
    }
    let (_, tonic, minor) = best?;
    // C major and A minor have no sharps or flats; move from there to the tonic.
    let home = KeySignature { tick: 0, fifths: 0, minor };
    Some(home.transposed(i32::from(tonic) - i32::from(home.tonic_pitch_class())))
}

fn correlation(a: &[f64; 12], b: &[f64; 12]) -> f64 {
    let mean = |x: &[f64; 12]| x.iter().sum::<f64>() / 12.0;
    let (ma, mb) = (mean(a), mean(b));
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for i in 0..12 {
        ab += (a[i] - ma) * (b[i] - mb);
        aa += (a[i] - ma).powi(2);
        bb += (b[i] - mb).powi(2);
    }
    if aa == 0.0 || bb == 0.0 { 0.0 } else { ab / (aa * bb).sqrt() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Note, Track};

    fn score(pitches: &[u8]) -> Score {
        let mut s = Score::new(4);
        let mut t = Track::new("");
        t.notes = pitches
            .iter()
            .enumerate()
            .map(|(i, &p)| Note::new(p, 90, i as u64 * 4, i as u64 * 4 + 4).unwrap())
            .collect();
        s.end_tick = pitches.len() as u64 * 4;
        s.tracks.push(t);
        s
    }

    #[test]
    fn finds_major_and_minor_keys_and_follows_transposition() {
        // C major scale with a cadence on C; A harmonic minor with its leading tone.
        let c = score(&[60, 62, 64, 65, 67, 69, 71, 72, 67, 60, 64, 67, 60]);
        assert_eq!(estimate_key(&c).unwrap().name(), "C");
        let a = score(&[57, 59, 60, 62, 64, 65, 68, 69, 64, 57, 60, 64, 57]);
        assert_eq!(estimate_key(&a).unwrap().name(), "Am");
        for shift in -6..=6 {
            let moved = estimate_key(&c.transpose(shift).unwrap()).unwrap();
            assert_eq!(i32::from(moved.tonic_pitch_class()), shift.rem_euclid(12));
            assert!(!moved.minor);
        }
        assert_eq!(estimate_key(&Score::new(4)), None);
    }
}
