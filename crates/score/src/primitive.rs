//! Newtypes for MIDI's small integers, so that an out-of-range pitch or velocity cannot exist.

use serde::{Deserialize, Serialize};

use crate::ScoreError;

macro_rules! bounded {
    ($(#[$doc:meta])* $name:ident, $what:literal, $min:literal, $max:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "u8", into = "u8")]
        pub struct $name(u8);

        impl $name {
            pub const MIN: u8 = $min;
            pub const MAX: u8 = $max;

            /// Checked constructor: fails with the value and the allowed range.
            pub fn new(value: u8) -> Result<Self, ScoreError> {
                if ($min..=$max).contains(&value) {
                    Ok(Self(value))
                } else {
                    Err(ScoreError::OutOfRange { what: $what, value: i64::from(value), min: $min, max: $max })
                }
            }

            /// Clamps any integer into the allowed range.
            pub fn saturating(value: i64) -> Self {
                Self(value.clamp($min, $max) as u8)
            }

            pub fn get(self) -> u8 {
                self.0
            }
        }

        impl TryFrom<u8> for $name {
            type Error = ScoreError;
            fn try_from(value: u8) -> Result<Self, ScoreError> {
                Self::new(value)
            }
        }

        impl From<$name> for u8 {
            fn from(value: $name) -> u8 {
                value.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

bounded!(
    /// A MIDI note number, 0..=127 (60 is middle C).
    Pitch, "pitch", 0, 127
);
bounded!(
    /// A note-on velocity, 1..=127 (a note-on with velocity 0 is a note-off in MIDI).
    Velocity, "velocity", 1, 127
);
bounded!(
    /// A MIDI channel, 0..=15 (channel 9 is General MIDI percussion).
    Channel, "channel", 0, 15
);
bounded!(
    /// A General MIDI program (instrument), 0..=127.
    Program, "program", 0, 127
);

impl Channel {
    /// The General MIDI percussion channel ("channel 10" counted from one).
    pub const DRUMS: Channel = Channel(9);
}

impl Pitch {
    /// Lowest key of an 88-key piano (A0).
    pub const PIANO_LOW: Pitch = Pitch(21);
    /// Highest key of an 88-key piano (C8).
    pub const PIANO_HIGH: Pitch = Pitch(108);

    /// Pitch class, 0 = C .. 11 = B.
    pub fn pitch_class(self) -> u8 {
        self.0 % 12
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_values_outside_range_with_a_message() {
        let err = Velocity::new(0).unwrap_err();
        assert_eq!(err.to_string(), "velocity must be 1..=127, but was 0");
        assert!(Pitch::new(128).is_err());
        assert!(Channel::new(16).is_err());
        assert_eq!(Pitch::new(127).unwrap().get(), 127);
    }

    #[test]
    fn saturating_clamps() {
        assert_eq!(Velocity::saturating(-5).get(), 1);
        assert_eq!(Pitch::saturating(300).get(), 127);
    }
}
