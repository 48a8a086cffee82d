//! The training driver, the same for every model family: a run trained for 2 epochs and
//! resumed to 4 logs 4 lines, epochs 1 to 4, in one schema (the GAN's resume once kept
//! only the lines after it).

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use fugato_data::lines::{self, Examples, Task};
use fugato_data::{Dataset, Split};
use fugato_nn::checkpoint::CheckpointMeta;
use fugato_nn::gan::train::{GanData, GanMeta, GanTrainConfig, GanTraining};
use fugato_nn::gan::{GanConfig, GeneratorKind};
use fugato_nn::model::{CellKind, HeadKind, Input, ModelConfig, SequenceTraining, TrainData};
use fugato_nn::seq2seq::Seq2SeqConfig;
use fugato_nn::seq2seq::train::{Seq2SeqMeta, Seq2SeqTraining};
use fugato_nn::train::{self as driver, Family, Observer, TrainConfig, read_metrics};

fn testdata(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata").join(path)
}

struct Quiet;
impl Observer for Quiet {}

/// Trains `meta` for 2 epochs in a fresh run folder, resumes it to 4, and checks the log:
/// 4 lines, epochs 1..4, each with the common fields and the family's `details`.
fn two_then_four<F: Family>(meta: F::Meta, data: &F::Data) {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let device = Device::flex();
    let summary = driver::train::<F>(&run, meta, data, &device, &mut Quiet).unwrap();
    assert_eq!(summary.epochs, 2);
    let summary = driver::resume::<F>(&run, data, Some(4), &device, &mut Quiet).unwrap();
    assert_eq!(summary.epochs, 4);
    let records = read_metrics(&run).unwrap();
    assert_eq!(records.iter().map(|r| r.epoch).collect::<Vec<_>>(), [1, 2, 3, 4], "{records:?}");
    assert!(records.windows(2).all(|w| w[1].step > w[0].step), "steps go on counting: {records:?}");
    for r in &records {
        assert!(r.train_loss.is_finite() && r.score.is_finite() && r.seconds >= 0.0, "{r:?}");
    }
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for key in ["epoch", "step", "train_loss", "score", "lr", "seconds", "improved", "details"] {
            assert!(v.get(key).is_some(), "{key} missing in {line}");
        }
    }
    assert!(run.join("best/checkpoint.json").is_file() && run.join("latest/checkpoint.json").is_file());
}

#[test]
fn a_sequence_model_resumed_keeps_every_log_line() {
    let path = testdata("polyphonic/jsb_small.json");
    let dataset = Dataset::open(&path).unwrap();
    let data = TrainData {
        train: dataset.split(Split::Train, &path).unwrap(),
        valid: Some(dataset.split(Split::Valid, &path).unwrap()),
        info: dataset.info(&path),
    };
    let model = ModelConfig {
        cell: CellKind::Lstm,
        peephole: false,
        hidden: 16,
        layers: 1,
        dropout: 0.0,
        head: HeadKind::Sigmoid,
        input: Input::Frames { units: 88 },
        outputs: 88,
        nade_hidden: 8,
        attention: None,
    };
    let train = TrainConfig { batch: 4, seq_len: 16, epochs: 2, ..TrainConfig::default() };
    two_then_four::<SequenceTraining>(CheckpointMeta::new(model, train, data.info.clone()), &data);
}

#[test]
fn an_encoder_decoder_resumed_keeps_every_log_line() {
    let names = ["bwv66.6.mid", "bwv41.6.mid", "bwv248.23-2.mid"];
    let examples: Vec<_> = names
        .iter()
        .map(|n| {
            let score = fugato_midi::read_file(&testdata("midi").join(n), Default::default()).unwrap().score;
            lines::harmony_example(n, &score).unwrap().unwrap()
        })
        .collect();
    let data =
        Examples { task: Task::Harmonize, train: examples.clone(), valid: examples[..1].to_vec(), source: "t".into() };
    let model = Seq2SeqConfig { embedding: 8, ..Seq2SeqConfig::new(Task::Harmonize, CellKind::Gru, 16) };
    let train = TrainConfig { batch: 4, seq_len: 32, epochs: 2, transpose: 2, ..TrainConfig::default() };
    two_then_four::<Seq2SeqTraining>(Seq2SeqMeta::new(Task::Harmonize, model, train, &data), &data);
}

#[test]
fn a_gan_resumed_keeps_every_log_line() {
    let segments: Vec<Vec<u128>> =
        (0..24u32).map(|i| (0..16).map(|t| 1u128 << (39 + (i + t / 4) % 5)).collect()).collect();
    let data = GanData { segments, source: "t".into() };
    let model = GanConfig {
        hidden: 8,
        layers: 1,
        noise: 16,
        frames: 16,
        channels: [2, 4],
        ..GanConfig::new(GeneratorKind::Rnn)
    };
    let train = GanTrainConfig { batch: 8, epochs: 2, sample_every: 0, ..GanTrainConfig::default() };
    two_then_four::<GanTraining>(GanMeta::new(model, train, &data), &data);
}
