//! Piano-roll: 88 keys (MIDI 21..=108) × time steps on a grid of `steps_per_quarter`.
//!
//! Each part keeps two planes: velocity (0 = silent, else the sounding note's velocity)
//! and onsets, so a note held over two steps and a note struck twice differ. The model
//! input of the polyphonic benchmarks is [`PianoRoll::frames`]: one 88-bit set of
//! sounding keys per step, all pitched parts together.

use fugato_score::{Channel, KeySignature, Note, Pitch, Program, Score, TempoMap, TimeSignature, Track, Velocity};
use serde::{Deserialize, Serialize};

use crate::ReprError;

/// Keys of the roll: MIDI 21 (A0) is unit 0, MIDI 108 (C8) is unit 87.
pub const N_KEYS: usize = 88;
pub const LOWEST_PITCH: u8 = 21;
/// The grid of the roll unless chosen otherwise: sixteenth notes.
pub const DEFAULT_STEPS_PER_QUARTER: u32 = 4;

/// One step's sounding keys: bit `i` is MIDI pitch `21 + i`.
pub type Frame = u128;

/// Velocity given to notes of a roll that has none (a binary benchmark roll).
pub const DEFAULT_VELOCITY: u8 = 90;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PianoRoll {
    pub steps_per_quarter: u32,
    pub n_steps: usize,
    pub parts: Vec<RollPart>,
    pub tempo_map: TempoMap,
    pub time_signatures: Vec<TimeSignature>,
    pub key_signatures: Vec<KeySignature>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RollPart {
    pub name: String,
    pub program: Program,
    pub channel: Channel,
    pub is_drum: bool,
    pub midi_track: usize,
    /// `n_steps × 88`, step-major: the sounding note's velocity, 0 when silent.
    pub velocity: Vec<u8>,
    /// `n_steps` frames: the keys struck at each step.
    pub onsets: Vec<Frame>,
}

/// Refuses a roll of `steps` steps and `parts` parts over the grid's limits
/// ([`crate::MAX_GRID_STEPS`], [`crate::MAX_ROLL_CELLS`]).
fn check_cells(steps: u64, parts: usize) -> Result<(), ReprError> {
    crate::check_steps(steps)?;
    let cells = steps.saturating_mul(N_KEYS as u64).saturating_mul(parts.max(1) as u64);
    if cells > crate::MAX_ROLL_CELLS {
        return Err(ReprError::TooLarge {
            what: "piano-roll cells (steps × 88 keys × parts)",
            value: cells,
            limit: crate::MAX_ROLL_CELLS,
        });
    }
    Ok(())
}

/// What a score looks like after a trip through the roll: on the grid, within the 88
/// keys, without controllers.
pub fn canonical(score: &Score, steps_per_quarter: u32) -> Result<Score, ReprError> {
    let mut q = score.quantize(steps_per_quarter)?.clip_pitch(Pitch::PIANO_LOW, Pitch::PIANO_HIGH);
    for track in &mut q.tracks {
        track.controls.clear();
    }
    Ok(q)
}

impl PianoRoll {
    pub fn encode(score: &Score, steps_per_quarter: u32) -> Result<PianoRoll, ReprError> {
        let q = canonical(score, steps_per_quarter)?;
        check_cells(q.end_tick, q.tracks.len())?;
        let n_steps = q.end_tick as usize;
        let parts = q
            .tracks
            .iter()
            .map(|t| {
                let mut velocity = vec![0u8; n_steps * N_KEYS];
                let mut onsets = vec![0 as Frame; n_steps];
                for n in &t.notes {
                    let key = usize::from(n.pitch.get() - LOWEST_PITCH);
                    onsets[n.start_tick as usize] |= 1 << key;
                    for step in n.start_tick as usize..n.end_tick as usize {
                        velocity[step * N_KEYS + key] = n.velocity.get();
                    }
                }
                RollPart {
                    name: t.name.clone(),
                    program: t.program,
                    channel: t.channel,
                    is_drum: t.is_drum,
                    midi_track: t.midi_track,
                    velocity,
                    onsets,
                }
            })
            .collect();
        Ok(PianoRoll {
            steps_per_quarter,
            n_steps,
            parts,
            tempo_map: q.tempo_map,
            time_signatures: q.time_signatures,
            key_signatures: q.key_signatures,
        })
    }

    /// A one-part roll from binary frames (sets of sounding keys), as the polyphonic
    /// benchmarks store them. Without onsets, a key on in consecutive frames is one note.
    pub fn from_frames(frames: &[Frame], steps_per_quarter: u32) -> Result<PianoRoll, ReprError> {
        check_cells(frames.len() as u64, 1)?;
        let n_steps = frames.len();
        let mut velocity = vec![0u8; n_steps * N_KEYS];
        let mut onsets = vec![0 as Frame; n_steps];
        let mut previous: Frame = 0;
        for (step, &frame) in frames.iter().enumerate() {
            let frame = frame & ((1 << N_KEYS) - 1);
            onsets[step] = frame & !previous;
            for key in keys(frame) {
                velocity[step * N_KEYS + key] = DEFAULT_VELOCITY;
            }
            previous = frame;
        }
        let defaults = Track::new("");
        Ok(PianoRoll {
            steps_per_quarter,
            n_steps,
            parts: vec![RollPart {
                name: String::new(),
                program: defaults.program,
                channel: defaults.channel,
                is_drum: false,
                // Track 0 of a written file is the conductor track.
                midi_track: 1,
                velocity,
                onsets,
            }],
            tempo_map: TempoMap::new(grid_resolution(steps_per_quarter)?, Vec::new())?,
            time_signatures: Vec::new(),
            key_signatures: Vec::new(),
        })
    }

    /// The sounding keys of each step, over all pitched (non-drum) parts.
    pub fn frames(&self) -> Vec<Frame> {
        let mut frames = vec![0 as Frame; self.n_steps];
        for part in self.parts.iter().filter(|p| !p.is_drum) {
            for (step, frame) in frames.iter_mut().enumerate() {
                let row = &part.velocity[step * N_KEYS..(step + 1) * N_KEYS];
                for (key, &v) in row.iter().enumerate() {
                    if v > 0 {
                        *frame |= 1 << key;
                    }
                }
            }
        }
        frames
    }

    /// The keys struck at each step, over all pitched parts.
    pub fn onset_frames(&self) -> Vec<Frame> {
        let mut frames = vec![0 as Frame; self.n_steps];
        for part in self.parts.iter().filter(|p| !p.is_drum) {
            for (f, o) in frames.iter_mut().zip(&part.onsets) {
                *f |= o;
            }
        }
        frames
    }

    /// Back to a score at one tick per step. A note starts at an onset (or where a key
    /// turns on) and lasts while the key sounds and is not struck again.
    pub fn decode(&self) -> Result<Score, ReprError> {
        let mut tracks = Vec::with_capacity(self.parts.len());
        for part in &self.parts {
            let mut notes = Vec::new();
            for key in 0..N_KEYS {
                let mut open: Option<(usize, u8)> = None;
                for step in 0..=self.n_steps {
                    let v = if step < self.n_steps { part.velocity[step * N_KEYS + key] } else { 0 };
                    let struck = step < self.n_steps && part.onsets[step] >> key & 1 == 1;
                    if let Some((start, velocity)) = open
                        && (v == 0 || struck)
                    {
                        notes.push(note(key, velocity, start, step));
                        open = None;
                    }
                    if v > 0 && open.is_none() {
                        open = Some((step, v));
                    }
                }
            }
            let mut track = Track::new(part.name.clone());
            track.program = part.program;
            track.channel = part.channel;
            track.is_drum = part.is_drum;
            track.midi_track = part.midi_track;
            track.notes = notes;
            track.sort();
            tracks.push(track);
        }
        Ok(Score {
            tempo_map: self.tempo_map.clone(),
            time_signatures: self.time_signatures.clone(),
            key_signatures: self.key_signatures.clone(),
            tracks,
            end_tick: self.n_steps as u64,
        })
    }
}

fn note(key: usize, velocity: u8, start: usize, end: usize) -> Note {
    Note {
        pitch: Pitch::new(LOWEST_PITCH + key as u8).expect("key < 88"),
        velocity: Velocity::new(velocity).expect("velocity > 0"),
        start_tick: start as u64,
        end_tick: end as u64,
    }
}

/// The keys (0..88) set in `frame`.
pub fn keys(frame: Frame) -> impl Iterator<Item = usize> {
    (0..N_KEYS).filter(move |k| frame >> k & 1 == 1)
}

/// A frame from MIDI pitches; pitches outside 21..=108 are left out.
pub fn frame_from_pitches(pitches: impl IntoIterator<Item = u8>) -> Frame {
    pitches
        .into_iter()
        .filter(|p| (LOWEST_PITCH..LOWEST_PITCH + N_KEYS as u8).contains(p))
        .fold(0, |f, p| f | 1 << (p - LOWEST_PITCH))
}

/// The MIDI pitches of a frame, ascending.
pub fn pitches(frame: Frame) -> Vec<u8> {
    keys(frame).map(|k| LOWEST_PITCH + k as u8).collect()
}

pub(crate) fn grid_resolution(steps_per_quarter: u32) -> Result<u16, ReprError> {
    u16::try_from(steps_per_quarter)
        .ok()
        .filter(|&s| (1..=960).contains(&s))
        .ok_or(ReprError::Score(fugato_score::ScoreError::Grid(steps_per_quarter)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(notes: &[(u8, u8, u64, u64)]) -> Score {
        let mut s = Score::new(4);
        let mut t = Track::new("t");
        t.notes = notes.iter().map(|&(p, v, a, b)| Note::new(p, v, a, b).unwrap()).collect();
        s.end_tick = t.notes.iter().map(|n| n.end_tick).max().unwrap_or(0);
        s.tracks.push(t);
        s
    }

    #[test]
    fn held_and_restruck_notes_differ() {
        let held = PianoRoll::encode(&score(&[(60, 90, 0, 4)]), 4).unwrap();
        let restruck = PianoRoll::encode(&score(&[(60, 90, 0, 2), (60, 90, 2, 4)]), 4).unwrap();
        assert_eq!(held.frames(), restruck.frames());
        assert_ne!(held.onset_frames(), restruck.onset_frames());
        assert_eq!(restruck.decode().unwrap().tracks[0].notes.len(), 2);
        assert_eq!(held.decode().unwrap().tracks[0].notes.len(), 1);
    }

    #[test]
    fn notes_outside_the_keyboard_are_clipped() {
        let roll = PianoRoll::encode(&score(&[(20, 90, 0, 1), (21, 90, 0, 1), (109, 90, 0, 1)]), 4).unwrap();
        assert_eq!(pitches(roll.frames()[0]), vec![21]);
    }

    #[test]
    fn frames_without_onsets_join_held_keys() {
        let frames = [frame_from_pitches([60, 64]), frame_from_pitches([60]), 0, frame_from_pitches([60])];
        let s = PianoRoll::from_frames(&frames, 1).unwrap().decode().unwrap();
        let notes: Vec<_> = s.tracks[0].notes.iter().map(|n| (n.pitch.get(), n.start_tick, n.end_tick)).collect();
        assert_eq!(notes, vec![(60, 0, 2), (64, 0, 1), (60, 3, 4)]);
    }
}
