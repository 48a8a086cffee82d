//! Training a GAN ([`GanTraining`], a [`Family`] of the training driver): alternating
//! discriminator and generator steps with the standard (non-saturating) BCE losses or the
//! hinge losses, one-sided label smoothing, several critic steps per generator step; 100
//! fixed noise vectors sampled after every epoch and scored with music metrics against the
//! corpus, the epoch closest to it kept in `best/`.

use std::path::Path;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::activation::{log_sigmoid, relu};
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use fugato_repr::ReprError;
use fugato_repr::pianoroll::{Frame, PianoRoll};
use fugato_score::Score;
use fugato_score::metrics::{pitch_class_entropy, polyphony};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use fugato_data::segments::{STEPS_PER_QUARTER, melody, transposed};
use fugato_data::transpose;

use super::{Discriminator, GanConfig, Generator};
use crate::NnError;
use crate::checkpoint;
use crate::train::{Epoch, Family, Progress, RunMeta, Schedule, Scored};

pub const FORMAT: &str = "fugato-gan";
/// 2: the generator's network as one [`super::Net`]; 1 (still read): as an optional RNN
/// beside an optional MLP, in the weights' names too.
pub const VERSION: u32 = 2;
/// Noise vectors sampled after each epoch for the metrics.
pub const PROBE: usize = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GanLoss {
    /// −log D(real) − log(1 − D(fake)); the generator maximises log D(fake).
    Bce,
    /// max(0, 1 − D(real)) + max(0, 1 + D(fake)); the generator minimises −D(fake).
    Hinge,
}

impl std::str::FromStr for GanLoss {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "bce" => Ok(GanLoss::Bce),
            "hinge" => Ok(GanLoss::Hinge),
            _ => Err(format!("unknown GAN loss {s:?}: expected bce or hinge")),
        }
    }
}

/// What the discriminator sees of the generator's key probabilities during training.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BinaryNeurons {
    /// The probabilities themselves (so a soft haze of notes can pass for music).
    #[default]
    None,
    /// Keys on where the probability reaches 0.5, with straight-through gradients
    /// (BinaryMuseGAN's deterministic binary neurons, Dong & Yang 2018).
    Deterministic,
    /// Keys on with their probability, straight-through gradients (stochastic binary neurons).
    Stochastic,
}

impl std::str::FromStr for BinaryNeurons {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(BinaryNeurons::None),
            "deterministic" => Ok(BinaryNeurons::Deterministic),
            "stochastic" => Ok(BinaryNeurons::Stochastic),
            _ => Err(format!("unknown binary neurons {s:?}: expected none, deterministic or stochastic")),
        }
    }
}

impl BinaryNeurons {
    /// How samples are made binary to match training.
    pub fn binarize(self) -> Binarize {
        match self {
            BinaryNeurons::Stochastic => Binarize::Bernoulli,
            _ => Binarize::Threshold(0.5),
        }
    }

    /// Binary segments in the forward pass whose gradient is the probabilities' own.
    /// For a monophonic generator: the likeliest of the keys and the rest (deterministic),
    /// or one drawn from them with the Gumbel-max trick (stochastic); for melody tokens,
    /// the same over the tokens.
    pub(crate) fn apply(self, probs: Tensor<3>, generator: &Generator) -> Tensor<3> {
        let random = |p: &Tensor<3>| Tensor::random(p.dims(), Distribution::Uniform(0.0, 1.0), &p.device());
        let hard = match self {
            BinaryNeurons::None => return probs,
            _ if generator.is_monophonic() => {
                let mut scores = if generator.is_melody() {
                    probs.clone().clamp_min(1e-6).log()
                } else {
                    let rest = (probs.clone().sum_dim(2).neg() + 1.0).clamp_min(1e-6);
                    Tensor::cat(vec![probs.clone().clamp_min(1e-6), rest], 2).log()
                };
                if self == BinaryNeurons::Stochastic {
                    let gumbel = random(&scores).clamp(1e-6, 1.0 - 1e-6).log().neg().log().neg();
                    scores = scores + gumbel;
                }
                let keys = probs.dims()[2];
                scores.clone().equal(scores.max_dim(2)).float().narrow(2, 0, keys)
            }
            BinaryNeurons::Deterministic => probs.clone().greater_equal_elem(0.5).float(),
            BinaryNeurons::Stochastic => probs.clone().greater(random(&probs)).float(),
        };
        probs.clone() + (hard - probs).detach()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GanTrainConfig {
    pub loss: GanLoss,
    pub lr_generator: f64,
    pub lr_discriminator: f64,
    /// Target for real segments in the BCE loss (1: no smoothing).
    pub real_label: f64,
    /// Discriminator steps per generator step.
    pub critic_steps: usize,
    pub batch: usize,
    pub epochs: usize,
    /// The generator matches the mean of the discriminator's features on real and fake
    /// batches (Salimans et al. 2016) instead of fooling its last layer.
    #[serde(default)]
    pub feature_matching: bool,
    /// Binary neurons on the generator's output.
    #[serde(default)]
    pub binary: BinaryNeurons,
    /// Weight of the mode-seeking term (Mao et al. 2019): the generator is rewarded for
    /// writing different segments for different noise vectors (0: off).
    #[serde(default)]
    pub diversity: f64,
    /// Each real segment is moved by a random number of semitones in −t..=t (where it
    /// stays on the keyboard) every time it is drawn (0: never).
    #[serde(default)]
    pub transpose: u32,
    /// Frames between the starts of the training segments cut from a piece (0: back to
    /// back, one segment length).
    #[serde(default)]
    pub hop: usize,
    /// The first this many epochs train a generator that reads its frames back by maximum
    /// likelihood of the real segments (teacher forcing) instead of against the
    /// discriminator (SeqGAN's pretraining, Yu et al. 2017); the adversarial epochs
    /// start from it.
    #[serde(default)]
    pub pretrain: usize,
    /// Write samples every this many epochs (0: never).
    pub sample_every: usize,
    pub seed: u64,
}

impl Default for GanTrainConfig {
    fn default() -> Self {
        GanTrainConfig {
            loss: GanLoss::Bce,
            lr_generator: 2e-4,
            lr_discriminator: 2e-4,
            real_label: 0.9,
            critic_steps: 1,
            batch: 32,
            epochs: 60,
            feature_matching: false,
            binary: BinaryNeurons::None,
            diversity: 0.0,
            transpose: 0,
            hop: 0,
            pretrain: 0,
            sample_every: 5,
            seed: 0,
        }
    }
}

impl GanTrainConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.batch == 0 || self.epochs == 0 || self.critic_steps == 0 {
            return Err("batch, epochs and critic steps must be at least 1".into());
        }
        if !(self.lr_generator > 0.0 && self.lr_discriminator > 0.0) {
            return Err("learning rates must be positive".into());
        }
        if !(self.diversity >= 0.0 && self.diversity.is_finite()) {
            return Err(format!("the diversity weight must be 0 or more, but was {}", self.diversity));
        }
        if self.transpose > 12 {
            return Err(format!("transpose must be 0..=12 semitones, but was {}", self.transpose));
        }
        if !(0.5..=1.0).contains(&self.real_label) {
            return Err(format!("the real label must be in 0.5..=1, but was {}", self.real_label));
        }
        Ok(())
    }

    fn optimizer(&self) -> ModuleOptimizer {
        AdamConfig::new().with_beta_1(0.5).init()
    }
}

/// Music metrics of a set of binary segments.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SetMetrics {
    /// MusPy's polyphony: mean keys sounding where any sounds (mean over segments).
    pub polyphony: f64,
    /// MusPy's pitch-class entropy in bits (mean over segments).
    pub pitch_class_entropy: f64,
    /// Mean keys sounding per frame.
    pub density: f64,
    /// Mean notes per segment (a note held through the segment counts once).
    #[serde(default)]
    pub notes: f64,
    /// Mean over pairs of segments of the keys that differ per frame: near 0 is mode collapse.
    pub pairwise_distance: f64,
    /// Segments with no note at all.
    pub empty: usize,
}

/// Binary frames (piano-roll, or one-hot melody tokens where `melody`) as a score at one
/// tick per sixteenth.
pub fn score_of(frames: &[Frame], melody: bool) -> Result<Score, ReprError> {
    if melody {
        return Ok(melody::score(frames));
    }
    PianoRoll::from_frames(frames, STEPS_PER_QUARTER)?.decode()
}

/// Metrics of binary segments (each `frames` long; one-hot melody tokens where `melody`,
/// measured by the keys they sound).
pub fn set_metrics(segments: &[Vec<Frame>], melody: bool) -> SetMetrics {
    let (mut poly, mut pce, mut n) = (0f64, 0f64, 0usize);
    let mut m = SetMetrics::default();
    let mut sounding = Vec::with_capacity(segments.len());
    for seg in segments {
        match score_of(seg, melody).ok().filter(|s| s.n_notes() > 0) {
            Some(s) => {
                m.notes += s.n_notes() as f64;
                poly += polyphony(&s);
                pce += pitch_class_entropy(&s);
                n += 1;
            }
            None => m.empty += 1,
        }
        let seg = if melody { melody::sounding_frames(seg) } else { seg.clone() };
        m.density += seg.iter().map(|f| f.count_ones() as f64).sum::<f64>() / seg.len().max(1) as f64;
        sounding.push(seg);
    }
    let segments = &sounding;
    m.polyphony = poly / n.max(1) as f64;
    m.pitch_class_entropy = pce / n.max(1) as f64;
    m.density /= segments.len().max(1) as f64;
    m.notes /= segments.len().max(1) as f64;
    let (mut dist, mut pairs) = (0f64, 0usize);
    for i in 0..segments.len() {
        for j in i + 1..segments.len() {
            let differ: u32 = segments[i].iter().zip(&segments[j]).map(|(a, b)| (a ^ b).count_ones()).sum();
            dist += f64::from(differ) / segments[i].len().max(1) as f64;
            pairs += 1;
        }
    }
    m.pairwise_distance = dist / pairs.max(1) as f64;
    m
}

/// How far a sample set is from the corpus: the relative gaps in polyphony,
/// pitch-class entropy and notes per segment, plus the shortfall in diversity (pairwise
/// distance) and the share of empty samples.
pub fn gap(samples: &SetMetrics, corpus: &SetMetrics) -> f64 {
    let rel = |a: f64, b: f64| if b > 0.0 { (a / b - 1.0).abs() } else { a.abs() };
    let diversity = if corpus.pairwise_distance > 0.0 {
        (1.0 - samples.pairwise_distance / corpus.pairwise_distance).max(0.0)
    } else {
        0.0
    };
    rel(samples.polyphony, corpus.polyphony)
        + rel(samples.pitch_class_entropy, corpus.pitch_class_entropy)
        + rel(samples.notes, corpus.notes)
        + diversity
        + samples.empty as f64 / PROBE as f64
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GanMeta {
    pub format: String,
    pub version: u32,
    pub model: GanConfig,
    pub train: GanTrainConfig,
    pub source: String,
    /// The training corpus's segments, measured.
    pub corpus: SetMetrics,
    pub parameters: usize,
    /// Its `best_valid` is the smallest [`gap`] so far (`best/` holds that epoch's
    /// generator).
    #[serde(flatten)]
    pub progress: Progress,
}

impl GanMeta {
    /// A new run's metadata: the corpus measured on [`PROBE`] of the data's segments.
    pub fn new(model: GanConfig, train: GanTrainConfig, data: &GanData) -> GanMeta {
        let mut rng = ChaCha8Rng::seed_from_u64(train.seed);
        let mut probe: Vec<Vec<Frame>> = data.segments.clone();
        probe.shuffle(&mut rng);
        probe.truncate(PROBE);
        GanMeta {
            format: FORMAT.into(),
            version: VERSION,
            corpus: set_metrics(&probe, model.melody),
            progress: Progress::start(train.lr_generator),
            model,
            train,
            source: data.source.clone(),
            parameters: 0,
        }
    }
}

impl RunMeta for GanMeta {
    fn progress(&self) -> &Progress {
        &self.progress
    }

    fn progress_mut(&mut self) -> &mut Progress {
        &mut self.progress
    }

    fn set_parameters(&mut self, parameters: usize) {
        self.parameters = parameters;
    }

    fn set_epochs(&mut self, epochs: usize) {
        self.train.epochs = epochs;
    }
}

/// A GAN's part of a metrics line (`details`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GanRecord {
    /// 0 in pretraining epochs (the discriminator rests).
    pub loss_discriminator: f64,
    /// In pretraining epochs, the negative log-likelihood per frame of the real segments.
    pub loss_generator: f64,
    /// The 100 probe samples (threshold 0.5).
    pub samples: SetMetrics,
    pub gap: f64,
}

/// Both networks; the checkpoint's weights.
#[derive(Module, Debug)]
pub struct Gan {
    pub generator: Generator,
    pub discriminator: Discriminator,
}

pub struct GanCheckpoint {
    pub meta: GanMeta,
    pub gan: Gan,
}

pub fn from_parts(
    text: &str,
    meta_path: &Path,
    weights: Vec<u8>,
    weights_path: &Path,
    device: &Device,
) -> Result<(GanMeta, Gan), NnError> {
    let mut meta: GanMeta = checkpoint::read_meta(text, meta_path, FORMAT, VERSION)?;
    meta.model.validate().map_err(|e| NnError::dataset(meta_path, e))?;
    meta.train.validate().map_err(|e| NnError::dataset(meta_path, format!("train: {e}")))?;
    let fresh =
        Gan { generator: meta.model.init_generator(device), discriminator: meta.model.init_discriminator(device) };
    let gan = if meta.version == 1 {
        let legacy = checkpoint::load_weights(super::LegacyGan::from(fresh), weights, weights_path)?;
        meta.version = VERSION;
        Gan::from(legacy)
    } else {
        checkpoint::load_weights(fresh, weights, weights_path)?
    };
    Ok((meta, gan))
}

pub fn load(path: &Path, device: &Device) -> Result<GanCheckpoint, NnError> {
    let f = checkpoint::read_folder(path)?;
    let (meta, gan) = from_parts(&f.meta, &f.meta_path, f.weights, &f.weights_path, device)?;
    Ok(GanCheckpoint { meta, gan })
}

/// The discriminator's optimizer state, beside the generator's `optimizer.bpk`.
const SECOND_OPTIMIZER: &str = "optimizer-discriminator.bpk";

/// The segments a GAN learns from.
pub struct GanData {
    pub segments: Vec<Vec<Frame>>,
    pub source: String,
}

fn to_tensor(segments: &[&Vec<Frame>], keys: usize, device: &Device) -> Tensor<3> {
    let frames = segments[0].len();
    let mut flat = Vec::with_capacity(segments.len() * frames * keys);
    for seg in segments {
        for f in seg.iter() {
            flat.extend((0..keys).map(|k| (f >> k & 1) as f32));
        }
    }
    Tensor::from_data(TensorData::new(flat, [segments.len(), frames, keys]), device)
}

/// −mean(target · log σ(x) + (1 − target) · log σ(−x))
fn bce(logits: Tensor<1>, target: f64) -> Tensor<1> {
    let l = log_sigmoid(logits.clone()) * target + log_sigmoid(-logits) * (1.0 - target);
    -l.mean()
}

/// Mean negative log-likelihood per frame of binary frames `real` under a generator's
/// probabilities: a softmax's chosen key or token (for a monophonic frame with no key,
/// the rest's share), or each key's Bernoulli.
fn negative_log_likelihood(probs: Tensor<3>, real: Tensor<3>, generator: &Generator) -> Tensor<1> {
    let [batch, frames, _] = probs.dims();
    let per_frame = if generator.is_monophonic() {
        let chosen = (probs.clone() * real.clone()).sum_dim(2);
        let p = if generator.is_melody() {
            chosen
        } else {
            let rest = (real.sum_dim(2).neg() + 1.0) * (probs.sum_dim(2).neg() + 1.0);
            chosen + rest
        };
        p.clamp_min(1e-7).log().neg()
    } else {
        let p = probs.clamp(1e-7, 1.0 - 1e-7);
        (real.clone() * p.clone().log() + (real.neg() + 1.0) * (p.neg() + 1.0).log()).sum_dim(2).neg()
    };
    per_frame.reshape([batch * frames]).mean()
}

/// The mode-seeking term (MSGAN): for the batch's halves paired up, the reciprocal of
/// how far apart their segments are per unit of distance between their noise vectors.
fn mode_seeking(fake: Tensor<3>, z: Tensor<2>) -> Tensor<1> {
    let [b, frames, keys] = fake.dims();
    let [_, noise] = z.dims();
    let half = b / 2;
    let part = |t: Tensor<3>, i: usize| t.narrow(0, i * half, half);
    let out = (part(fake.clone(), 0) - part(fake, 1)).abs().reshape([half, frames * keys]).mean_dim(1);
    let z = z.reshape([b, 1, noise]);
    let inp = (part(z.clone(), 0) - part(z, 1)).abs().reshape([half, noise]).mean_dim(1);
    (out / inp).mean().add_scalar(1e-5).recip()
}

/// The GAN's family: what a run keeps is its training settings and the probe noise, the
/// same 100 vectors every epoch.
pub struct GanTraining {
    config: GanTrainConfig,
    melody: bool,
    keys: usize,
    corpus: SetMetrics,
    probe_z: Tensor<2>,
    /// The last epoch's mean losses (discriminator, generator).
    last: (f64, f64),
}

/// The sums of an epoch's losses.
#[derive(Default)]
struct Losses {
    discriminator: f64,
    generator: f64,
}

impl Family for GanTraining {
    type Meta = GanMeta;
    type Model = Gan;
    type Data = GanData;
    type Record = GanRecord;

    const OPTIMIZERS: &'static [&'static str] = &[checkpoint::OPTIMIZER, SECOND_OPTIMIZER];

    /// No learning-rate decay and no early stopping: a GAN's losses do not say when it is
    /// done; `best/` keeps the epoch whose samples are closest to the corpus.
    fn schedule(meta: &GanMeta) -> Schedule {
        let t = &meta.train;
        Schedule { epochs: t.epochs, lr: t.lr_generator, decay: None, patience: None, seed: t.seed }
    }

    fn init(meta: &GanMeta, _: &GanData, device: &Device) -> Result<Gan, NnError> {
        meta.model.validate().map_err(NnError::Options)?;
        meta.train.validate().map_err(NnError::Options)?;
        if meta.train.pretrain > 0 && !meta.model.feedback {
            return Err(NnError::Options(
                "pretraining needs a generator that reads its frames back (--feedback)".into(),
            ));
        }
        Ok(Gan { generator: meta.model.init_generator(device), discriminator: meta.model.init_discriminator(device) })
    }

    fn optimizers(meta: &GanMeta) -> Vec<ModuleOptimizer> {
        vec![meta.train.optimizer(), meta.train.optimizer()]
    }

    fn load(dir: &Path, device: &Device) -> Result<(GanMeta, Gan), NnError> {
        let c = load(dir, device)?;
        Ok((c.meta, c.gan))
    }

    fn check_data(meta: &GanMeta, data: &GanData) -> Result<(), String> {
        if data.segments.len() < meta.train.batch {
            return Err(format!("{} segments: fewer than one batch of {}", data.segments.len(), meta.train.batch));
        }
        Ok(())
    }

    fn start(meta: &GanMeta, gan: &Gan, _: &GanData, device: &Device) -> GanTraining {
        // The probe: the same noise every epoch, from its own seed.
        let probe_device = device.clone();
        probe_device.seed(meta.train.seed ^ 0x5eed);
        let probe_z = gan.generator.valid().noise(PROBE, &probe_device);
        let (config, corpus) = (meta.train.clone(), meta.corpus);
        GanTraining { config, melody: meta.model.melody, keys: meta.model.keys, corpus, probe_z, last: (0.0, 0.0) }
    }

    fn train_epoch(
        &mut self,
        e: &mut Epoch,
        mut gan: Gan,
        optimizers: &mut [ModuleOptimizer],
        data: &GanData,
    ) -> Result<Gan, NnError> {
        let mut order: Vec<&Vec<Frame>> = data.segments.iter().collect();
        order.shuffle(e.rng);
        let batches: Vec<&[&Vec<Frame>]> = order.chunks_exact(self.config.batch).collect();
        e.observer.epoch_start(e.index + 1, batches.len());
        let mut sums = Losses::default();
        for (i, real) in batches.iter().enumerate() {
            let real: Vec<Vec<Frame>> = real
                .iter()
                .map(|s| transposed(s, transpose::draw(&mut *e.rng, self.config.transpose), self.melody))
                .collect();
            let real = to_tensor(&real.iter().collect::<Vec<_>>(), self.keys, e.device);
            gan = if e.index < self.config.pretrain {
                self.pretrain_step(gan, real, &mut optimizers[0], &mut sums, e.device)
            } else {
                self.adversarial_step(gan, real, optimizers, &mut sums, e.device)
            };
            *e.step += 1;
            let n = (i + 1) as f64;
            e.observer.batch_end(&[("D", sums.discriminator / n), ("G", sums.generator / n)]);
        }
        let n = batches.len().max(1) as f64;
        self.last = (sums.discriminator / n, sums.generator / n);
        e.train_loss = sums.generator / n;
        Ok(gan)
    }

    fn evaluate(&mut self, epoch: usize, gan: &Gan, _: &GanData, _: &Device) -> Scored<GanRecord> {
        let samples = frames_of(&gan.generator, self.probe_z.clone(), self.config.binary.binarize(), 0);
        let metrics = set_metrics(&samples, self.melody);
        let gap = gap(&metrics, &self.corpus);
        let (loss_discriminator, loss_generator) = self.last;
        let write = self.config.sample_every > 0 && (epoch + 1).is_multiple_of(self.config.sample_every);
        // A few probe segments, back to back in one piece.
        let samples = if write { score_of(&samples[..4.min(samples.len())].concat(), self.melody).ok() } else { None };
        let samples = samples.into_iter().collect();
        Scored {
            score: Some(gap),
            record: GanRecord { loss_discriminator, loss_generator, samples: metrics, gap },
            samples,
        }
    }

    fn summary(r: &GanRecord) -> String {
        format!(
            "D {:.3}  G {:.3}  polyphony {:.2}  pc-entropy {:.2}  notes {:.1}  distance {:.2}  empty {}  gap {:.3}",
            r.loss_discriminator,
            r.loss_generator,
            r.samples.polyphony,
            r.samples.pitch_class_entropy,
            r.samples.notes,
            r.samples.pairwise_distance,
            r.samples.empty,
            r.gap
        )
    }
}

impl GanTraining {
    /// A step of maximum-likelihood pretraining of the generator (teacher forcing).
    fn pretrain_step(
        &self,
        mut gan: Gan,
        real: Tensor<3>,
        opt_g: &mut ModuleOptimizer,
        sums: &mut Losses,
        ad: &Device,
    ) -> Gan {
        let b = self.config.batch;
        let probs = gan.generator.teacher_forced(gan.generator.noise(b, ad), real.clone());
        let loss = negative_log_likelihood(probs, real, &gan.generator);
        sums.generator += loss.clone().into_scalar::<f32>() as f64;
        let grads = GradientsParams::from_grads(loss.backward(), &gan.generator);
        gan.generator = opt_g.step(self.config.lr_generator, gan.generator, grads);
        gan
    }

    /// `critic_steps` discriminator steps, then one generator step.
    fn adversarial_step(
        &self,
        mut gan: Gan,
        real: Tensor<3>,
        optimizers: &mut [ModuleOptimizer],
        sums: &mut Losses,
        ad: &Device,
    ) -> Gan {
        let (config, b) = (&self.config, self.config.batch);
        let mut loss_d_value = 0.0;
        for _ in 0..config.critic_steps {
            let fake = gan.generator.generate(gan.generator.noise(b, ad), config.binary).detach();
            let (d_real, d_fake) = (gan.discriminator.forward(real.clone()), gan.discriminator.forward(fake));
            let loss_d = match config.loss {
                GanLoss::Bce => bce(d_real, config.real_label) + bce(d_fake, 0.0),
                GanLoss::Hinge => relu(-d_real + 1.0).mean() + relu(d_fake + 1.0).mean(),
            };
            loss_d_value = loss_d.clone().into_scalar::<f32>() as f64;
            let grads = GradientsParams::from_grads(loss_d.backward(), &gan.discriminator);
            gan.discriminator = optimizers[1].step(config.lr_discriminator, gan.discriminator, grads);
        }
        let z = gan.generator.noise(b, ad);
        let fake = gan.generator.generate(z.clone(), config.binary);
        let features = gan.discriminator.features(fake.clone());
        let mut loss_g = if config.feature_matching {
            let real_mean = gan.discriminator.features(real).mean_dim(0).detach();
            (features.mean_dim(0) - real_mean).powi_scalar(2).mean()
        } else {
            let d_fake = gan.discriminator.classify(features);
            match config.loss {
                GanLoss::Bce => bce(d_fake, 1.0),
                GanLoss::Hinge => -d_fake.mean(),
            }
        };
        if config.diversity > 0.0 && b >= 2 {
            loss_g = loss_g + mode_seeking(fake, z) * config.diversity;
        }
        sums.generator += loss_g.clone().into_scalar::<f32>() as f64;
        sums.discriminator += loss_d_value;
        let grads = GradientsParams::from_grads(loss_g.backward(), &gan.generator);
        gan.generator = optimizers[0].step(config.lr_generator, gan.generator, grads);
        gan
    }
}

/// How key probabilities become notes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Binarize {
    /// On where the probability reaches this.
    Threshold(f64),
    /// On with the key's probability (seeded).
    Bernoulli,
}

/// Key probabilities `[n, frames, keys]` → binary frames per segment. For a monophonic
/// generator at most one key per frame: the likeliest of the keys and the rest
/// (`Threshold`), or one drawn from them (`Bernoulli`); for melody tokens, one token.
pub fn binarize(probs: &Tensor<3>, how: Binarize, monophonic: bool, seed: u64) -> Vec<Vec<Frame>> {
    let [n, frames, keys] = probs.dims();
    let values: Vec<f32> = probs.clone().into_data().try_to_vec::<f32>().expect("f32 probabilities");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            (0..frames)
                .map(|t| {
                    let row = &values[(i * frames + t) * keys..(i * frames + t + 1) * keys];
                    if monophonic {
                        return one_of(row, how, &mut rng).map_or(0, |k| 1 << k);
                    }
                    row.iter().enumerate().fold(0 as Frame, |f, (k, &p)| {
                        let on = match how {
                            Binarize::Threshold(th) => f64::from(p) >= th,
                            Binarize::Bernoulli => rng.random::<f64>() < f64::from(p),
                        };
                        if on { f | 1 << k } else { f }
                    })
                })
                .collect()
        })
        .collect()
}

/// The key of a monophonic frame, or `None` for the rest (which has what the keys
/// leave of 1).
fn one_of(row: &[f32], how: Binarize, rng: &mut ChaCha8Rng) -> Option<usize> {
    let rest = 1.0 - row.iter().map(|&p| f64::from(p)).sum::<f64>();
    match how {
        Binarize::Threshold(_) => {
            let (k, &p) = row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
            (f64::from(p) > rest).then_some(k)
        }
        Binarize::Bernoulli => {
            let mut u = rng.random::<f64>();
            for (k, &p) in row.iter().enumerate() {
                u -= f64::from(p);
                if u < 0.0 {
                    return Some(k);
                }
            }
            None
        }
    }
}

/// Segments from noise vectors made with `seed`: one per vector, or with `interpolate`
/// = n ≥ 2, n segments on the straight line from the seed's vector to the next seed's.
pub fn sample(
    generator: &Generator,
    seed: u64,
    count: usize,
    interpolate: Option<usize>,
    how: Binarize,
    device: &Device,
) -> Vec<Vec<Frame>> {
    let z = |s: u64| {
        device.seed(s);
        generator.noise(1, device)
    };
    let zs: Tensor<2> = match interpolate {
        Some(n) if n >= 2 => {
            let (a, b) = (z(seed), z(seed.wrapping_add(1)));
            Tensor::cat(
                (0..n)
                    .map(|i| {
                        let t = i as f64 / (n - 1) as f64;
                        a.clone() * (1.0 - t) + b.clone() * t
                    })
                    .collect(),
                0,
            )
        }
        _ => Tensor::cat((0..count as u64).map(|i| z(seed.wrapping_add(i))).collect(), 0),
    };
    frames_of(generator, zs, how, seed)
}

/// Binary frames per segment for noise vectors `[n, noise]`. A generator that reads its
/// frames back makes them binary itself as it goes: by its likeliest key or token (for a
/// sigmoid per key, keys from 0.5: `Threshold`'s own level is not used), or drawn
/// (`Bernoulli`).
fn frames_of(generator: &Generator, z: Tensor<2>, how: Binarize, seed: u64) -> Vec<Vec<Frame>> {
    let mono = generator.is_monophonic();
    if generator.has_feedback() {
        let binary = match how {
            Binarize::Threshold(_) => BinaryNeurons::Deterministic,
            Binarize::Bernoulli => BinaryNeurons::Stochastic,
        };
        return binarize(&generator.generate(z, binary), Binarize::Threshold(0.5), mono, seed);
    }
    binarize(&generator.forward(z), how, mono, seed)
}
