//! Raw command-line flags, as clap parses them. Each command turns its flags into a
//! checked `Config` before doing anything.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "fugato", version, about = "Learn music from MIDI and write new music.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Summarise a MIDI file: tracks, instruments, notes, duration, tempo, meter, key.
    Inspect(InspectArgs),
    /// Convert between MIDI, piano-roll JSON and piano-roll PNG, by file ending.
    Convert(ConvertArgs),
    /// Encode a dataset (a MIDI folder or a piano-roll JSON file) once into shards.
    Prepare(PrepareArgs),
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The MIDI file.
    pub file: PathBuf,
    /// Print one JSON object with every note and tempo/meter/key event.
    #[arg(long)]
    pub json: bool,
    /// Refuse malformed files instead of reading what can be read.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Input: .mid/.midi/.rmi/.kar or piano-roll .json.
    pub input: PathBuf,
    /// Output: .mid (format 1), .json (piano-roll) or .png (piano-roll picture).
    pub output: PathBuf,
    /// Grid of piano-roll frames, in steps per quarter note [MIDI → JSON: 4;
    /// JSON → MIDI: the file's own "steps_per_quarter", else 1, the JSB Chorales grid].
    #[arg(long)]
    pub steps_per_quarter: Option<u32>,
    /// JSON split to read or write [read: the first present; write: test].
    #[arg(long)]
    pub split: Option<String>,
    /// Which sequence of the JSON split to turn into MIDI.
    #[arg(long, default_value_t = 0)]
    pub index: usize,
    /// Refuse malformed MIDI input.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct PrepareArgs {
    /// A folder of MIDI files (searched recursively) or a piano-roll JSON file.
    pub data: PathBuf,
    /// Representation: pianoroll, performance, remi or melody.
    #[arg(long)]
    pub repr: String,
    /// Output folder for the shards (replaced if it already holds shards).
    #[arg(long)]
    pub out: PathBuf,
    /// Piano-roll grid for MIDI data, and the frame grid of a JSON file encoded as tokens.
    #[arg(long)]
    pub steps_per_quarter: Option<u32>,
    /// Refuse malformed MIDI files (they are skipped and counted).
    #[arg(long)]
    pub strict: bool,
}
