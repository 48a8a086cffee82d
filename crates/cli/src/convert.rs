use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use fugato_data::{MIDI_EXTENSIONS, PolyphonicSet, Split};
use fugato_midi::ReadOptions;
use fugato_repr::pianoroll::{DEFAULT_STEPS_PER_QUARTER, PianoRoll};
use fugato_score::Score;

use crate::args::ConvertArgs;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Midi,
    Json,
    Png,
}

fn kind_of(path: &Path) -> anyhow::Result<Kind> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        e if MIDI_EXTENSIONS.contains(&e) => Ok(Kind::Midi),
        "json" => Ok(Kind::Json),
        "png" => Ok(Kind::Png),
        _ => bail!("{}: unknown file ending {ext:?}: expected .mid, .json or .png", path.display()),
    }
}

pub struct Config {
    input: PathBuf,
    input_kind: Kind,
    output: PathBuf,
    output_kind: Kind,
    steps_per_quarter: Option<u32>,
    split: Option<Split>,
    index: usize,
    options: ReadOptions,
}

impl Config {
    pub fn from_args(a: ConvertArgs, read: ReadOptions) -> anyhow::Result<Config> {
        let input_kind = kind_of(&a.input)?;
        let output_kind = kind_of(&a.output)?;
        if input_kind == Kind::Png || (input_kind, output_kind) == (Kind::Json, Kind::Json) {
            bail!("cannot convert {} to {}", a.input.display(), a.output.display());
        }
        if let Some(s) = a.steps_per_quarter
            && !(1..=960).contains(&s)
        {
            bail!("--steps-per-quarter must be 1..=960, but was {s}");
        }
        let split = a.split.map(Split::from);
        Ok(Config {
            input: a.input,
            input_kind,
            output: a.output,
            output_kind,
            steps_per_quarter: a.steps_per_quarter,
            split,
            index: a.index,
            options: ReadOptions { strict: a.strict, ..read },
        })
    }
}

pub fn run(c: Config) -> anyhow::Result<()> {
    let score = match c.input_kind {
        Kind::Midi => {
            let file = fugato_midi::read_file(&c.input, c.options)?;
            for w in &file.warnings {
                eprintln!("fugato: warning: {}: {w}", c.input.display());
            }
            file.score
        }
        Kind::Json => json_score(&c)?,
        Kind::Png => unreachable!("refused in Config::from_args"),
    };
    match c.output_kind {
        Kind::Midi => fugato_midi::write_file(&score, &c.output)?,
        Kind::Png => {
            let png = fugato_plot::piano_roll_png(&score, &Default::default())?;
            write(&c.output, &png)?;
        }
        Kind::Json => {
            let spq = c.steps_per_quarter.unwrap_or(DEFAULT_STEPS_PER_QUARTER);
            let frames = PianoRoll::encode(&score, spq)?.frames();
            let mut set = PolyphonicSet { steps_per_quarter: Some(spq), ..Default::default() };
            set.splits.insert(c.split.unwrap_or(Split::Test), vec![frames]);
            write(&c.output, set.to_json().as_bytes())?;
        }
    }
    Ok(())
}

/// One sequence of a piano-roll JSON file as a score.
fn json_score(c: &Config) -> anyhow::Result<Score> {
    let set = PolyphonicSet::load(&c.input)?;
    let split = c.split.unwrap_or_else(|| *set.splits.keys().next().expect("a loaded set has a split"));
    let seqs = set.split(split).with_context(|| format!("{}: no split {:?}", c.input.display(), split.name()))?;
    let frames = seqs.get(c.index).with_context(|| {
        format!(
            "{}: --index {} is out of range: split {:?} has {} sequences",
            c.input.display(),
            c.index,
            split.name(),
            seqs.len()
        )
    })?;
    let spq = c.steps_per_quarter.or(set.steps_per_quarter).unwrap_or(1);
    let score = PianoRoll::from_frames(frames, spq)?.decode()?;
    Ok(score.at_least_resolution(480)?)
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    fugato_midi::write_atomic(path, bytes).with_context(|| format!("writing {}", path.display()))
}
