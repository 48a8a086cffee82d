use thiserror::Error;

/// Everything that can go wrong when building or changing a [`crate::Score`].
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ScoreError {
    #[error("{what} must be {min}..={max}, but was {value}")]
    OutOfRange { what: &'static str, value: i64, min: i64, max: i64 },
    #[error("tempo at tick {tick} is zero microseconds per quarter")]
    ZeroTempo { tick: u64 },
    #[error(
        "time signature {numerator}/{denominator} at tick {tick} is invalid: the numerator must be 1..=255 and the denominator a power of two 1..=128"
    )]
    TimeSignature { tick: u64, numerator: u8, denominator: u32 },
    #[error("transposing by {semitones} semitones moves pitch {pitch} (track {track}, tick {tick}) outside 0..=127")]
    Transpose { semitones: i32, pitch: u8, track: usize, tick: u64 },
    #[error("steps per quarter must be 1..=960, but was {0}")]
    Grid(u32),
}
