//! `fugato metrics`: MusPy's, MuseGAN's and Yang & Lerch's metrics of a set of MIDI files,
//! and the voice leading of part writing, optionally against a reference set, as text,
//! JSON or a Markdown report with charts.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use fugato_midi::{Pairing, ReadOptions};
use fugato_plot::Bars;
use fugato_score::Score;
use fugato_score::features::{Comparison, Features, MeanStd, compare};
use fugato_score::metrics::{self, MusPy, Params};
use fugato_score::voice_leading::VoiceLeading;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;

use crate::args::MetricsArgs;

pub struct Config {
    paths: Vec<PathBuf>,
    reference: Option<PathBuf>,
    json: bool,
    report: Option<PathBuf>,
    options: ReadOptions,
}

impl Config {
    pub fn from_args(a: MetricsArgs, read: ReadOptions) -> anyhow::Result<Config> {
        for path in a.paths.iter().chain(&a.reference) {
            if !path.exists() {
                bail!("{}: no such file or folder", path.display());
            }
        }
        Ok(Config {
            paths: a.paths,
            reference: a.reference,
            json: a.json,
            report: a.report,
            // Notes pair as MusPy pairs them, so that the figures are MusPy's.
            options: ReadOptions { strict: a.strict, pairing: Pairing::Fifo, ..read },
        })
    }
}

/// Every metric of one piece. MusPy's names at the top level.
#[derive(Clone, Debug, Serialize)]
pub struct PieceMetrics {
    #[serde(flatten)]
    pub muspy: MusPy,
    pub qualified_note_rate: f64,
    pub tonal_distance: f64,
    /// Per 100 beats; `NaN` (JSON `null`) for a piece without two to eight parts.
    pub voice_leading: VoiceLeading,
    pub features: Features,
}

impl PieceMetrics {
    pub fn of(score: &Score) -> PieceMetrics {
        let params = Params::of(score);
        PieceMetrics {
            muspy: MusPy::with(score, &params),
            qualified_note_rate: metrics::qualified_note_rate(score),
            tonal_distance: metrics::tonal_distance(score, params.measure_resolution),
            voice_leading: VoiceLeading::of(score),
            features: Features::of(score),
        }
    }

    /// The single-number metrics, by name, in a fixed order.
    fn scalars(&self) -> Vec<(&'static str, f64)> {
        let (m, v) = (&self.muspy, &self.voice_leading);
        vec![
            ("n_pitches_used", f64::from(m.n_pitches_used)),
            ("n_pitch_classes_used", f64::from(m.n_pitch_classes_used)),
            ("pitch_range", f64::from(m.pitch_range)),
            ("empty_beat_rate", m.empty_beat_rate),
            ("empty_measure_rate", m.empty_measure_rate),
            ("polyphony", m.polyphony),
            ("polyphony_rate", m.polyphony_rate),
            ("pitch_in_scale_rate", m.pitch_in_scale_rate),
            ("scale_consistency", m.scale_consistency),
            ("drum_in_pattern_rate", m.drum_in_pattern_rate),
            ("drum_pattern_consistency", m.drum_pattern_consistency),
            ("pitch_entropy", m.pitch_entropy),
            ("pitch_class_entropy", m.pitch_class_entropy),
            ("groove_consistency", m.groove_consistency),
            ("qualified_note_rate", self.qualified_note_rate),
            ("tonal_distance", self.tonal_distance),
            ("avg_pitch_interval", self.features.avg_pitch_interval),
            ("avg_ioi_s", self.features.avg_ioi_s),
            ("parallel_fifths_per_100_beats", v.parallel_fifths),
            ("parallel_octaves_per_100_beats", v.parallel_octaves),
            ("voice_crossings_per_100_beats", v.voice_crossings),
            ("wide_spacings_per_100_beats", v.wide_spacings),
            ("out_of_range_per_100_beats", v.out_of_range),
        ]
    }
}

#[derive(Serialize)]
struct Piece {
    path: String,
    metrics: PieceMetrics,
}

#[derive(Serialize)]
struct Skipped {
    path: String,
    error: String,
}

/// A metric over a set: mean and spread over the pieces where it is defined.
#[derive(Clone, Copy, Serialize)]
struct Summary {
    mean: f64,
    std: f64,
    /// Pieces where the metric is defined (not NaN).
    n: usize,
}

struct Set {
    pieces: Vec<Piece>,
    skipped: Vec<Skipped>,
}

impl Set {
    /// Reads every MIDI file under `paths` in parallel, with a progress bar.
    fn load(paths: &[PathBuf], options: ReadOptions, label: &str) -> anyhow::Result<Set> {
        let mut files = Vec::new();
        for path in paths {
            if path.is_dir() {
                let found = fugato_data::midi_files(path)?;
                if found.is_empty() {
                    bail!("{}: no MIDI files (.mid, .midi, .rmi, .kar) in this folder", path.display());
                }
                files.extend(found);
            } else {
                files.push(path.clone());
            }
        }
        let bar = if files.len() > 1 { ProgressBar::new(files.len() as u64) } else { ProgressBar::hidden() };
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} files {per_sec} eta {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_message(label.to_string());
        let results: Vec<Result<Piece, Skipped>> = files
            .par_iter()
            .map(|path| {
                let result = fugato_midi::read_file(path, options)
                    .map(|f| Piece { path: path.display().to_string(), metrics: PieceMetrics::of(&f.score) })
                    .map_err(|e| Skipped { path: path.display().to_string(), error: e.to_string() });
                bar.inc(1);
                result
            })
            .collect();
        bar.finish_and_clear();
        let (mut pieces, mut skipped) = (Vec::new(), Vec::new());
        for r in results {
            match r {
                Ok(p) => pieces.push(p),
                Err(s) => skipped.push(s),
            }
        }
        Ok(Set { pieces, skipped })
    }

    fn summary(&self) -> BTreeMap<&'static str, Summary> {
        let mut values: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
        for p in &self.pieces {
            for (name, v) in p.metrics.scalars() {
                let list = values.entry(name).or_default();
                if v.is_finite() {
                    list.push(v);
                }
            }
        }
        values
            .into_iter()
            .map(|(name, v)| {
                let MeanStd { mean, std } = MeanStd::of(&v);
                (name, Summary { mean, std, n: v.len() })
            })
            .collect()
    }

    fn features(&self) -> Vec<Features> {
        self.pieces.iter().map(|p| p.metrics.features.clone()).collect()
    }

    /// Mean pitch-class histogram over the pieces.
    fn pitch_classes(&self) -> Vec<f64> {
        let mut sum = [0.0; 12];
        for p in &self.pieces {
            sum.iter_mut().zip(&p.metrics.features.pitch_class_histogram).for_each(|(s, v)| *s += v);
        }
        sum.iter().map(|s| s / self.pieces.len().max(1) as f64).collect()
    }
}

pub fn run(c: Config) -> anyhow::Result<()> {
    let set = Set::load(&c.paths, c.options, "measuring")?;
    if set.pieces.is_empty() {
        // The reader's error names the file.
        let why = set.skipped.first().map(|s| s.error.clone()).unwrap_or_default();
        bail!("no readable MIDI file: {why}");
    }
    let reference = match &c.reference {
        Some(path) => Some(Set::load(std::slice::from_ref(path), c.options, "reference")?),
        None => None,
    };
    let comparison = reference.as_ref().map(|r| compare(&set.features(), &r.features()));
    if let Some(dir) = &c.report {
        write_report(dir, &c, &set, reference.as_ref(), comparison.as_deref(), c.options)?;
    }
    let single = set.pieces.len() == 1 && set.skipped.is_empty() && reference.is_none();
    let text = if c.json && single {
        serde_json::to_string(&set.pieces[0].metrics)? + "\n"
    } else if c.json {
        let doc = serde_json::json!({
            "files": set.pieces,
            "skipped": set.skipped,
            "summary": set.summary(),
            "reference": reference.as_ref().map(|r| serde_json::json!({
                "files": r.pieces.len(),
                "skipped": r.skipped.len(),
                "summary": r.summary(),
            })),
            "comparison": comparison,
        });
        serde_json::to_string(&doc)? + "\n"
    } else if single {
        let mut out = format!("{}\n", set.pieces[0].path);
        for (name, v) in set.pieces[0].metrics.scalars() {
            let _ = writeln!(out, "  {name:<26} {}", number(v));
        }
        out
    } else {
        table(&set, reference.as_ref(), comparison.as_deref())
    };
    crate::print(&text)
}

fn number(v: f64) -> String {
    if v.is_nan() { "-".into() } else { format!("{v:.4}") }
}

fn table(set: &Set, reference: Option<&Set>, comparison: Option<&[Comparison]>) -> String {
    let mut out = format!("{} files", set.pieces.len());
    if !set.skipped.is_empty() {
        let _ = write!(out, " ({} unreadable, skipped: {})", set.skipped.len(), set.skipped[0].path);
    }
    if let Some(r) = reference {
        let _ = write!(out, "; reference {} files", r.pieces.len());
    }
    out.push('\n');
    out += &text_table(&summary_rows(set, reference));
    if let Some(cmp) = comparison {
        let _ = writeln!(out, "\nset against reference (Yang & Lerch): distances between pieces");
        out += &text_table(&comparison_rows(cmp, "intra ref"));
    }
    out
}

/// A header and rows of cells, written out as text or Markdown.
type Table = (Vec<&'static str>, Vec<Vec<String>>);

/// Each metric's mean and spread over the set, and over the reference when there is one.
fn summary_rows(set: &Set, reference: Option<&Set>) -> Table {
    let theirs = reference.map(Set::summary);
    let mut header = vec!["metric", "mean", "std"];
    if theirs.is_some() {
        header.extend(["ref mean", "ref std"]);
    }
    let rows = set
        .summary()
        .into_iter()
        .map(|(name, s)| {
            let mut row = vec![name.to_string(), number(s.mean), number(s.std)];
            if let Some(t) = &theirs {
                let r = t.get(name);
                row.extend([number(r.map_or(f64::NAN, |r| r.mean)), number(r.map_or(f64::NAN, |r| r.std))]);
            }
            row
        })
        .collect();
    (header, rows)
}

/// Yang & Lerch's comparison, one feature a row.
fn comparison_rows(cmp: &[Comparison], intra_ref: &'static str) -> Table {
    let header = vec!["feature", "intra set", intra_ref, "inter", "KL", "overlap"];
    let rows = cmp
        .iter()
        .map(|c| {
            let values = [c.intra_a.mean, c.intra_b.mean, c.inter.mean, c.kl_divergence, c.overlap];
            std::iter::once(c.feature.clone()).chain(values.map(number)).collect()
        })
        .collect();
    (header, rows)
}

/// Columns padded to their widest cell: names left, numbers right.
fn text_table((header, rows): &Table) -> String {
    let all: Vec<Vec<String>> =
        std::iter::once(header.iter().map(|h| h.to_string()).collect()).chain(rows.iter().cloned()).collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|k| all.iter().filter_map(|r| r.get(k)).map(|c| c.chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &all {
        out += " ";
        for (k, cell) in row.iter().enumerate() {
            let _ = if k == 0 {
                write!(out, " {cell:<w$}", w = widths[k])
            } else {
                write!(out, " {cell:>w$}", w = widths[k])
            };
        }
        out.push('\n');
    }
    out
}

fn markdown_table((header, rows): &Table) -> String {
    let mut out = format!("| {} |\n|---|{}\n", header.join(" | "), "---:|".repeat(header.len() - 1));
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out
}

const PITCH_CLASSES: [&str; 12] = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"];

fn write_report(
    dir: &Path,
    c: &Config,
    set: &Set,
    reference: Option<&Set>,
    comparison: Option<&[Comparison]>,
    options: ReadOptions,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        fugato_midi::write_atomic(&path, bytes).with_context(|| format!("writing {}", path.display()))
    };
    let names: Vec<String> = c.paths.iter().map(|p| p.display().to_string()).collect();
    let mut md = format!("# Music metrics\n\nSet: {} ({} files", names.join(", "), set.pieces.len());
    if !set.skipped.is_empty() {
        let _ = write!(md, ", {} unreadable", set.skipped.len());
    }
    md.push(')');
    if let (Some(r), Some(path)) = (reference, &c.reference) {
        let _ = write!(md, "; reference: {} ({} files)", path.display(), r.pieces.len());
    }
    md += "\n\n## Metrics\n\n";
    md += &markdown_table(&summary_rows(set, reference));
    if let Some(cmp) = comparison {
        md += "\n## Against the reference (Yang & Lerch)\n\nMean distances between pieces within each set \
               and across the sets; KL divergence and overlapping area of the within-set and \
               across-set distance distributions (overlap 1: the set is as close to the reference \
               as to itself).\n\n";
        md += &markdown_table(&comparison_rows(cmp, "intra reference"));
    }

    // Pitch classes.
    let categories: Vec<String> = PITCH_CLASSES.iter().map(|s| s.to_string()).collect();
    let mut bars = vec![Bars { name: "set", values: set.pitch_classes() }];
    if let Some(r) = reference {
        bars.push(Bars { name: "reference", values: r.pitch_classes() });
    }
    write(
        "pitch_classes.png",
        &fugato_plot::bar_chart_png("Pitch-class histogram", "share of notes", &categories, &bars)?,
    )?;
    md += "\n## Charts\n\n![pitch classes](pitch_classes.png)\n\n";

    // The first piece as a piano-roll.
    let first = &set.pieces[0].path;
    let score = fugato_midi::read_file(Path::new(first), options)?.score;
    write("piano_roll.png", &fugato_plot::piano_roll_png(&score, &Default::default())?)?;
    let _ = writeln!(md, "{first}:\n\n![piano roll](piano_roll.png)\n");

    // Each metric's distribution, against the reference's.
    let per_piece = |s: &Set, name: &str| -> Vec<f64> {
        s.pieces
            .iter()
            .filter_map(|p| p.metrics.scalars().into_iter().find(|(n, _)| *n == name).map(|(_, v)| v))
            .filter(|v| v.is_finite())
            .collect()
    };
    for name in set.summary().keys() {
        let a = per_piece(set, name);
        let b = reference.map(|r| per_piece(r, name)).unwrap_or_default();
        if a.is_empty() && b.is_empty() {
            continue;
        }
        let (categories, counts) = histogram(&[&a, &b], 12);
        let mut bars = vec![Bars { name: "set", values: counts[0].clone() }];
        if reference.is_some() {
            bars.push(Bars { name: "reference", values: counts[1].clone() });
        }
        let file = format!("metric_{name}.png");
        write(&file, &fugato_plot::bar_chart_png(name, "share of pieces", &categories, &bars)?)?;
        let _ = writeln!(md, "![{name}]({file})\n");
    }
    write("report.md", md.as_bytes())
}

/// Shares of each sample in `bins` equal bins over the samples' joint range, with the bins'
/// centres as labels.
fn histogram(samples: &[&[f64]], bins: usize) -> (Vec<String>, Vec<Vec<f64>>) {
    let (lo, hi) = samples.iter().flat_map(|s| s.iter()).fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    let width = if hi > lo { (hi - lo) / bins as f64 } else { 1.0 };
    let labels = (0..bins).map(|i| format!("{:.2}", lo + (i as f64 + 0.5) * width)).collect();
    let counts = samples
        .iter()
        .map(|s| {
            let mut c = vec![0.0; bins];
            for &v in s.iter() {
                c[(((v - lo) / width) as usize).min(bins - 1)] += 1.0 / s.len() as f64;
            }
            c
        })
        .collect();
    (labels, counts)
}
