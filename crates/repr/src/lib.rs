//! Score ↔ model input. Four representations, each with `encode`, `decode`, a documented
//! [`Vocabulary`] and a `canonical` form — the score as it comes back from a trip through
//! the representation, so that `decode(encode(s)) == canonical(s)` for every score:
//!
//! - [`pianoroll`]: 88 keys × steps, with velocity and onset planes, per part;
//! - [`performance`]: NOTE_ON / NOTE_OFF / TIME_SHIFT / VELOCITY events (PerformanceRNN);
//! - [`remi`]: BAR / POSITION / PROGRAM / PITCH / VELOCITY / DURATION / TEMPO / TIME_SIG;
//! - [`melody`]: pitch / HOLD / REST per sixteenth (MelodyRNN).
//!
//! Decoding tokens never fails: tokens in impossible orders are dropped or repaired and
//! counted in [`Decoded::repairs`]. This crate does no I/O.
//!
//! ```
//! use fugato_repr::{melody, remi};
//!
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/midi/zuccal0_0698.mid");
//! let score = fugato_midi::read_file(path.as_ref(), Default::default())?.score;
//!
//! let tokens = remi::encode(&score)?;
//! let back = remi::decode(&tokens);
//! assert_eq!(back.repairs, 0);
//! assert_eq!(back.score, remi::canonical(&score)?);
//! assert_eq!(melody::vocabulary().size(), 90);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod melody;
pub mod performance;
pub mod pianoroll;
pub mod remi;

/// Tokens before a window that [`ReprKind::transpose_tokens`] needs to read: a REMI
/// PITCH comes at most two tokens after the PROGRAM that names its part.
pub const TRANSPOSE_CONTEXT: usize = 2;

use fugato_score::{Score, ScoreError};
use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ReprError {
    #[error(transparent)]
    Score(#[from] ScoreError),
    #[error("unknown representation {0:?}: expected pianoroll, performance, remi or melody")]
    UnknownKind(String),
    /// A score too long (or too many parts) to lay on a grid: refused before the grid is
    /// allocated.
    #[error("{what}: {value}, over the limit of {limit}: too long to lay on a grid")]
    TooLarge { what: &'static str, value: u64, limit: u64 },
}

/// The most grid steps a score may be laid on (a piano-roll's frames, a melody's tokens):
/// 1,000,000 quarter notes at 4 steps each; the shared corpus's longest piece takes 10,400.
pub const MAX_GRID_STEPS: u64 = 4_000_000;
/// The most cells (steps × 88 keys × parts) a piano-roll may hold: 512 MiB of velocities.
pub const MAX_ROLL_CELLS: u64 = 512 << 20;

/// Refuses `steps` grid steps over [`MAX_GRID_STEPS`].
pub(crate) fn check_steps(steps: u64) -> Result<(), ReprError> {
    if steps > MAX_GRID_STEPS {
        return Err(ReprError::TooLarge { what: "grid steps", value: steps, limit: MAX_GRID_STEPS });
    }
    Ok(())
}

/// A decoded score and how many tokens had to be dropped or repaired to make it.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    pub score: Score,
    pub repairs: usize,
}

/// Which representation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReprKind {
    PianoRoll,
    Performance,
    Remi,
    Melody,
}

impl ReprKind {
    pub const ALL: [ReprKind; 4] = [ReprKind::PianoRoll, ReprKind::Performance, ReprKind::Remi, ReprKind::Melody];

    pub fn name(self) -> &'static str {
        match self {
            ReprKind::PianoRoll => "pianoroll",
            ReprKind::Performance => "performance",
            ReprKind::Remi => "remi",
            ReprKind::Melody => "melody",
        }
    }

    /// The token vocabulary; `None` for the piano-roll, whose frames are 88-unit vectors.
    pub fn vocabulary(self) -> Option<Vocabulary> {
        match self {
            ReprKind::PianoRoll => None,
            ReprKind::Performance => Some(performance::vocabulary()),
            ReprKind::Remi => Some(remi::vocabulary()),
            ReprKind::Melody => Some(melody::vocabulary()),
        }
    }

    /// Encodes a token representation; `None` for the piano-roll.
    pub fn encode_tokens(self, score: &Score) -> Option<Result<Vec<u32>, ReprError>> {
        match self {
            ReprKind::PianoRoll => None,
            ReprKind::Performance => Some(performance::encode(score)),
            ReprKind::Remi => Some(remi::encode(score)),
            ReprKind::Melody => Some(melody::encode(score)),
        }
    }

    /// The pitch at which `token` starts a note (melody pitch, REMI pitch, performance
    /// note-on); `None` for every other token and for the piano-roll.
    pub fn note_pitch(self, token: u32) -> Option<u8> {
        match self {
            ReprKind::PianoRoll => None,
            ReprKind::Performance => match performance::Event::from_token(token)? {
                performance::Event::NoteOn(p) => Some(p),
                _ => None,
            },
            ReprKind::Remi => match remi::Token::from_id(token)? {
                remi::Token::Pitch(p) => Some(p),
                _ => None,
            },
            ReprKind::Melody => melody::token_pitch(token),
        }
    }

    /// `tokens` with every pitched note moved by `shift` semitones (REMI's drum hits stay
    /// put), or `None` if a note would leave the representation's range or for the
    /// piano-roll. The first `context` tokens are only read (the part a REMI pitch
    /// belongs to is named at most [`TRANSPOSE_CONTEXT`] tokens before it) and not returned.
    pub fn transpose_tokens(self, tokens: &[u32], context: usize, shift: i32) -> Option<Vec<u32>> {
        if self == ReprKind::PianoRoll {
            return None;
        }
        let moved = |p: u8| u8::try_from(i32::from(p) + shift).ok().filter(|p| *p < 128);
        let mut drums = false;
        let mut out = Vec::with_capacity(tokens.len());
        for &token in tokens {
            let t = match self {
                ReprKind::PianoRoll => unreachable!("refused above"),
                ReprKind::Performance => match performance::Event::from_token(token) {
                    Some(performance::Event::NoteOn(p)) => performance::Event::NoteOn(moved(p)?).token(),
                    Some(performance::Event::NoteOff(p)) => performance::Event::NoteOff(moved(p)?).token(),
                    _ => token,
                },
                ReprKind::Remi => match remi::Token::from_id(token) {
                    Some(remi::Token::Program(p)) => {
                        drums = p == remi::DRUM_PROGRAM;
                        token
                    }
                    Some(remi::Token::Pitch(p)) if !drums => remi::Token::Pitch(moved(p)?).id(),
                    _ => token,
                },
                ReprKind::Melody => match melody::token_pitch(token) {
                    Some(p) => melody::pitch_token(moved(p)?)?,
                    None => token,
                },
            };
            out.push(t);
        }
        Some(out.split_off(context.min(out.len())))
    }

    /// Decodes tokens of a token representation; `None` for the piano-roll.
    pub fn decode_tokens(self, tokens: &[u32]) -> Option<Decoded> {
        match self {
            ReprKind::PianoRoll => None,
            ReprKind::Performance => Some(performance::decode(tokens)),
            ReprKind::Remi => Some(remi::decode(tokens)),
            ReprKind::Melody => Some(melody::decode(tokens)),
        }
    }
}

impl std::str::FromStr for ReprKind {
    type Err = ReprError;
    fn from_str(s: &str) -> Result<Self, ReprError> {
        ReprKind::ALL
            .into_iter()
            .find(|k| k.name() == s || (s == "piano-roll" && *k == ReprKind::PianoRoll))
            .ok_or_else(|| ReprError::UnknownKind(s.to_string()))
    }
}

/// A token vocabulary: named groups of consecutive ids, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vocabulary {
    pub name: String,
    /// (group name, number of tokens), in id order.
    pub groups: Vec<(String, u32)>,
}

impl Vocabulary {
    pub fn new(name: &str, groups: Vec<(&str, u32)>) -> Self {
        Vocabulary { name: name.to_string(), groups: groups.into_iter().map(|(g, n)| (g.to_string(), n)).collect() }
    }

    pub fn size(&self) -> u32 {
        self.groups.iter().map(|(_, n)| n).sum()
    }

    /// "GROUP_i" for a token id (e.g. "PITCH_60"), or `None` past the end.
    pub fn token_name(&self, id: u32) -> Option<String> {
        let mut first = 0;
        for (group, n) in &self.groups {
            if id < first + n {
                return Some(if *n == 1 { group.clone() } else { format!("{group}_{}", id - first) });
            }
            first += n;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_names() {
        let v = performance::vocabulary();
        assert_eq!(v.size(), 388);
        assert_eq!(v.token_name(60).as_deref(), Some("NOTE_ON_60"));
        assert_eq!(v.token_name(256).as_deref(), Some("TIME_SHIFT_0"));
        assert_eq!(v.token_name(388), None);
        assert_eq!(melody::vocabulary().token_name(0).as_deref(), Some("HOLD"));
    }

    #[test]
    fn transposing_tokens_is_transposing_the_score() {
        use fugato_score::{Channel, Note, Score, Track};
        let mut s = Score::new(4);
        for (pitch, start) in [(60, 0), (64, 4), (67, 8)] {
            let mut t = Track::new("");
            t.notes.push(Note::new(pitch, 90, start, start + 4).unwrap());
            s.tracks.push(t);
        }
        let mut drums = Track::new("");
        drums.is_drum = true;
        drums.channel = Channel::DRUMS;
        drums.notes.push(Note::new(36, 100, 0, 2).unwrap());
        s.tracks.push(drums);
        s.end_tick = 16;
        let up = s.transpose(5).unwrap();
        for kind in [ReprKind::Performance, ReprKind::Remi, ReprKind::Melody] {
            let tokens = kind.encode_tokens(&s).unwrap().unwrap();
            let want = kind.encode_tokens(&up).unwrap().unwrap();
            assert_eq!(kind.transpose_tokens(&tokens, 0, 5), Some(want.clone()), "{}", kind.name());
            // Read with context, returned without it.
            assert_eq!(kind.transpose_tokens(&tokens, 3, 5).unwrap(), want[3..], "{}", kind.name());
            assert_eq!(kind.transpose_tokens(&tokens, 0, 100), None, "{}", kind.name());
        }
        assert_eq!(ReprKind::PianoRoll.transpose_tokens(&[1], 0, 1), None);
        assert_eq!(ReprKind::PianoRoll.transpose_tokens(&[], 0, 1), None);
    }

    #[test]
    fn kinds_parse_by_name() {
        for k in ReprKind::ALL {
            assert_eq!(k.name().parse::<ReprKind>().unwrap(), k);
        }
        assert!("midi".parse::<ReprKind>().is_err());
    }
}
