//! Every note and tempo/meter/key event of a file, with ticks and seconds: what
//! `fugato inspect --json` prints, in the field names of the shared reference listings.

use serde::Serialize;

use crate::MidiFile;

#[derive(Debug, Serialize)]
pub struct Listing {
    pub smf_format: u16,
    pub n_tracks: usize,
    pub ticks_per_beat: u16,
    pub end_time_s: f64,
    pub n_notes: usize,
    pub tempo_changes: Vec<TempoEntry>,
    pub time_signatures: Vec<TimeSignatureEntry>,
    pub key_signatures: Vec<KeyEntry>,
    pub notes: Vec<NoteEntry>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct TempoEntry {
    pub tick: u64,
    pub us_per_quarter: u32,
    pub bpm: f64,
    pub time_s: f64,
}

#[derive(Debug, Serialize)]
pub struct TimeSignatureEntry {
    pub tick: u64,
    pub numerator: u8,
    pub denominator: u8,
    pub time_s: f64,
}

#[derive(Debug, Serialize)]
pub struct KeyEntry {
    pub tick: u64,
    pub key: String,
    pub time_s: f64,
}

#[derive(Debug, Serialize)]
pub struct NoteEntry {
    pub track: usize,
    pub channel: u8,
    pub program: u8,
    pub pitch: u8,
    pub velocity: u8,
    pub start_tick: u64,
    pub end_tick: u64,
    pub start_s: f64,
    pub end_s: f64,
}

impl Listing {
    /// Notes come sorted by (start_tick, track, pitch).
    pub fn new(file: &MidiFile) -> Self {
        let score = &file.score;
        let s = |tick| score.seconds(tick);
        let mut notes: Vec<NoteEntry> = score
            .tracks
            .iter()
            .flat_map(|t| {
                t.notes.iter().map(move |n| NoteEntry {
                    track: t.midi_track,
                    channel: t.channel.get(),
                    program: t.program.get(),
                    pitch: n.pitch.get(),
                    velocity: n.velocity.get(),
                    start_tick: n.start_tick,
                    end_tick: n.end_tick,
                    start_s: s(n.start_tick),
                    end_s: s(n.end_tick),
                })
            })
            .collect();
        notes.sort_by_key(|n| (n.start_tick, n.track, n.pitch, n.end_tick, n.channel));
        Listing {
            smf_format: file.format,
            n_tracks: file.n_tracks,
            ticks_per_beat: score.ticks_per_quarter(),
            end_time_s: score.duration_s(),
            n_notes: notes.len(),
            tempo_changes: score
                .tempo_map
                .changes()
                .iter()
                .map(|t| TempoEntry { tick: t.tick, us_per_quarter: t.us_per_quarter, bpm: t.bpm(), time_s: s(t.tick) })
                .collect(),
            time_signatures: score
                .time_signatures
                .iter()
                .map(|t| TimeSignatureEntry {
                    tick: t.tick,
                    numerator: t.numerator,
                    denominator: t.denominator,
                    time_s: s(t.tick),
                })
                .collect(),
            key_signatures: score
                .key_signatures
                .iter()
                .map(|k| KeyEntry { tick: k.tick, key: k.name(), time_s: s(k.tick) })
                .collect(),
            notes,
            warnings: file.warnings.iter().map(|w| w.to_string()).collect(),
        }
    }
}
