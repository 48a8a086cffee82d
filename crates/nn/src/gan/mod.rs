//! The GAN of the second paper: a generator that turns a noise vector into a piano-roll
//! segment (four bars of sixteenths × 88 keys) against a CNN discriminator.
//!
//! - **RNN generator** (C-RNN-GAN, Mogren 2016): the noise vector and the step's place in
//!   the bar enter an LSTM/GRU at every step; each step's output is a frame of key
//!   probabilities.
//! - **MLP generator** (the paper's): dense 128-256-512-1024 with leaky ReLUs, then the
//!   whole segment through one dense layer and a sigmoid.
//! - **Discriminator** (the paper's): Conv2d 3×3 stride 2 → LeakyReLU 0.2 → Dropout 0.3,
//!   twice, over time × pitch, then dense → one logit (the sigmoid lives in the loss).
//!
//! Segments are piano-roll frames, or melody tokens (one per sixteenth: a pitch where a
//! note starts, HOLD or REST; see [`melody`]) where a tune's note boundaries matter.

pub mod melody;
pub mod train;

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::{leaky_relu, sigmoid, softmax};
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::model::{CellKind, Layer, LayerConfig, dropout};
use train::BinaryNeurons;

/// Steps in a bar the RNN generator is told apart (sixteenths of 4/4).
const BAR_STEPS: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GeneratorKind {
    Rnn,
    Mlp,
}

impl std::str::FromStr for GeneratorKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "rnn" => Ok(GeneratorKind::Rnn),
            "mlp" => Ok(GeneratorKind::Mlp),
            _ => Err(format!("unknown generator {s:?}: expected rnn or mlp")),
        }
    }
}

/// Everything needed to build a GAN; stored in every checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GanConfig {
    pub generator: GeneratorKind,
    /// RNN generator: its cell, width and depth.
    pub cell: CellKind,
    pub hidden: usize,
    pub layers: usize,
    /// Length of the noise vector (the RNN generator reads `noise / frames` of it at each
    /// step, as C-RNN-GAN draws fresh noise per step).
    pub noise: usize,
    /// Frames per segment (sixteenth notes).
    pub frames: usize,
    /// Keys per frame.
    pub keys: usize,
    /// Channels of the discriminator's two convolutions.
    pub channels: [usize; 2],
    /// The discriminator's dropout.
    pub dropout: f64,
    /// The discriminator also sees how much its features vary across the batch
    /// (minibatch standard deviation, Karras et al. 2018), so a generator that writes
    /// the same segment for every noise vector is easy to catch.
    #[serde(default)]
    pub minibatch_std: bool,
    /// The discriminator also sees where notes begin (a key on that was off the frame
    /// before), so a segment of chords held from end to end does not pass for music that
    /// moves.
    #[serde(default)]
    pub onsets: bool,
    /// One key or a rest per frame: the generator's output is a softmax over the keys
    /// and a rest instead of a sigmoid per key (for melodies).
    #[serde(default)]
    pub monophonic: bool,
    /// Segments are melody tokens, one-hot (`keys` is then the melody vocabulary's 90):
    /// the generator writes a softmax over HOLD, REST and a new note at each key, so a
    /// repeated note and a held one differ; with `onsets` the discriminator's second
    /// channel is the keys sounding.
    #[serde(default)]
    pub melody: bool,
    /// The discriminator also sees each bar's chroma: how many notes begin on each pitch
    /// class, and in all, per step of the bar (the chroma stream of Dong & Yang 2018), so
    /// a tune that repeats one pitch is easy to tell from one that moves through a key.
    #[serde(default)]
    pub chroma: bool,
    /// The RNN generator reads its own frame of the step before (as the discriminator
    /// will see it: made binary), as C-RNN-GAN's generator does, so a step knows what was
    /// played and a tune can go on from it.
    #[serde(default)]
    pub feedback: bool,
}

impl GanConfig {
    pub fn new(generator: GeneratorKind) -> GanConfig {
        GanConfig {
            generator,
            cell: CellKind::Lstm,
            hidden: 128,
            layers: 2,
            noise: match generator {
                GeneratorKind::Rnn => 64 * 8,
                GeneratorKind::Mlp => 100,
            },
            frames: 64,
            keys: fugato_repr::pianoroll::N_KEYS,
            channels: [32, 64],
            dropout: 0.3,
            minibatch_std: true,
            onsets: true,
            monophonic: false,
            melody: false,
            chroma: false,
            feedback: false,
        }
    }

    /// The configuration for melody-token segments (see [`GanConfig::melody`]).
    pub fn for_melody(self) -> GanConfig {
        GanConfig { melody: true, monophonic: false, keys: fugato_repr::melody::VOCAB_SIZE as usize, ..self }
    }

    /// What the generator's output frame holds.
    pub fn output(&self) -> Output {
        match (self.melody, self.monophonic) {
            (true, _) => Output::MelodyTokens,
            (false, true) => Output::KeyOrRest,
            (false, false) => Output::Keys,
        }
    }

    /// What a discriminator stream that is `on` reads.
    fn stream(&self, on: bool) -> Option<Segments> {
        on.then_some(if self.melody { Segments::MelodyTokens } else { Segments::PianoRoll })
    }

    /// Width of the generator's output frame.
    fn output_width(&self) -> usize {
        self.keys + usize::from(self.output() == Output::KeyOrRest)
    }

    pub fn validate(&self) -> Result<(), String> {
        use crate::sizes::{MAX_FRAMES, MAX_LAYERS, MAX_VOCAB, MAX_WIDTH, check};
        check(&[
            ("hidden", self.hidden, MAX_WIDTH),
            ("layers", self.layers, MAX_LAYERS),
            ("noise", self.noise, MAX_VOCAB),
            ("frames", self.frames, MAX_FRAMES),
            ("keys", self.keys, 128),
            ("channels", self.channels[0], 1024),
            ("channels", self.channels[1], 1024),
        ])?;
        if self.cell == crate::model::CellKind::Transformer {
            return Err("the cell must be rnn, lstm or gru".into());
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(format!("dropout must be in 0..1, but was {}", self.dropout));
        }
        if self.melody && (self.monophonic || self.keys != fugato_repr::melody::VOCAB_SIZE as usize) {
            return Err(format!(
                "melody segments are one-hot over the {} melody tokens (not monophonic keys), but keys was {}",
                fugato_repr::melody::VOCAB_SIZE,
                self.keys
            ));
        }
        if self.feedback && self.generator != GeneratorKind::Rnn {
            return Err("only the RNN generator reads its own frames back".into());
        }
        if self.generator == GeneratorKind::Rnn && !self.noise.is_multiple_of(self.frames) {
            return Err(format!(
                "the RNN generator's noise ({}) must be a multiple of the frames ({})",
                self.noise, self.frames
            ));
        }
        Ok(())
    }

    pub fn init_generator(&self, device: &Device) -> Generator {
        let net = match self.generator {
            GeneratorKind::Rnn => {
                let layers = (0..self.layers)
                    .map(|i| {
                        let d_input = match i {
                            0 => self.noise / self.frames + BAR_STEPS + if self.feedback { self.keys } else { 0 },
                            _ => self.hidden,
                        };
                        LayerConfig::new(self.cell, d_input, self.hidden).init(device)
                    })
                    .collect();
                let output = LinearConfig::new(self.hidden, self.output_width()).init(device);
                Net::Rnn(RnnGenerator { layers, output })
            }
            GeneratorKind::Mlp => {
                let widths = [self.noise, 128, 256, 512, 1024];
                let hidden = widths.windows(2).map(|w| LinearConfig::new(w[0], w[1]).init(device)).collect();
                Net::Mlp(MlpGenerator {
                    hidden,
                    output: LinearConfig::new(1024, self.frames * self.output_width()).init(device),
                })
            }
        };
        let shape = Shape {
            frames: self.frames,
            keys: self.keys,
            noise: self.noise,
            output: self.output(),
            feedback: self.feedback,
        };
        Generator { net, shape }
    }

    pub fn init_discriminator(&self, device: &Device) -> Discriminator {
        let conv = |c_in, c_out| {
            Conv2dConfig::new([c_in, c_out], [3, 3])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        let (f, k) = (self.frames.div_ceil(4), self.keys.div_ceil(4));
        Discriminator {
            conv1: conv(1 + usize::from(self.onsets), self.channels[0]),
            conv2: conv(self.channels[0], self.channels[1]),
            dropout: DropoutConfig::new(self.dropout).init(),
            output: LinearConfig::new(
                self.channels[1] * f * k
                    + if self.chroma { chroma_width(self.frames) } else { 0 }
                    + usize::from(self.minibatch_std),
                1,
            )
            .init(device),
            minibatch_std: self.minibatch_std,
            chroma: self.stream(self.chroma),
            second_channel: self.stream(self.onsets),
        }
    }
}

#[derive(Module, Debug)]
pub struct RnnGenerator {
    layers: Vec<Layer>,
    output: Linear,
}

#[derive(Module, Debug)]
pub struct MlpGenerator {
    hidden: Vec<Linear>,
    output: Linear,
}

/// What a generator's output frame holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// A sigmoid per key: any number of keys sound.
    Keys,
    /// A softmax over the keys and a rest: one key or a rest per frame (see
    /// [`GanConfig::monophonic`]).
    KeyOrRest,
    /// A softmax over melody tokens (see [`GanConfig::melody`]).
    MelodyTokens,
}

/// What a discriminator's extra stream reads: piano-roll frames, or one-hot melody tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Segments {
    PianoRoll,
    MelodyTokens,
}

/// A generator's network.
#[derive(Module, Debug)]
pub enum Net {
    /// C-RNN-GAN's: noise and the step's place in the bar into recurrent layers every step.
    Rnn(RnnGenerator),
    /// The paper's dense layers from one noise vector.
    Mlp(MlpGenerator),
}

#[derive(Module, Debug)]
pub struct Generator {
    net: Net,
    #[module(skip)]
    shape: Shape,
}

/// What a generator writes, beside its network's weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Shape {
    frames: usize,
    keys: usize,
    noise: usize,
    output: Output,
    /// Each step reads the binary frame of the step before (see [`GanConfig::feedback`]).
    feedback: bool,
}

impl Generator {
    /// Key probabilities `[batch, frames, keys]` for noise vectors `[batch, noise]` (for
    /// a monophonic generator, what is left to 1 in a frame is the rest's; for melody
    /// tokens, the tokens' probabilities).
    ///
    /// A generator that reads its own frames back makes them binary as it goes, by
    /// deterministic binary neurons; [`Generator::generate`] chooses how.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<3> {
        if self.shape.feedback {
            return self.unroll(z, BinaryNeurons::Deterministic).0;
        }
        self.probabilities(self.logits(z))
    }

    /// What the discriminator sees of noise vectors `[batch, noise]`: key probabilities
    /// made binary by `binary` (straight-through gradients), `[batch, frames, keys]`.
    pub fn generate(&self, z: Tensor<2>, binary: BinaryNeurons) -> Tensor<3> {
        if self.shape.feedback {
            return self.unroll(z, binary).1;
        }
        binary.apply(self.forward(z), self)
    }

    fn probabilities(&self, logits: Tensor<3>) -> Tensor<3> {
        match self.shape.output {
            Output::KeyOrRest => softmax(logits, 2).narrow(2, 0, self.shape.keys),
            Output::MelodyTokens => softmax(logits, 2),
            Output::Keys => sigmoid(logits),
        }
    }

    /// Probabilities `[batch, frames, keys]` of a generator that reads its frames back,
    /// each step reading the real segment's frame before (teacher forcing) instead of its
    /// own: what maximum-likelihood pretraining scores.
    pub fn teacher_forced(&self, z: Tensor<2>, real: Tensor<3>) -> Tensor<3> {
        let Net::Rnn(rnn) = &self.net else { panic!("only the RNN generator reads its frames back") };
        let [batch, frames, keys] = real.dims();
        let device = real.device();
        let before = Tensor::cat(vec![real.zeros_like().narrow(1, 0, 1), real.narrow(1, 0, frames - 1)], 1);
        let mut x = Tensor::cat(vec![self.inputs(z), before], 2);
        for layer in &rnn.layers {
            x = layer.outputs(x, layer.zero_state(batch, &device));
        }
        debug_assert_eq!(keys, self.shape.keys);
        self.probabilities(rnn.output.forward(x))
    }

    /// The RNN generator step by step, each step reading the frame the one before made
    /// binary: (probabilities, binary frames).
    fn unroll(&self, z: Tensor<2>, binary: BinaryNeurons) -> (Tensor<3>, Tensor<3>) {
        let Net::Rnn(rnn) = &self.net else { panic!("only the RNN generator reads its frames back") };
        let (x, batch, device) = (self.inputs(z.clone()), z.dims()[0], z.device());
        let mut states: Vec<_> = rnn.layers.iter().map(|l| l.zero_state(batch, &device)).collect();
        let mut before = Tensor::<3>::zeros([batch, 1, self.shape.keys], &device);
        let (mut probs, mut frames) = (Vec::with_capacity(self.shape.frames), Vec::with_capacity(self.shape.frames));
        for t in 0..self.shape.frames {
            let mut h = Tensor::cat(vec![x.clone().narrow(1, t, 1), before], 2);
            for (layer, state) in rnn.layers.iter().zip(states.iter_mut()) {
                let (out, next) = layer.forward(h, state.clone());
                (h, *state) = (out, next);
            }
            let p = self.probabilities(rnn.output.forward(h));
            before = binary.apply(p.clone(), self);
            probs.push(p);
            frames.push(before.clone());
        }
        (Tensor::cat(probs, 1), Tensor::cat(frames, 1))
    }

    /// Whether it reads its own frames back (see [`GanConfig::feedback`]).
    pub fn has_feedback(&self) -> bool {
        self.shape.feedback
    }

    /// One key (or token) at most per frame.
    pub fn is_monophonic(&self) -> bool {
        self.shape.output != Output::Keys
    }

    /// Its frames are melody tokens.
    pub fn is_melody(&self) -> bool {
        self.shape.output == Output::MelodyTokens
    }

    fn logits(&self, z: Tensor<2>) -> Tensor<3> {
        let [batch, _] = z.dims();
        let device = z.device();
        match &self.net {
            Net::Rnn(rnn) => {
                let mut x = self.inputs(z);
                for layer in &rnn.layers {
                    x = layer.outputs(x, layer.zero_state(batch, &device));
                }
                rnn.output.forward(x)
            }
            Net::Mlp(mlp) => {
                let mut x = z;
                for layer in &mlp.hidden {
                    x = leaky_relu(layer.forward(x), 0.2);
                }
                let width = self.shape.keys + usize::from(self.shape.output == Output::KeyOrRest);
                mlp.output.forward(x).reshape([batch, self.shape.frames, width])
            }
        }
    }

    /// The RNN generator's inputs `[batch, frames, noise / frames + 16]`: a slice of the
    /// noise and the step's place in the bar, one-hot, per step.
    fn inputs(&self, z: Tensor<2>) -> Tensor<3> {
        let [batch, _] = z.dims();
        let places: Vec<f32> = (0..self.shape.frames)
            .flat_map(|t| (0..BAR_STEPS).map(move |p| f32::from(u8::from(t % BAR_STEPS == p))))
            .collect();
        let places = Tensor::<2>::from_data(TensorData::new(places, [self.shape.frames, BAR_STEPS]), &z.device())
            .unsqueeze_dim::<3>(0)
            .repeat_dim(0, batch); // [batch, frames, 16]
        let noise = z.reshape([batch, self.shape.frames, self.shape.noise / self.shape.frames]); // a slice per step
        Tensor::cat(vec![noise, places], 2)
    }

    /// Standard normal noise vectors `[n, noise]`, from the device's generator.
    pub fn noise(&self, n: usize, device: &Device) -> Tensor<2> {
        Tensor::random([n, self.shape.noise], Distribution::Normal(0.0, 1.0), device)
    }

    pub fn noise_size(&self) -> usize {
        self.shape.noise
    }
}

/// The weights' layout of version-1 GAN checkpoints (the bundled `chorale-gan`'s): the
/// generator's network as an optional RNN beside an optional MLP. Loaded, then turned into
/// a [`Gan`].
#[derive(Module, Debug)]
pub(crate) struct LegacyGan {
    generator: LegacyGenerator,
    discriminator: Discriminator,
}

#[derive(Module, Debug)]
struct LegacyGenerator {
    rnn: Option<RnnGenerator>,
    mlp: Option<MlpGenerator>,
    #[module(skip)]
    shape: Shape,
}

impl From<train::Gan> for LegacyGan {
    fn from(gan: train::Gan) -> LegacyGan {
        let Generator { net, shape } = gan.generator;
        let (rnn, mlp) = match net {
            Net::Rnn(rnn) => (Some(rnn), None),
            Net::Mlp(mlp) => (None, Some(mlp)),
        };
        LegacyGan { generator: LegacyGenerator { rnn, mlp, shape }, discriminator: gan.discriminator }
    }
}

impl From<LegacyGan> for train::Gan {
    fn from(legacy: LegacyGan) -> train::Gan {
        let LegacyGenerator { rnn, mlp, shape } = legacy.generator;
        let net = match (rnn, mlp) {
            (Some(rnn), _) => Net::Rnn(rnn),
            (None, Some(mlp)) => Net::Mlp(mlp),
            (None, None) => unreachable!("made from a generator with a network"),
        };
        train::Gan { generator: Generator { net, shape }, discriminator: legacy.discriminator }
    }
}

#[derive(Module, Debug)]
pub struct Discriminator {
    conv1: Conv2d,
    conv2: Conv2d,
    dropout: Dropout,
    output: Linear,
    /// Append the minibatch standard deviation to the dense layer's input.
    minibatch_std: bool,
    /// A second input channel: the onsets of piano-roll segments, or the keys sounding
    /// under melody tokens.
    #[module(skip)]
    second_channel: Option<Segments>,
    /// The bars' chroma beside the convolutions' features (of piano-roll onsets or of
    /// melody tokens).
    #[module(skip)]
    chroma: Option<Segments>,
}

/// Where piano-roll keys `[batch, frames, keys]` begin: onset_t = x_t · (1 − x_{t−1});
/// every key sounding in the first frame begins there.
fn onsets(x: Tensor<3>) -> Tensor<3> {
    let frames = x.dims()[1];
    if frames < 2 {
        return x;
    }
    let before = Tensor::cat(vec![x.zeros_like().narrow(1, 0, 1), x.clone().narrow(1, 0, frames - 1)], 1);
    x * (before.neg() + 1.0)
}

/// Bars a segment's chroma is taken over (a segment shorter than a bar is one).
fn chroma_bars(frames: usize) -> usize {
    (frames / BAR_STEPS).max(1)
}

/// Features of the chroma: per bar, notes begun per pitch class and in all.
fn chroma_width(frames: usize) -> usize {
    chroma_bars(frames) * 13
}

impl Discriminator {
    /// One logit per segment `[batch]` for segments `[batch, frames, keys]` (1: real).
    pub fn forward(&self, x: Tensor<3>) -> Tensor<1> {
        self.classify(self.features(x))
    }

    /// The convolutions' output, flattened: `[batch, features]` (what feature matching
    /// compares).
    pub fn features(&self, x: Tensor<3>) -> Tensor<2> {
        let [batch, frames, keys] = x.dims();
        let chroma = self.chroma.map(|segments| self.chroma(x.clone(), segments));
        let x = match self.second_channel {
            Some(Segments::PianoRoll) => {
                let onsets = onsets(x.clone());
                Tensor::stack::<4>(vec![x, onsets], 1)
            }
            Some(Segments::MelodyTokens) => {
                let sounding = melody::sounding(x.clone());
                Tensor::stack::<4>(vec![x, sounding], 1)
            }
            None => x.reshape([batch, 1, frames, keys]),
        };
        let x = dropout(&self.dropout, leaky_relu(self.conv1.forward(x), 0.2));
        let x = dropout(&self.dropout, leaky_relu(self.conv2.forward(x), 0.2));
        let [_, c, f, k] = x.dims();
        let x = x.reshape([batch, c * f * k]);
        match chroma {
            Some(chroma) => Tensor::cat(vec![x, chroma], 1),
            None => x,
        }
    }

    /// Per bar, the notes begun on each of the 12 pitch classes and in all, per step:
    /// `[batch, bars × 13]`.
    fn chroma(&self, x: Tensor<3>, segments: Segments) -> Tensor<2> {
        let [batch, frames, _] = x.dims();
        let device = x.device();
        let onsets = if segments == Segments::MelodyTokens {
            let first = fugato_repr::melody::pitch_token(fugato_repr::pianoroll::LOWEST_PITCH).expect("a key") as usize;
            x.narrow(2, first, fugato_repr::pianoroll::N_KEYS)
        } else {
            onsets(x)
        };
        let keys = onsets.dims()[2];
        let fold: Vec<f32> = (0..keys)
            .flat_map(|k| {
                let class = (usize::from(fugato_repr::pianoroll::LOWEST_PITCH) + k) % 12;
                (0..12).map(move |c| f32::from(u8::from(c == class)))
            })
            .collect();
        let fold = Tensor::<2>::from_data(TensorData::new(fold, [keys, 12]), &device);
        let classes = onsets.reshape([batch * frames, keys]).matmul(fold).reshape([batch, frames, 12]);
        let classes = Tensor::cat(vec![classes.clone(), classes.sum_dim(2)], 2); // [batch, frames, 13]
        let bars = chroma_bars(frames);
        let len = frames / bars;
        let per_bar = (0..bars)
            .map(|b| {
                let n = if b + 1 == bars { frames - b * len } else { len };
                classes.clone().narrow(1, b * len, n).sum_dim(1) / n as f64
            })
            .collect();
        Tensor::cat(per_bar, 1).reshape([batch, bars * 13])
    }

    /// One logit per segment from [`Discriminator::features`].
    pub fn classify(&self, mut x: Tensor<2>) -> Tensor<1> {
        let [batch, _] = x.dims();
        if self.minibatch_std {
            // The features' standard deviation over the batch, averaged: one more input.
            let mean = x.clone().mean_dim(0); // [1, features]
            let std = ((x.clone() - mean).powi_scalar(2).mean_dim(0) + 1e-8).sqrt().mean(); // [1]
            x = Tensor::cat(vec![x, std.reshape([1, 1]).repeat_dim(0, batch)], 1);
        }
        self.output.forward(x).reshape([batch])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fugato_repr::melody::{HOLD, REST, pitch_token};

    fn one_hot(rows: &[usize], width: usize, device: &Device) -> Tensor<3> {
        let flat: Vec<f32> = rows.iter().flat_map(|&r| (0..width).map(move |c| f32::from(u8::from(c == r)))).collect();
        Tensor::from_data(TensorData::new(flat, [1, rows.len(), width]), device)
    }

    #[test]
    fn chroma_counts_the_notes_begun_per_pitch_class_in_each_bar() {
        let device = Device::flex();
        let model = GanConfig { frames: 32, chroma: true, ..GanConfig::new(GeneratorKind::Rnn) };
        let p = |pitch: u8| pitch_token(pitch).unwrap() as usize;
        // Bar 1: C4 C4 E4 C5, each a quarter; bar 2: a whole-bar G3 and rests.
        let mut tune = Vec::new();
        for pitch in [60, 60, 64, 72] {
            tune.extend([p(pitch), HOLD as usize, HOLD as usize, HOLD as usize]);
        }
        tune.extend([p(55)].into_iter().chain([HOLD as usize; 7]).chain([REST as usize; 8]));
        let d = model.clone().for_melody().init_discriminator(&device);
        let c: Vec<f32> =
            d.chroma(one_hot(&tune, 90, &device), Segments::MelodyTokens).into_data().try_to_vec::<f32>().unwrap();
        let per_step = |n: f32| n / 16.0;
        assert_eq!(c.len(), 26);
        assert_eq!((c[0], c[4], c[12]), (per_step(3.0), per_step(1.0), per_step(4.0)), "C three times, E once");
        assert_eq!((c[13 + 7], c[13 + 12]), (per_step(1.0), per_step(1.0)), "G once in bar 2");
        assert_eq!(c.iter().sum::<f32>(), per_step(10.0));

        // The piano-roll's chroma counts onsets: a key held through a bar once.
        let key = |pitch: usize| pitch - 21;
        let mut roll = vec![key(60); 16];
        roll.extend([key(67); 16]);
        let d = model.init_discriminator(&device);
        let c: Vec<f32> =
            d.chroma(one_hot(&roll, 88, &device), Segments::PianoRoll).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!((c[0], c[12], c[13 + 7]), (per_step(1.0), per_step(1.0), per_step(1.0)));
    }
}
