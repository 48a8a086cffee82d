//! The GAN's commands: `train --model gan`, and `generate` and `evaluate` with a GAN
//! checkpoint.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};

use fugato_data::Split;
use fugato_nn::gan::train::{
    Binarize, GanData, GanObserver, GanRecord, GanTrainConfig, PROBE, SetMetrics, sample, score_of, set_metrics,
};
use fugato_nn::gan::{GanConfig, GeneratorKind};
use fugato_repr::pianoroll::Frame;
use fugato_score::Score;
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::TrainArgs;

pub struct TrainSettings {
    data: PathBuf,
    run: PathBuf,
    resume: bool,
    model: GanConfig,
    train: GanTrainConfig,
    epochs: Option<usize>,
}

impl TrainSettings {
    pub fn from_args(a: &TrainArgs) -> anyhow::Result<TrainSettings> {
        let generator: GeneratorKind = a.generator.as_deref().unwrap_or("rnn").parse().map_err(anyhow::Error::msg)?;
        let mut model = GanConfig::new(generator);
        if let Some(cell) = &a.cell {
            model.cell = cell.parse().map_err(anyhow::Error::msg)?;
        }
        model.hidden = a.hidden.unwrap_or(model.hidden);
        model.layers = a.layers.unwrap_or(model.layers);
        model.dropout = a.dropout.unwrap_or(model.dropout);
        model.monophonic = a.monophonic;
        model.onsets = !a.no_onsets;
        model.chroma = a.chroma;
        model.feedback = a.feedback;
        if a.melody {
            if a.monophonic {
                bail!("--melody and --monophonic are two forms of one line: give one");
            }
            model = model.for_melody();
        }
        let d = GanTrainConfig::default();
        let train = GanTrainConfig {
            loss: a.gan_loss.as_deref().unwrap_or("bce").parse().map_err(anyhow::Error::msg)?,
            lr_generator: a.lr.unwrap_or(d.lr_generator),
            lr_discriminator: a.lr_discriminator.or(a.lr).unwrap_or(d.lr_discriminator),
            real_label: a.real_label.unwrap_or(d.real_label),
            critic_steps: a.critic_steps.unwrap_or(d.critic_steps),
            batch: a.batch.unwrap_or(d.batch),
            epochs: a.epochs.unwrap_or(d.epochs),
            feature_matching: a.feature_matching,
            transpose: a.transpose.unwrap_or(d.transpose),
            hop: a.hop.unwrap_or(d.hop),
            pretrain: a.pretrain.unwrap_or(d.pretrain),
            binary: a.binary.as_deref().unwrap_or("none").parse().map_err(anyhow::Error::msg)?,
            diversity: a.diversity.unwrap_or(d.diversity),
            sample_every: a.sample_every.unwrap_or(d.sample_every),
            seed: a.seed.unwrap_or(d.seed),
        };
        model.validate().map_err(anyhow::Error::msg)?;
        train.validate().map_err(anyhow::Error::msg)?;
        let (run, resume) = crate::train::run_folder(&a.out, &a.resume)?;
        Ok(TrainSettings { data: a.data.clone(), run, resume, model, train, epochs: a.epochs })
    }
}

pub fn train(s: TrainSettings) -> anyhow::Result<()> {
    let data = GanData {
        segments: fugato_data::segments::from_folder(
            &s.data,
            Split::Train,
            s.model.frames,
            if s.train.hop == 0 { s.model.frames } else { s.train.hop },
            s.model.melody,
        )?,
        source: s.data.display().to_string(),
    };
    let device = fugato_nn::default_device();
    let mut progress = Progress { bar: ProgressBar::hidden(), run: s.run.clone(), melody: s.model.melody };
    let start = Instant::now();
    let meta = if s.resume {
        fugato_nn::gan::train::resume(&s.run, &data, s.epochs, &device, &mut progress)?
    } else {
        std::fs::create_dir_all(&s.run).with_context(|| format!("creating {}", s.run.display()))?;
        eprintln!(
            "training a GAN ({:?} generator, CNN discriminator, {:?} loss) on {}: {} segments of {} frames",
            s.model.generator,
            s.train.loss,
            s.data.display(),
            data.segments.len(),
            s.model.frames
        );
        fugato_nn::gan::train::train(&s.run, &s.model, &s.train, &data, &device, &mut progress)?
    };
    progress.bar.finish_and_clear();
    crate::print(&format!(
        "{} epochs in {:.0} s; corpus polyphony {:.2}, pitch-class entropy {:.2}; best gap {:.3}; checkpoint {}\n",
        meta.epoch,
        start.elapsed().as_secs_f64(),
        meta.corpus.polyphony,
        meta.corpus.pitch_class_entropy,
        meta.best_gap.unwrap_or(f64::NAN),
        s.run.join("best").display()
    ))
}

struct Progress {
    bar: ProgressBar,
    run: PathBuf,
    melody: bool,
}

impl GanObserver for Progress {
    fn epoch_start(&mut self, epoch: usize, batches: usize) {
        self.bar = ProgressBar::new(batches as u64).with_style(
            ProgressStyle::with_template("epoch {prefix:>3} [{bar:30}] {pos}/{len} batches  {msg}  eta {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        self.bar.set_prefix(epoch.to_string());
    }

    fn batch_end(&mut self, loss_d: f64, loss_g: f64) {
        self.bar.set_message(format!("D {loss_d:.3}  G {loss_g:.3}"));
        self.bar.inc(1);
    }

    fn epoch_end(&mut self, r: &GanRecord, samples: Option<&[Vec<Frame>]>) {
        self.bar.finish_and_clear();
        eprintln!(
            "epoch {:>3}  D {:.3}  G {:.3}  polyphony {:.2}  pc-entropy {:.2}  notes {:.1}  distance {:.2}  empty {}  gap {:.3}  {:.1} s{}",
            r.epoch,
            r.loss_discriminator,
            r.loss_generator,
            r.samples.polyphony,
            r.samples.pitch_class_entropy,
            r.samples.notes,
            r.samples.pairwise_distance,
            r.samples.empty,
            r.gap,
            r.seconds,
            if r.improved { "  *" } else { "" }
        );
        if let Some(samples) = samples
            && let Err(e) = write_samples(&self.run.join("samples"), r.epoch, samples, self.melody)
        {
            eprintln!("fugato: warning: could not write samples: {e:#}");
        }
    }
}

/// One segment after another (piano-roll frames, or one-hot melody tokens where
/// `melody`), as a score at one tick per sixteenth.
pub fn segments_score(segments: &[Vec<Frame>], melody: bool) -> anyhow::Result<Score> {
    Ok(score_of(&segments.concat(), melody)?)
}

fn write_samples(dir: &Path, epoch: usize, samples: &[Vec<Frame>], melody: bool) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let score = segments_score(samples, melody)?;
    fugato_midi::write_file(&score, &dir.join(format!("epoch-{epoch:03}.mid")))?;
    let png = fugato_plot::piano_roll_png(&score, &Default::default())?;
    let path = dir.join(format!("epoch-{epoch:03}.png"));
    fugato_midi::write_atomic(&path, &png).with_context(|| format!("writing {}", path.display()))
}

/// Whether `arg` is a GAN checkpoint folder or the name of a bundled GAN.
pub fn is_gan(arg: &Path) -> bool {
    fugato_nn::checkpoint::format_of(arg).as_deref() == Some(fugato_nn::gan::train::FORMAT)
        || fugato_nn::bundled::gan_by_name(&arg.to_string_lossy()).is_some()
}

/// `generate` from a GAN checkpoint: `count` segments (seeds SEED, SEED+1, …) back to
/// back, or `interpolate` steps between two noise vectors. Keys are made binary as in
/// training (threshold 0.5, or Bernoulli for stochastic binary neurons) unless
/// `bernoulli` asks for Bernoulli sampling.
pub fn generate(
    checkpoint: &Path,
    seed: u64,
    segments: usize,
    interpolate: Option<usize>,
    bernoulli: bool,
) -> anyhow::Result<Score> {
    let device = fugato_nn::default_device();
    let ckpt = fugato_nn::bundled::load_gan_checkpoint(checkpoint, &device)?;
    let how = if bernoulli { Binarize::Bernoulli } else { ckpt.meta.train.binary.binarize() };
    let frames = sample(&ckpt.gan.generator, seed, segments, interpolate, how, &device);
    segments_score(&frames, ckpt.meta.model.melody)
}

/// Seeds of the noise vectors `evaluate` samples (the probe of training uses other noise).
const EVALUATE_SEED: u64 = 1;

/// `evaluate` for a GAN: the music metrics of 100 samples next to those of 100 segments
/// of one split of the data folder (the validation split unless `--split` says).
pub fn evaluate(checkpoint: &Path, data: &Path, split: Split, json: bool) -> anyhow::Result<()> {
    let device = fugato_nn::default_device();
    let ckpt = fugato_nn::bundled::load_gan_checkpoint(checkpoint, &device)?;
    let (frames, melody) = (ckpt.meta.model.frames, ckpt.meta.model.melody);
    let all = fugato_data::segments::from_folder(data, split, frames, frames, melody)?;
    // PROBE segments spread evenly over the split (all of them where there are fewer).
    let real: Vec<Vec<Frame>> = all.iter().step_by(all.len().div_ceil(PROBE)).cloned().collect();
    let corpus = set_metrics(&real, melody);
    let how = ckpt.meta.train.binary.binarize();
    let samples = set_metrics(&sample(&ckpt.gan.generator, EVALUATE_SEED, PROBE, None, how, &device), melody);
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
