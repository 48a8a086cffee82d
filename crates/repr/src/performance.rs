//! Performance events, as in Magenta's PerformanceRNN: one stream of NOTE_ON(pitch),
//! NOTE_OFF(pitch), TIME_SHIFT(10 ms .. 1 s) and VELOCITY(32 bins) tokens in real time.
//!
//! Vocabulary (388 tokens): 0..128 NOTE_ON, 128..256 NOTE_OFF, 256..356 TIME_SHIFT of
//! (1..=100) × 10 ms, 356..388 VELOCITY bin 0..32. The stream has no parts, programs,
//! meter or key: all pitched parts play as one piano part, and drums are left out.

use fugato_score::{Note, Pitch, Score, TempoMap, Track, Velocity};

use crate::{Decoded, ReprError, Vocabulary};

pub const N_PITCHES: u32 = 128;
pub const N_TIME_SHIFTS: u32 = 100;
pub const N_VELOCITY_BINS: u32 = 32;
/// Length of one time step.
pub const STEP_MS: u32 = 10;
/// One tick of a decoded score is one 10 ms step: 50 ticks per quarter at 120 bpm.
pub const TICKS_PER_QUARTER: u16 = 50;
const US_PER_QUARTER: u32 = 500_000;

const NOTE_ON: u32 = 0;
const NOTE_OFF: u32 = NOTE_ON + N_PITCHES;
const TIME_SHIFT: u32 = NOTE_OFF + N_PITCHES;
const VELOCITY: u32 = TIME_SHIFT + N_TIME_SHIFTS;
pub const VOCAB_SIZE: u32 = VELOCITY + N_VELOCITY_BINS;

/// A token of the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    NoteOn(u8),
    NoteOff(u8),
    /// Steps of 10 ms, 1..=100.
    TimeShift(u32),
    /// Bin 0..32.
    Velocity(u32),
}

impl Event {
    pub fn token(self) -> u32 {
        match self {
            Event::NoteOn(p) => NOTE_ON + u32::from(p),
            Event::NoteOff(p) => NOTE_OFF + u32::from(p),
            Event::TimeShift(steps) => TIME_SHIFT + steps - 1,
            Event::Velocity(bin) => VELOCITY + bin,
        }
    }

    pub fn from_token(token: u32) -> Option<Event> {
        Some(match token {
            t if t < NOTE_OFF => Event::NoteOn(t as u8),
            t if t < TIME_SHIFT => Event::NoteOff((t - NOTE_OFF) as u8),
            t if t < VELOCITY => Event::TimeShift(t - TIME_SHIFT + 1),
            t if t < VOCAB_SIZE => Event::Velocity(t - VELOCITY),
            _ => return None,
        })
    }
}

/// Velocity bin of a MIDI velocity: four velocities a bin (Magenta's binning).
pub fn velocity_bin(velocity: u8) -> u32 {
    (u32::from(velocity.max(1)) - 1) / 4
}

/// The velocity a bin decodes to: the lowest of the bin.
pub fn bin_velocity(bin: u32) -> u8 {
    (1 + bin.min(N_VELOCITY_BINS - 1) * 4) as u8
}

pub fn vocabulary() -> Vocabulary {
    Vocabulary::new(
        "performance",
        vec![
            ("NOTE_ON", N_PITCHES),
            ("NOTE_OFF", N_PITCHES),
            ("TIME_SHIFT", N_TIME_SHIFTS),
            ("VELOCITY", N_VELOCITY_BINS),
        ],
    )
}

/// What a score looks like after a trip through the stream: pitched parts merged into
/// one, times on the 10 ms grid (one tick a step), velocities at their bin's value, and
/// no meter, key or controllers.
pub fn canonical(score: &Score) -> Result<Score, ReprError> {
    let step = |tick: u64| (score.seconds(tick) * 1000.0 / f64::from(STEP_MS)).round() as u64;
    let mut notes: Vec<Note> = score
        .tracks
        .iter()
        .filter(|t| !t.is_drum)
        .flat_map(|t| t.notes.iter())
        .map(|n| {
            let start_tick = step(n.start_tick);
            Note {
                start_tick,
                end_tick: step(n.end_tick).max(start_tick + 1),
                velocity: Velocity::new(bin_velocity(velocity_bin(n.velocity.get()))).expect("bins are ≥ 1"),
                pitch: n.pitch,
            }
        })
        .collect();
    notes.sort_by_key(|n| (n.start_tick, n.pitch, n.end_tick));
    let mut track = Track::new("");
    track.notes = fugato_score::resolve_same_pitch_overlaps(notes);
    let mut out = Score::new(TICKS_PER_QUARTER);
    out.tempo_map = TempoMap::constant(TICKS_PER_QUARTER, US_PER_QUARTER)?;
    out.end_tick = step(score.end_tick).max(track.notes.iter().map(|n| n.end_tick).max().unwrap_or(0));
    out.tracks.push(track);
    Ok(out)
}

/// Score → tokens. At one moment, note-offs come before note-ons; a VELOCITY token comes
/// before a NOTE_ON whenever the velocity bin changes; trailing silence is kept.
pub fn encode(score: &Score) -> Result<Vec<u32>, ReprError> {
    let c = canonical(score)?;
    // A TIME_SHIFT token per second of time at least: the grid's limit bounds them.
    crate::check_steps(c.end_tick / u64::from(N_TIME_SHIFTS))?;
    // (step, 0 = off / 1 = on, pitch, velocity bin)
    let mut events: Vec<(u64, u8, u8, u32)> = Vec::with_capacity(2 * c.n_notes());
    for n in &c.tracks[0].notes {
        events.push((n.end_tick, 0, n.pitch.get(), 0));
        events.push((n.start_tick, 1, n.pitch.get(), velocity_bin(n.velocity.get())));
    }
    events.sort_unstable();
    let mut tokens = Vec::with_capacity(events.len() * 2);
    let mut now = 0u64;
    let mut bin: Option<u32> = None;
    let advance = |tokens: &mut Vec<u32>, now: &mut u64, to: u64| {
        while *now < to {
            let shift = (to - *now).min(u64::from(N_TIME_SHIFTS));
            tokens.push(Event::TimeShift(shift as u32).token());
            *now += shift;
        }
    };
    for (step, kind, pitch, velocity) in events {
        advance(&mut tokens, &mut now, step);
        if kind == 0 {
            tokens.push(Event::NoteOff(pitch).token());
        } else {
            if bin != Some(velocity) {
                tokens.push(Event::Velocity(velocity).token());
                bin = Some(velocity);
            }
            tokens.push(Event::NoteOn(pitch).token());
        }
    }
    advance(&mut tokens, &mut now, c.end_tick);
    Ok(tokens)
}

/// Tokens → score; never fails. A NOTE_OFF with no open note is dropped; a NOTE_ON on a
/// sounding pitch ends the earlier note first (or replaces it, if struck at the same
/// moment); notes still open at the end close there (or are dropped when that leaves
/// them no length); unknown tokens are dropped. Each repair is counted.
pub fn decode(tokens: &[u32]) -> Decoded {
    let mut open: [Option<(u64, u8)>; 128] = [None; 128];
    let mut notes = Vec::new();
    let (mut now, mut velocity, mut repairs) = (0u64, 64u8, 0usize);
    for &token in tokens {
        match Event::from_token(token) {
            None => repairs += 1,
            Some(Event::TimeShift(steps)) => now += u64::from(steps),
            Some(Event::Velocity(bin)) => velocity = bin_velocity(bin),
            Some(Event::NoteOn(p)) => {
                if let Some((start, v)) = open[usize::from(p)] {
                    repairs += 1;
                    if start < now {
                        notes.push(note(p, v, start, now));
                    }
                }
                open[usize::from(p)] = Some((now, velocity));
            }
            Some(Event::NoteOff(p)) => match open[usize::from(p)].take() {
                Some((start, v)) if start < now => notes.push(note(p, v, start, now)),
                _ => repairs += 1,
            },
        }
    }
    for (p, slot) in open.iter().enumerate() {
        if let Some((start, v)) = slot {
            repairs += 1;
            if *start < now {
                notes.push(note(p as u8, *v, *start, now));
            }
        }
    }
    let mut track = Track::new("");
    track.notes = notes;
    track.sort();
    let mut score = Score::new(TICKS_PER_QUARTER);
    score.tempo_map = TempoMap::constant(TICKS_PER_QUARTER, US_PER_QUARTER).expect("constant tempo is valid");
    score.end_tick = now;
    score.tracks.push(track);
    Decoded { score, repairs }
}

fn note(pitch: u8, velocity: u8, start: u64, end: u64) -> Note {
    Note {
        pitch: Pitch::new(pitch).expect("7-bit pitch"),
        velocity: Velocity::new(velocity).expect("bin velocities are ≥ 1"),
        start_tick: start,
        end_tick: end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_through_events() {
        for token in 0..VOCAB_SIZE {
            assert_eq!(Event::from_token(token).unwrap().token(), token);
        }
        assert_eq!(Event::from_token(VOCAB_SIZE), None);
    }

    #[test]
    fn velocity_bins_are_fixed_points() {
        for v in 1..=127u8 {
            let b = velocity_bin(v);
            assert!(b < N_VELOCITY_BINS);
            assert_eq!(velocity_bin(bin_velocity(b)), b);
        }
    }

    #[test]
    fn encodes_magenta_style() {
        // 120 bpm, 480 tpq: C4 for half a second from 0, then E4 (velocity 100) for 1.5 s.
        let mut s = Score::new(480);
        let mut t = Track::new("");
        t.notes = vec![Note::new(60, 90, 0, 480).unwrap(), Note::new(64, 100, 480, 1920).unwrap()];
        s.end_tick = 1920;
        s.tracks.push(t);
        let events: Vec<Event> = encode(&s).unwrap().into_iter().map(|t| Event::from_token(t).unwrap()).collect();
        use Event::*;
        assert_eq!(
            events,
            vec![
                Velocity(22),
                NoteOn(60),
                TimeShift(50),
                NoteOff(60),
                Velocity(24),
                NoteOn(64),
                TimeShift(100),
                TimeShift(50),
                NoteOff(64)
            ]
        );
    }

    #[test]
    fn decode_repairs_impossible_orders() {
        use Event::*;
        let tokens: Vec<u32> =
            [NoteOff(60), NoteOn(62), NoteOn(62), TimeShift(5), NoteOn(64)].iter().map(|e| e.token()).collect();
        let d = decode(&tokens);
        // The stray off, the re-struck 62 and the two notes left open are repairs.
        assert_eq!(d.repairs, 4);
        let notes: Vec<_> = d.score.tracks[0].notes.iter().map(|n| (n.pitch.get(), n.start_tick, n.end_tick)).collect();
        assert_eq!(notes, vec![(62, 0, 5)]);
    }
}
