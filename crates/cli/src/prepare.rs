use std::path::{Path, PathBuf};

use anyhow::bail;
use fugato_data::{PolyphonicSet, PrepareConfig, ShardsMeta, midi_files, prepare_folders, prepare_polyphonic};
use fugato_midi::ReadOptions;
use fugato_repr::ReprKind;
use fugato_repr::pianoroll::DEFAULT_STEPS_PER_QUARTER;
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::PrepareArgs;

pub struct Config {
    data: Vec<PathBuf>,
    out: PathBuf,
    repr: ReprKind,
    steps_per_quarter: Option<u32>,
    styles: bool,
    programs_from_names: bool,
    options: ReadOptions,
}

impl Config {
    pub fn from_args(a: PrepareArgs, read: ReadOptions) -> anyhow::Result<Config> {
        if let Some(missing) = a.data.iter().find(|d| !d.exists()) {
            bail!("{}: no such file or folder", missing.display());
        }
        if let [_, _, ..] = a.data.as_slice()
            && let Some(file) = a.data.iter().find(|d| !d.is_dir())
        {
            bail!("{}: several sources must all be folders of MIDI files", file.display());
        }
        if let Some(s) = a.steps_per_quarter
            && !(1..=960).contains(&s)
        {
            bail!("--steps-per-quarter must be 1..=960, but was {s}");
        }
        Ok(Config {
            repr: a.repr.into(),
            data: a.data,
            out: a.out,
            steps_per_quarter: a.steps_per_quarter,
            styles: a.styles,
            programs_from_names: a.programs_from_names,
            options: ReadOptions { strict: a.strict, ..read },
        })
    }
}

pub fn run(c: Config) -> anyhow::Result<()> {
    let meta = if c.data[0].is_dir() {
        prepare_folder(&c)?
    } else if c.styles || c.programs_from_names {
        let flag = if c.styles { "--styles" } else { "--programs-from-names" };
        bail!("{}: {flag} needs a folder of MIDI files", c.data[0].display());
    } else {
        prepare_json(&c)?
    };
    let mut text = format!("{} → {} ({})\n", meta.source, c.out.display(), meta.repr.name());
    for (split, s) in &meta.splits {
        text +=
            &format!("  {:<5}  {:>6} sequences  {:>9} {}\n", split.name(), s.sequences, s.items, item_name(meta.repr));
    }
    if let Some(parts) = meta.programs_from_names {
        text += &format!("  {parts} parts given the program their names imply\n");
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
    let config =
        PrepareConfig { repr: c.repr, steps_per_quarter, styles: c.styles, programs_from_names: c.programs_from_names };
    prepare_midi_folders(&c.data, &c.out, config, c.options)
}

/// Encodes MIDI folders into shards at `out`, with a progress bar.
pub fn prepare_midi_folders(
    folders: &[PathBuf],
    out: &Path,
    config: PrepareConfig,
    options: ReadOptions,
) -> anyhow::Result<ShardsMeta> {
    let files: usize = folders.iter().map(|f| midi_files(f).map_or(0, |v| v.len())).sum();
    let bar = ProgressBar::new(files as u64).with_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} files {per_sec} eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message("encoding");
    let meta = prepare_folders(folders, out, config, options, &|| bar.inc(1))?;
    bar.finish_and_clear();
    Ok(meta)
}

fn prepare_json(c: &Config) -> anyhow::Result<ShardsMeta> {
    let data = &c.data[0];
    let set = PolyphonicSet::load(data)?;
    let spq = c.steps_per_quarter.or(set.steps_per_quarter).unwrap_or(1);
    let source = data.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(prepare_polyphonic(
        &set,
        &source,
        PrepareConfig { repr: c.repr, steps_per_quarter: spq, styles: false, programs_from_names: false },
        &c.out,
    )?
    .meta)
}
