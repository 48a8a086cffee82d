//! fugato's music model: a [`Score`] of [`Track`]s of [`Note`]s, with a [`TempoMap`],
//! time and key signatures, and the control changes that matter for playback.
//!
//! Times are ticks (`start_tick`, `end_tick`) at the score's resolution; the tempo map
//! turns them into seconds. This crate does no I/O and knows nothing of files or tensors.
//!
//! ```
//! use fugato_score::{Note, Score, Track};
//!
//! let mut score = Score::new(480);
//! let mut track = Track::new("melody");
//! track.notes.push(Note::new(60, 90, 0, 480)?);
//! track.notes.push(Note::new(64, 90, 480, 960)?);
//! score.tracks.push(track);
//! score.end_tick = 960;
//!
//! assert_eq!(score.n_notes(), 2);
//! assert_eq!(score.seconds(960), 1.0); // 120 bpm when no tempo is set
//! let up = score.transpose(2)?;
//! assert_eq!(up.tracks[0].notes[0].pitch.get(), 62);
//! let grid = score.quantize(4)?; // sixteenth notes: one tick per step
//! assert_eq!(grid.tracks[0].notes[1].start_tick, 4);
//! # Ok::<(), fugato_score::ScoreError>(())
//! ```

mod error;
pub mod features;
pub mod gm;
mod key;
pub mod metrics;
mod primitive;
mod signature;
mod tempo;
pub mod voice_leading;

use serde::{Deserialize, Serialize};

pub use error::ScoreError;
pub use key::estimate_key;
pub use primitive::{Channel, Pitch, Program, Velocity};
pub use signature::{KeySignature, TimeSignature};
pub use tempo::{DEFAULT_US_PER_QUARTER, Tempo, TempoMap};

/// One sounding note. `end_tick > start_tick` holds for every note a reader produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Note {
    pub pitch: Pitch,
    pub velocity: Velocity,
    pub start_tick: u64,
    pub end_tick: u64,
}

impl Note {
    /// Checked constructor from plain integers (handy in tests and tools).
    pub fn new(pitch: u8, velocity: u8, start_tick: u64, end_tick: u64) -> Result<Self, ScoreError> {
        Ok(Note { pitch: Pitch::new(pitch)?, velocity: Velocity::new(velocity)?, start_tick, end_tick })
    }

    pub fn duration_ticks(&self) -> u64 {
        self.end_tick.saturating_sub(self.start_tick)
    }
}

/// The controllers fugato keeps, because they change how a score sounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Control {
    /// CC 7.
    Volume,
    /// CC 10.
    Pan,
    /// CC 11.
    Expression,
    /// CC 64: values ≥ 64 hold the pedal down.
    Sustain,
}

impl Control {
    pub fn from_cc(cc: u8) -> Option<Control> {
        match cc {
            7 => Some(Control::Volume),
            10 => Some(Control::Pan),
            11 => Some(Control::Expression),
            64 => Some(Control::Sustain),
            _ => None,
        }
    }

    pub fn cc(self) -> u8 {
        match self {
            Control::Volume => 7,
            Control::Pan => 10,
            Control::Expression => 11,
            Control::Sustain => 64,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ControlChange {
    pub tick: u64,
    pub control: Control,
    pub value: u8,
}

/// One instrument part: the notes one program plays on one channel of one MIDI track.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Track {
    pub name: String,
    pub program: Program,
    pub channel: Channel,
    /// Percussion (General MIDI channel 10): pitches name drums, not notes.
    pub is_drum: bool,
    /// Index of the MIDI track chunk the part came from (0 for scores made otherwise).
    pub midi_track: usize,
    /// Sorted by (start_tick, pitch).
    pub notes: Vec<Note>,
    /// Sorted by tick.
    pub controls: Vec<ControlChange>,
}

impl Track {
    /// An empty piano part on channel 0.
    pub fn new(name: impl Into<String>) -> Self {
        Track {
            name: name.into(),
            program: Program::new(0).expect("0 is a valid program"),
            channel: Channel::new(0).expect("0 is a valid channel"),
            is_drum: false,
            midi_track: 0,
            notes: Vec::new(),
            controls: Vec::new(),
        }
    }

    /// Sorts notes by (start, pitch, end) and controls by tick, the order every consumer expects.
    pub fn sort(&mut self) {
        self.notes.sort_by_key(|n| (n.start_tick, n.pitch, n.end_tick));
        self.controls.sort_by_key(|c| c.tick);
    }
}

/// A piece of music.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub tempo_map: TempoMap,
    /// Sorted by tick; repeats of the same meter are kept as the source had them.
    pub time_signatures: Vec<TimeSignature>,
    /// Sorted by tick.
    pub key_signatures: Vec<KeySignature>,
    pub tracks: Vec<Track>,
    /// Where the piece ends: at least the end of its last note; a MIDI file's end-of-track
    /// markers can put it later (trailing silence).
    pub end_tick: u64,
}

impl Score {
    /// An empty score at `ticks_per_quarter` (clamped to ≥ 1), 120 bpm, no signatures.
    pub fn new(ticks_per_quarter: u16) -> Self {
        Score {
            tempo_map: TempoMap::new(ticks_per_quarter.max(1), Vec::new()).expect("resolution is ≥ 1"),
            time_signatures: Vec::new(),
            key_signatures: Vec::new(),
            tracks: Vec::new(),
            end_tick: 0,
        }
    }

    pub fn ticks_per_quarter(&self) -> u16 {
        self.tempo_map.ticks_per_quarter()
    }

    /// Time in seconds of `tick`, through the tempo map.
    pub fn seconds(&self, tick: u64) -> f64 {
        self.tempo_map.seconds(tick)
    }

    pub fn n_notes(&self) -> usize {
        self.tracks.iter().map(|t| t.notes.len()).sum()
    }

    /// End of the last note, in ticks (0 for a score without notes).
    pub fn last_note_end_tick(&self) -> u64 {
        self.tracks.iter().flat_map(|t| t.notes.iter().map(|n| n.end_tick)).max().unwrap_or(0)
    }

    pub fn duration_s(&self) -> f64 {
        self.seconds(self.end_tick)
    }

    /// Every note with the index of its track, sorted by (start_tick, track, pitch, end_tick).
    pub fn notes_in_order(&self) -> Vec<(usize, Note)> {
        let mut all: Vec<(usize, Note)> =
            self.tracks.iter().enumerate().flat_map(|(i, t)| t.notes.iter().map(move |n| (i, *n))).collect();
        all.sort_by_key(|(i, n)| (n.start_tick, *i, n.pitch, n.end_tick));
        all
    }

    /// The time signature in force at tick 0 (4/4 when the score has none there).
    pub fn first_time_signature(&self) -> TimeSignature {
        match self.time_signatures.first() {
            Some(ts) if ts.tick == 0 => *ts,
            _ => TimeSignature { tick: 0, numerator: 4, denominator: 4 },
        }
    }

    /// Every note moved by `semitones`; drum parts stay as they are, key signatures move
    /// along. Fails, naming the note, if a pitch would leave 0..=127.
    pub fn transpose(&self, semitones: i32) -> Result<Score, ScoreError> {
        let mut out = self.clone();
        for (track_idx, track) in out.tracks.iter_mut().enumerate().filter(|(_, t)| !t.is_drum) {
            for note in &mut track.notes {
                let moved = i32::from(note.pitch.get()) + semitones;
                note.pitch =
                    u8::try_from(moved).ok().and_then(|p| Pitch::new(p).ok()).ok_or(ScoreError::Transpose {
                        semitones,
                        pitch: note.pitch.get(),
                        track: track_idx,
                        tick: note.start_tick,
                    })?;
            }
        }
        for key in &mut out.key_signatures {
            *key = key.transposed(semitones);
        }
        Ok(out)
    }

    /// The score without the notes outside `low..=high` (drum parts included).
    pub fn clip_pitch(&self, low: Pitch, high: Pitch) -> Score {
        let mut out = self.clone();
        for track in &mut out.tracks {
            track.notes.retain(|n| (low..=high).contains(&n.pitch));
        }
        out
    }

    /// The same music at `factor` times the resolution: every tick multiplied.
    pub fn scale_resolution(&self, factor: u16) -> Result<Score, ScoreError> {
        let tpq = u32::from(self.ticks_per_quarter()) * u32::from(factor);
        let tpq = u16::try_from(tpq).ok().filter(|&t| factor > 0 && t <= 32767).ok_or(ScoreError::OutOfRange {
            what: "ticks per quarter after scaling",
            value: i64::from(tpq),
            min: 1,
            max: 32767,
        })?;
        let f = u64::from(factor);
        let mut out = self.clone();
        let tempos = self.tempo_map.changes().iter().map(|t| Tempo { tick: t.tick * f, ..*t }).collect();
        out.tempo_map = TempoMap::new(tpq, tempos)?;
        out.time_signatures.iter_mut().for_each(|t| t.tick *= f);
        out.key_signatures.iter_mut().for_each(|k| k.tick *= f);
        for track in &mut out.tracks {
            track.notes.iter_mut().for_each(|n| (n.start_tick, n.end_tick) = (n.start_tick * f, n.end_tick * f));
            track.controls.iter_mut().for_each(|c| c.tick *= f);
        }
        out.end_tick *= f;
        Ok(out)
    }

    /// The same music at a resolution of at least `min_ticks_per_quarter`, by the smallest
    /// whole factor: one tick per grid step is valid MIDI but unkind to editors.
    pub fn at_least_resolution(&self, min_ticks_per_quarter: u16) -> Result<Score, ScoreError> {
        let tpq = self.ticks_per_quarter();
        if tpq >= min_ticks_per_quarter {
            return Ok(self.clone());
        }
        self.scale_resolution(min_ticks_per_quarter.div_ceil(tpq))
    }

    /// Snaps the score to a grid of `steps_per_quarter` steps per quarter note and returns
    /// it at that resolution: one tick of the result is one grid step.
    ///
    /// Every time is rounded to the nearest step (halves round up). A note keeps at least
    /// one step. Within a track, a note that is still sounding when the same pitch starts
    /// again is cut there, and of two notes that start together on one pitch only the
    /// longer (louder on a tie) is kept: a grid cannot show anything else. Of tempo and
    /// signature events that land on one step, the last one wins.
    pub fn quantize(&self, steps_per_quarter: u32) -> Result<Score, ScoreError> {
        if !(1..=960).contains(&steps_per_quarter) {
            return Err(ScoreError::Grid(steps_per_quarter));
        }
        let tpq = u128::from(self.ticks_per_quarter());
        let spq = u128::from(steps_per_quarter);
        let step = |tick: u64| -> u64 { ((u128::from(tick) * spq * 2 + tpq) / (2 * tpq)) as u64 };

        let tempos =
            last_per_tick(self.tempo_map.changes().iter().map(|t| Tempo { tick: step(t.tick), ..*t }).collect(), |t| {
                t.tick
            });
        let mut out = Score {
            tempo_map: TempoMap::new(steps_per_quarter as u16, tempos)?,
            time_signatures: last_per_tick(
                self.time_signatures.iter().map(|t| TimeSignature { tick: step(t.tick), ..*t }).collect(),
                |t| t.tick,
            ),
            key_signatures: last_per_tick(
                self.key_signatures.iter().map(|k| KeySignature { tick: step(k.tick), ..*k }).collect(),
                |k| k.tick,
            ),
            tracks: Vec::with_capacity(self.tracks.len()),
            end_tick: 0,
        };
        for track in &self.tracks {
            let mut q = Track { notes: Vec::with_capacity(track.notes.len()), controls: Vec::new(), ..track.clone() };
            q.notes.extend(track.notes.iter().map(|n| {
                let start_tick = step(n.start_tick);
                Note { start_tick, end_tick: step(n.end_tick).max(start_tick + 1), ..*n }
            }));
            q.controls = track.controls.iter().map(|c| ControlChange { tick: step(c.tick), ..*c }).collect();
            q.sort();
            q.notes = resolve_same_pitch_overlaps(q.notes);
            out.tracks.push(q);
        }
        out.end_tick = step(self.end_tick).max(out.last_note_end_tick());
        Ok(out)
    }
}

/// Keeps, of several items on one tick, the last (items must be sorted by tick).
fn last_per_tick<T>(items: Vec<T>, tick: impl Fn(&T) -> u64) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    for item in items {
        match out.last_mut() {
            Some(last) if tick(last) == tick(&item) => *last = item,
            _ => out.push(item),
        }
    }
    out
}

/// Makes notes sorted by (start, pitch, end) playable on one channel: a note still
/// sounding when its pitch starts again is cut there, and of notes struck together on one
/// pitch only the last (the longest) is kept, with the loudest velocity.
pub fn resolve_same_pitch_overlaps(notes: Vec<Note>) -> Vec<Note> {
    let mut out: Vec<Note> = Vec::with_capacity(notes.len());
    // Index in `out` of the latest note of each pitch.
    let mut latest: [Option<usize>; 128] = [None; 128];
    for note in notes {
        let p = usize::from(note.pitch.get());
        if let Some(i) = latest[p] {
            let prev = &mut out[i];
            if prev.start_tick == note.start_tick {
                // Sorted by end: `note` is at least as long; keep the louder velocity.
                let velocity = prev.velocity.max(note.velocity);
                *prev = Note { velocity, ..note };
                continue;
            }
            if prev.end_tick > note.start_tick {
                prev.end_tick = note.start_tick;
            }
        }
        latest[p] = Some(out.len());
        out.push(note);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(tpq: u16, notes: &[(u8, u8, u64, u64)]) -> Score {
        let mut s = Score::new(tpq);
        let mut t = Track::new("t");
        t.notes = notes.iter().map(|&(p, v, a, b)| Note::new(p, v, a, b).unwrap()).collect();
        t.sort();
        s.end_tick = t.notes.iter().map(|n| n.end_tick).max().unwrap_or(0);
        s.tracks.push(t);
        s
    }

    fn notes(s: &Score) -> Vec<(u8, u8, u64, u64)> {
        s.tracks[0].notes.iter().map(|n| (n.pitch.get(), n.velocity.get(), n.start_tick, n.end_tick)).collect()
    }

    fn check_quantize(tpq: u16, spq: u32, input: &[(u8, u8, u64, u64)], expected: &[(u8, u8, u64, u64)]) {
        let q = score(tpq, input).quantize(spq).unwrap();
        assert_eq!(q.ticks_per_quarter(), spq as u16);
        assert_eq!(notes(&q), expected);
    }

    #[test]
    fn quantize_rounds_to_nearest_step() {
        check_quantize(480, 4, &[(60, 90, 0, 480), (62, 90, 479, 601)], &[(60, 90, 0, 4), (62, 90, 4, 5)]);
        // Halves round up: 60 ticks is half a sixteenth at 480 tpq.
        check_quantize(480, 4, &[(60, 90, 60, 180)], &[(60, 90, 1, 2)]);
    }

    #[test]
    fn quantize_keeps_short_notes_one_step() {
        check_quantize(480, 4, &[(60, 90, 0, 10)], &[(60, 90, 0, 1)]);
    }

    #[test]
    fn quantize_cuts_same_pitch_overlaps_and_merges_unisons() {
        check_quantize(4, 4, &[(60, 90, 0, 8), (60, 80, 4, 12)], &[(60, 90, 0, 4), (60, 80, 4, 12)]);
        check_quantize(4, 4, &[(60, 100, 0, 2), (60, 80, 0, 6)], &[(60, 100, 0, 6)]);
    }

    #[test]
    fn quantize_is_idempotent() {
        let q = score(480, &[(60, 90, 7, 500), (60, 70, 300, 1000), (72, 50, 0, 13)]).quantize(4).unwrap();
        assert_eq!(q.quantize(4).unwrap(), q);
    }

    #[test]
    fn scaling_resolution_keeps_seconds() {
        let s = score(4, &[(60, 90, 1, 3)]);
        let big = s.scale_resolution(120).unwrap();
        assert_eq!(big.ticks_per_quarter(), 480);
        assert_eq!(notes(&big), vec![(60, 90, 120, 360)]);
        assert_eq!(big.seconds(360), s.seconds(3));
        assert_eq!(big.quantize(4).unwrap(), s.quantize(4).unwrap());
        assert!(s.scale_resolution(10_000).is_err());
        assert_eq!(s.at_least_resolution(480).unwrap(), big);
        assert_eq!(big.at_least_resolution(480).unwrap(), big);
    }

    #[test]
    fn transpose_moves_notes_and_keys_but_not_drums() {
        let mut s = score(480, &[(60, 90, 0, 480)]);
        let mut drums = Track::new("drums");
        drums.is_drum = true;
        drums.notes.push(Note::new(36, 100, 0, 10).unwrap());
        s.tracks.push(drums);
        s.key_signatures.push(KeySignature::new(0, 0, false).unwrap());
        let t = s.transpose(-3).unwrap();
        assert_eq!(t.tracks[0].notes[0].pitch.get(), 57);
        assert_eq!(t.tracks[1].notes[0].pitch.get(), 36);
        assert_eq!(t.key_signatures[0].name(), "A");
    }

    #[test]
    fn transpose_out_of_range_names_the_note() {
        let err = score(480, &[(120, 90, 960, 1000)]).transpose(12).unwrap_err();
        assert_eq!(err.to_string(), "transposing by 12 semitones moves pitch 120 (track 0, tick 960) outside 0..=127");
    }

    #[test]
    fn clip_pitch_drops_outside_notes() {
        let s = score(480, &[(20, 90, 0, 1), (21, 90, 0, 1), (108, 90, 0, 1), (109, 90, 0, 1)]);
        let c = s.clip_pitch(Pitch::PIANO_LOW, Pitch::PIANO_HIGH);
        assert_eq!(notes(&c), vec![(21, 90, 0, 1), (108, 90, 0, 1)]);
    }

    #[test]
    fn notes_in_order_sorts_by_start_then_track() {
        let mut s = score(480, &[(64, 90, 0, 10)]);
        let mut t = Track::new("b");
        t.notes.push(Note::new(60, 90, 0, 10).unwrap());
        s.tracks.insert(0, t);
        let order: Vec<_> = s.notes_in_order().iter().map(|(i, n)| (*i, n.pitch.get())).collect();
        assert_eq!(order, vec![(0, 60), (1, 64)]);
    }
}
