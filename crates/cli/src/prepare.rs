use std::path::{Path, PathBuf};

use anyhow::bail;
use fugato_midi::ReadOptions;
use fugato_nn::data::{PolyphonicSet, PrepareConfig, ShardsMeta, midi_files, prepare_midi, prepare_polyphonic};
use fugato_repr::ReprKind;
use fugato_repr::pianoroll::DEFAULT_STEPS_PER_QUARTER;
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::PrepareArgs;

pub struct Config {
    data: PathBuf,
    out: PathBuf,
    repr: ReprKind,
    steps_per_quarter: Option<u32>,
    styles: bool,
    options: ReadOptions,
}

impl Config {
    pub fn from_args(a: PrepareArgs) -> anyhow::Result<Config> {
        if !a.data.exists() {
            bail!("{}: no such file or folder", a.data.display());
        }
        if let Some(s) = a.steps_per_quarter
            && !(1..=960).contains(&s)
        {
            bail!("--steps-per-quarter must be 1..=960, but was {s}");
        }
        Ok(Config {
            repr: a.repr.parse()?,
            data: a.data,
            out: a.out,
            steps_per_quarter: a.steps_per_quarter,
            styles: a.styles,
            options: ReadOptions { strict: a.strict, ..Default::default() },
        })
    }
}

pub fn run(c: Config) -> anyhow::Result<()> {
    let meta = if c.data.is_dir() {
        prepare_folder(&c)?
    } else if c.styles {
        bail!("{}: --styles needs a folder of MIDI files", c.data.display());
    } else {
        prepare_json(&c)?
    };
    let mut text = format!("{} → {} ({})\n", c.data.display(), c.out.display(), meta.repr.name());
    for (split, s) in &meta.splits {
        text +=
            &format!("  {:<5}  {:>6} sequences  {:>9} {}\n", split.name(), s.sequences, s.items, item_name(meta.repr));
    }
    if !meta.styles.is_empty() {
        text += &format!("  styles {}\n", meta.styles.join(", "));
    }
    if meta.files_skipped > 0 {
        text += &format!(
            "  skipped {} of {} files (listed in meta.json)\n",
            meta.files_skipped,
            meta.files_read + meta.files_skipped
        );
    }
    crate::print(&text)
}

fn item_name(repr: ReprKind) -> &'static str {
    if repr == ReprKind::PianoRoll { "frames" } else { "tokens" }
}

fn prepare_folder(c: &Config) -> anyhow::Result<ShardsMeta> {
    let steps_per_quarter = c.steps_per_quarter.unwrap_or(DEFAULT_STEPS_PER_QUARTER);
    let config = PrepareConfig { repr: c.repr, steps_per_quarter, styles: c.styles };
    prepare_midi_folder(&c.data, &c.out, config, c.options)
}

/// Encodes a MIDI folder into shards at `out`, with a progress bar.
pub fn prepare_midi_folder(
    data: &Path,
    out: &Path,
    config: PrepareConfig,
    options: ReadOptions,
) -> anyhow::Result<ShardsMeta> {
    let files = midi_files(data)?;
    if files.is_empty() {
        bail!("{}: no MIDI files (.mid, .midi, .rmi, .kar) in this folder", data.display());
    }
    let bar = ProgressBar::new(files.len() as u64).with_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} files {per_sec} eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message("encoding");
    let load = move |path: &Path| fugato_midi::read_file(path, options).map(|f| f.score).map_err(|e| e.to_string());
    let summary = prepare_midi(data, &files, &load, config, out, &|| bar.inc(1))?;
    bar.finish_and_clear();
    Ok(summary.meta)
}

fn prepare_json(c: &Config) -> anyhow::Result<ShardsMeta> {
    let set = PolyphonicSet::load(&c.data)?;
    let spq = c.steps_per_quarter.or(set.steps_per_quarter).unwrap_or(1);
    let source = c.data.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(prepare_polyphonic(
        &set,
        &source,
        PrepareConfig { repr: c.repr, steps_per_quarter: spq, styles: false },
        &c.out,
    )?
    .meta)
}
