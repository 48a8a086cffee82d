//! REMI-like tokens (Huang & Yang 2020, with programs as in REMI+): bars, positions on a
//! sixteenth-note grid, and for each note PROGRAM, PITCH, VELOCITY, DURATION; TEMPO and
//! TIME_SIG where they change. Parts are kept apart: the second, third, … part with the
//! same program (a chorale's alto, tenor and bass after its soprano, all on one program)
//! adds VOICE 1, 2, … after the note's PROGRAM, so the tokens are multi-track.
//!
//! A bar reads `BAR [TIME_SIG] (POSITION [TEMPO] (PROGRAM [VOICE] PITCH VELOCITY DURATION)*)*`.
//! Vocabulary, in order: BAR (1), POSITION 0..96, PITCH 0..128, DURATION 1..=64 steps,
//! VELOCITY 32 bins, PROGRAM 0..128 plus 128 = drums, TEMPO 32 bins (30 bpm × 2^(k/8),
//! about 30..450 bpm), TIME_SIG n/d for n in 1..=16 and d in 1, 2, 4, 8, 16, VOICE 1..16.

use fugato_score::{Channel, Note, Pitch, Program, Score, Tempo, TempoMap, TimeSignature, Track, Velocity};

use crate::performance::{N_VELOCITY_BINS, bin_velocity, velocity_bin};
use crate::{Decoded, ReprError, Vocabulary};

/// The grid: sixteenth notes.
pub const STEPS_PER_QUARTER: u32 = 4;
/// Longest bar, in steps (6/2 is 48, 12/8 is 24).
pub const MAX_BAR_STEPS: u32 = 96;
/// Longest note, in steps; longer notes are cut to it.
pub const MAX_DURATION: u32 = 64;
pub const N_TEMPO_BINS: u32 = 32;
/// Tempo bin k is 30 bpm × 2^(k/8): 30, 60, 120 and 240 bpm fall on bins exactly.
pub const MIN_BPM: f64 = 30.0;
const TEMPO_BINS_PER_OCTAVE: f64 = 8.0;
pub const DRUM_PROGRAM: u32 = 128;
const DENOMINATORS: [u8; 5] = [1, 2, 4, 8, 16];
const MAX_NUMERATOR: u8 = 16;
/// Parts per program; a seventeenth part on one program joins the sixteenth.
pub const MAX_VOICES: u32 = 16;

const BAR: u32 = 0;
const POSITION: u32 = 1;
const PITCH: u32 = POSITION + MAX_BAR_STEPS;
const DURATION: u32 = PITCH + 128;
const VELOCITY: u32 = DURATION + MAX_DURATION;
const PROGRAM: u32 = VELOCITY + N_VELOCITY_BINS;
const TEMPO: u32 = PROGRAM + 129;
const TIME_SIG: u32 = TEMPO + N_TEMPO_BINS;
// After every older token, so that checkpoints from before voices keep their ids.
const VOICE: u32 = TIME_SIG + MAX_NUMERATOR as u32 * DENOMINATORS.len() as u32;
pub const VOCAB_SIZE: u32 = VOICE + MAX_VOICES - 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Token {
    Bar,
    Position(u32),
    Pitch(u8),
    /// Steps, 1..=64.
    Duration(u32),
    Velocity(u32),
    /// 0..128, or [`DRUM_PROGRAM`].
    Program(u32),
    Tempo(u32),
    TimeSig(u8, u8),
    /// 1..16: the note's part is the (v+1)-th with its program; without it, the first.
    Voice(u32),
}

impl Token {
    pub fn id(self) -> u32 {
        match self {
            Token::Bar => BAR,
            Token::Position(p) => POSITION + p,
            Token::Pitch(p) => PITCH + u32::from(p),
            Token::Duration(d) => DURATION + d - 1,
            Token::Velocity(b) => VELOCITY + b,
            Token::Program(p) => PROGRAM + p,
            Token::Tempo(b) => TEMPO + b,
            Token::TimeSig(n, d) => {
                let d_idx = DENOMINATORS.iter().position(|&x| x == d).expect("valid denominator") as u32;
                TIME_SIG + (u32::from(n) - 1) * DENOMINATORS.len() as u32 + d_idx
            }
            Token::Voice(v) => VOICE + v - 1,
        }
    }

    pub fn from_id(id: u32) -> Option<Token> {
        Some(match id {
            BAR => Token::Bar,
            i if i < PITCH => Token::Position(i - POSITION),
            i if i < DURATION => Token::Pitch((i - PITCH) as u8),
            i if i < VELOCITY => Token::Duration(i - DURATION + 1),
            i if i < PROGRAM => Token::Velocity(i - VELOCITY),
            i if i < TEMPO => Token::Program(i - PROGRAM),
            i if i < TIME_SIG => Token::Tempo(i - TEMPO),
            i if i < VOICE => {
                let k = i - TIME_SIG;
                let n = (k / DENOMINATORS.len() as u32 + 1) as u8;
                Token::TimeSig(n, DENOMINATORS[(k % DENOMINATORS.len() as u32) as usize])
            }
            i if i < VOCAB_SIZE => Token::Voice(i - VOICE + 1),
            _ => return None,
        })
    }
}

pub fn vocabulary() -> Vocabulary {
    Vocabulary::new(
        "remi",
        vec![
            ("BAR", 1),
            ("POSITION", MAX_BAR_STEPS),
            ("PITCH", 128),
            ("DURATION", MAX_DURATION),
            ("VELOCITY", N_VELOCITY_BINS),
            ("PROGRAM", 129),
            ("TEMPO", N_TEMPO_BINS),
            ("TIME_SIG", MAX_NUMERATOR as u32 * DENOMINATORS.len() as u32),
            ("VOICE", MAX_VOICES - 1),
        ],
    )
}

/// Tempo bin of a tempo, nearest on a log scale.
pub fn tempo_bin(us_per_quarter: u32) -> u32 {
    let bpm = 60e6 / f64::from(us_per_quarter.max(1));
    let x = (bpm / MIN_BPM).log2() * TEMPO_BINS_PER_OCTAVE;
    x.round().clamp(0.0, f64::from(N_TEMPO_BINS - 1)) as u32
}

/// The tempo (µs per quarter) a bin decodes to.
pub fn bin_tempo(bin: u32) -> u32 {
    let bpm = MIN_BPM * (f64::from(bin.min(N_TEMPO_BINS - 1)) / TEMPO_BINS_PER_OCTAVE).exp2();
    (60e6 / bpm).round() as u32
}

/// Bar length in steps, if the meter has a token and a whole number of steps ≤ 96.
fn bar_steps(numerator: u8, denominator: u8) -> Option<u32> {
    let steps = u32::from(numerator) * STEPS_PER_QUARTER * 4;
    let ok = (1..=MAX_NUMERATOR).contains(&numerator)
        && DENOMINATORS.contains(&denominator)
        && steps.is_multiple_of(u32::from(denominator))
        && steps / u32::from(denominator) <= MAX_BAR_STEPS;
    ok.then(|| steps / u32::from(denominator))
}

const FOUR_FOUR: (u8, u8) = (4, 4);

/// What a score looks like after a trip through the tokens: on the sixteenth grid; parts
/// with notes kept apart (at most 16 per program: more join the sixteenth), ordered by
/// program (drums last) and then as they came, channels given in that order;
/// notes at most 64 steps and velocities at their bin; tempos at their bin, one at tick 0
/// and then only where the bin changes; meters at bar starts (one at 0, 4/4 when none or
/// when a meter has no token) and only where they change; the end on a bar line; no keys,
/// names or controllers.
pub fn canonical(score: &Score) -> Result<Score, ReprError> {
    let q = score.quantize(STEPS_PER_QUARTER)?;
    let music_end = q.end_tick.max(q.last_note_end_tick());
    // A bar (and a BAR token) at least every few steps: the grid's limit bounds them.
    crate::check_steps(music_end)?;

    // Bars and their meters.
    let meter_of = |ts: &TimeSignature| {
        bar_steps(ts.numerator, ts.denominator).map_or(FOUR_FOUR, |_| (ts.numerator, ts.denominator))
    };
    let mut changes = q.time_signatures.iter().peekable();
    let mut meter = FOUR_FOUR;
    let mut time_signatures: Vec<TimeSignature> = Vec::new();
    let mut start = 0u64;
    while start < music_end {
        while let Some(ts) = changes.next_if(|ts| ts.tick <= start) {
            meter = meter_of(ts);
        }
        if time_signatures.last().is_none_or(|t| (t.numerator, t.denominator) != meter) {
            time_signatures.push(TimeSignature { tick: start, numerator: meter.0, denominator: meter.1 });
        }
        start += u64::from(bar_steps(meter.0, meter.1).expect("canonical meters have a bar length"));
    }
    let end_tick = start;

    // An empty score has no bar to carry a tempo.
    let mut tempos: Vec<Tempo> = Vec::new();
    if end_tick > 0 {
        tempos.push(Tempo { tick: 0, us_per_quarter: bin_tempo(tempo_bin(q.tempo_map.us_per_quarter_at(0))) });
    }
    for t in q.tempo_map.changes().iter().filter(|t| t.tick > 0 && t.tick < end_tick) {
        let us_per_quarter = bin_tempo(tempo_bin(t.us_per_quarter));
        if tempos.last().is_some_and(|last| last.us_per_quarter != us_per_quarter) {
            tempos.push(Tempo { tick: t.tick, us_per_quarter });
        }
    }

    let mut groups: Vec<(Part, Vec<Note>)> = Vec::new();
    for track in q.tracks.iter().filter(|t| !t.notes.is_empty()) {
        let program = program_of(track);
        let voice = groups.iter().filter(|(p, _)| p.program == program).count().min(MAX_VOICES as usize - 1) as u32;
        let notes = track.notes.iter().map(|n| Note {
            end_tick: n.end_tick.min(n.start_tick + u64::from(MAX_DURATION)),
            velocity: Velocity::new(bin_velocity(velocity_bin(n.velocity.get()))).expect("bins are ≥ 1"),
            ..*n
        });
        let part = Part { program, voice };
        match groups.iter_mut().find(|(p, _)| *p == part) {
            Some((_, all)) => all.extend(notes),
            None => groups.push((part, notes.collect())),
        }
    }
    let tracks = parts_from_groups(groups);

    Ok(Score {
        tempo_map: TempoMap::new(STEPS_PER_QUARTER as u16, tempos)?,
        time_signatures,
        key_signatures: Vec::new(),
        tracks,
        end_tick,
    })
}

/// A part: its program ([`DRUM_PROGRAM`] for drums) and which of that program's parts
/// it is (0 for the first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Part {
    pub program: u32,
    pub voice: u32,
}

fn program_of(track: &Track) -> u32 {
    if track.is_drum { DRUM_PROGRAM } else { u32::from(track.program.get()) }
}

/// Tracks from (part, notes) groups: sorted by part (drums last), overlaps resolved,
/// channels handed out in that order around the drum channel; empty ones dropped.
fn parts_from_groups(mut groups: Vec<(Part, Vec<Note>)>) -> Vec<Track> {
    groups.sort_by_key(|(p, _)| *p);
    let mut next_channel = 0u8;
    let mut tracks = Vec::new();
    for (Part { program, .. }, mut notes) in groups.into_iter().filter(|(_, n)| !n.is_empty()) {
        notes.sort_by_key(|n| (n.start_tick, n.pitch, n.end_tick));
        let mut track = Track::new("");
        track.notes = fugato_score::resolve_same_pitch_overlaps(notes);
        if program == DRUM_PROGRAM {
            track.is_drum = true;
            track.channel = Channel::DRUMS;
        } else {
            track.program = Program::new(program as u8).expect("program < 128");
            if next_channel == Channel::DRUMS.get() {
                next_channel += 1;
            }
            track.channel = Channel::new(next_channel % 16).expect("channel < 16");
            next_channel += 1;
        }
        tracks.push(track);
    }
    tracks
}

pub fn encode(score: &Score) -> Result<Vec<u32>, ReprError> {
    let c = canonical(score)?;
    // Notes by start: (start, track index, pitch, velocity bin, duration).
    let mut notes: Vec<(u64, usize, u8, u32, u32)> = c
        .tracks
        .iter()
        .enumerate()
        .flat_map(|(i, t)| {
            t.notes.iter().map(move |n| {
                (n.start_tick, i, n.pitch.get(), velocity_bin(n.velocity.get()), n.duration_ticks() as u32)
            })
        })
        .collect();
    notes.sort_unstable();
    // Canonical tracks are in part order, so a track's voice is its place among its program's.
    let programs: Vec<u32> = c.tracks.iter().map(program_of).collect();
    let voices: Vec<u32> =
        (0..programs.len()).map(|i| programs[..i].iter().filter(|&&p| p == programs[i]).count() as u32).collect();

    let mut tokens = Vec::with_capacity(notes.len() * 5);
    let (mut notes, mut tempos, mut meters) =
        (notes.iter().peekable(), c.tempo_map.changes().iter().peekable(), c.time_signatures.iter().peekable());
    let mut bar_start = 0u64;
    let mut bar_len = 0u64;
    while bar_start < c.end_tick {
        tokens.push(Token::Bar.id());
        if let Some(ts) = meters.next_if(|ts| ts.tick == bar_start) {
            tokens.push(Token::TimeSig(ts.numerator, ts.denominator).id());
            bar_len = u64::from(bar_steps(ts.numerator, ts.denominator).expect("canonical meter"));
        }
        let bar_end = bar_start + bar_len;
        loop {
            let next_note = notes.peek().map(|n| n.0).filter(|&t| t < bar_end);
            let next_tempo = tempos.peek().map(|t| t.tick).filter(|&t| t < bar_end);
            let Some(step) = next_note.into_iter().chain(next_tempo).min() else { break };
            tokens.push(Token::Position((step - bar_start) as u32).id());
            if let Some(t) = tempos.next_if(|t| t.tick == step) {
                tokens.push(Token::Tempo(tempo_bin(t.us_per_quarter)).id());
            }
            while let Some(&(_, track, pitch, velocity, duration)) = notes.next_if(|n| n.0 == step) {
                tokens.push(Token::Program(programs[track]).id());
                if voices[track] > 0 {
                    tokens.push(Token::Voice(voices[track]).id());
                }
                tokens.extend([
                    Token::Pitch(pitch).id(),
                    Token::Velocity(velocity).id(),
                    Token::Duration(duration).id(),
                ]);
            }
        }
        bar_start = bar_end;
    }
    Ok(tokens)
}

/// Tokens → score; never fails. Tokens out of place are dropped and counted: a position
/// past the bar's end or before any bar, a DURATION without its PITCH, a PITCH with no
/// PROGRAM yet, a TIME_SIG not right after BAR, a VOICE not right after PROGRAM. A note
/// missing its VELOCITY gets bin 16.
pub fn decode(tokens: &[u32]) -> Decoded {
    let Parsed { groups, tempos, time_signatures, end_tick, repairs } = parse(tokens);
    let tracks = parts_from_groups(groups);
    let mut score = Score {
        tempo_map: TempoMap::new(STEPS_PER_QUARTER as u16, tempos).expect("bin tempos are > 0"),
        time_signatures,
        key_signatures: Vec::new(),
        tracks,
        end_tick,
    };
    score.end_tick = score.end_tick.max(score.last_note_end_tick());
    Decoded { score, repairs }
}

/// Tokens read as [`decode`] reads them, before the parts become tracks: each part's notes
/// (in the order drawn, overlaps not yet resolved) keep the part they were written for.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    pub groups: Vec<(Part, Vec<Note>)>,
    pub tempos: Vec<Tempo>,
    pub time_signatures: Vec<TimeSignature>,
    /// The end of the last bar begun (0 without a bar).
    pub end_tick: u64,
    pub repairs: usize,
}

/// See [`Parsed`].
pub fn parse(tokens: &[u32]) -> Parsed {
    let mut repairs = 0usize;
    let mut groups: Vec<(Part, Vec<Note>)> = Vec::new();
    let mut tempos: Vec<Tempo> = Vec::new();
    let mut time_signatures: Vec<TimeSignature> = Vec::new();
    let (mut meter, mut bar_start, mut bar_len) = (FOUR_FOUR, 0u64, 0u64);
    let mut in_bar = false;
    let mut just_barred = false;
    let mut now: Option<u64> = None;
    let (mut part, mut pitch, mut velocity): (Option<Part>, Option<u8>, Option<u32>) = (None, None, None);
    let mut just_programmed = false;

    for &id in tokens {
        let Some(token) = Token::from_id(id) else {
            repairs += 1;
            continue;
        };
        let after_bar = std::mem::take(&mut just_barred);
        let after_program = std::mem::take(&mut just_programmed);
        match token {
            Token::Bar => {
                if in_bar {
                    bar_start += bar_len;
                }
                in_bar = true;
                just_barred = true;
                now = None;
                bar_len = u64::from(bar_steps(meter.0, meter.1).expect("decoded meters have a bar length"));
                if bar_start == 0 && time_signatures.is_empty() {
                    time_signatures.push(TimeSignature { tick: 0, numerator: meter.0, denominator: meter.1 });
                }
            }
            Token::TimeSig(n, d) => match bar_steps(n, d) {
                Some(len) if after_bar => {
                    meter = (n, d);
                    bar_len = u64::from(len);
                    if time_signatures.last().is_some_and(|t| t.tick == bar_start) {
                        time_signatures.pop();
                    }
                    if time_signatures.last().is_none_or(|t| (t.numerator, t.denominator) != meter) {
                        time_signatures.push(TimeSignature { tick: bar_start, numerator: n, denominator: d });
                    }
                    just_barred = true;
                }
                _ => repairs += 1,
            },
            Token::Position(p) if in_bar && u64::from(p) < bar_len => now = Some(bar_start + u64::from(p)),
            Token::Position(_) => {
                repairs += 1;
                now = None;
            }
            Token::Tempo(bin) => match now {
                Some(tick) => {
                    let us_per_quarter = bin_tempo(bin);
                    if tempos.last().is_some_and(|t| t.tick == tick) {
                        tempos.pop();
                    }
                    if tempos.last().is_none_or(|t| t.us_per_quarter != us_per_quarter) {
                        tempos.push(Tempo { tick, us_per_quarter });
                    }
                }
                None => repairs += 1,
            },
            Token::Program(p) => {
                part = Some(Part { program: p, voice: 0 });
                just_programmed = true;
            }
            Token::Voice(v) => match &mut part {
                Some(part) if after_program => part.voice = v,
                _ => repairs += 1,
            },
            Token::Pitch(p) => pitch = Some(p),
            Token::Velocity(b) => velocity = Some(b),
            Token::Duration(d) => match (now, part, pitch.take()) {
                (Some(start), Some(part), Some(p)) => {
                    let v = velocity.take().unwrap_or_else(|| {
                        repairs += 1;
                        N_VELOCITY_BINS / 2
                    });
                    let note = Note {
                        pitch: Pitch::new(p).expect("7-bit pitch"),
                        velocity: Velocity::new(bin_velocity(v)).expect("bin velocities are ≥ 1"),
                        start_tick: start,
                        end_tick: start + u64::from(d),
                    };
                    match groups.iter_mut().find(|(g, _)| *g == part) {
                        Some((_, notes)) => notes.push(note),
                        None => groups.push((part, vec![note])),
                    }
                }
                _ => repairs += 1,
            },
        }
    }
    let end_tick = if in_bar { bar_start + bar_len } else { 0 };
    Parsed { groups, tempos, time_signatures, end_tick, repairs }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for id in 0..VOCAB_SIZE {
            assert_eq!(Token::from_id(id).unwrap().id(), id, "{id}");
        }
        assert_eq!(Token::from_id(VOCAB_SIZE), None);
        assert_eq!(vocabulary().size(), VOCAB_SIZE);
    }

    #[test]
    fn tempo_bins_are_fixed_points() {
        for b in 0..N_TEMPO_BINS {
            assert_eq!(tempo_bin(bin_tempo(b)), b);
        }
        assert_eq!(tempo_bin(500_000), 16); // 120 bpm
        assert_eq!(bin_tempo(16), 500_000);
    }

    #[test]
    fn encodes_a_bar_of_three_four() {
        // 3/4 at 120 bpm, 4 tpq: a dotted half note then nothing.
        let mut s = Score::new(4);
        s.time_signatures.push(TimeSignature::new(0, 3, 4).unwrap());
        let mut t = Track::new("");
        t.notes.push(Note::new(67, 90, 0, 12).unwrap());
        s.tracks.push(t);
        s.end_tick = 12;
        let tokens: Vec<Token> = encode(&s).unwrap().into_iter().map(|i| Token::from_id(i).unwrap()).collect();
        use Token::*;
        assert_eq!(
            tokens,
            vec![Bar, TimeSig(3, 4), Position(0), Tempo(16), Program(0), Pitch(67), Velocity(22), Duration(12)]
        );
    }

    #[test]
    fn parts_on_one_program_stay_apart() {
        // A chorale's four voices, all on program 0, one note each at the same time.
        let mut s = Score::new(4);
        for (name, pitch) in [("Soprano", 72), ("Alto", 67), ("Tenor", 64), ("Bass", 48)] {
            let mut t = Track::new(name);
            t.notes.push(Note::new(pitch, 90, 0, 4).unwrap());
            s.tracks.push(t);
        }
        s.end_tick = 16;
        let tokens: Vec<Token> = encode(&s).unwrap().into_iter().map(|i| Token::from_id(i).unwrap()).collect();
        let voices: Vec<u32> =
            tokens.iter().filter_map(|t| if let Token::Voice(v) = t { Some(*v) } else { None }).collect();
        assert_eq!(voices, [1, 2, 3]);
        let d = decode(&tokens.iter().map(|t| t.id()).collect::<Vec<_>>());
        assert_eq!(d.repairs, 0);
        let tops: Vec<u8> = d.score.tracks.iter().map(|t| t.notes[0].pitch.get()).collect();
        assert_eq!(tops, [72, 67, 64, 48], "one track per voice, in the file's order");
        let channels: Vec<u8> = d.score.tracks.iter().map(|t| t.channel.get()).collect();
        assert_eq!(channels, [0, 1, 2, 3]);
    }

    #[test]
    fn decode_drops_tokens_out_of_place() {
        use Token::*;
        let ids: Vec<u32> =
            [Position(0), Duration(4), Bar, Position(0), Pitch(60), Duration(4), Program(0), Pitch(62), Duration(2)]
                .iter()
                .map(|t| t.id())
                .collect();
        let d = decode(&ids);
        // Position before any bar, Duration without pitch, note before any program,
        // missing velocity on the last note.
        assert_eq!(d.repairs, 4);
        assert_eq!(d.score.n_notes(), 1);
        assert_eq!(d.score.end_tick, 16);
    }

    #[test]
    fn a_voice_counts_only_right_after_its_program() {
        use Token::*;
        let ids: Vec<u32> =
            [Bar, Position(0), Voice(2), Program(0), Voice(1), Pitch(60), Duration(4), Pitch(64), Voice(3)]
                .iter()
                .map(|t| t.id())
                .collect();
        let d = decode(&ids);
        // The first VOICE has no PROGRAM before it, the last not right after one; the
        // note, missing its velocity (a repair), is on voice 1, the only track.
        assert_eq!(d.repairs, 2 + 1);
        assert_eq!(d.score.tracks.len(), 1);
    }
}
