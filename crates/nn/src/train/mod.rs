//! The training driver, one for every model family: a family says what its model, data,
//! batches, loss and per-epoch record are ([`Family`]); the driver runs the epochs, the
//! validation, the learning-rate schedule, early stopping, the `best/` and `latest/`
//! checkpoints, the metrics log and `--resume`, and tells an [`Observer`] what happens
//! (for progress bars).
//!
//! A run folder holds `latest/` (written every epoch, with the optimizer states), `best/`
//! (the epoch with the lowest score) and `metrics.jsonl`: one [`EpochRecord`] per line,
//! the same fields for every family and the family's own under `details`.

mod config;

use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::tensor::{Bytes, Device};
use fugato_data::staging;
use fugato_score::Score;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use config::{OptimizerKind, TrainConfig};

use crate::NnError;
use crate::checkpoint;

/// A model family the driver trains.
pub trait Family: Sized {
    /// Its `checkpoint.json`: the model's and training's configuration and what it learns
    /// from, with a [`Progress`].
    type Meta: RunMeta;
    /// The network (both networks for the GAN).
    type Model: Module + Clone;
    /// Training (and validation) data in memory.
    type Data;
    /// The family's part of a metrics line (`details`).
    type Record: Serialize;

    /// The names of its optimizer states' files in `latest/`, one per optimizer.
    const OPTIMIZERS: &'static [&'static str];

    /// Epochs, learning rate, schedule and seed.
    fn schedule(meta: &Self::Meta) -> Schedule;
    /// A fresh model (on an autodiff device), ready for its first step.
    fn init(meta: &Self::Meta, data: &Self::Data, device: &Device) -> Result<Self::Model, NnError>;
    /// Its optimizers, fresh, in the order of [`Family::OPTIMIZERS`].
    fn optimizers(meta: &Self::Meta) -> Vec<ModuleOptimizer>;
    /// A checkpoint of this family: its metadata and model.
    fn load(dir: &Path, device: &Device) -> Result<(Self::Meta, Self::Model), NnError>;
    /// Why `data` cannot train the model `meta` describes, if it cannot.
    fn check_data(meta: &Self::Meta, data: &Self::Data) -> Result<(), String>;
    /// What a run keeps between epochs (validation windows, probe noise), made when it
    /// (re)starts.
    fn start(meta: &Self::Meta, model: &Self::Model, data: &Self::Data, device: &Device) -> Self;
    /// One epoch of training steps.
    fn train_epoch(
        &mut self,
        epoch: &mut Epoch,
        model: Self::Model,
        optimizers: &mut [ModuleOptimizer],
        data: &Self::Data,
    ) -> Result<Self::Model, NnError>;
    /// The model after an epoch, scored with dropout off.
    fn evaluate(
        &mut self,
        epoch: usize,
        model: &Self::Model,
        data: &Self::Data,
        device: &Device,
    ) -> Scored<Self::Record>;
    /// The record in a few words, for the epoch's log line.
    fn summary(record: &Self::Record) -> String;
}

/// A checkpoint's metadata as the driver sees it.
pub trait RunMeta: Serialize + DeserializeOwned + Clone {
    fn progress(&self) -> &Progress;
    fn progress_mut(&mut self) -> &mut Progress;
    /// Records the model's number of parameters.
    fn set_parameters(&mut self, parameters: usize);
    /// Sets the most epochs the run trains (`--resume --epochs N`).
    fn set_epochs(&mut self, epochs: usize);
}

/// How long and how fast a run trains.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule {
    /// Most epochs to run.
    pub epochs: usize,
    /// The learning rate at the start.
    pub lr: f64,
    /// Multiply the learning rate by `.1` after every `.0` epochs without improvement.
    pub decay: Option<(usize, f64)>,
    /// Stop after this many epochs without improvement.
    pub patience: Option<usize>,
    pub seed: u64,
}

/// What a family's epoch works with.
pub struct Epoch<'a> {
    /// Epochs finished before this one.
    pub index: usize,
    pub lr: f64,
    /// Optimizer steps taken so far (the family counts its own).
    pub step: &'a mut usize,
    pub rng: &'a mut ChaCha8Rng,
    /// The autodiff device.
    pub device: &'a Device,
    pub observer: &'a mut dyn Observer,
    /// The epoch's mean training loss per item, set by the family.
    pub train_loss: f64,
}

/// A model scored after an epoch.
pub struct Scored<R> {
    /// What `best/` is chosen by, lower being better; `None` where there is nothing to
    /// score on (no validation data), and the epoch's training loss stands in.
    pub score: Option<f64>,
    pub record: R,
    /// Pieces the epoch writes for a listener (GAN samples), if any.
    pub samples: Vec<Score>,
}

/// Where a run stands after its last epoch: top-level fields of every family's
/// `checkpoint.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Epochs completed.
    pub epoch: usize,
    /// Optimizer steps taken.
    pub step: usize,
    /// The lowest score so far (validation NLL; a GAN's gap to the corpus, written as
    /// `best_gap` before the families shared this record).
    #[serde(alias = "best_gap")]
    pub best_valid: Option<f64>,
    /// Epochs since the score last improved.
    #[serde(default)]
    pub epochs_without_improvement: usize,
    #[serde(default)]
    pub lr: f64,
    /// Wall time spent training so far.
    pub train_seconds: f64,
}

impl Progress {
    /// A run about to train its first epoch at learning rate `lr`.
    pub fn start(lr: f64) -> Progress {
        Progress { epoch: 0, step: 0, best_valid: None, epochs_without_improvement: 0, lr, train_seconds: 0.0 }
    }
}

/// One epoch, as written to `metrics.jsonl`: the same fields for every family, the
/// family's own in `details`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord<R = serde_json::Value> {
    pub epoch: usize,
    pub step: usize,
    /// Mean training loss per item over the epoch (with dropout on).
    pub train_loss: f64,
    /// What `best/` is chosen by, lower being better: the validation loss where there is
    /// validation data (else the training loss); a GAN's gap to the corpus.
    pub score: f64,
    pub lr: f64,
    pub seconds: f64,
    pub improved: bool,
    /// The family's figures (a sequence model's validation scores, a GAN's losses and
    /// sample metrics).
    pub details: R,
    /// The family's figures in a few words, for a log line.
    #[serde(skip)]
    pub summary: String,
}

/// Told what happens, for progress bars and logs.
pub trait Observer {
    fn epoch_start(&mut self, _epoch: usize, _batches: usize) {}
    /// After each batch: the epoch's running mean losses by name.
    fn batch_end(&mut self, _losses: &[(&'static str, f64)]) {}
    /// After each epoch, with the pieces it wrote for a listener, if any.
    fn epoch_end(&mut self, _record: &EpochRecord, _samples: &[Score]) {}
}

/// How a run ended.
#[derive(Clone, Debug)]
pub struct TrainSummary {
    pub epochs: usize,
    pub best: Option<f64>,
    pub stopped_early: bool,
}

/// Trains a new model described by `meta` in the run folder `run`.
pub fn train<F: Family>(
    run: &Path,
    meta: F::Meta,
    data: &F::Data,
    device: &Device,
    observer: &mut dyn Observer,
) -> Result<TrainSummary, NnError> {
    F::check_data(&meta, data).map_err(|e| NnError::dataset(run, e))?;
    std::fs::create_dir_all(run).map_err(NnError::io(run))?;
    let _lock = RunLock::take(run)?;
    let _ = std::fs::remove_file(run.join(METRICS));
    // The run's settings, so that a run killed before its first checkpoint can resume.
    let start = serde_json::to_string_pretty(&meta).expect("plain data");
    staging::write_file(&run.join(START), start.as_bytes())?;
    from_start::<F>(run, meta, data, device, observer)
}

/// A fresh model for `meta`, trained from its first epoch.
fn from_start<F: Family>(
    run: &Path,
    mut meta: F::Meta,
    data: &F::Data,
    device: &Device,
    observer: &mut dyn Observer,
) -> Result<TrainSummary, NnError> {
    let schedule = F::schedule(&meta);
    device.seed(schedule.seed);
    let model = F::init(&meta, data, &device.clone().autodiff())?;
    meta.set_parameters(model.num_params());
    *meta.progress_mut() = Progress::start(schedule.lr);
    let optimizers = F::optimizers(&meta);
    run_epochs::<F>(run, meta, model, optimizers, data, device, observer)
}

/// The settings a run started with, beside its checkpoints.
const START: &str = "run.json";

/// The file a resumed run's settings come from: its `latest/` or `best/` checkpoint's
/// `checkpoint.json`, or the `run.json` it started with.
pub fn settings_file(run: &Path) -> Result<std::path::PathBuf, NnError> {
    // A run another process trains in may not have written its settings yet.
    RunLock::check_free(run)?;
    for dir in ["latest", "best"] {
        staging::recover(&run.join(dir))?;
        let meta = run.join(dir).join("checkpoint.json");
        if meta.is_file() {
            return Ok(meta);
        }
    }
    let start = run.join(START);
    if start.is_file() {
        return Ok(start);
    }
    Err(NnError::dataset(run, "not a training run: no latest/, best/ or run.json to resume from"))
}

/// Continues the run in `run`, up to `epochs` epochs in all when given (else as many as
/// it was started with): from its `latest/` checkpoint, or, where a kill came before one
/// was written, from `best/`, or from the settings it started with.
pub fn resume<F: Family>(
    run: &Path,
    data: &F::Data,
    epochs: Option<usize>,
    device: &Device,
    observer: &mut dyn Observer,
) -> Result<TrainSummary, NnError> {
    let _lock = RunLock::take(run)?;
    let (latest, best) = (run.join("latest"), run.join("best"));
    staging::recover(&latest)?;
    staging::recover(&best)?;
    let from = [&latest, &best].into_iter().find(|dir| dir.join("checkpoint.json").is_file());
    let Some(from) = from else {
        let start = run.join(START);
        if !start.is_file() {
            return Err(NnError::dataset(run, "not a training run: no latest/, best/ or run.json to resume from"));
        }
        let mut meta: F::Meta = checkpoint::meta_of_file(&start)?;
        tidy_for_resume(run, 0)?;
        if let Some(epochs) = epochs {
            meta.set_epochs(epochs);
        }
        F::check_data(&meta, data).map_err(|e| NnError::dataset(run, e))?;
        return from_start::<F>(run, meta, data, device, observer);
    };
    let (mut meta, model) = F::load(from, &device.clone().autodiff())?;
    // A run killed mid-epoch: drop its half-written checkpoint folders and any log lines
    // of epochs after the checkpoint, which are about to be trained again.
    tidy_for_resume(run, meta.progress().epoch)?;
    if let Some(epochs) = epochs {
        meta.set_epochs(epochs);
    }
    F::check_data(&meta, data).map_err(|e| NnError::dataset(run, e))?;
    // `best/` keeps no optimizer state: from there the optimizers start afresh.
    let optimizers = if *from == latest { saved_optimizers::<F>(&meta, &latest)? } else { F::optimizers(&meta) };
    // Keep the epoch count of the run, with the RNG moved on so resumed epochs differ.
    let schedule = F::schedule(&meta);
    device.seed(schedule.seed.wrapping_add(meta.progress().epoch as u64));
    run_epochs::<F>(run, meta, model, optimizers, data, device, observer)
}

/// The optimizer states of `latest/`: each file must be there, and be the one written with
/// its `checkpoint.json` (which keeps each file's FNV-1a hash), not another run's.
fn saved_optimizers<F: Family>(meta: &F::Meta, latest: &Path) -> Result<Vec<ModuleOptimizer>, NnError> {
    let sums = checkpoint::optimizer_sums(latest)?;
    F::optimizers(meta)
        .into_iter()
        .zip(F::OPTIMIZERS)
        .map(|(fresh, name)| {
            let path = latest.join(name);
            let bytes = std::fs::read(&path).map_err(|e| {
                let why = format!("the optimizer state is missing ({e}), so the run cannot go on where it stopped; remove latest/ to resume from best/, or start again");
                NnError::dataset(&path, why)
            })?;
            if let Some(sum) = sums.get(*name)
                && *sum != checkpoint::fnv1a(&bytes)
            {
                return Err(NnError::dataset(&path, "not the optimizer state written with this checkpoint (another run's?)"));
            }
            fresh.from_bytes(Bytes::from_bytes_vec(bytes)).map_err(|e| NnError::dataset(&path, e.to_string()))
        })
        .collect()
}

/// A run folder's lock, held while a `train` works in it: a second is refused, naming the
/// first's process. The operating system drops the lock when its process ends, however it
/// ends, so a killed run leaves none behind.
struct RunLock {
    _file: std::fs::File,
}

impl RunLock {
    fn take(run: &Path) -> Result<RunLock, NnError> {
        use std::io::{Seek, Write};
        std::fs::create_dir_all(run).map_err(NnError::io(run))?;
        let path = run.join(".lock");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(NnError::io(&path))?;
        match file.try_lock() {
            Ok(()) => {
                let pid = std::process::id();
                let written = file.set_len(0).and_then(|()| file.rewind()).and_then(|()| writeln!(file, "{pid}"));
                written.map_err(NnError::io(&path))?;
                Ok(RunLock { _file: file })
            }
            Err(std::fs::TryLockError::WouldBlock) => Err(Self::held(run, &mut file)),
            Err(std::fs::TryLockError::Error(e)) => Err(NnError::Io { path, source: e }),
        }
    }

    /// Refuses a run folder whose lock a live process holds, without taking the lock:
    /// what a reader of the run's files checks before it reads files still being written.
    fn check_free(run: &Path) -> Result<(), NnError> {
        let path = run.join(".lock");
        let Ok(mut file) = std::fs::OpenOptions::new().read(true).write(true).open(&path) else {
            return Ok(());
        };
        match file.try_lock() {
            Ok(()) => Ok(()),
            Err(std::fs::TryLockError::WouldBlock) => Err(Self::held(run, &mut file)),
            Err(std::fs::TryLockError::Error(e)) => Err(NnError::Io { path, source: e }),
        }
    }

    /// The refusal for a run folder another process trains in, naming that process.
    fn held(run: &Path, file: &mut std::fs::File) -> NnError {
        use std::io::Read;
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        let holder = holder.trim();
        let who = if holder.is_empty() { String::new() } else { format!(" (process {holder})") };
        NnError::dataset(run, format!("another fugato train works in this run folder{who}; wait for it to end"))
    }
}

fn run_epochs<F: Family>(
    run: &Path,
    mut meta: F::Meta,
    mut model: F::Model,
    mut optimizers: Vec<ModuleOptimizer>,
    data: &F::Data,
    device: &Device,
    observer: &mut dyn Observer,
) -> Result<TrainSummary, NnError> {
    std::fs::create_dir_all(run).map_err(NnError::io(run))?;
    let train_device = device.clone().autodiff();
    let schedule = F::schedule(&meta);
    let first = meta.progress().epoch;
    let mut rng = ChaCha8Rng::seed_from_u64(schedule.seed.wrapping_add(1_000_003 * first as u64));
    let mut family = F::start(&meta, &model, data, device);
    let mut stopped_early = false;
    while meta.progress().epoch < schedule.epochs {
        let start = Instant::now();
        let progress = meta.progress_mut();
        let mut epoch = Epoch {
            index: progress.epoch,
            lr: progress.lr,
            step: &mut progress.step,
            rng: &mut rng,
            device: &train_device,
            observer: &mut *observer,
            train_loss: 0.0,
        };
        model = family.train_epoch(&mut epoch, model, &mut optimizers, data)?;
        let train_loss = epoch.train_loss;
        let scored = family.evaluate(meta.progress().epoch, &model.valid(), data, device);
        let (record, stop) = close_epoch::<F>(
            run,
            &mut meta,
            &schedule,
            train_loss,
            scored.score.unwrap_or(train_loss),
            scored.record,
            start,
            |dir, meta, with| {
                let names: &[&str] = if with { F::OPTIMIZERS } else { &[] };
                let states: Vec<(&str, &ModuleOptimizer)> = names.iter().copied().zip(&optimizers).collect();
                checkpoint::save_folder(dir, meta, model.clone(), &states)
            },
        )?;
        observer.epoch_end(&record, &scored.samples);
        if stop {
            stopped_early = true;
            break;
        }
    }
    let progress = meta.progress();
    Ok(TrainSummary { epochs: progress.epoch, best: progress.best_valid, stopped_early })
}

/// The metrics log of a run folder.
pub const METRICS: &str = "metrics.jsonl";

/// Ends an epoch that began at `start` and scored `score`: keeps the best, multiplies the
/// learning rate as the schedule says after epochs without improvement, and writes
/// `best/` (when it improved), the log line and `latest/` through `save(folder, meta, with
/// the optimizers)`. The log line comes before `latest/`: a kill between them leaves a
/// line that resume trims, never a checkpoint without its line. Returns the epoch's
/// record and whether the schedule's patience has run out (stop early).
#[allow(clippy::too_many_arguments)]
fn close_epoch<F: Family>(
    run: &Path,
    meta: &mut F::Meta,
    schedule: &Schedule,
    train_loss: f64,
    score: f64,
    details: F::Record,
    start: Instant,
    save: impl Fn(&Path, &F::Meta, bool) -> Result<(), NnError>,
) -> Result<(EpochRecord, bool), NnError> {
    let seconds = start.elapsed().as_secs_f64();
    let progress = meta.progress_mut();
    progress.epoch += 1;
    progress.train_seconds += seconds;
    let improved = progress.best_valid.is_none_or(|best| score < best);
    let summary = F::summary(&details);
    let record = EpochRecord {
        epoch: progress.epoch,
        step: progress.step,
        train_loss,
        score,
        lr: progress.lr,
        seconds,
        improved,
        details: serde_json::to_value(&details).expect("plain data"),
        summary,
    };
    if improved {
        progress.best_valid = Some(score);
        progress.epochs_without_improvement = 0;
    } else {
        progress.epochs_without_improvement += 1;
        if let Some((patience, factor)) = schedule.decay
            && progress.epochs_without_improvement.is_multiple_of(patience.max(1))
        {
            progress.lr *= factor;
        }
    }
    let stop = schedule.patience.is_some_and(|p| progress.epochs_without_improvement >= p.max(1));
    if improved {
        save(&run.join("best"), meta, false)?;
    }
    append_line(&run.join(METRICS), &serde_json::to_string(&record).expect("plain data"))?;
    save(&run.join("latest"), meta, true)?;
    Ok((record, stop))
}

/// Before a run resumes from its `latest/` checkpoint at `epoch`: a run killed mid-epoch
/// leaves half-written checkpoint folders (dropped), a parked `best/` (brought back) and
/// log lines of epochs after the checkpoint (trimmed: they are about to be trained again).
fn tidy_for_resume(run: &Path, epoch: usize) -> Result<(), NnError> {
    staging::sweep(run, checkpoint::STAGING_PREFIX)?;
    staging::recover(&run.join("best"))?;
    trim_metrics(run, epoch)
}

fn append_line(path: &Path, line: &str) -> Result<(), NnError> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(NnError::io(path))?;
    writeln!(f, "{line}").map_err(NnError::io(path))
}

/// The epoch a log line is of, if it is a whole line of any family's log.
fn line_epoch(line: &str) -> Option<usize> {
    #[derive(Deserialize)]
    struct Epoch {
        epoch: usize,
    }
    serde_json::from_str::<Epoch>(line).ok().map(|e| e.epoch)
}

/// Keeps the log lines of epochs up to `epoch`, dropping later ones and any line a kill
/// cut short.
fn trim_metrics(run: &Path, epoch: usize) -> Result<(), NnError> {
    let path = run.join(METRICS);
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(()) };
    let kept: String =
        text.lines().filter(|l| line_epoch(l).is_some_and(|e| e <= epoch)).map(|l| format!("{l}\n")).collect();
    if kept != text {
        staging::write_file(&path, kept.as_bytes())?;
    }
    Ok(())
}

/// The epochs logged so far in a run folder.
pub fn read_metrics(run: &Path) -> Result<Vec<EpochRecord>, NnError> {
    let path = run.join(METRICS);
    let text = std::fs::read_to_string(&path).map_err(NnError::io(&path))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| NnError::dataset(&path, e.to_string())))
        .collect()
}
