//! `generate` and `evaluate` with a GAN checkpoint.

use std::path::Path;

use fugato_data::Split;
use fugato_nn::Device;
use fugato_nn::gan::train::{Binarize, GanCheckpoint, PROBE, SetMetrics, sample, score_of, set_metrics};
use fugato_repr::pianoroll::Frame;
use fugato_score::Score;

/// One segment after another (piano-roll frames, or one-hot melody tokens where
/// `melody`), as a score at one tick per sixteenth.
pub fn segments_score(segments: &[Vec<Frame>], melody: bool) -> anyhow::Result<Score> {
    Ok(score_of(&segments.concat(), melody)?)
}

/// `generate` from a GAN checkpoint: `count` segments (seeds SEED, SEED+1, …) back to
/// back, or `interpolate` steps between two noise vectors. Keys are made binary as in
/// training (threshold 0.5, or Bernoulli for stochastic binary neurons) unless
/// `bernoulli` asks for Bernoulli sampling.
pub fn generate(
    ckpt: &GanCheckpoint,
    seed: u64,
    segments: usize,
    interpolate: Option<usize>,
    bernoulli: bool,
    device: &Device,
) -> anyhow::Result<Score> {
    let how = if bernoulli { Binarize::Bernoulli } else { ckpt.meta.train.binary.binarize() };
    let frames = sample(&ckpt.gan.generator, seed, segments, interpolate, how, device);
    segments_score(&frames, ckpt.meta.model.melody)
}

/// Seeds of the noise vectors `evaluate` samples (the probe of training uses other noise).
const EVALUATE_SEED: u64 = 1;

/// `evaluate` for a GAN: the music metrics of 100 samples next to those of 100 segments
/// of one split of the data folder (the validation split unless `--split` says).
pub fn evaluate(
    ckpt: &GanCheckpoint,
    data: &Path,
    read: fugato_midi::ReadOptions,
    split: Split,
    json: bool,
    device: &Device,
) -> anyhow::Result<()> {
    let (frames, melody) = (ckpt.meta.model.frames, ckpt.meta.model.melody);
    let all = fugato_data::segments::from_folder(data, read, split, frames, frames, melody)?;
    // PROBE segments spread evenly over the split (all of them where there are fewer).
    let real: Vec<Vec<Frame>> = all.iter().step_by(all.len().div_ceil(PROBE)).cloned().collect();
    let corpus = set_metrics(&real, melody);
    let how = ckpt.meta.train.binary.binarize();
    let samples = set_metrics(&sample(&ckpt.gan.generator, EVALUATE_SEED, PROBE, None, how, device), melody);
    let within = |a: f64, b: f64| if b > 0.0 { a / b - 1.0 } else { f64::NAN };
    if json {
        let report = serde_json::json!({
            "samples": samples,
            "corpus": corpus,
            "corpus_segments": real.len(),
            "polyphony_gap": within(samples.polyphony, corpus.polyphony),
            "pitch_class_entropy_gap": within(samples.pitch_class_entropy, corpus.pitch_class_entropy),
        });
        return crate::print(&(serde_json::to_string_pretty(&report)? + "\n"));
    }
    let row = |name: &str, m: &SetMetrics| {
        format!(
            "{name:<10} {:>9.2} {:>10.2} {:>7.2} {:>6.1} {:>9.2} {:>5}\n",
            m.polyphony, m.pitch_class_entropy, m.density, m.notes, m.pairwise_distance, m.empty
        )
    };
    crate::print(&format!(
        "{PROBE} samples (seeds {EVALUATE_SEED}..) against {} segments of the {split:?} split of {}\n\
         {:<10} {:>9} {:>10} {:>7} {:>6} {:>9} {:>5}\n{}{}\
         polyphony {:+.0} %, pitch-class entropy {:+.0} % of the corpus's\n",
        real.len(),
        data.display(),
        "",
        "polyphony",
        "pc entropy",
        "density",
        "notes",
        "distance",
        "empty",
        row("samples", &samples),
        row("corpus", &corpus),
        100.0 * within(samples.polyphony, corpus.polyphony),
        100.0 * within(samples.pitch_class_entropy, corpus.pitch_class_entropy),
    ))
}
