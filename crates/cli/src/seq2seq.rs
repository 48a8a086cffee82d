//! The encoder–decoder's commands: `harmonize`, `similar`, and `evaluate` on a
//! harmoniser or a continuation model.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use fugato_data::{Split, midi_files};
use fugato_midi::ReadOptions;
use fugato_nn::Device;
use fugato_nn::compose::ControlError;
use fugato_nn::seq2seq::Task;
use fugato_nn::seq2seq::harmony::{HarmonizeOptions, SpanMetrics, evaluate_continuation, evaluate_harmony, harmonize};
use fugato_nn::seq2seq::similar::{INDEX_FILE, Index, embed};
use fugato_nn::seq2seq::train::Seq2SeqCheckpoint;
use fugato_score::Score;
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::{HarmonizeArgs, SimilarArgs};

pub fn run_harmonize(a: HarmonizeArgs, read: ReadOptions) -> anyhow::Result<()> {
    let flag = |e: ControlError| anyhow::anyhow!("--{} {}", e.field, e.message);
    let key = a.key.as_deref().map(fugato_nn::compose::key).transpose().map_err(flag)?;
    let sampling = fugato_nn::compose::sampling(Some(a.temperature), None, None).map_err(flag)?;
    let beam = fugato_nn::compose::beam(a.beam, sampling).map_err(flag)?;
    let device = fugato_nn::default_device();
    let ckpt = fugato_nn::bundled::load(&a.checkpoint, &device)?.into_seq2seq(&a.checkpoint)?;
    if ckpt.meta.task != Task::Harmonize {
        bail!("{}: this model was trained to {:?}, not to harmonize", a.checkpoint.display(), ckpt.meta.task);
    }
    let input = fugato_midi::read_file(&a.melody, read)?.score;
    let start = Instant::now();
    let out =
        harmonize(&ckpt.model, &input, &HarmonizeOptions { sampling, seed: a.seed, beam, key, cancel: None }, &device)
            .with_context(|| format!("harmonizing {}", a.melody.display()))?;
    let ms = start.elapsed().as_secs_f64() * 1e3;
    fugato_midi::write_file(&out.score, &a.out)?;
    let mut text = format!(
        "{} → {}: melody kept, alto, tenor and bass added in {} ({} notes, {ms:.0} ms)\n",
        a.melody.display(),
        a.out.display(),
        out.key.name(),
        out.score.n_notes()
    );
    if let Some(wav) = &a.wav {
        let font = fugato_synth::installed_soundfont().as_deref().map(crate::render::LoadedFont::load).transpose()?;
        crate::render::render_to(&out.score, wav, font.as_ref(), &fugato_synth::RenderOptions::default())?;
        text += &format!("rendered {}\n", wav.display());
    }
    crate::print(&text)
}

/// `evaluate` on an encoder–decoder: a harmoniser on Bach's validation chorales, voice
/// by voice (decoded by a beam search `beam` wide above 1); a continuation model on the
/// folder's validation tunes.
pub fn evaluate_seq2seq(
    ckpt: &Seq2SeqCheckpoint,
    data: &Path,
    read: ReadOptions,
    json: bool,
    beam: usize,
    device: &Device,
) -> anyhow::Result<()> {
    let chorales: Vec<Score> = fugato_data::folder::read_folder(data, read, |s| s == Split::Valid)?
        .pieces
        .into_iter()
        .map(|p| p.score)
        .collect();
    if ckpt.meta.task == Task::Continue {
        return print_continuation(&evaluate_continuation(&ckpt.model, &chorales, device)?, json);
    }
    let report = evaluate_harmony(&ckpt.model, &chorales, beam, device)?;
    if json {
        return crate::print(&(serde_json::to_string_pretty(&report)? + "\n"));
    }
    let [a, t, b] = report.voice_accuracy;
    crate::print(&format!(
        "{} validation chorales, {} sixteenth steps\nvoice accuracy  alto {a:.3}  tenor {t:.3}  bass {b:.3}\n\
         melody kept     {}/{}\nin range        {:.3} of the notes written\nin key          {:.3} of all notes (lowest {:.3})\n\
         parallels       {:.2} fifths and octaves per 100 beats (Bach: {:.2})\n",
        report.chorales,
        report.steps,
        report.melody_kept,
        report.chorales,
        report.in_range,
        report.in_key,
        report.in_key_min,
        report.parallels_per_100_beats,
        report.bach_parallels_per_100_beats
    ))
}

fn print_continuation(r: &fugato_nn::seq2seq::harmony::ContinuationReport, json: bool) -> anyhow::Result<()> {
    if json {
        return crate::print(&(serde_json::to_string_pretty(r)? + "\n"));
    }
    if r.tunes == 0 {
        bail!("no validation tune is eight bars long: nothing to continue");
    }
    let row =
        |name: &str, f: fn(&SpanMetrics) -> f64| format!("{name:<22}{:>10.3}{:>10.3}\n", f(&r.generated), f(&r.real));
    let mut text = format!("{} validation tunes: bars 5-8 drawn from bars 1-4, beside the tunes' own\n", r.tunes);
    text += &format!("{:<22}{:>10}{:>10}\n", "", "drawn", "real");
    text += &row("notes", |m| m.notes);
    text += &row("pitch classes used", |m| m.n_pitch_classes_used);
    text += &row("pitch range", |m| m.pitch_range);
    text += &row("pitch-class entropy", |m| m.pitch_class_entropy);
    text += &row("in key", |m| m.in_key);
    text += &row("first leap (semitones)", |m| m.first_leap);
    text += &format!("steps agreeing with the tune's own: {:.3}\n", r.step_agreement);
    crate::print(&text)
}

pub fn run_similar(a: SimilarArgs, read: ReadOptions) -> anyhow::Result<()> {
    if a.k == 0 {
        bail!("-k must be at least 1");
    }
    if !a.index.is_dir() {
        bail!("{}: no such folder", a.index.display());
    }
    let device = fugato_nn::default_device();
    let ckpt = fugato_nn::bundled::load(&a.checkpoint, &device)?.into_seq2seq(&a.checkpoint)?;
    let model_name = a.checkpoint.to_string_lossy().into_owned();
    let dim = 2 * ckpt.meta.model.hidden;
    let index_path = a.index_file.clone().unwrap_or_else(|| a.index.join(INDEX_FILE));
    let mut index = match Index::read(&index_path) {
        Ok(i) if i.model == model_name && i.dim == dim => i,
        _ => Index::new(&model_name, dim),
    };
    let files = midi_files(&a.index)?;
    let bar = ProgressBar::new(files.len() as u64).with_style(
        ProgressStyle::with_template("indexing [{bar:30}] {pos}/{len} files  eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let model = &ckpt.model;
    let update = index.update(
        &a.index,
        &files,
        |f| {
            let score = fugato_midi::read_file(f, read).map_err(|e| e.to_string())?.score;
            embed(model, &score, &device).map_err(|e| e.to_string())
        },
        || bar.inc(1),
    );
    bar.finish_and_clear();
    if update.embedded > 0 || update.removed > 0 {
        index.write(&index_path).with_context(|| format!("writing the index {}", index_path.display()))?;
        eprintln!(
            "index {}: {} pieces embedded, {} kept, {} removed, {} skipped",
            index_path.display(),
            update.embedded,
            update.kept,
            update.removed,
            update.skipped
        );
    }
    let query = fugato_midi::read_file(&a.file, read)?.score;
    let vector =
        embed(model, &query, &device)?.with_context(|| format!("{}: no notes to compare", a.file.display()))?;
    let mut text = String::new();
    for (rank, (entry, similarity)) in index.nearest(&vector, a.k).into_iter().enumerate() {
        text += &format!("{:>3}  {similarity:.4}  {}\n", rank + 1, entry.path);
    }
    crate::print(&text)
}
