use std::fmt::Write;
use std::path::PathBuf;

use fugato_midi::{Listing, MidiFile, ReadOptions};
use fugato_score::gm;

use crate::args::InspectArgs;

pub struct Config {
    file: PathBuf,
    json: bool,
    options: ReadOptions,
}

impl Config {
    pub fn from_args(a: InspectArgs, read: ReadOptions) -> anyhow::Result<Config> {
        Ok(Config { file: a.file, json: a.json, options: ReadOptions { strict: a.strict, ..read } })
    }
}

pub fn run(config: Config) -> anyhow::Result<()> {
    let file = fugato_midi::read_file(&config.file, config.options)?;
    if config.json {
        let mut text = serde_json::to_string(&Listing::new(&file))?;
        text.push('\n');
        crate::print(&text)
    } else {
        crate::print(&summary(&config.file.display().to_string(), &file))
    }
}

const NOTE_NAMES: [&str; 12] = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"];

fn pitch_name(pitch: u8) -> String {
    format!("{}{}", NOTE_NAMES[usize::from(pitch % 12)], i32::from(pitch) / 12 - 1)
}

/// A tempo to two decimals, without trailing zeros: "96", "132", "92.5".
fn bpm(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A human summary of a file.
fn summary(name: &str, file: &MidiFile) -> String {
    let s = &file.score;
    let mut out = String::new();
    let tempos = s.tempo_map.changes();
    let _ = writeln!(
        out,
        "{name}: SMF format {}, {} track chunk{}, {} ticks per quarter",
        file.format,
        file.n_tracks,
        if file.n_tracks == 1 { "" } else { "s" },
        s.ticks_per_quarter()
    );
    let _ = writeln!(out, "duration  {:.2} s, {} notes in {} parts", s.duration_s(), s.n_notes(), s.tracks.len());
    let tempo = match tempos.first() {
        None => "120 bpm (default)".to_string(),
        Some(t) if tempos.iter().all(|x| x.us_per_quarter == t.us_per_quarter) => format!("{} bpm", bpm(t.bpm())),
        Some(_) => {
            let bpms: Vec<f64> = tempos.iter().map(|t| t.bpm()).collect();
            let (lo, hi) = bpms.iter().fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
            format!("{}..{} bpm ({} tempo events)", bpm(lo), bpm(hi), tempos.len())
        }
    };
    let _ = writeln!(out, "tempo     {tempo}");
    let mut meters: Vec<String> =
        s.time_signatures.iter().map(|t| format!("{}/{}", t.numerator, t.denominator)).collect();
    meters.dedup();
    let _ =
        writeln!(out, "meter     {}", if meters.is_empty() { "none given (4/4)".into() } else { meters.join(", ") });
    let mut keys: Vec<String> = s.key_signatures.iter().map(|k| k.name()).collect();
    keys.dedup();
    let _ = writeln!(out, "key       {}", if keys.is_empty() { "none given".into() } else { keys.join(", ") });
    if !s.tracks.is_empty() {
        let _ = writeln!(out, "parts");
        let _ = writeln!(
            out,
            "  {:>5}  {:>7}  {:<26} {:>6}  {:<9}  name",
            "track", "channel", "instrument", "notes", "range"
        );
        for t in &s.tracks {
            let instrument =
                if t.is_drum { "Drums".to_string() } else { format!("{} {}", t.program, gm::program_name(t.program)) };
            let lo = t.notes.iter().map(|n| n.pitch.get()).min().unwrap_or(0);
            let hi = t.notes.iter().map(|n| n.pitch.get()).max().unwrap_or(0);
            let _ = writeln!(
                out,
                "  {:>5}  {:>7}  {:<26} {:>6}  {:<9}  {}",
                t.midi_track,
                t.channel.get() + 1,
                instrument,
                t.notes.len(),
                format!("{}-{}", pitch_name(lo), pitch_name(hi)),
                t.name
            );
        }
    }
    for w in &file.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}
