//! Voice leading of part writing: parallel fifths and octaves, voice crossings, wide spacing
//! and notes outside each voice's range, counted per 100 beats (quarter notes).
//!
//! The voices are the score's pitched tracks, two to [`MAX_VOICES`] of them, ordered from the
//! top. Where two or more tracks name distinct choir parts (Soprano, Alto, Tenor, Bass and
//! their Latin and Italian names: Cantus, Altus, Tenor, Bassus, Canto, Basso, …), the voices
//! are those parts in that order, and the other tracks (the instruments that double them in
//! many of Bach's chorales: recorders, horns, continuo) are left out; otherwise every
//! pitched track is a voice, by mean pitch, highest first. A voice sounds, at any moment, the highest of its
//! notes sounding then. The piece is read as a chain of sonorities, one at each tick where
//! any voice starts a note.
//!
//! - **Parallel fifths / octaves**: from one sonority to the next, two voices (any pair) that
//!   both move, in the same direction, from a perfect fifth to a perfect fifth (or from an
//!   octave or unison to an octave or unison), compound intervals included.
//! - **Voice crossings**: a sonority where two neighbouring voices cross (the lower part
//!   above the upper) and at least one of them strikes a note there.
//! - **Wide spacings**: the same for two neighbouring upper voices (every voice but the
//!   lowest) more than an octave apart.
//! - **Out of range**: notes of a soprano, alto, tenor or bass outside its range
//!   ([`Role::range`]). A voice has a role by its name, or by its place when the piece has
//!   exactly four voices and no names; other voices have no range.
//!
//! ```
//! use fugato_score::{Note, Score, Track, voice_leading::VoiceLeading};
//!
//! // Soprano and bass move C–G to D–A: parallel fifths (compound: a twelfth).
//! let mut score = Score::new(1);
//! for (name, pitches) in [("Soprano", [67, 69]), ("Bass", [48, 50])] {
//!     let mut track = Track::new(name);
//!     track.notes = vec![Note::new(pitches[0], 80, 0, 1)?, Note::new(pitches[1], 80, 1, 2)?];
//!     score.tracks.push(track);
//! }
//! let counts = VoiceLeading::count(&score).expect("two voices");
//! assert_eq!(counts.parallel_fifths, 1);
//! assert_eq!(counts.beats, 2.0);
//! # Ok::<(), fugato_score::ScoreError>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::{Note, Score, Track};

/// More pitched tracks than this are an ensemble, not part writing: no voice leading.
pub const MAX_VOICES: usize = 8;

/// The four choir parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Soprano,
    Alto,
    Tenor,
    Bass,
}

impl Role {
    const ALL: [Role; 4] = [Role::Soprano, Role::Alto, Role::Tenor, Role::Bass];

    /// The part a track's name gives, in English, Latin or Italian ("Soprano I", "Bassus",
    /// "Canto" and "Contratenor" included); `None` for other names.
    pub fn of_name(name: &str) -> Option<Role> {
        let word = name.trim().to_lowercase();
        let word = word.split(|c: char| !c.is_alphabetic()).next().unwrap_or("");
        match word {
            "soprano" | "cantus" | "canto" | "superius" | "discantus" | "treble" => Some(Role::Soprano),
            "alto" | "altus" | "contralto" | "contratenor" | "countertenor" => Some(Role::Alto),
            "tenor" | "tenore" => Some(Role::Tenor),
            "bass" | "bassus" | "basso" => Some(Role::Bass),
            _ => None,
        }
    }

    /// The usual range of the part in MIDI pitches, inclusive (Aldwell & Schachter's:
    /// soprano C4–G5, alto G3–D5, tenor C3–G4, bass E2–C4).
    pub fn range(self) -> (u8, u8) {
        match self {
            Role::Soprano => (60, 79),
            Role::Alto => (55, 74),
            Role::Tenor => (48, 67),
            Role::Bass => (40, 60),
        }
    }
}

/// What [`VoiceLeading::count`] found in one piece.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub parallel_fifths: u32,
    pub parallel_octaves: u32,
    pub voice_crossings: u32,
    pub wide_spacings: u32,
    pub out_of_range: u32,
    /// The piece's length in quarter notes, to its last note's end.
    pub beats: f64,
}

/// The voice-leading counts of a piece per 100 beats; `NaN` where the piece has no part
/// writing (fewer than two or more than [`MAX_VOICES`] voices, or no length).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct VoiceLeading {
    pub parallel_fifths: f64,
    pub parallel_octaves: f64,
    pub voice_crossings: f64,
    pub wide_spacings: f64,
    pub out_of_range: f64,
}

impl Counts {
    /// Adds another piece's counts and length (for rates over a set of pieces).
    pub fn add(&mut self, other: &Counts) {
        self.parallel_fifths += other.parallel_fifths;
        self.parallel_octaves += other.parallel_octaves;
        self.voice_crossings += other.voice_crossings;
        self.wide_spacings += other.wide_spacings;
        self.out_of_range += other.out_of_range;
        self.beats += other.beats;
    }

    /// The counts per 100 beats; `NaN` without length.
    pub fn rates(&self) -> VoiceLeading {
        let per_100 = |n: u32| if self.beats > 0.0 { f64::from(n) * 100.0 / self.beats } else { f64::NAN };
        VoiceLeading {
            parallel_fifths: per_100(self.parallel_fifths),
            parallel_octaves: per_100(self.parallel_octaves),
            voice_crossings: per_100(self.voice_crossings),
            wide_spacings: per_100(self.wide_spacings),
            out_of_range: per_100(self.out_of_range),
        }
    }
}

impl VoiceLeading {
    pub fn of(score: &Score) -> VoiceLeading {
        VoiceLeading::count(score).unwrap_or_default().rates()
    }

    /// The counts, or `None` when the piece has fewer than two or more than [`MAX_VOICES`]
    /// pitched tracks with notes.
    pub fn count(score: &Score) -> Option<Counts> {
        let voices = ordered_voices(score)?;
        let mut counts = Counts {
            beats: score.last_note_end_tick() as f64 / f64::from(score.ticks_per_quarter()),
            ..Counts::default()
        };
        for (track, role) in &voices {
            if let Some((low, high)) = role.map(Role::range) {
                let outside = track.notes.iter().filter(|n| !(low..=high).contains(&n.pitch.get())).count();
                counts.out_of_range += outside as u32;
            }
        }
        let tracks: Vec<&Track> = voices.iter().map(|(t, _)| *t).collect();
        let mut sweeps: Vec<Sweep> =
            tracks.iter().map(|t| Sweep { notes: &t.notes, next: 0, sounding: Vec::new() }).collect();
        let mut previous: Option<Sonority> = None;
        for tick in onsets(&tracks) {
            let now = Sonority::at(&mut sweeps, tick);
            count_vertical(&now, &mut counts);
            if let Some(before) = &previous {
                count_parallels(before, &now, &mut counts);
            }
            previous = Some(now);
        }
        Some(counts)
    }
}

/// The pitched tracks with notes, top voice first, each with its role when it has one.
fn ordered_voices(score: &Score) -> Option<Vec<(&Track, Option<Role>)>> {
    let tracks: Vec<&Track> = score.tracks.iter().filter(|t| !t.is_drum && !t.notes.is_empty()).collect();
    if !(2..=MAX_VOICES).contains(&tracks.len()) {
        return None;
    }
    let mut named: Vec<(&Track, Role)> =
        tracks.iter().filter_map(|&t| Role::of_name(&t.name).map(|role| (t, role))).collect();
    named.sort_by_key(|(_, role)| *role);
    let distinct = named.windows(2).all(|w| w[0].1 != w[1].1);
    if named.len() >= 2 && distinct {
        return Some(named.into_iter().map(|(t, role)| (t, Some(role))).collect());
    }
    let mean_pitch = |t: &Track| t.notes.iter().map(|n| f64::from(n.pitch.get())).sum::<f64>() / t.notes.len() as f64;
    let mut by_pitch = tracks;
    by_pitch.sort_by(|a, b| mean_pitch(b).total_cmp(&mean_pitch(a)));
    let four = by_pitch.len() == 4;
    Some(by_pitch.into_iter().enumerate().map(|(i, t)| (t, four.then(|| Role::ALL[i]))).collect())
}

/// Every tick where some voice starts a note, ascending, once each.
fn onsets(tracks: &[&Track]) -> Vec<u64> {
    let mut ticks: Vec<u64> = tracks.iter().flat_map(|t| t.notes.iter().map(|n| n.start_tick)).collect();
    ticks.sort_unstable();
    ticks.dedup();
    ticks
}

/// One voice's notes swept in time: those started so far and still sounding.
struct Sweep<'a> {
    /// Sorted by start.
    notes: &'a [Note],
    /// The first note not started yet.
    next: usize,
    sounding: Vec<Note>,
}

impl Sweep<'_> {
    /// Moves to `tick` (never back): the notes sounding there.
    fn at(&mut self, tick: u64) -> &[Note] {
        while self.next < self.notes.len() && self.notes[self.next].start_tick <= tick {
            self.sounding.push(self.notes[self.next]);
            self.next += 1;
        }
        self.sounding.retain(|n| n.end_tick > tick);
        &self.sounding
    }
}

/// What each voice sounds at one tick: its highest sounding pitch, and whether it strikes a
/// note there.
struct Sonority {
    pitches: Vec<Option<u8>>,
    struck: Vec<bool>,
}

impl Sonority {
    /// The sonority at `tick`, each sweep moved there (ticks ascending from call to call).
    fn at(sweeps: &mut [Sweep], tick: u64) -> Sonority {
        let mut pitches = Vec::with_capacity(sweeps.len());
        let mut struck = Vec::with_capacity(sweeps.len());
        for sweep in sweeps {
            let sounding = sweep.at(tick);
            pitches.push(sounding.iter().map(|n| n.pitch.get()).max());
            struck.push(sounding.iter().any(|n| n.start_tick == tick));
        }
        Sonority { pitches, struck }
    }
}

/// Crossings and wide spacings struck at one sonority, between neighbouring voices.
fn count_vertical(s: &Sonority, counts: &mut Counts) {
    let n = s.pitches.len();
    for upper in 0..n - 1 {
        let lower = upper + 1;
        let (Some(high), Some(low)) = (s.pitches[upper], s.pitches[lower]) else { continue };
        if !(s.struck[upper] || s.struck[lower]) {
            continue;
        }
        if low > high {
            counts.voice_crossings += 1;
        }
        // Spacing matters between the upper voices only: not between the lowest and the rest.
        if lower < n - 1 && high.abs_diff(low) > 12 {
            counts.wide_spacings += 1;
        }
    }
}

/// Parallel fifths and octaves between any two voices from one sonority to the next.
fn count_parallels(before: &Sonority, now: &Sonority, counts: &mut Counts) {
    let n = now.pitches.len();
    for a in 0..n {
        for b in a + 1..n {
            let (Some(a0), Some(b0), Some(a1), Some(b1)) =
                (before.pitches[a], before.pitches[b], now.pitches[a], now.pitches[b])
            else {
                continue;
            };
            let same_direction = (a1 > a0 && b1 > b0) || (a1 < a0 && b1 < b0);
            if !same_direction {
                continue;
            }
            match (a0.abs_diff(b0) % 12, a1.abs_diff(b1) % 12) {
                (7, 7) => counts.parallel_fifths += 1,
                (0, 0) => counts.parallel_octaves += 1,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A score at one tick per quarter: each part a name and its pitches, one per beat
    /// (0 = a rest).
    fn parts(voices: &[(&str, &[u8])]) -> Score {
        let mut score = Score::new(1);
        for (name, pitches) in voices {
            let mut track = Track::new(*name);
            for (beat, &p) in pitches.iter().enumerate() {
                if p > 0 {
                    track.notes.push(Note::new(p, 80, beat as u64, beat as u64 + 1).unwrap());
                }
            }
            score.tracks.push(track);
        }
        score.end_tick = score.last_note_end_tick();
        score
    }

    /// (fifths, octaves, crossings, wide spacings, out of range) of a piece.
    fn check(voices: &[(&str, &[u8])], expected: (u32, u32, u32, u32, u32)) {
        let c = VoiceLeading::count(&parts(voices)).expect("part writing");
        let found = (c.parallel_fifths, c.parallel_octaves, c.voice_crossings, c.wide_spacings, c.out_of_range);
        assert_eq!(found, expected, "{voices:?}");
    }

    #[test]
    fn a_clean_four_part_progression_counts_zero() {
        // I – IV – V – I in C major, close position, textbook voice leading.
        check(
            &[
                ("Soprano", &[72, 72, 71, 72]),
                ("Alto", &[67, 69, 67, 67]),
                ("Tenor", &[64, 65, 62, 64]),
                ("Bass", &[48, 53, 55, 48]),
            ],
            (0, 0, 0, 0, 0),
        );
    }

    #[test]
    fn parallel_fifths_and_octaves_between_any_two_voices() {
        // Every voice steps up, then the alto turns down. Tenor and bass in unison, the
        // soprano an octave above them, the alto a fifth above them.
        check(
            &[("Soprano", &[60, 62, 64]), ("Alto", &[55, 57, 55]), ("Tenor", &[48, 50, 52]), ("Bass", &[48, 50, 52])],
            // First step: octaves S–T, S–B, unison T–B (3); fifths A–T, A–B (2). Second
            // step: the alto moves against the others, so only S–T, S–B, T–B (3 octaves).
            (2, 6, 0, 0, 0),
        );
    }

    #[test]
    fn fifths_by_oblique_or_contrary_motion_or_into_an_octave_are_not_parallel() {
        // A fifth to a twelfth with the soprano held (oblique motion).
        check(&[("Soprano", &[72, 72]), ("Bass", &[53, 41])], (0, 0, 0, 0, 0));
        // A fifth to a twelfth in contrary motion.
        check(&[("Soprano", &[67, 79]), ("Bass", &[60, 48])], (0, 0, 0, 0, 0));
        // A twelfth to a double octave, both up: similar motion, but not fifths to fifths.
        check(&[("Soprano", &[67, 74]), ("Bass", &[48, 50])], (0, 0, 0, 0, 0));
    }

    #[test]
    fn crossings_are_counted_where_struck() {
        // The alto climbs above the soprano on beat 2 and stays above through beat 3, where
        // neither strikes a note (the tenor moves): one crossing.
        let mut score = parts(&[("Soprano", &[67, 64]), ("Alto", &[64, 69]), ("Tenor", &[55, 57, 55])]);
        score.tracks[0].notes[1].end_tick = 3;
        score.tracks[1].notes[1].end_tick = 3;
        let c = VoiceLeading::count(&score).unwrap();
        assert_eq!(c.voice_crossings, 1);
    }

    #[test]
    fn wide_spacing_is_between_upper_voices_only() {
        // Upper voices within an octave, tenor and bass a tenth apart: fine.
        check(&[("Soprano", &[72]), ("Alto", &[64]), ("Tenor", &[55]), ("Bass", &[41])], (0, 0, 0, 0, 0));
        // Alto and tenor a twelfth apart: wide.
        check(&[("Soprano", &[76]), ("Alto", &[67]), ("Tenor", &[48]), ("Bass", &[40])], (0, 0, 0, 1, 0));
        // Soprano an eleventh above the alto (and above its range), then an octave: one.
        check(
            &[("Soprano", &[84, 79]), ("Alto", &[67, 67]), ("Tenor", &[60, 60]), ("Bass", &[48, 48])],
            (0, 0, 0, 1, 1),
        );
    }

    #[test]
    fn ranges_follow_names_or_the_order_of_four_unnamed_parts() {
        // A bass's D2 (38) is below its range; the soprano's A5 (81) above.
        check(&[("Soprano", &[81, 72]), ("Bass", &[38, 48])], (0, 0, 0, 0, 2));
        // Four unnamed parts take S, A, T, B by mean pitch; three unnamed parts have no ranges.
        check(&[("p1", &[81]), ("p2", &[70]), ("p3", &[60]), ("p4", &[48])], (0, 0, 0, 0, 1));
        check(&[("p1", &[81]), ("p2", &[70]), ("p3", &[60])], (0, 0, 0, 0, 0));
    }

    #[test]
    fn names_order_the_voices_whatever_the_track_order() {
        // Tracks listed bass first: the names put the soprano on top, so no crossing.
        check(&[("Bassus", &[48, 50]), ("Cantus", &[64, 65])], (0, 0, 0, 0, 0));
        assert_eq!(Role::of_name("Soprano I"), Some(Role::Soprano));
        assert_eq!(Role::of_name("Violin"), None);
    }

    #[test]
    fn instruments_beside_named_choir_parts_are_left_out() {
        // A continuo doubling the bass an octave below would make parallel octaves at every
        // step; beside named choir parts it is no voice.
        let choir: &[(&str, &[u8])] = &[("Soprano", &[72, 74, 76]), ("Bass", &[48, 43, 41])];
        check(choir, (0, 0, 0, 0, 0));
        check(&[choir[0], choir[1], ("Continuo", &[36, 31, 29])], (0, 0, 0, 0, 0));
        // Unnamed, the same three tracks are three voices: the doubling shows (two parallel
        // octaves), and the top two, now upper voices, are two octaves apart at every step.
        check(&[("a", &[72, 74, 76]), ("b", &[48, 43, 41]), ("c", &[36, 31, 29])], (0, 2, 0, 3, 0));
    }

    #[test]
    fn one_part_or_drums_only_have_no_voice_leading() {
        let one = parts(&[("melody", &[60, 62])]);
        assert!(VoiceLeading::count(&one).is_none());
        assert!(VoiceLeading::of(&one).parallel_fifths.is_nan());
    }

    #[test]
    fn rates_are_per_hundred_beats() {
        // Parallel octaves twice in 4 beats: 50 per 100 beats.
        let s = parts(&[("Soprano", &[72, 74, 76, 76]), ("Bass", &[48, 50, 52, 52])]);
        let v = VoiceLeading::of(&s);
        assert_eq!(v.parallel_octaves, 50.0);
        assert_eq!(v.parallel_fifths, 0.0);
    }
}
