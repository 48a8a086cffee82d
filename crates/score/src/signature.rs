//! Time and key signatures.

use serde::{Deserialize, Serialize};

use crate::ScoreError;

/// A meter, from `tick` on: `numerator` beats of a `denominator` note (6/8: 6 eighths).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeSignature {
    pub tick: u64,
    pub numerator: u8,
    pub denominator: u8,
}

impl TimeSignature {
    /// Checked constructor: the denominator must be a power of two 1..=128.
    pub fn new(tick: u64, numerator: u8, denominator: u32) -> Result<Self, ScoreError> {
        if numerator == 0 || !denominator.is_power_of_two() || denominator > 128 {
            return Err(ScoreError::TimeSignature { tick, numerator, denominator });
        }
        Ok(TimeSignature { tick, numerator, denominator: denominator as u8 })
    }

    /// Length of one bar in quarter notes, as a fraction (numerator, denominator).
    pub fn bar_quarters(&self) -> (u32, u32) {
        (u32::from(self.numerator) * 4, u32::from(self.denominator))
    }

    /// Length of one bar in ticks at `ticks_per_quarter`, if it is a whole number of ticks.
    pub fn bar_ticks(&self, ticks_per_quarter: u64) -> Option<u64> {
        let (n, d) = self.bar_quarters();
        let ticks = u64::from(n) * ticks_per_quarter;
        ticks.is_multiple_of(u64::from(d)).then(|| ticks / u64::from(d))
    }
}

/// A key, from `tick` on: `fifths` sharps (positive) or flats (negative), major or minor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySignature {
    pub tick: u64,
    pub fifths: i8,
    pub minor: bool,
}

const MAJOR_NAMES: [&str; 15] = ["Cb", "Gb", "Db", "Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#"];
const MINOR_NAMES: [&str; 15] = ["Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#", "G#", "D#", "A#"];

impl KeySignature {
    /// Checked constructor: `fifths` must be -7..=7.
    pub fn new(tick: u64, fifths: i8, minor: bool) -> Result<Self, ScoreError> {
        if !(-7..=7).contains(&fifths) {
            return Err(ScoreError::OutOfRange {
                what: "key signature sharps/flats",
                value: fifths.into(),
                min: -7,
                max: 7,
            });
        }
        Ok(KeySignature { tick, fifths, minor })
    }

    /// The key's name as mido writes it: "C", "F#", "Bbm".
    pub fn name(&self) -> String {
        let i = (self.fifths + 7) as usize;
        if self.minor { format!("{}m", MINOR_NAMES[i]) } else { MAJOR_NAMES[i].to_string() }
    }

    /// Parses "C", "F#m", "Bb:minor", "c:major" and the like.
    pub fn parse(tick: u64, text: &str) -> Option<Self> {
        let text = text.trim();
        let (tonic, minor) = if let Some((t, mode)) = text.split_once([':', ' ']) {
            match mode.trim().to_ascii_lowercase().as_str() {
                "major" | "maj" => (t, false),
                "minor" | "min" | "m" => (t, true),
                _ => return None,
            }
        } else if let Some(t) = text.strip_suffix('m') {
            (t, true)
        } else {
            (text, false)
        };
        let mut chars = tonic.chars();
        let letter = chars.next()?.to_ascii_uppercase();
        let tonic = format!("{letter}{}", chars.as_str());
        let names = if minor { &MINOR_NAMES } else { &MAJOR_NAMES };
        let i = names.iter().position(|n| *n == tonic)?;
        Some(KeySignature { tick, fifths: i as i8 - 7, minor })
    }

    /// Pitch class of the tonic, 0 = C.
    pub fn tonic_pitch_class(&self) -> u8 {
        // Each sharp moves the major tonic a fifth (7 semitones) up; the relative minor is 3 below.
        let major = (i32::from(self.fifths) * 7).rem_euclid(12);
        (if self.minor { (major + 9) % 12 } else { major }) as u8
    }

    /// The pitch classes of the key's scale (natural minor for minor keys).
    pub fn scale_pitch_classes(&self) -> [u8; 7] {
        const MAJOR: [u8; 7] = [0, 2, 4, 5, 7, 9, 11];
        const MINOR: [u8; 7] = [0, 2, 3, 5, 7, 8, 10];
        let steps = if self.minor { MINOR } else { MAJOR };
        steps.map(|s| (s + self.tonic_pitch_class()) % 12)
    }

    /// The same mode with its tonic moved by `semitones`, spelled with at most 6 flats or sharps.
    pub fn transposed(&self, semitones: i32) -> KeySignature {
        let tonic = (i32::from(self.tonic_pitch_class()) + semitones).rem_euclid(12);
        let major_tonic = if self.minor { (tonic + 3) % 12 } else { tonic };
        // 7 is its own inverse mod 12: fifths ≡ 7 · tonic.
        let mut fifths = (major_tonic * 7) % 12;
        if fifths > 6 {
            fifths -= 12;
        }
        KeySignature { tick: self.tick, fifths: fifths as i8, minor: self.minor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(fifths: i8, minor: bool) -> KeySignature {
        KeySignature::new(0, fifths, minor).unwrap()
    }

    #[test]
    fn names_follow_mido() {
        let check = |fifths, minor, name: &str| assert_eq!(key(fifths, minor).name(), name);
        check(0, false, "C");
        check(3, true, "F#m");
        check(-4, false, "Ab");
        check(-7, false, "Cb");
        check(7, true, "A#m");
        check(0, true, "Am");
    }

    #[test]
    fn parse_round_trips_names() {
        for fifths in -7..=7 {
            for minor in [false, true] {
                let k = key(fifths, minor);
                assert_eq!(KeySignature::parse(0, &k.name()), Some(k));
            }
        }
        assert_eq!(KeySignature::parse(0, "C:major"), Some(key(0, false)));
        assert_eq!(KeySignature::parse(0, "a:minor"), Some(key(0, true)));
        assert_eq!(KeySignature::parse(0, "H"), None);
    }

    #[test]
    fn tonic_and_scale() {
        assert_eq!(key(1, false).tonic_pitch_class(), 7);
        assert_eq!(key(3, true).tonic_pitch_class(), 6);
        assert_eq!(key(-1, false).scale_pitch_classes(), [5, 7, 9, 10, 0, 2, 4]);
    }

    #[test]
    fn transposition_keeps_mode_and_moves_tonic() {
        assert_eq!(key(0, false).transposed(2), key(2, false));
        assert_eq!(key(0, true).transposed(-2).name(), "Gm");
        for s in -12..=12 {
            assert_eq!(key(0, false).transposed(s).tonic_pitch_class() as i32, s.rem_euclid(12));
        }
    }

    #[test]
    fn time_signature_bars() {
        let ts = TimeSignature::new(0, 6, 8).unwrap();
        assert_eq!(ts.bar_ticks(480), Some(1440));
        assert!(TimeSignature::new(0, 3, 3).is_err());
    }
}
