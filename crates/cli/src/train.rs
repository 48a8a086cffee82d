use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use fugato_data::Split;
use fugato_nn::batch::SequenceSet;
use fugato_nn::model::{HeadKind, Input, ModelConfig};
use fugato_nn::preset::Preset;
use fugato_nn::train::{EpochRecord, Observer, TrainConfig, TrainData};
use fugato_repr::ReprKind;
use fugato_repr::pianoroll::N_KEYS;
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::TrainArgs;

pub struct Config {
    data: PathBuf,
    run: PathBuf,
    resume: bool,
    preset: Preset,
    train: TrainConfig,
    /// A head named on the command line: taken as asked, for any data.
    head: Option<HeadKind>,
    /// On --resume: the run's new total of epochs.
    epochs: Option<usize>,
    repr: ReprKind,
}

impl Config {
    pub fn from_args(a: TrainArgs) -> anyhow::Result<Config> {
        let preset_name = a.preset.clone().unwrap_or_else(|| "seed-keras".into());
        let mut preset = match Preset::built_in(&preset_name) {
            Some(p) => p,
            None if Path::new(&preset_name).is_file() => {
                let text = std::fs::read_to_string(&preset_name).with_context(|| format!("reading {preset_name}"))?;
                Preset::parse(&text).map_err(|e| anyhow::anyhow!("{preset_name}: {e}"))?
            }
            None => bail!(
                "unknown preset {preset_name:?}: expected a TOML file or one of {}",
                fugato_nn::preset::BUILT_IN.map(|(n, _)| n).join(", ")
            ),
        };
        let m = &mut preset.model;
        if let Some(cell) = &a.model {
            m.cell = cell.parse().map_err(|e: String| anyhow::anyhow!("{e} (or seq2seq)"))?;
        }
        m.peephole |= a.peephole;
        m.hidden = a.hidden.unwrap_or(m.hidden);
        m.layers = a.layers.unwrap_or(m.layers);
        m.dropout = a.dropout.unwrap_or(m.dropout);
        m.nade_hidden = a.nade_hidden.unwrap_or(m.nade_hidden);
        let mut train = preset.train.resolve().map_err(|e| anyhow::anyhow!("preset {preset_name}: {e}"))?;
        train.lr = a.lr.unwrap_or(train.lr);
        if let Some(o) = &a.optimizer {
            train.optimizer = o.parse().map_err(anyhow::Error::msg)?;
        }
        train.batch = a.batch.unwrap_or(train.batch);
        train.seq_len = a.seq_len.unwrap_or(train.seq_len);
        train.epochs = a.epochs.unwrap_or(train.epochs);
        train.patience = a.patience.unwrap_or(train.patience);
        train.clip = a.clip.unwrap_or(train.clip);
        train.transpose = a.transpose.unwrap_or(train.transpose);
        train.seed = a.seed.unwrap_or(train.seed);
        train.validate().map_err(anyhow::Error::msg)?;
        let repr = a.repr.as_deref().unwrap_or("pianoroll").parse()?;
        let (run, resume) = crate::train::run_folder(&a.out, &a.resume)?;
        let head = a.head.as_deref().map(str::parse::<HeadKind>).transpose().map_err(anyhow::Error::msg)?;
        Ok(Config { data: a.data, run, resume, preset, train, head, epochs: a.epochs, repr })
    }
}

pub fn run(c: Config) -> anyhow::Result<()> {
    let dataset = crate::data::open(&c.data, Some((&c.run.join("data"), c.repr)))?;
    let train_set = dataset.split(Split::Train, &c.data)?;
    let valid = if dataset.has(Split::Valid) { Some(dataset.split(Split::Valid, &c.data)?) } else { None };
    let info = dataset.info(&c.data);
    let data = TrainData { train: train_set, valid, info };
    let device = fugato_nn::default_device();
    let mut progress = Progress::new();
    let start = Instant::now();
    let summary = if c.resume {
        fugato_nn::train::resume(&c.run, &data, c.epochs, &device, &mut progress)?
    } else {
        let model = model_config(&c, &data)?;
        std::fs::create_dir_all(&c.run).with_context(|| format!("creating {}", c.run.display()))?;
        eprintln!(
            "training {:?} {}×{} ({} head, dropout {}) on {}: {} sequences",
            model.cell,
            model.layers,
            model.hidden,
            format!("{:?}", model.head).to_lowercase(),
            model.dropout,
            c.data.display(),
            data.train.len()
        );
        fugato_nn::train::train(&c.run, &model, &c.train, &data, &device, &mut progress)?
    };
    progress.bar.finish_and_clear();
    write_loss_curve(&c.run)?;
    let best = summary.best_valid.map(|b| format!("{b:.4}")).unwrap_or_else(|| "-".into());
    crate::print(&format!(
        "{} epochs{} in {:.0} s; best validation loss {best} (nats per {}); checkpoint {}\n",
        summary.epochs,
        if summary.stopped_early { " (stopped early)" } else { "" },
        start.elapsed().as_secs_f64(),
        if matches!(data.train, SequenceSet::Frames(_)) { "frame" } else { "token" },
        c.run.join("best").display()
    ))
}

fn model_config(c: &Config, data: &TrainData) -> anyhow::Result<ModelConfig> {
    let (input, outputs) = match &data.train {
        SequenceSet::Frames(_) => (Input::Frames { units: N_KEYS }, N_KEYS),
        SequenceSet::Tokens { .. } => {
            let vocab = data.info.vocabulary.as_ref().map(|v| v.size() as usize).context("shards lack a vocabulary")?;
            (Input::Tokens { vocab, embedding: 0, styles: data.info.styles.len() }, vocab)
        }
    };
    let mut config = c.preset.model_config(input, outputs);
    // A head named on the command line is taken as asked, and refused if it cannot fit.
    if let Some(head) = c.head {
        config.head = head;
    }
    config.validate().map_err(anyhow::Error::msg)?;
    Ok(config)
}

/// The run folder of `--out` (a new run: refused if it already holds one) or
/// `--resume`, and whether the run resumes.
pub(crate) fn run_folder(out: &Option<PathBuf>, resume: &Option<PathBuf>) -> anyhow::Result<(PathBuf, bool)> {
    let (run, resume) = match (out, resume) {
        (_, Some(dir)) => (dir.clone(), true),
        (Some(dir), None) => (dir.clone(), false),
        (None, None) => bail!("give --out DIR for a new run or --resume DIR to continue one"),
    };
    if !resume && run.join("latest").exists() {
        bail!("{}: already holds a training run; use --resume {0} to continue it, or another --out", run.display());
    }
    Ok((run, resume))
}

/// A progress bar per epoch with the running loss, and one line per finished epoch.
pub(crate) struct Progress {
    bar: ProgressBar,
    loss_sum: f64,
    batches: usize,
}

impl Progress {
    pub(crate) fn new() -> Progress {
        Progress { bar: ProgressBar::hidden(), loss_sum: 0.0, batches: 0 }
    }

    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Observer for Progress {
    fn epoch_start(&mut self, epoch: usize, batches: usize) {
        self.bar = ProgressBar::new(batches as u64).with_style(
            ProgressStyle::with_template("epoch {prefix:>3} [{bar:30}] {pos}/{len} batches  loss {msg}  eta {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        self.bar.set_prefix(epoch.to_string());
        (self.loss_sum, self.batches) = (0.0, 0);
    }

    fn batch_end(&mut self, loss: f64) {
        self.loss_sum += loss;
        self.batches += 1;
        self.bar.set_message(format!("{:.4}", self.loss_sum / self.batches as f64));
        self.bar.inc(1);
    }

    fn epoch_end(&mut self, r: &EpochRecord) {
        self.bar.finish_and_clear();
        let valid = match &r.valid {
            Some(v) => {
                let acc = v.accuracy.map(|a| format!("  acc {a:.3}")).unwrap_or_default();
                format!("  valid {:.4}{acc}", v.nll)
            }
            None => String::new(),
        };
        eprintln!(
            "epoch {:>3}  train {:.4}{valid}  lr {:.2e}  {:.1} s{}",
            r.epoch,
            r.train_loss,
            r.lr,
            r.seconds,
            if r.improved { "  *" } else { "" }
        );
    }
}

/// Draws `loss.png` in the run folder from its `metrics.jsonl`.
pub(crate) fn write_loss_curve(run: &Path) -> anyhow::Result<()> {
    let records = fugato_nn::train::read_metrics(run)?;
    let train: Vec<(f64, f64)> = records.iter().map(|r| (r.epoch as f64, r.train_loss)).collect();
    let valid: Vec<(f64, f64)> = records.iter().filter_map(|r| Some((r.epoch as f64, r.valid.as_ref()?.nll))).collect();
    let mut series = vec![fugato_plot::Series { name: "train (dropout on)", points: train }];
    if !valid.is_empty() {
        series.push(fugato_plot::Series { name: "validation", points: valid });
    }
    let png = fugato_plot::line_chart_png("Training run", "epoch", "loss (nats per item)", &series)?;
    let path = run.join("loss.png");
    fugato_midi::write_atomic(&path, &png).with_context(|| format!("writing {}", path.display()))
}
