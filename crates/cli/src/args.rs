//! Raw command-line flags, as clap parses them. Each command turns its flags into a
//! checked `Config` before doing anything.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "fugato", version, about = "Learn music from MIDI and write new music.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// How large a MIDI file any command reads may be: a file over a limit is refused (or, in
/// a folder, skipped with a warning) before any work sized by it. The defaults hold every
/// piece of the shared corpus many times over.
#[derive(Debug, Args)]
pub struct LimitArgs {
    /// Largest MIDI file, in bytes [default: 67108864].
    #[arg(long, global = true)]
    pub max_bytes: Option<u64>,
    /// Longest piece, in quarter notes [default: 1000000].
    #[arg(long, global = true)]
    pub max_quarters: Option<u64>,
    /// Longest piece, in seconds [default: 1000000].
    #[arg(long, global = true)]
    pub max_seconds: Option<u64>,
    /// Most notes in a piece [default: 2000000].
    #[arg(long, global = true)]
    pub max_notes: Option<usize>,
    /// Most tracks in a file [default: 4096].
    #[arg(long, global = true)]
    pub max_tracks: Option<usize>,
    /// Most tempo, time- and key-signature events in a file [default: 200000].
    #[arg(long, global = true)]
    pub max_events: Option<usize>,
}

impl LimitArgs {
    /// The reading options every command uses: lenient, pretty_midi's pairing, these limits.
    pub fn read_options(&self) -> fugato_midi::ReadOptions {
        let d = fugato_midi::SizeLimits::default();
        let limits = fugato_midi::SizeLimits {
            max_bytes: self.max_bytes.unwrap_or(d.max_bytes),
            max_quarters: self.max_quarters.unwrap_or(d.max_quarters),
            max_seconds: self.max_seconds.unwrap_or(d.max_seconds),
            max_notes: self.max_notes.unwrap_or(d.max_notes),
            max_tracks: self.max_tracks.unwrap_or(d.max_tracks),
            max_events: self.max_events.unwrap_or(d.max_events),
        };
        fugato_midi::ReadOptions { limits, ..Default::default() }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Summarise a MIDI file: tracks, instruments, notes, duration, tempo, meter, key.
    Inspect(InspectArgs),
    /// Convert between MIDI, piano-roll JSON and piano-roll PNG, by file ending.
    Convert(ConvertArgs),
    /// Encode a dataset (a MIDI folder or a piano-roll JSON file) once into shards.
    Prepare(PrepareArgs),
    /// Train a model: a sequence model (RNN, LSTM, GRU; sigmoid, NADE or softmax head), the
    /// encoder–decoder (--model seq2seq) or a GAN (--model gan).
    Train(Box<TrainArgs>),
    /// Score a checkpoint on held-out data: NLL per frame (or token), accuracy, F1; a GAN's
    /// samples, a harmoniser's voices or a continuation model's bars by music metrics.
    Evaluate(EvaluateArgs),
    /// Write new music with a trained model.
    Generate(GenerateArgs),
    /// Play a model live, bar after bar, to a MIDI port, the speakers or a null sink, under
    /// controls that may change while it plays.
    Play(PlayArgs),
    /// Play along with a MIDI keyboard: answer each phrase, or harmonise each note as it is played.
    Jam(JamArgs),
    /// Rank a style-trained model's styles by how likely a piece is under each (Bayes' rule);
    /// for folders, the accuracy against each piece's own style.
    Classify(ClassifyArgs),
    /// Rewrite some bars of a one-part tune with a melody model, keeping every other note.
    Infill(InfillArgs),
    /// Render a MIDI file to a WAV file with the built-in voices.
    Render(RenderArgs),
    /// Write and render a short piece with a bundled model: one .mid and one .wav.
    Demo(DemoArgs),
    /// List the bundled models (usable as --checkpoint NAME).
    Models,
    /// Music metrics (MusPy's, MuseGAN's, Yang & Lerch's) of MIDI files and folders.
    Metrics(MetricsArgs),
    /// Serve the JSON API and the web page (generate, see, hear).
    Serve(ServeArgs),
    /// Add alto, tenor and bass to a melody with a trained harmoniser; the melody is kept exactly.
    Harmonize(HarmonizeArgs),
    /// The pieces of a folder most like a MIDI file (cosine of encoder embeddings; the
    /// folder's index is built once and kept up to date).
    Similar(SimilarArgs),
}

#[derive(Debug, Args)]
pub struct HarmonizeArgs {
    /// The melody: a MIDI file with one part (or a part named Soprano or Melody, else the highest).
    pub melody: PathBuf,
    /// The four-part MIDI file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// A harmoniser checkpoint folder, or the bundled one's name.
    #[arg(long, default_value = "chorale-harmonizer")]
    pub checkpoint: PathBuf,
    /// Sampling temperature; 0 picks the most likely note at every step.
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f64,
    /// Seed of the sampling (with --temperature above 0).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Search for the most likely harmony keeping this many hypotheses (1: note by note).
    #[arg(long, default_value_t = 1)]
    pub beam: usize,
    /// Keep to this key, e.g. G, F#m, Bb:minor [default: the melody's key signature, else its estimated key].
    #[arg(long)]
    pub key: Option<String>,
    /// Also render the chorale to this WAV file.
    #[arg(long)]
    pub wav: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SimilarArgs {
    /// The MIDI file to find neighbours of.
    pub file: PathBuf,
    /// The folder of MIDI files to search (its index is kept in FOLDER/.fugato-similar.index).
    #[arg(long)]
    pub index: PathBuf,
    /// How many pieces to list.
    #[arg(short, long, default_value_t = 10)]
    pub k: usize,
    /// Keep the index in this file instead of inside the folder (e.g. for a read-only folder).
    #[arg(long)]
    pub index_file: Option<PathBuf>,
    /// The encoder–decoder whose encoder embeds the pieces.
    #[arg(long, default_value = "chorale-harmonizer")]
    pub checkpoint: PathBuf,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Port to listen on.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Address to listen on; 0.0.0.0 opens the server to the network.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// A folder of checkpoint or run folders to serve beside the bundled models.
    #[arg(long)]
    pub models: Option<PathBuf>,
    /// Generations running at once [default: the number of cores].
    #[arg(long)]
    pub workers: Option<usize>,
    /// Requests that may wait for a worker; one more gets 503.
    #[arg(long, default_value_t = 32)]
    pub queue: usize,
}

#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// MIDI files and folders (searched recursively); together they make one set.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// A reference set (MIDI file or folder) to compare against, e.g. the training corpus.
    #[arg(long)]
    pub reference: Option<PathBuf>,
    /// Print JSON: for one file, one object keyed by metric name; else per-file and summary.
    #[arg(long)]
    pub json: bool,
    /// Write a Markdown report with PNG charts into this folder.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Refuse malformed MIDI files instead of reading what can be read.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The MIDI file.
    pub file: PathBuf,
    /// Print one JSON object with every note and tempo/meter/key event.
    #[arg(long)]
    pub json: bool,
    /// Refuse malformed files instead of reading what can be read.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Input: .mid/.midi/.rmi/.kar or piano-roll .json.
    pub input: PathBuf,
    /// Output: .mid (format 1), .json (piano-roll) or .png (piano-roll picture).
    pub output: PathBuf,
    /// Grid of piano-roll frames, in steps per quarter note [MIDI → JSON: 4;
    /// JSON → MIDI: the file's own "steps_per_quarter", else 1, the JSB Chorales grid].
    #[arg(long)]
    pub steps_per_quarter: Option<u32>,
    /// JSON split to read or write [read: the first present; write: test].
    #[arg(long, value_enum)]
    pub split: Option<SplitArg>,
    /// Which sequence of the JSON split to turn into MIDI.
    #[arg(long, default_value_t = 0)]
    pub index: usize,
    /// Refuse malformed MIDI input.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct PrepareArgs {
    /// A piano-roll JSON file, or one or more folders of MIDI files (searched
    /// recursively; several folders are named in the shards by their path below the
    /// folder they share, e.g. essenFolksong/x.mid).
    #[arg(required = true, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// The representation to encode in.
    #[arg(long, value_enum)]
    pub repr: ReprArg,
    /// Output folder for the shards (replaced if it already holds shards).
    #[arg(long)]
    pub out: PathBuf,
    /// Piano-roll grid for MIDI data, and the frame grid of a JSON file encoded as tokens.
    #[arg(long)]
    pub steps_per_quarter: Option<u32>,
    /// Refuse malformed MIDI files (they are skipped and counted).
    #[arg(long)]
    pub strict: bool,
    /// Label each piece with its style (chorale, song, reel, jig, hornpipe, …: from its
    /// folder, and for dance tunes from the title or meter in the folder's manifest.csv),
    /// so that a model learns them and `generate --style` can choose one.
    #[arg(long)]
    pub styles: bool,
    /// Give parts that say program 0 the program their names imply (Violin I → violin,
    /// Viola, Violoncello, Contrabass; Soprano, Cantus, Alto, Tenor, Bassus… → choir);
    /// meta.json counts the parts changed.
    #[arg(long)]
    pub programs_from_names: bool,
}

/// `fugato train`'s flags as given. [`crate::train::Plan`] checks them per model family:
/// a flag that does not apply to the family chosen is refused, naming it.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Training data: a piano-roll JSON file, a shards folder from `fugato prepare`, or a
    /// folder of MIDI files (sequence models: prepared into OUT/data first; seq2seq and gan
    /// read MIDI folders).
    #[arg(long)]
    pub data: PathBuf,
    /// Run folder to create: checkpoints (latest/, best/), metrics.jsonl, loss.png.
    #[arg(long, required_unless_present = "resume")]
    pub out: Option<PathBuf>,
    /// Continue the run in this folder from its latest checkpoint (its settings are kept;
    /// only --epochs may change).
    #[arg(long, conflicts_with = "out")]
    pub resume: Option<PathBuf>,
    /// The model: a sequence model with this recurrent cell (rnn, lstm, gru) or a
    /// transformer over frames or tokens, seq2seq (the encoder–decoder), or gan [default:
    /// the preset's].
    #[arg(long, value_enum)]
    pub model: Option<ModelArg>,
    /// Sequence models: a built-in preset (seed-keras, jsb-lstm, jsb-gru, jsb-rnn, jsb-nade,
    /// nottingham-lstm, nottingham-nade, piano-lstm, melody-lstm, remi-lstm,
    /// transformer-remi, transformer-jsb) or a TOML file [default: seed-keras;
    /// transformer-remi with --model transformer].
    #[arg(long)]
    pub preset: Option<String>,
    /// Sequence models: the representation a MIDI folder is prepared in [default: pianoroll].
    #[arg(long, value_enum)]
    pub repr: Option<ReprArg>,
    /// Sequence models: LSTM with peephole connections (gates see the cell state).
    #[arg(long)]
    pub peephole: bool,
    /// Transformers: learned absolute positions instead of relative attention.
    #[arg(long)]
    pub absolute_positions: bool,
    /// Sequence models: the output head [default: sigmoid for frames, softmax for tokens].
    #[arg(long, value_enum)]
    pub head: Option<HeadArg>,
    /// Sequence models with a NADE head: its hidden units [default: 150].
    #[arg(long)]
    pub nade_hidden: Option<usize>,
    /// seq2seq: harmonize (a folder of SATB chorales) or continue (four bars → the next
    /// four) [default: harmonize].
    #[arg(long, value_enum)]
    pub task: Option<TaskArg>,
    /// seq2seq and gan (RNN generator): the recurrent cell [default: lstm].
    #[arg(long, value_enum)]
    pub cell: Option<CellArg>,
    /// seq2seq: decode from the encoder's fixed vector alone, without attention.
    #[arg(long)]
    pub no_attention: bool,
    /// seq2seq: in training, hide each previous token from the decoder with this
    /// probability (it reads a rest instead), so it leans on the source more [default: 0].
    #[arg(long)]
    pub token_dropout: Option<f64>,
    /// gan: the generator [default: rnn (C-RNN-GAN)].
    #[arg(long, value_enum)]
    pub generator: Option<GeneratorArg>,
    /// gan: the losses [default: bce (the standard, non-saturating ones)].
    #[arg(long, value_enum)]
    pub gan_loss: Option<GanLossArg>,
    /// gan: the discriminator's learning rate [default: --lr, else 2e-4].
    #[arg(long)]
    pub lr_discriminator: Option<f64>,
    /// gan: the target for real segments (label smoothing; 1: none) [default: 0.9].
    #[arg(long)]
    pub real_label: Option<f64>,
    /// gan: discriminator steps per generator step [default: 1].
    #[arg(long)]
    pub critic_steps: Option<usize>,
    /// gan: the generator matches the discriminator's mean features on real music
    /// (feature matching) instead of fooling its last layer.
    #[arg(long)]
    pub feature_matching: bool,
    /// gan: the discriminator sees the piano-roll alone, without the onset channel.
    #[arg(long)]
    pub no_onsets: bool,
    /// gan: one key or a rest per frame (a softmax instead of a sigmoid per key), for
    /// melodies.
    #[arg(long, conflicts_with = "melody")]
    pub monophonic: bool,
    /// gan: melody tokens per sixteenth (a new note, HOLD or REST) of each piece's top
    /// line, so repeated and held notes differ (for tunes).
    #[arg(long)]
    pub melody: bool,
    /// gan: the discriminator also sees each bar's chroma (notes begun per pitch class).
    #[arg(long)]
    pub chroma: bool,
    /// gan: the RNN generator reads its own frame of the step before (C-RNN-GAN).
    #[arg(long)]
    pub feedback: bool,
    /// gan: epochs of maximum-likelihood pretraining of a --feedback generator before the
    /// adversarial ones (counted in --epochs) [default: 0].
    #[arg(long)]
    pub pretrain: Option<usize>,
    /// gan: binary neurons on the generator's output (straight-through gradients)
    /// [default: none].
    #[arg(long, value_enum)]
    pub binary: Option<BinaryArg>,
    /// gan: weight of the mode-seeking term that rewards different segments for different
    /// noise (0: off) [default: 0].
    #[arg(long)]
    pub diversity: Option<f64>,
    /// gan: frames between the starts of training segments (0: back to back) [default: 0].
    #[arg(long)]
    pub hop: Option<usize>,
    /// gan: write sample MIDI and PNG files every N epochs (0: never) [default: 5].
    #[arg(long)]
    pub sample_every: Option<usize>,
    /// Hidden units per layer [default: the preset's; seq2seq 192; gan 128].
    #[arg(long)]
    pub hidden: Option<usize>,
    /// Recurrent layers [default: the preset's; gan 2; seq2seq has one each way].
    #[arg(long)]
    pub layers: Option<usize>,
    /// Dropout probability, 0..1 [default: the preset's; seq2seq 0.2; gan's discriminator 0.3].
    #[arg(long)]
    pub dropout: Option<f64>,
    /// Learning rate [default: the preset's; seq2seq 1e-3; gan 2e-4].
    #[arg(long)]
    pub lr: Option<f64>,
    /// Sequence models and seq2seq: the optimizer [default: adam].
    #[arg(long, value_enum)]
    pub optimizer: Option<OptimizerArg>,
    /// Windows (GAN: segments) per batch [default: 32].
    #[arg(long)]
    pub batch: Option<usize>,
    /// Sequence models and seq2seq: steps predicted per training window [default: 64].
    #[arg(long)]
    pub seq_len: Option<usize>,
    /// Most epochs to run (with --resume: in all, the epochs already run included).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Sequence models and seq2seq: stop after this many epochs without a better
    /// validation loss [default: the preset's; seq2seq 8].
    #[arg(long)]
    pub patience: Option<usize>,
    /// Sequence models and seq2seq: clip the gradient's norm to this (0: off) [default: 5].
    #[arg(long)]
    pub clip: Option<f64>,
    /// Move each training window (GAN: segment) by a random shift in ±N semitones (0: off)
    /// [default: 0; seq2seq 5].
    #[arg(long)]
    pub transpose: Option<u32>,
    /// Seed of the model's initial weights, the batches and the dropout masks [default: 0].
    #[arg(long)]
    pub seed: Option<u64>,
}

/// `--model`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ModelArg {
    /// A sequence model of tanh RNN cells.
    Rnn,
    /// A sequence model of LSTM cells.
    Lstm,
    /// A sequence model of GRU cells.
    Gru,
    /// A decoder-only Transformer (relative attention as in Music Transformer).
    Transformer,
    /// The encoder–decoder (harmonisation, continuation).
    Seq2seq,
    /// A GAN (RNN or MLP generator, CNN discriminator).
    Gan,
}

/// A recurrent cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CellArg {
    Rnn,
    Lstm,
    Gru,
}

impl From<CellArg> for fugato_nn::model::CellKind {
    fn from(c: CellArg) -> Self {
        match c {
            CellArg::Rnn => fugato_nn::model::CellKind::Rnn,
            CellArg::Lstm => fugato_nn::model::CellKind::Lstm,
            CellArg::Gru => fugato_nn::model::CellKind::Gru,
        }
    }
}

/// `--head`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum HeadArg {
    /// A sigmoid per piano-roll key (binary cross-entropy).
    Sigmoid,
    /// A NADE over the keys (RNN-NADE): each frame's exact likelihood.
    Nade,
    /// A softmax over tokens.
    Softmax,
    /// Continuous outputs (mean squared error).
    Regression,
}

impl From<HeadArg> for fugato_nn::model::HeadKind {
    fn from(h: HeadArg) -> Self {
        use fugato_nn::model::HeadKind;
        match h {
            HeadArg::Sigmoid => HeadKind::Sigmoid,
            HeadArg::Nade => HeadKind::Nade,
            HeadArg::Softmax => HeadKind::Softmax,
            HeadArg::Regression => HeadKind::Regression,
        }
    }
}

/// `--optimizer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OptimizerArg {
    Adam,
    /// Stochastic gradient descent with momentum 0.9.
    Sgd,
}

impl From<OptimizerArg> for fugato_nn::train::OptimizerKind {
    fn from(o: OptimizerArg) -> Self {
        match o {
            OptimizerArg::Adam => fugato_nn::train::OptimizerKind::Adam,
            OptimizerArg::Sgd => fugato_nn::train::OptimizerKind::Sgd,
        }
    }
}

/// `--task`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TaskArg {
    /// Soprano in; alto, tenor and bass out.
    Harmonize,
    /// Four bars in, the next four out.
    Continue,
}

impl From<TaskArg> for fugato_data::lines::Task {
    fn from(t: TaskArg) -> Self {
        match t {
            TaskArg::Harmonize => fugato_data::lines::Task::Harmonize,
            TaskArg::Continue => fugato_data::lines::Task::Continue,
        }
    }
}

/// `--generator`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GeneratorArg {
    /// An LSTM/GRU reading noise at every step (C-RNN-GAN).
    Rnn,
    /// Dense layers from one noise vector (the paper's MLP).
    Mlp,
}

/// `--gan-loss`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GanLossArg {
    /// The standard losses, the generator's non-saturating.
    Bce,
    /// The hinge losses.
    Hinge,
}

impl From<GanLossArg> for fugato_nn::gan::train::GanLoss {
    fn from(l: GanLossArg) -> Self {
        match l {
            GanLossArg::Bce => fugato_nn::gan::train::GanLoss::Bce,
            GanLossArg::Hinge => fugato_nn::gan::train::GanLoss::Hinge,
        }
    }
}

/// `--binary`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BinaryArg {
    /// The probabilities themselves.
    None,
    /// Keys on where the probability reaches 0.5.
    Deterministic,
    /// Keys on with their probability.
    Stochastic,
}

impl From<BinaryArg> for fugato_nn::gan::train::BinaryNeurons {
    fn from(b: BinaryArg) -> Self {
        use fugato_nn::gan::train::BinaryNeurons;
        match b {
            BinaryArg::None => BinaryNeurons::None,
            BinaryArg::Deterministic => BinaryNeurons::Deterministic,
            BinaryArg::Stochastic => BinaryNeurons::Stochastic,
        }
    }
}

/// A representation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReprArg {
    /// 88 keys per grid step.
    Pianoroll,
    /// NOTE_ON, NOTE_OFF, TIME_SHIFT and VELOCITY events.
    Performance,
    /// REMI-like tokens: bars, positions, pitches, durations, programs.
    Remi,
    /// The top line as a token per sixteenth.
    Melody,
}

impl From<ReprArg> for fugato_repr::ReprKind {
    fn from(r: ReprArg) -> Self {
        use fugato_repr::ReprKind;
        match r {
            ReprArg::Pianoroll => ReprKind::PianoRoll,
            ReprArg::Performance => ReprKind::Performance,
            ReprArg::Remi => ReprKind::Remi,
            ReprArg::Melody => ReprKind::Melody,
        }
    }
}

/// A dataset split.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SplitArg {
    Train,
    Valid,
    Test,
}

/// What `evaluate` scores: a split, or every split the data has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EvaluateSplit {
    Train,
    Valid,
    Test,
    All,
}

impl From<SplitArg> for fugato_data::Split {
    fn from(s: SplitArg) -> Self {
        match s {
            SplitArg::Train => fugato_data::Split::Train,
            SplitArg::Valid => fugato_data::Split::Valid,
            SplitArg::Test => fugato_data::Split::Test,
        }
    }
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// A checkpoint folder, or a run folder (its best/ checkpoint is used).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// A piano-roll JSON file, a shards folder, or (sequence models) a folder of MIDI
    /// files, prepared in the model's representation into a temporary folder (nothing is
    /// written into the MIDI folder).
    #[arg(long)]
    pub data: PathBuf,
    /// Split to score, or all of them [default: test if the data has one, else valid;
    /// GAN: valid].
    #[arg(long, value_enum)]
    pub split: Option<EvaluateSplit>,
    /// Print one JSON object (nll, frames, accuracy, ...).
    #[arg(long)]
    pub json: bool,
    /// A harmoniser's beam search width (see `harmonize --beam`).
    #[arg(long, default_value_t = 1)]
    pub beam: usize,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// A checkpoint folder, or a run folder (its best/ checkpoint is used).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// The MIDI file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Length in bars of 4/4 (piano-roll and melody models).
    #[arg(long, conflicts_with_all = ["steps", "seconds"])]
    pub bars: Option<usize>,
    /// Length in seconds at the piece's tempo (piano-roll and melody models).
    #[arg(long, conflicts_with = "steps")]
    pub seconds: Option<f64>,
    /// Length in model steps: frames or tokens [default: 8 bars, or 512 tokens].
    #[arg(long)]
    pub steps: Option<usize>,
    /// Sampling temperature; 0 picks the most likely output.
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f64,
    /// Token models: sample among the k most likely tokens.
    #[arg(long, conflicts_with = "top_p")]
    pub top_k: Option<usize>,
    /// Token models: sample from the smallest set of tokens with this much probability.
    #[arg(long)]
    pub top_p: Option<f64>,
    /// Seed of the sampling: the same checkpoint, options and seed write the same MIDI bytes.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Music to continue (encoded as the model's representation).
    #[arg(long)]
    pub primer: Option<PathBuf>,
    /// Keep to the notes of a key, e.g. C:major, F#m, Bb:minor.
    #[arg(long)]
    pub key: Option<String>,
    /// Tempo in quarter notes per minute [default: 120, or the model's own].
    #[arg(long)]
    pub tempo: Option<f64>,
    /// General MIDI program number 0..=127 for every part.
    #[arg(long, conflicts_with = "instrument")]
    pub program: Option<u8>,
    /// General MIDI instrument by name or number, e.g. violin, "church organ"; or one per
    /// part, in order, for a multi-track model: "violin,viola,cello,contrabass".
    #[arg(long)]
    pub instrument: Option<String>,
    /// A style of a model trained with styles (`fugato models` lists them), e.g. reel.
    #[arg(long)]
    pub style: Option<String>,
    /// Also render the piece to this WAV file (built-in voices, or an installed GM SoundFont).
    #[arg(long)]
    pub wav: Option<PathBuf>,
    /// Write N pieces, with seeds SEED, SEED+1, …, as OUT-1.mid, OUT-2.mid, … (and WAV-1.wav, …).
    #[arg(long, default_value_t = 1)]
    pub n: usize,
    /// GAN models: N four-bar segments on the line between the noise vectors of seeds
    /// SEED and SEED+1, back to back in one file.
    #[arg(long)]
    pub interpolate: Option<usize>,
    /// GAN models: sound each key with its probability instead of where it reaches 0.5.
    #[arg(long)]
    pub bernoulli: bool,
}

#[derive(Debug, Args)]
pub struct PlayArgs {
    /// A sequence model (token or piano-roll): a bundled one's name or a checkpoint folder.
    #[arg(long, default_value = "folk-melody")]
    pub checkpoint: PathBuf,
    /// Seed of the sampling: the same model, seed, controls and changes play the same notes.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Bars to play [default: until Ctrl-C].
    #[arg(long)]
    pub bars: Option<u64>,
    /// MIDI output port to play into (a name or part of one; --list-ports lists them), or
    /// `none` for a null sink (nothing sounds; with --record, the notes are kept)
    /// [default: the first port, unless --audio].
    #[arg(long)]
    pub midi_out: Option<String>,
    /// List the MIDI output ports and stop.
    #[arg(long)]
    pub list_ports: bool,
    /// Play through the speakers with fugato's built-in voices (or --soundfont).
    #[arg(long)]
    pub audio: bool,
    /// With --audio: play the parts with this SoundFont (.sf2) instead of the built-in voices.
    #[arg(long, requires = "audio")]
    pub soundfont: Option<PathBuf>,
    /// Write what was played to this MIDI file (also after Ctrl-C).
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// Control changes while it plays, one `name=value` line each (e.g. key=D:minor,
    /// tempo=90, intensity=0.8), from this file or `-` (standard input); a line
    /// `@N name=value` waits for bar N.
    #[arg(long)]
    pub control: Option<PathBuf>,
    /// Write bars as fast as they come instead of in real time (only with --midi-out none).
    #[arg(long)]
    pub fast: bool,
    /// Keep to the notes of a key, e.g. D:major.
    #[arg(long)]
    pub key: Option<String>,
    /// Quarter notes per minute [default: 120].
    #[arg(long)]
    pub tempo: Option<f64>,
    /// General MIDI instruments, one per part, e.g. "violin, viola, cello".
    #[arg(long)]
    pub instrument: Option<String>,
    /// A style of a model trained with styles.
    #[arg(long)]
    pub style: Option<String>,
    /// Sampling temperature; 0 picks the most likely output.
    #[arg(long)]
    pub temperature: Option<f64>,
    #[arg(long, conflicts_with = "top_p")]
    pub top_k: Option<usize>,
    #[arg(long)]
    pub top_p: Option<f64>,
    /// 0..=1 [default: 0.5]: fewer and softer notes below, more and louder above.
    #[arg(long)]
    pub intensity: Option<f64>,
    /// Repeat the first N bars for ever (a loop that a key, style or sampling change renews).
    #[arg(long = "loop")]
    pub loop_bars: Option<usize>,
}

#[derive(Debug, Args)]
pub struct InfillArgs {
    /// A one-part tune.
    pub piece: PathBuf,
    /// The bars to rewrite, counted from 1: e.g. 5-8, or 3.
    #[arg(long)]
    pub bars: String,
    /// The MIDI file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// A melody model.
    #[arg(long, default_value = "folk-melody")]
    pub checkpoint: PathBuf,
    /// Candidates drawn for the bars; the one under which the two bars after them are
    /// likeliest is kept.
    #[arg(long, default_value_t = 8)]
    pub candidates: usize,
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// MIDI files, or folders of them (recursively; each piece's style then comes from its
    /// folder and manifest, as `prepare --styles` gives it).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// A model trained with styles.
    #[arg(long, default_value = "styles-melody")]
    pub checkpoint: PathBuf,
    /// Folders: only the files of this split (train, valid, test or all).
    #[arg(long, default_value = "all")]
    pub split: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct JamArgs {
    /// The MIDI input port to listen to (a name or part of one).
    #[arg(long)]
    pub midi_in: String,
    /// The MIDI output port to play into, or `none` (nothing sounds).
    #[arg(long)]
    pub midi_out: String,
    /// Answer each phrase (a bar of rest ends it) with a continuation in its key and tempo.
    #[arg(long, conflicts_with = "harmonize", required_unless_present = "harmonize")]
    pub answer: bool,
    /// Add alto, tenor and bass (channels 2-4) under each melody note as it is played.
    #[arg(long)]
    pub harmonize: bool,
    /// The model [default: folk-melody to answer, chorale-harmonizer to harmonise].
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// The tempo of the playing, in quarter notes per minute (a bar of rest ends a phrase).
    #[arg(long, default_value_t = 120.0)]
    pub tempo: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The MIDI file to render.
    pub input: PathBuf,
    /// The WAV file to write (stereo, 16-bit).
    #[arg(long)]
    pub out: PathBuf,
    /// A SoundFont (.sf2) to play the score with [default: a General MIDI font from
    /// Debian's sf2 folder if one is installed, else the built-in voices].
    #[arg(long, conflicts_with = "voice")]
    pub soundfont: Option<PathBuf>,
    /// Use the built-in voices, and this one for every pitched part [default: each
    /// instrument family's own].
    #[arg(long, value_enum)]
    pub voice: Option<VoiceArg>,
    /// Use the built-in voices even where a SoundFont is installed.
    #[arg(long, conflicts_with = "soundfont")]
    pub builtin: bool,
    /// Samples per second of the WAV file.
    #[arg(long, default_value_t = 44_100)]
    pub sample_rate: u32,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Seed of the chorale: each seed writes its own.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Folder for fugato-demo.mid and fugato-demo.wav.
    #[arg(long, default_value = ".")]
    pub out_dir: PathBuf,
    /// Length in bars of 4/4.
    #[arg(long, default_value_t = 8)]
    pub bars: usize,
}

/// A built-in voice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum VoiceArg {
    /// Harmonic partials under an envelope: organ-like.
    Additive,
    /// Sawtooth and square through a resonant low-pass filter.
    Subtractive,
    /// Karplus–Strong plucked string.
    Pluck,
}

impl From<VoiceArg> for fugato_synth::Voice {
    fn from(v: VoiceArg) -> Self {
        match v {
            VoiceArg::Additive => fugato_synth::Voice::Additive,
            VoiceArg::Subtractive => fugato_synth::Voice::Subtractive,
            VoiceArg::Pluck => fugato_synth::Voice::Pluck,
        }
    }
}
