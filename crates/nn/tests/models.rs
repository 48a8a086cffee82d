//! Every model kind can overfit one batch (its loss falls at least tenfold), and
//! checkpoints load back exactly or fail clearly.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::Device;
use fugato_data::{PolyphonicSet, Sequences, Split};
use fugato_nn::batch::{SequenceSet, Window, make_batch};
use fugato_nn::model::{AttentionConfig, CellKind, HeadKind, Input, ModelConfig, SequenceModel};

fn jsb_frames() -> SequenceSet {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/polyphonic/jsb_small.json");
    let set = PolyphonicSet::load(&path).unwrap();
    let mut seqs = Sequences::default();
    for s in set.split(Split::Train).unwrap() {
        seqs.push(s);
    }
    SequenceSet::Frames(seqs)
}

fn config(cell: CellKind, head: HeadKind, input: Input, outputs: usize) -> ModelConfig {
    ModelConfig {
        cell,
        peephole: false,
        hidden: 48,
        layers: 2,
        dropout: 0.0,
        head,
        input,
        outputs,
        nade_hidden: 32,
        attention: None,
    }
}

/// burn's random stream is the process's, and the tests run in parallel: every test that
/// draws from it holds this lock while it draws, so that a seeded test gets the same
/// numbers whatever runs beside it.
static RANDOM: Mutex<()> = Mutex::new(());

fn lock_random() -> MutexGuard<'static, ()> {
    RANDOM.lock().unwrap_or_else(|e| e.into_inner())
}

/// A model from a seed, its lazily initialised parameters drawn at once (under the lock).
fn seeded_model(config: &ModelConfig, seed: u64) -> (Device, SequenceModel) {
    let _random = lock_random();
    let device = Device::flex().autodiff();
    device.seed(seed);
    let record = config.init(&device).into_record();
    (device.clone(), config.init(&device).load_record(record))
}

/// Trains on one fixed batch and returns (first loss, last loss).
fn overfit(config: &ModelConfig, set: &SequenceSet, windows: &[Window], steps: usize) -> (f32, f32) {
    let (device, mut model) = seeded_model(config, 1);
    let mut optim = AdamConfig::new().init();
    let batch = make_batch(set, windows, &device);
    let mut losses = Vec::new();
    for _ in 0..steps {
        let loss = model.loss(&batch);
        losses.push(loss.clone().into_scalar::<f32>());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-2, model, grads);
    }
    (losses[0], *losses.last().unwrap())
}

fn frame_windows() -> Vec<Window> {
    (0..3).map(|i| Window { sequence: i, start: 0, len: 17, shift: 0 }).collect()
}

fn check_overfits(config: ModelConfig, set: &SequenceSet, windows: &[Window]) {
    let (first, last) = overfit(&config, set, windows, 400);
    assert!(last * 10.0 <= first, "{:?} {:?}: loss {first} → {last}", config.cell, config.head);
}

#[test]
fn every_cell_overfits_with_a_sigmoid_head() {
    let set = jsb_frames();
    for cell in [CellKind::Rnn, CellKind::Lstm, CellKind::Gru] {
        check_overfits(config(cell, HeadKind::Sigmoid, Input::Frames { units: 88 }, 88), &set, &frame_windows());
    }
    let peephole =
        ModelConfig { peephole: true, ..config(CellKind::Lstm, HeadKind::Sigmoid, Input::Frames { units: 88 }, 88) };
    check_overfits(peephole, &set, &frame_windows());
}

#[test]
fn nade_head_overfits() {
    check_overfits(
        config(CellKind::Gru, HeadKind::Nade, Input::Frames { units: 88 }, 88),
        &jsb_frames(),
        &frame_windows(),
    );
}

#[test]
fn softmax_head_overfits_tokens() {
    let mut seqs = Sequences::default();
    // Two token sequences of a small vocabulary with a pattern to memorise.
    seqs.push(&(0..40).map(|i| (i * 7 % 23) as u16).collect::<Vec<_>>());
    seqs.push(&(0..40).map(|i| (i * 5 % 23) as u16).collect::<Vec<_>>());
    let set = SequenceSet::Tokens { seqs, styles: None, repr: fugato_repr::ReprKind::Performance };
    let windows: Vec<Window> = (0..2).map(|i| Window { sequence: i, start: 0, len: 40, shift: 0 }).collect();
    check_overfits(
        config(CellKind::Lstm, HeadKind::Softmax, Input::Tokens { vocab: 23, embedding: 16, styles: 0 }, 23),
        &set,
        &windows,
    );
}

fn transformer(head: HeadKind, input: Input, outputs: usize, absolute: bool) -> ModelConfig {
    let attention = AttentionConfig { heads: 4, feed_forward: 64, distances: 16, absolute };
    let input = match input {
        Input::Tokens { vocab, styles, .. } => Input::Tokens { vocab, embedding: 32, styles },
        frames => frames,
    };
    ModelConfig { hidden: 32, attention: Some(attention), ..config(CellKind::Transformer, head, input, outputs) }
}

/// The Transformer, relative and absolute, learns one batch of tokens (windows longer
/// than its relative distances) and of frames with the sigmoid and NADE heads.
#[test]
fn transformers_overfit() {
    let mut seqs = Sequences::default();
    seqs.push(&(0..40).map(|i| (i * 7 % 23) as u16).collect::<Vec<_>>());
    seqs.push(&(0..40).map(|i| (i * 5 % 23) as u16).collect::<Vec<_>>());
    let set = SequenceSet::Tokens { seqs, styles: None, repr: fugato_repr::ReprKind::Performance };
    let windows: Vec<Window> = (0..2).map(|i| Window { sequence: i, start: 0, len: 40, shift: 0 }).collect();
    let tokens = Input::Tokens { vocab: 23, embedding: 0, styles: 0 };
    for absolute in [false, true] {
        check_overfits(transformer(HeadKind::Softmax, tokens, 23, absolute), &set, &windows);
    }
    for head in [HeadKind::Sigmoid, HeadKind::Nade] {
        check_overfits(transformer(head, Input::Frames { units: 88 }, 88, false), &jsb_frames(), &frame_windows());
    }
}

#[test]
fn checkpoints_round_trip_and_refuse_damage() {
    use fugato_nn::checkpoint::{self, CheckpointMeta, DataInfo};
    use fugato_nn::train::{Progress, TrainConfig};
    let device = Device::flex();
    let cfg = config(CellKind::Lstm, HeadKind::Sigmoid, Input::Frames { units: 88 }, 88);
    // Drawn under the lock too: unseeded draws would still move the seeded tests' streams.
    let model = {
        let _random = lock_random();
        let record = cfg.init(&device).into_record();
        cfg.init(&device).load_record(record)
    };
    let meta = CheckpointMeta {
        format: checkpoint::FORMAT.into(),
        version: checkpoint::VERSION,
        model: cfg.clone(),
        train: TrainConfig::default(),
        data: DataInfo {
            repr: fugato_repr::ReprKind::PianoRoll,
            steps_per_quarter: None,
            vocabulary: None,
            styles: Vec::new(),
            source: "x".into(),
            programs_from_names: false,
        },
        parameters: model.num_params(),
        progress: Progress {
            epoch: 3,
            step: 10,
            best_valid: Some(9.5),
            epochs_without_improvement: 0,
            lr: 1e-3,
            train_seconds: 1.0,
        },
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ckpt");
    checkpoint::save(&dir, &meta, &model).unwrap();
    let loaded = checkpoint::load(&dir, &device).unwrap();
    assert_eq!(loaded.meta, meta);
    let set = jsb_frames();
    let batch = make_batch(&set, &frame_windows(), &device);
    let a: f32 = model.loss(&batch).into_scalar();
    let b: f32 = loaded.model.loss(&batch).into_scalar();
    assert_eq!(a, b);

    // Truncated weights.
    let weights = dir.join("model.bpk");
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    let err = checkpoint::load(&dir, &device).err().unwrap().to_string();
    assert!(err.contains("model.bpk"), "{err}");
    // Foreign checkpoint.
    std::fs::write(dir.join("checkpoint.json"), r#"{"format": "something-else"}"#).unwrap();
    let err = checkpoint::load(&dir, &device).err().unwrap().to_string();
    assert!(err.contains("not a fugato-checkpoint"), "{err}");
    // Not a checkpoint at all.
    let err = checkpoint::load(tmp.path(), &device).err().unwrap().to_string();
    assert!(err.contains("not a fugato checkpoint"), "{err}");
}

/// The target at step t is the input of step t − 3: only a model whose state carries
/// memory can learn it (a model of the current step alone stays at log 2 per unit).
#[test]
fn recurrent_state_carries_memory() {
    use burn::tensor::{Distribution, Tensor};
    use fugato_nn::batch::Batch;
    use fugato_nn::model::{Inputs, Target};
    let _random = lock_random();
    let device = Device::flex().autodiff();
    device.seed(9);
    for cell in [CellKind::Lstm, CellKind::Gru, CellKind::Rnn] {
        let cfg = ModelConfig { layers: 1, ..config(cell, HeadKind::Sigmoid, Input::Frames { units: 4 }, 4) };
        let mut model = cfg.init(&device);
        let mut optim = AdamConfig::new().init();
        let (rows, time, lag) = (16, 20, 3);
        let mut last = 0.0;
        for _ in 0..300 {
            let x = Tensor::<3>::random([rows, time, 4], Distribution::Bernoulli(0.5), &device);
            let target: Tensor<2> = x.clone().narrow(1, 0, time - lag).reshape([rows * (time - lag), 4]);
            let positions: Vec<i64> = (0..rows).flat_map(|r| (lag..time).map(move |t| (r * time + t) as i64)).collect();
            let n = positions.len();
            let batch = Batch {
                inputs: Inputs::Frames(x),
                positions: Tensor::from_data(burn::tensor::TensorData::new(positions, [n]), &device),
                target: Target::Units(target),
                n_scored: n,
            };
            let loss = model.loss(&batch);
            last = loss.clone().into_scalar::<f32>();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(1e-2, model, grads);
        }
        // 4 units × ln 2 = 2.77 nats without memory.
        assert!(last < 1.0, "{cell:?}: loss {last} after training; 2.77 means no memory");
    }
}

/// A regression head (MSE) learns continuous targets, e.g. the velocity of the next
/// frame's notes, from one batch.
#[test]
fn regression_head_overfits() {
    use burn::tensor::{Distribution, Tensor};
    use fugato_nn::batch::Batch;
    use fugato_nn::model::{Inputs, Target};
    let _random = lock_random();
    let device = Device::flex().autodiff();
    device.seed(4);
    let cfg = config(CellKind::Lstm, HeadKind::Regression, Input::Frames { units: 88 }, 2);
    let mut model = cfg.init(&device);
    let mut optim = AdamConfig::new().init();
    let x = Tensor::<3>::random([4, 12, 88], Distribution::Bernoulli(0.05), &device);
    let values = Tensor::<2>::random([48, 2], Distribution::Uniform(0.0, 1.0), &device);
    let positions: Vec<i64> = (0..48).collect();
    let batch = Batch {
        inputs: Inputs::Frames(x),
        positions: Tensor::from_data(burn::tensor::TensorData::new(positions, [48]), &device),
        target: Target::Values(values),
        n_scored: 48,
    };
    let mut losses = Vec::new();
    for _ in 0..300 {
        let loss = model.loss(&batch);
        losses.push(loss.clone().into_scalar::<f32>());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-2, model, grads);
    }
    let (first, last) = (losses[0], *losses.last().unwrap());
    assert!(last * 10.0 <= first, "regression: loss {first} → {last}");
}

#[test]
fn a_style_decides_what_the_same_tokens_continue_with() {
    // Both pieces start with token 0; style 0 continues with 1, style 1 with 2. Without
    // the style no model can do better than ln 2 per step.
    let mut seqs = Sequences::default();
    seqs.push(&[0, 1]);
    seqs.push(&[0, 2]);
    let windows: Vec<Window> = (0..2).map(|i| Window { sequence: i, start: 0, len: 2, shift: 0 }).collect();
    let styled =
        SequenceSet::Tokens { seqs: seqs.clone(), styles: Some(vec![0, 1]), repr: fugato_repr::ReprKind::Performance };
    let cfg = |styles| config(CellKind::Lstm, HeadKind::Softmax, Input::Tokens { vocab: 3, embedding: 8, styles }, 3);
    let (first, last) = overfit(&cfg(2), &styled, &windows, 300);
    assert!(last * 10.0 <= first, "with styles: loss {first} → {last}");
    let plain = SequenceSet::Tokens { seqs, styles: None, repr: fugato_repr::ReprKind::Performance };
    let (_, last) = overfit(&cfg(0), &plain, &windows, 300);
    assert!(last > 0.69, "without styles the loss cannot fall below ln 2, but was {last}");
}

#[test]
fn sampling_stops_at_the_draw_that_reaches_the_total() {
    use fugato_nn::sample::{SampleOptions, Sampling, Sequence, Until, generate};
    let input = Input::Tokens { vocab: 6, embedding: 8, styles: 0 };
    let (_, model) = seeded_model(&config(CellKind::Lstm, HeadKind::Softmax, input, 6), 5);
    let options = |until| SampleOptions {
        steps: 400,
        sampling: Sampling::Temperature(1.0),
        seed: 9,
        allowed_units: None,
        allowed_tokens: None,
        style: None,
        until,
        cancel: None,
    };
    let Sequence::Tokens(all) = generate(&model, &Sequence::Tokens(vec![0]), &options(None)) else { panic!() };
    // Token 3 weighs 2, token 4 weighs 1: stop where they first reach 9.
    let until = Until { weights: vec![0, 0, 0, 2, 1], total: 9 };
    let Sequence::Tokens(cut) = generate(&model, &Sequence::Tokens(vec![0]), &options(Some(until.clone()))) else {
        panic!()
    };
    let weight = |s: &[u16]| s.iter().map(|&t| until.weights.get(usize::from(t)).copied().unwrap_or(0)).sum::<u32>();
    assert_eq!(cut[..], all[..cut.len()], "the same draws up to the stop");
    assert!(weight(&cut) < 9 && weight(&all[..=cut.len()]) >= 9, "{cut:?} then {}", all[cut.len()]);
}

/// A checkpoint whose weights hold a NaN was once loaded in silence: it is refused, naming
/// the file and the parameter.
#[test]
fn non_finite_weights_are_refused() {
    use burn::module::{ModuleMapper, Param};
    use burn::tensor::Tensor;
    use fugato_nn::checkpoint::{self, CheckpointMeta, DataInfo};
    use fugato_nn::train::TrainConfig;

    /// Puts a NaN into the first float parameter it meets.
    struct Poison(bool);
    impl ModuleMapper for Poison {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            if std::mem::replace(&mut self.0, true) {
                return param;
            }
            param.map(|t| t * f32::NAN)
        }
    }

    // Drawn under the lock: unseeded draws would move the seeded tests' streams.
    let _random = lock_random();
    let device = Device::flex();
    let config = ModelConfig {
        cell: CellKind::Gru,
        peephole: false,
        hidden: 8,
        layers: 1,
        dropout: 0.0,
        head: HeadKind::Sigmoid,
        input: Input::Frames { units: 88 },
        outputs: 88,
        nade_hidden: 8,
        attention: None,
    };
    let model = config.init(&device).map(&mut Poison(false));
    let data = DataInfo {
        repr: fugato_repr::ReprKind::PianoRoll,
        steps_per_quarter: None,
        vocabulary: None,
        styles: Vec::new(),
        source: "x".into(),
        programs_from_names: false,
    };
    let meta = CheckpointMeta::new(config, TrainConfig::default(), data);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nan");
    checkpoint::save(&dir, &meta, &model).unwrap();
    let err = checkpoint::load(&dir, &device).err().expect("refused").to_string();
    assert!(err.contains("model.bpk") && err.contains("non-finite weights") && err.contains("NaN"), "{err}");
}
