//! `fugato train`, in two stages: clap's raw flags ([`TrainArgs`]), then a [`Plan`] checked
//! per model family — a flag that does not apply to the family chosen (or to a resumed
//! run, whose settings are fixed) is refused, naming it — then the one training driver.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use fugato_data::lines::{Examples, Task};
use fugato_data::sequences::SequenceSet;
use fugato_data::{Dataset, Split};
use fugato_nn::bundled::Kind;
use fugato_nn::checkpoint::{self, CheckpointMeta};
use fugato_nn::gan::train::{GanData, GanMeta, GanTrainConfig, GanTraining};
use fugato_nn::gan::{GanConfig, GeneratorKind};
use fugato_nn::model::{CellKind, HeadKind, Input, ModelConfig, SequenceTraining, TrainData};
use fugato_nn::preset::Preset;
use fugato_nn::seq2seq::Seq2SeqConfig;
use fugato_nn::seq2seq::train::{Seq2SeqMeta, Seq2SeqTraining};
use fugato_nn::train::{EpochRecord, Family, Observer, TrainConfig, TrainSummary};
use fugato_repr::ReprKind;
use fugato_repr::pianoroll::N_KEYS;
use fugato_score::Score;
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::{GeneratorArg, ModelArg, TrainArgs};

/// What `fugato train` will do, checked.
pub struct Plan {
    data: PathBuf,
    read: fugato_midi::ReadOptions,
    run: PathBuf,
    /// A new run, or a resumed one with its new total of epochs.
    start: Start,
    family: FamilyPlan,
}

enum Start {
    New,
    Resume { epochs: Option<usize> },
}

/// The family's settings (for a resumed run, only what its data needs).
enum FamilyPlan {
    Sequence(SequencePlan),
    Seq2Seq { task: Task, model: Seq2SeqConfig, train: TrainConfig },
    Gan { model: GanConfig, train: GanTrainConfig },
}

struct SequencePlan {
    /// How a MIDI folder is prepared.
    repr: ReprKind,
    /// A new run's model and training (the model's input and outputs come from the data).
    new: Option<NewSequence>,
}

struct NewSequence {
    preset: Preset,
    /// A head named on the command line: taken as asked, for any data.
    head: Option<HeadKind>,
    train: TrainConfig,
}

impl Plan {
    pub fn from_args(a: TrainArgs, read: fugato_midi::ReadOptions) -> anyhow::Result<Plan> {
        let (run, resume) = run_folder(&a.out, &a.resume)?;
        if resume {
            let settings = fugato_nn::train::settings_file(&run)?;
            let kind = fugato_nn::bundled::kind_of_file(&settings)?;
            refuse(&a, kind, true)?;
            let family = resumed(&settings, kind)?;
            return Ok(Plan { data: a.data, read, run, start: Start::Resume { epochs: a.epochs }, family });
        }
        let kind = match a.model {
            Some(ModelArg::Seq2seq) => Kind::Seq2Seq,
            Some(ModelArg::Gan) => Kind::Gan,
            _ => Kind::Sequence,
        };
        refuse(&a, kind, false)?;
        let family = match kind {
            Kind::Sequence => FamilyPlan::Sequence(sequence_plan(&a)?),
            Kind::Seq2Seq => seq2seq_plan(&a)?,
            Kind::Gan => gan_plan(&a)?,
        };
        Ok(Plan { data: a.data, read, run, start: Start::New, family })
    }
}

/// A flag as given, and the families it applies to.
struct Flag {
    name: &'static str,
    given: bool,
    families: &'static [Kind],
}

const ALL: &[Kind] = &[Kind::Sequence, Kind::Seq2Seq, Kind::Gan];
const LIKELIHOOD: &[Kind] = &[Kind::Sequence, Kind::Seq2Seq];
const SEQUENCE: &[Kind] = &[Kind::Sequence];
const SEQ2SEQ: &[Kind] = &[Kind::Seq2Seq];
const GAN: &[Kind] = &[Kind::Gan];
const RECURRENT_PARTS: &[Kind] = &[Kind::Seq2Seq, Kind::Gan];

/// Every flag of `fugato train` but --data, --out, --resume and --epochs (which apply
/// everywhere, a resumed run included).
fn flags(a: &TrainArgs) -> Vec<Flag> {
    let f = |name, given, families| Flag { name, given, families };
    vec![
        f("--model", a.model.is_some(), ALL),
        f("--preset", a.preset.is_some(), SEQUENCE),
        f("--repr", a.repr.is_some(), SEQUENCE),
        f("--peephole", a.peephole, SEQUENCE),
        f("--absolute-positions", a.absolute_positions, SEQUENCE),
        f("--head", a.head.is_some(), SEQUENCE),
        f("--nade-hidden", a.nade_hidden.is_some(), SEQUENCE),
        f("--task", a.task.is_some(), SEQ2SEQ),
        f("--no-attention", a.no_attention, SEQ2SEQ),
        f("--token-dropout", a.token_dropout.is_some(), SEQ2SEQ),
        f("--cell", a.cell.is_some(), RECURRENT_PARTS),
        f("--generator", a.generator.is_some(), GAN),
        f("--gan-loss", a.gan_loss.is_some(), GAN),
        f("--lr-discriminator", a.lr_discriminator.is_some(), GAN),
        f("--real-label", a.real_label.is_some(), GAN),
        f("--critic-steps", a.critic_steps.is_some(), GAN),
        f("--feature-matching", a.feature_matching, GAN),
        f("--no-onsets", a.no_onsets, GAN),
        f("--monophonic", a.monophonic, GAN),
        f("--melody", a.melody, GAN),
        f("--chroma", a.chroma, GAN),
        f("--feedback", a.feedback, GAN),
        f("--pretrain", a.pretrain.is_some(), GAN),
        f("--binary", a.binary.is_some(), GAN),
        f("--diversity", a.diversity.is_some(), GAN),
        f("--hop", a.hop.is_some(), GAN),
        f("--sample-every", a.sample_every.is_some(), GAN),
        f("--hidden", a.hidden.is_some(), ALL),
        f("--layers", a.layers.is_some(), ALL),
        f("--dropout", a.dropout.is_some(), ALL),
        f("--lr", a.lr.is_some(), ALL),
        f("--optimizer", a.optimizer.is_some(), LIKELIHOOD),
        f("--batch", a.batch.is_some(), ALL),
        f("--seq-len", a.seq_len.is_some(), LIKELIHOOD),
        f("--patience", a.patience.is_some(), LIKELIHOOD),
        f("--clip", a.clip.is_some(), LIKELIHOOD),
        f("--transpose", a.transpose.is_some(), ALL),
        f("--seed", a.seed.is_some(), ALL),
    ]
}

/// Refuses the first flag given that does not apply to `kind` (or, `resume`, any that
/// would change a resumed run's settings), naming it.
fn refuse(a: &TrainArgs, kind: Kind, resume: bool) -> anyhow::Result<()> {
    for flag in flags(a).into_iter().filter(|f| f.given) {
        if resume {
            bail!(
                "{}: a resumed run keeps the settings it was started with (only --epochs may change); \
                 drop {0}, or start a new run with --out",
                flag.name
            );
        }
        if !flag.families.contains(&kind) {
            let wanted: Vec<&str> = flag.families.iter().map(|k| model_flag(*k)).collect();
            bail!(
                "{} does not apply to {} (it is for {}){}",
                flag.name,
                model_flag(kind),
                wanted.join(" and "),
                if flag.name == "--cell" {
                    "; a sequence model's cell is --model itself: rnn, lstm, gru or transformer"
                } else {
                    ""
                }
            );
        }
    }
    if a.peephole && a.model.is_some_and(|m| m != ModelArg::Lstm) {
        bail!("--peephole is for --model lstm");
    }
    if a.absolute_positions && a.model.is_some_and(|m| m != ModelArg::Transformer) {
        bail!("--absolute-positions is for --model transformer");
    }
    if kind == Kind::Gan && a.feedback && a.generator == Some(GeneratorArg::Mlp) {
        bail!("--feedback is for --generator rnn: only the RNN generator reads its own frames back");
    }
    Ok(())
}

/// How `--model` names a family, for messages.
fn model_flag(kind: Kind) -> &'static str {
    match kind {
        Kind::Sequence => "sequence models (--model rnn, lstm, gru or transformer)",
        Kind::Seq2Seq => "--model seq2seq",
        Kind::Gan => "--model gan",
    }
}

fn sequence_plan(a: &TrainArgs) -> anyhow::Result<SequencePlan> {
    let default = if a.model == Some(ModelArg::Transformer) { "transformer-remi" } else { "seed-keras" };
    let preset_name = a.preset.clone().unwrap_or_else(|| default.into());
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
    m.cell = match a.model {
        Some(ModelArg::Rnn) => CellKind::Rnn,
        Some(ModelArg::Lstm) => CellKind::Lstm,
        Some(ModelArg::Gru) => CellKind::Gru,
        Some(ModelArg::Transformer) => CellKind::Transformer,
        _ => m.cell,
    };
    if m.cell == CellKind::Transformer {
        let transformer = Preset::built_in("transformer-remi").expect("a built-in preset").model;
        let attention = m.attention.get_or_insert_with(|| transformer.attention.expect("attention settings"));
        attention.absolute |= a.absolute_positions;
    } else if a.absolute_positions {
        bail!("--absolute-positions is for transformers, but preset {preset_name} is a {:?} model", m.cell);
    }
    m.peephole |= a.peephole;
    m.hidden = a.hidden.unwrap_or(m.hidden);
    m.layers = a.layers.unwrap_or(m.layers);
    m.dropout = a.dropout.unwrap_or(m.dropout);
    m.nade_hidden = a.nade_hidden.unwrap_or(m.nade_hidden);
    let preset_train = preset.train.resolve().map_err(|e| anyhow::anyhow!("preset {preset_name}: {e}"))?;
    let train = training(a, preset_train)?;
    let repr = a.repr.map_or(ReprKind::PianoRoll, ReprKind::from);
    Ok(SequencePlan { repr, new: Some(NewSequence { preset, head: a.head.map(HeadKind::from), train }) })
}

/// The likelihood families' training settings: `defaults` with the flags given.
fn training(a: &TrainArgs, defaults: TrainConfig) -> anyhow::Result<TrainConfig> {
    let train = TrainConfig {
        optimizer: a.optimizer.map_or(defaults.optimizer, Into::into),
        lr: a.lr.unwrap_or(defaults.lr),
        batch: a.batch.unwrap_or(defaults.batch),
        seq_len: a.seq_len.unwrap_or(defaults.seq_len),
        epochs: a.epochs.unwrap_or(defaults.epochs),
        patience: a.patience.unwrap_or(defaults.patience),
        clip: a.clip.unwrap_or(defaults.clip),
        transpose: a.transpose.unwrap_or(defaults.transpose),
        seed: a.seed.unwrap_or(defaults.seed),
        ..defaults
    };
    train.validate().map_err(anyhow::Error::msg)?;
    Ok(train)
}

fn seq2seq_plan(a: &TrainArgs) -> anyhow::Result<FamilyPlan> {
    let task = a.task.map_or(Task::Harmonize, Task::from);
    let cell = a.cell.map_or(CellKind::Lstm, CellKind::from);
    let mut model = Seq2SeqConfig::new(task, cell, a.hidden.unwrap_or(192));
    model.attention = !a.no_attention;
    model.dropout = a.dropout.unwrap_or(model.dropout);
    model.token_dropout = a.token_dropout.unwrap_or(model.token_dropout);
    if a.layers.is_some_and(|l| l != 1) {
        bail!("--layers: the encoder–decoder has one layer each way (--layers 1)");
    }
    let defaults = TrainConfig { epochs: 40, patience: 8, lr_patience: 3, transpose: 5, ..TrainConfig::default() };
    let train = training(a, defaults)?;
    model.validate().map_err(anyhow::Error::msg)?;
    Ok(FamilyPlan::Seq2Seq { task, model, train })
}

fn gan_plan(a: &TrainArgs) -> anyhow::Result<FamilyPlan> {
    let generator = match a.generator {
        Some(GeneratorArg::Mlp) => GeneratorKind::Mlp,
        _ => GeneratorKind::Rnn,
    };
    let mut model = GanConfig::new(generator);
    model.cell = a.cell.map_or(model.cell, CellKind::from);
    model.hidden = a.hidden.unwrap_or(model.hidden);
    model.layers = a.layers.unwrap_or(model.layers);
    model.dropout = a.dropout.unwrap_or(model.dropout);
    model.monophonic = a.monophonic;
    model.onsets = !a.no_onsets;
    model.chroma = a.chroma;
    model.feedback = a.feedback;
    if a.melody {
        model = model.for_melody();
    }
    let d = GanTrainConfig::default();
    let train = GanTrainConfig {
        loss: a.gan_loss.map_or(d.loss, Into::into),
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
        binary: a.binary.map_or(d.binary, Into::into),
        diversity: a.diversity.unwrap_or(d.diversity),
        sample_every: a.sample_every.unwrap_or(d.sample_every),
        seed: a.seed.unwrap_or(d.seed),
    };
    model.validate().map_err(anyhow::Error::msg)?;
    train.validate().map_err(anyhow::Error::msg)?;
    Ok(FamilyPlan::Gan { model, train })
}

/// A resumed run's plan: what its settings say its data needs.
fn resumed(settings: &Path, kind: Kind) -> anyhow::Result<FamilyPlan> {
    Ok(match kind {
        Kind::Sequence => {
            let meta: CheckpointMeta = checkpoint::meta_of_file(settings)?;
            FamilyPlan::Sequence(SequencePlan { repr: meta.data.repr, new: None })
        }
        Kind::Seq2Seq => {
            let meta: Seq2SeqMeta = checkpoint::meta_of_file(settings)?;
            FamilyPlan::Seq2Seq { task: meta.task, model: meta.model, train: meta.train }
        }
        Kind::Gan => {
            let meta: GanMeta = checkpoint::meta_of_file(settings)?;
            FamilyPlan::Gan { model: meta.model, train: meta.train }
        }
    })
}

pub fn run(plan: Plan) -> anyhow::Result<()> {
    let device = fugato_nn::default_device();
    let start = Instant::now();
    let (run, data_path) = (&plan.run, &plan.data);
    let (summary, unit) = match plan.family {
        FamilyPlan::Sequence(p) => {
            let data = sequence_data(data_path, run, p.repr, plan.read)?;
            let unit = if matches!(data.train, SequenceSet::Frames(_)) { "nats per frame" } else { "nats per token" };
            let meta = || -> anyhow::Result<CheckpointMeta> {
                let new = p.new.as_ref().context("a new run's settings")?;
                let model = model_config(new, &data)?;
                eprintln!(
                    "training {:?} {}×{} ({} head, dropout {}) on {}: {} sequences",
                    model.cell,
                    model.layers,
                    model.hidden,
                    format!("{:?}", model.head).to_lowercase(),
                    model.dropout,
                    data_path.display(),
                    data.train.len()
                );
                Ok(CheckpointMeta::new(model, new.train.clone(), data.info.clone()))
            };
            (drive::<SequenceTraining>(run, &plan.start, meta, &data, &device)?, unit)
        }
        FamilyPlan::Seq2Seq { task, model, train } => {
            let data = Examples::from_folder(data_path, task, plan.read)?;
            let meta = || -> anyhow::Result<Seq2SeqMeta> {
                eprintln!(
                    "training a {:?} encoder–decoder ({} hidden, attention {}) to {:?} on {}: {} training and {} validation examples",
                    model.cell,
                    model.hidden,
                    if model.attention { "on" } else { "off" },
                    task,
                    data_path.display(),
                    data.train.len(),
                    data.valid.len()
                );
                Ok(Seq2SeqMeta::new(task, model.clone(), train.clone(), &data))
            };
            (drive::<Seq2SeqTraining>(run, &plan.start, meta, &data, &device)?, "nats per step, all target lines")
        }
        FamilyPlan::Gan { model, train } => {
            let hop = if train.hop == 0 { model.frames } else { train.hop };
            let segments = fugato_data::segments::from_folder(
                data_path,
                plan.read,
                Split::Train,
                model.frames,
                hop,
                model.melody,
            )?;
            let data = GanData { segments, source: data_path.display().to_string() };
            let meta = || -> anyhow::Result<GanMeta> {
                eprintln!(
                    "training a GAN ({:?} generator, CNN discriminator, {:?} loss) on {}: {} segments of {} frames",
                    model.generator,
                    train.loss,
                    data_path.display(),
                    data.segments.len(),
                    model.frames
                );
                Ok(GanMeta::new(model.clone(), train.clone(), &data))
            };
            (
                drive::<GanTraining>(run, &plan.start, meta, &data, &device)?,
                "the gap of the samples' metrics to the corpus's",
            )
        }
    };
    write_loss_curve(run)?;
    let best = summary.best.map(|b| format!("{b:.4}")).unwrap_or_else(|| "-".into());
    crate::print(&format!(
        "{} epochs{} in {:.0} s; best score {best} ({unit}); checkpoint {}\n",
        summary.epochs,
        if summary.stopped_early { " (stopped early)" } else { "" },
        start.elapsed().as_secs_f64(),
        run.join("best").display()
    ))
}

/// A new run from `meta()`, or the resumed one, through the driver with a progress bar.
fn drive<F: Family>(
    run: &Path,
    start: &Start,
    meta: impl FnOnce() -> anyhow::Result<F::Meta>,
    data: &F::Data,
    device: &fugato_nn::Device,
) -> anyhow::Result<TrainSummary> {
    let mut progress = Progress::new(run);
    let summary = match start {
        Start::New => {
            let meta = meta()?;
            std::fs::create_dir_all(run).with_context(|| format!("creating {}", run.display()))?;
            fugato_nn::train::train::<F>(run, meta, data, device, &mut progress)?
        }
        Start::Resume { epochs } => fugato_nn::train::resume::<F>(run, data, *epochs, device, &mut progress)?,
    };
    progress.bar.finish_and_clear();
    Ok(summary)
}

/// A sequence model's data: a JSON file, a shards folder, or a MIDI folder prepared into
/// `RUN/data` in `repr`.
fn sequence_data(path: &Path, run: &Path, repr: ReprKind, read: fugato_midi::ReadOptions) -> anyhow::Result<TrainData> {
    let dataset: Dataset = crate::data::open(path, Some((&run.join("data"), crate::data::preparing(repr))), read)?;
    let train = dataset.split(Split::Train, path)?;
    let valid = if dataset.has(Split::Valid) { Some(dataset.split(Split::Valid, path)?) } else { None };
    Ok(TrainData { train, valid, info: dataset.info(path) })
}

fn model_config(p: &NewSequence, data: &TrainData) -> anyhow::Result<ModelConfig> {
    let (input, outputs) = match &data.train {
        SequenceSet::Frames(_) => (Input::Frames { units: N_KEYS }, N_KEYS),
        SequenceSet::Tokens { .. } => {
            let vocab = data.info.vocabulary.as_ref().map(|v| v.size() as usize).context("shards lack a vocabulary")?;
            (Input::Tokens { vocab, embedding: 0, styles: data.info.styles.len() }, vocab)
        }
    };
    let mut config = p.preset.model_config(input, outputs);
    // A head named on the command line is taken as asked, and refused if it cannot fit.
    if let Some(head) = p.head {
        config.head = head;
    }
    config.validate().map_err(|e| anyhow::anyhow!("--head: {e}"))?;
    Ok(config)
}

/// The run folder of `--out` (a new run: refused if it already holds one) or
/// `--resume`, and whether the run resumes.
fn run_folder(out: &Option<PathBuf>, resume: &Option<PathBuf>) -> anyhow::Result<(PathBuf, bool)> {
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

/// A progress bar per epoch with the running losses, one line per finished epoch, and a
/// GAN's samples written into `RUN/samples`.
struct Progress {
    bar: ProgressBar,
    samples: PathBuf,
}

impl Progress {
    fn new(run: &Path) -> Progress {
        Progress { bar: ProgressBar::hidden(), samples: run.join("samples") }
    }
}

impl Observer for Progress {
    fn epoch_start(&mut self, epoch: usize, batches: usize) {
        self.bar = ProgressBar::new(batches as u64).with_style(
            ProgressStyle::with_template("epoch {prefix:>3} [{bar:30}] {pos}/{len} batches  {msg}  eta {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        self.bar.set_prefix(epoch.to_string());
    }

    fn batch_end(&mut self, losses: &[(&'static str, f64)]) {
        let text: Vec<String> = losses.iter().map(|(name, v)| format!("{name} {v:.4}")).collect();
        self.bar.set_message(text.join("  "));
        self.bar.inc(1);
    }

    fn epoch_end(&mut self, r: &EpochRecord, samples: &[Score]) {
        self.bar.finish_and_clear();
        eprintln!(
            "epoch {:>3}  train {:.4}  {}  lr {:.2e}  {:.1} s{}",
            r.epoch,
            r.train_loss,
            r.summary,
            r.lr,
            r.seconds,
            if r.improved { "  *" } else { "" }
        );
        if !samples.is_empty()
            && let Err(e) = write_samples(&self.samples, r.epoch, samples)
        {
            eprintln!("fugato: warning: could not write samples: {e:#}");
        }
    }
}

/// An epoch's samples as `epoch-NNN.mid` and `.png` (`epoch-NNN-K` for several).
fn write_samples(dir: &Path, epoch: usize, samples: &[Score]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (i, score) in samples.iter().enumerate() {
        let name = if samples.len() == 1 { format!("epoch-{epoch:03}") } else { format!("epoch-{epoch:03}-{}", i + 1) };
        fugato_midi::write_file(score, &dir.join(format!("{name}.mid")))?;
        let png = fugato_plot::piano_roll_png(score, &Default::default())?;
        let path = dir.join(format!("{name}.png"));
        fugato_midi::write_atomic(&path, &png).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Draws `loss.png` in the run folder from its `metrics.jsonl`.
fn write_loss_curve(run: &Path) -> anyhow::Result<()> {
    let records = fugato_nn::train::read_metrics(run)?;
    let train: Vec<(f64, f64)> = records.iter().map(|r| (r.epoch as f64, r.train_loss)).collect();
    let score: Vec<(f64, f64)> = records.iter().map(|r| (r.epoch as f64, r.score)).collect();
    let series = vec![
        fugato_plot::Series { name: "train loss (dropout on)", points: train },
        fugato_plot::Series { name: "score (best/ has the lowest)", points: score },
    ];
    let png = fugato_plot::line_chart_png("Training run", "epoch", "loss / score", &series)?;
    let path = run.join("loss.png");
    fugato_midi::write_atomic(&path, &png).with_context(|| format!("writing {}", path.display()))
}
