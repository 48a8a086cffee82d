//! The GAN: both generators train against the CNN discriminator with either loss, the
//! run folder holds what `--resume` and `generate` need, and sampling is seeded.

use burn::tensor::Device;
use fugato_data::segments::cut_segments;
use fugato_nn::NnError;
use fugato_nn::gan::train::{
    self as g, Binarize, BinaryNeurons, GanData, GanLoss, GanMeta, GanRecord, GanTrainConfig, GanTraining, set_metrics,
};
use fugato_nn::gan::{GanConfig, GeneratorKind};
use fugato_nn::train::{self as driver, EpochRecord, Observer};
use fugato_repr::pianoroll::Frame;
use fugato_score::Score;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// burn's random stream is one per process: tests that seed it and then draw (noise,
/// Gumbel samples) hold this so that tests running beside them do not draw in between.
static RANDOM: Mutex<()> = Mutex::new(());

fn lock_random() -> MutexGuard<'static, ()> {
    RANDOM.lock().unwrap_or_else(|e| e.into_inner())
}

/// Chord segments: a triad per bar at one of a few roots.
fn corpus() -> Vec<Vec<Frame>> {
    (0..40u32)
        .map(|i| {
            (0..16)
                .map(|t| {
                    let root = 39 + (i + t / 4) % 5;
                    (1 << root) | (1 << (root + 4)) | (1 << (root + 7))
                })
                .collect()
        })
        .collect()
}

fn small(generator: GeneratorKind) -> GanConfig {
    GanConfig {
        hidden: 16,
        layers: 1,
        noise: if generator == GeneratorKind::Rnn { 16 * 2 } else { 8 },
        frames: 16,
        channels: [4, 8],
        ..GanConfig::new(generator)
    }
}

#[derive(Default)]
struct Count {
    epochs: usize,
    sampled: usize,
    records: Vec<GanRecord>,
}

impl Observer for Count {
    fn epoch_end(&mut self, record: &EpochRecord, samples: &[Score]) {
        self.records.push(serde_json::from_value(record.details.clone()).unwrap());
        self.epochs += 1;
        self.sampled += usize::from(!samples.is_empty());
    }
}

/// A new run through the training driver; its `latest/` metadata.
fn train(
    dir: &Path,
    model: &GanConfig,
    config: &GanTrainConfig,
    data: &GanData,
    device: &Device,
    seen: &mut Count,
) -> Result<GanMeta, NnError> {
    driver::train::<GanTraining>(dir, GanMeta::new(model.clone(), config.clone(), data), data, device, seen)?;
    fugato_nn::checkpoint::meta_of(&dir.join("latest"))
}

/// Resumes a run to `epochs` in all; its `latest/` metadata.
fn resume(dir: &Path, data: &GanData, epochs: usize, device: &Device, seen: &mut Count) -> GanMeta {
    driver::resume::<GanTraining>(dir, data, Some(epochs), device, seen).unwrap();
    fugato_nn::checkpoint::meta_of(&dir.join("latest")).unwrap()
}

#[test]
fn both_generators_train_resume_and_sample() {
    let _random = lock_random();
    let device = Device::flex();
    let data = GanData { segments: corpus(), source: "test".into() };
    for (generator, loss) in [(GeneratorKind::Rnn, GanLoss::Bce), (GeneratorKind::Mlp, GanLoss::Hinge)] {
        let tmp = tempfile::tempdir().unwrap();
        let config =
            GanTrainConfig { loss, batch: 8, epochs: 2, sample_every: 2, critic_steps: 2, ..Default::default() };
        let mut seen = Count::default();
        let meta = train(tmp.path(), &small(generator), &config, &data, &device, &mut seen).unwrap();
        assert_eq!((meta.progress.epoch, meta.progress.step, seen.epochs, seen.sampled), (2, 10, 2, 1));
        assert!((meta.corpus.polyphony - 3.0).abs() < 1e-9, "{:?}", meta.corpus);
        assert!(tmp.path().join("latest/optimizer-discriminator.bpk").is_file());
        let meta = resume(tmp.path(), &data, 3, &device, &mut seen);
        assert_eq!(meta.progress.epoch, 3);

        let ckpt = g::load(tmp.path(), &device).unwrap();
        let a = g::sample(&ckpt.gan.generator, 5, 2, None, Binarize::Threshold(0.5), &device);
        let b = g::sample(&ckpt.gan.generator, 5, 2, None, Binarize::Threshold(0.5), &device);
        assert_eq!(a, b, "seeded");
        assert_eq!((a.len(), a[0].len()), (2, 16));
        // An interpolation starts at the seed's own segment and ends at the next seed's.
        let walk = g::sample(&ckpt.gan.generator, 5, 1, Some(4), Binarize::Threshold(0.5), &device);
        assert_eq!(walk.len(), 4);
        assert_eq!(walk[0], a[0]);
        assert_eq!(walk[3], a[1]);
        let noisy = g::sample(&ckpt.gan.generator, 5, 2, None, Binarize::Bernoulli, &device);
        assert_eq!(noisy.len(), 2);
    }
}

#[test]
fn metrics_see_polyphony_entropy_and_collapse() {
    let m = set_metrics(&corpus(), false);
    assert!((m.polyphony - 3.0).abs() < 1e-9);
    assert!(m.pitch_class_entropy > 2.0);
    assert!(m.pairwise_distance > 0.0);
    let same = vec![corpus()[0].clone(); 10];
    assert_eq!(set_metrics(&same, false).pairwise_distance, 0.0);
    let empty = set_metrics(&[vec![0; 16]], false);
    assert_eq!(empty.empty, 1);
}

#[test]
fn the_anti_collapse_options_train() {
    let _random = lock_random();
    let device = Device::flex();
    let data = GanData { segments: corpus(), source: "test".into() };
    for (generator, binary, feature_matching) in [
        (GeneratorKind::Rnn, BinaryNeurons::Deterministic, true),
        (GeneratorKind::Mlp, BinaryNeurons::Stochastic, false),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let config = GanTrainConfig {
            batch: 8,
            epochs: 2,
            binary,
            feature_matching,
            diversity: 0.1,
            transpose: 3,
            ..Default::default()
        };
        let mut seen = Count::default();
        train(tmp.path(), &small(generator), &config, &data, &device, &mut seen).unwrap();
        for r in &seen.records {
            assert!(r.loss_discriminator.is_finite() && r.loss_generator.is_finite(), "{r:?}");
        }
        let ckpt = g::load(tmp.path(), &device).unwrap();
        assert_eq!(ckpt.meta.train, config, "the options are kept for --resume");
    }
}

#[test]
fn a_monophonic_generator_writes_one_key_or_a_rest_per_frame() {
    let _random = lock_random();
    let device = Device::flex();
    let melody: Vec<Vec<Frame>> = (0..24u32)
        .map(|i| (0..16).map(|t| if t % 4 == 3 { 0 } else { 1 << (40 + (i + t / 2) % 7) }).collect())
        .collect();
    let data = GanData { segments: melody, source: "test".into() };
    for (generator, binary) in
        [(GeneratorKind::Rnn, BinaryNeurons::Deterministic), (GeneratorKind::Mlp, BinaryNeurons::Stochastic)]
    {
        let tmp = tempfile::tempdir().unwrap();
        let model = GanConfig { monophonic: true, ..small(generator) };
        let config = GanTrainConfig { batch: 8, epochs: 2, binary, diversity: 0.1, ..Default::default() };
        let meta = train(tmp.path(), &model, &config, &data, &device, &mut Count::default()).unwrap();
        assert!((meta.corpus.polyphony - 1.0).abs() < 1e-9);
        let ckpt = g::load(tmp.path(), &device).unwrap();
        for how in [Binarize::Threshold(0.5), Binarize::Bernoulli] {
            let segments = g::sample(&ckpt.gan.generator, 3, 8, None, how, &device);
            assert!(segments.iter().flatten().all(|f| f.count_ones() <= 1), "{how:?}");
            assert!(segments.iter().flatten().any(|&f| f != 0), "{how:?}: some notes");
        }
    }
}

#[test]
fn a_melody_generator_writes_one_token_per_frame_and_repeated_notes_count() {
    let _random = lock_random();
    use fugato_data::segments::melody::{frame, tokens};
    use fugato_repr::melody::{HOLD, REST, pitch_token};
    let device = Device::flex();
    let p = |pitch: u8| pitch_token(pitch).unwrap();
    // Repeated notes: two eighths on one pitch, then a quarter, then a rest.
    let tunes: Vec<Vec<Frame>> = (0..24u8)
        .map(|i| {
            let (a, b) = (60 + i % 5, 62 + i % 7);
            [p(a), HOLD, p(a), HOLD, p(b), HOLD, HOLD, HOLD].repeat(2).into_iter().map(frame).collect()
        })
        .collect();
    let corpus = set_metrics(&tunes, true);
    assert_eq!((corpus.notes, corpus.polyphony), (6.0, 1.0), "a repeated note is two notes: {corpus:?}");
    let rests: Vec<Vec<Frame>> = vec![[REST, HOLD].map(frame).to_vec()];
    assert_eq!(set_metrics(&rests, true).empty, 1);

    let data = GanData { segments: tunes, source: "test".into() };
    for (generator, binary, feedback) in [
        (GeneratorKind::Rnn, BinaryNeurons::Deterministic, false),
        (GeneratorKind::Rnn, BinaryNeurons::Stochastic, true),
        (GeneratorKind::Mlp, BinaryNeurons::Stochastic, false),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let model = GanConfig { frames: 16, chroma: true, feedback, ..small(generator) }.for_melody();
        // The generator that reads its frames back is first trained by likelihood.
        let pretrain = if feedback { 3 } else { 0 };
        let config =
            GanTrainConfig { batch: 8, epochs: pretrain + 2, pretrain, binary, transpose: 2, ..Default::default() };
        let mut seen = Count::default();
        let meta = train(tmp.path(), &model, &config, &data, &device, &mut seen).unwrap();
        assert_eq!(meta.corpus.notes, 6.0);
        if feedback {
            let r = &seen.records;
            assert!(r[..3].iter().all(|r| r.loss_discriminator == 0.0), "D rests while G pretrains");
            assert!(r[2].loss_generator < r[0].loss_generator, "the likelihood rises: {r:?}");
            assert!(r[3].loss_discriminator > 0.0, "then the adversarial epochs");
        } else {
            let err = train(tmp.path(), &model, &GanTrainConfig { pretrain: 1, ..config }, &data, &device, &mut seen);
            assert!(err.unwrap_err().to_string().contains("feedback"));
        }
        let ckpt = g::load(tmp.path(), &device).unwrap();
        assert!(ckpt.meta.model.melody);
        for how in [Binarize::Threshold(0.5), Binarize::Bernoulli] {
            let segments = g::sample(&ckpt.gan.generator, 3, 8, None, how, &device);
            assert!(segments.iter().flatten().all(|f| f.count_ones() <= 1), "{how:?}");
            let drawn: Vec<u32> = segments.iter().flat_map(|s| tokens(s)).collect();
            assert!(drawn.iter().all(|&t| t < fugato_repr::melody::VOCAB_SIZE), "{how:?}");
            assert_eq!(segments, g::sample(&ckpt.gan.generator, 3, 8, None, how, &device), "seeded");
        }
    }
}

#[test]
fn segments_are_cut_every_hop_frames_from_the_first_note() {
    let piece: Vec<Frame> = [0, 0].into_iter().chain((0..40).map(|t| 1 << (40 + t % 3))).collect();
    let back_to_back = cut_segments(&piece, 16, 16);
    assert_eq!(back_to_back.len(), 2);
    let overlapping = cut_segments(&piece, 16, 8);
    assert_eq!(overlapping.len(), 4);
    assert_eq!(overlapping[1][..8], overlapping[0][8..]);
    assert_eq!(overlapping[0][0], 1 << 40, "starts at the first note");
    // Mostly silent windows are left out.
    let sparse: Vec<Frame> = (0..32).map(|t| if t < 4 { 1 } else { 0 }).collect();
    assert!(cut_segments(&sparse, 16, 16).is_empty());
}
