//! The encoder–decoder: it learns chorales, its checkpoints load back exactly, its
//! harmonisations keep the melody, the ranges and the key, and its embeddings find a
//! transposed copy of a piece; a continuation model extends a melody.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use fugato_data::lines::Examples;
use fugato_data::lines::{self as data, Example, VOICES};
use fugato_nn::model::CellKind;
use fugato_nn::sample::Sampling;
use fugato_nn::seq2seq::harmony::{HarmonizeOptions, RANGES, continue_melody, evaluate_harmony, harmonize};
use fugato_nn::seq2seq::similar::{Index, embed};
use fugato_nn::seq2seq::train as s2s;
use fugato_nn::seq2seq::{Seq2SeqConfig, Task};
use fugato_nn::train::{self as driver, Observer, TrainConfig, read_metrics};
use fugato_score::Score;

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/midi").join(name)
}

fn read(name: &str) -> Score {
    fugato_midi::read_file(&testdata(name), Default::default()).unwrap().score
}

const CHORALES: [&str; 3] = ["bwv66.6.mid", "bwv41.6.mid", "bwv248.23-2.mid"];

fn chorale_examples() -> Vec<Example> {
    CHORALES.iter().map(|c| data::harmony_example(c, &read(c)).unwrap().unwrap()).collect()
}

fn small(task: Task) -> Seq2SeqConfig {
    Seq2SeqConfig { embedding: 16, dropout: 0.0, ..Seq2SeqConfig::new(task, CellKind::Lstm, 32) }
}

struct Quiet;
impl Observer for Quiet {}

#[test]
fn a_small_harmonizer_learns_keeps_the_melody_and_loads_back() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let examples = chorale_examples();
    let data = Examples {
        task: Task::Harmonize,
        train: examples.clone(),
        valid: examples[..1].to_vec(),
        source: "test".into(),
    };
    let train = TrainConfig {
        lr: 1e-2,
        batch: 8,
        seq_len: 32,
        epochs: 12,
        patience: 100,
        transpose: 0,
        ..TrainConfig::default()
    };
    let device = Device::flex();
    let meta = s2s::Seq2SeqMeta::new(Task::Harmonize, small(Task::Harmonize), train, &data);
    driver::train::<s2s::Seq2SeqTraining>(&run, meta, &data, &device, &mut Quiet).unwrap();
    let records = read_metrics(&run).unwrap();
    assert_eq!(records.len(), 12);
    assert!(
        records[11].train_loss < 0.7 * records[0].train_loss,
        "{} → {}",
        records[0].train_loss,
        records[11].train_loss
    );

    let ckpt = s2s::load(&run, &device).unwrap();
    assert_eq!(ckpt.meta.task, Task::Harmonize);
    let chorale = read("bwv66.6.mid");
    let soprano = data::find_voice(&chorale, VOICES[0]).unwrap().clone();
    let melody = Score { tracks: vec![soprano.clone()], ..chorale.clone() };
    let out = harmonize(&ckpt.model, &melody, &HarmonizeOptions::default(), &device).unwrap();
    assert_eq!(out.score.tracks.len(), 4);
    assert_eq!(out.score.tracks[0].notes, soprano.notes, "the melody is kept note for note");
    assert_eq!(out.key.name(), "F#m", "the file's key signature");
    let scale: Vec<u8> =
        out.key.scale_pitch_classes().iter().copied().chain([(out.key.tonic_pitch_class() + 11) % 12]).collect();
    for (k, track) in out.score.tracks[1..].iter().enumerate() {
        assert!(!track.notes.is_empty(), "{} is silent", track.name);
        for n in &track.notes {
            let p = n.pitch.get();
            assert!((RANGES[k + 1].0..=RANGES[k + 1].1).contains(&p), "{} {p} out of range", track.name);
            assert!(scale.contains(&(p % 12)), "{} {p} out of key", track.name);
        }
    }
    // A second load of the same files writes the same harmony; `latest/` loads and harmonises too.
    let reloaded = s2s::load(&run, &device).unwrap();
    let best_again = harmonize(&reloaded.model, &melody, &HarmonizeOptions::default(), &device).unwrap();
    assert_eq!(best_again.lines, out.lines);
    let latest = s2s::load(&run.join("latest"), &device).unwrap();
    let latest = harmonize(&latest.model, &melody, &HarmonizeOptions::default(), &device).unwrap();
    assert_eq!(latest.score.tracks[0].notes, soprano.notes);
    let hot =
        HarmonizeOptions { sampling: fugato_nn::sample::Sampling::Temperature(1.5), seed: 3, ..Default::default() };
    let sampled = harmonize(&ckpt.model, &melody, &hot, &device).unwrap();
    assert_eq!(sampled.score.tracks[0].notes, soprano.notes);

    // A beam search keeps the melody, the ranges and the key, and is repeatable; a beam of
    // one is the note-by-note choice; a beam with a temperature is refused.
    let beam = |width| HarmonizeOptions { beam: width, ..Default::default() };
    assert_eq!(harmonize(&ckpt.model, &melody, &beam(1), &device).unwrap().lines, out.lines);
    let searched = harmonize(&ckpt.model, &melody, &beam(4), &device).unwrap();
    assert_eq!(searched.score.tracks[0].notes, soprano.notes);
    assert_eq!(
        searched.lines.iter().map(Vec::len).collect::<Vec<_>>(),
        out.lines.iter().map(Vec::len).collect::<Vec<_>>()
    );
    for (k, track) in searched.score.tracks[1..].iter().enumerate() {
        assert!(track.notes.iter().all(|n| (RANGES[k + 1].0..=RANGES[k + 1].1).contains(&n.pitch.get())));
        assert!(track.notes.iter().all(|n| scale.contains(&(n.pitch.get() % 12))), "{} out of key", track.name);
    }
    assert_eq!(harmonize(&ckpt.model, &melody, &beam(4), &device).unwrap().lines, searched.lines);
    let hot_beam = HarmonizeOptions { beam: 4, ..hot.clone() };
    let err = harmonize(&ckpt.model, &melody, &hot_beam, &device).err().unwrap().to_string();
    assert!(err.contains("beam"), "{err}");

    let report = evaluate_harmony(&ckpt.model, &[chorale], 1, &device).unwrap();
    assert_eq!((report.chorales, report.melody_kept), (1, 1));
    assert_eq!(report.in_range, 1.0);
    assert!(report.voice_accuracy.iter().all(|&a| a > 0.0 && a <= 1.0));
    assert!(report.parallels_per_100_beats >= 0.0 && report.bach_parallels_per_100_beats >= 0.0, "{report:?}");

    // Resuming continues the epoch count.
    driver::resume::<s2s::Seq2SeqTraining>(&run, &data, Some(13), &device, &mut Quiet).unwrap();
    assert_eq!(read_metrics(&run).unwrap().len(), 13);
    // A sequence model's loader refuses this checkpoint, naming the format.
    let err = fugato_nn::checkpoint::load(&run, &device).err().unwrap().to_string();
    assert!(err.contains("fugato-seq2seq"), "{err}");
}

#[test]
fn continuation_examples_train_without_alignment() {
    let score = read("WinnicksFavoriteJig_0001.mid");
    let examples = data::continuation_examples("jig", &score).unwrap();
    assert!(!examples.is_empty());
    let tmp = tempfile::tempdir().unwrap();
    let data = Examples { task: Task::Continue, train: examples.clone(), valid: examples, source: "test".into() };
    let train = TrainConfig { lr: 1e-2, batch: 8, epochs: 3, transpose: 0, ..TrainConfig::default() };
    let config = small(Task::Continue);
    assert!(!config.aligned);
    let meta = s2s::Seq2SeqMeta::new(Task::Continue, config, train, &data);
    let summary = driver::train::<s2s::Seq2SeqTraining>(tmp.path(), meta, &data, &Device::flex(), &mut Quiet).unwrap();
    assert_eq!(summary.epochs, 3);
    let ckpt = s2s::load(tmp.path(), &Device::flex()).unwrap();
    let err = harmonize(&ckpt.model, &score, &HarmonizeOptions::default(), &Device::flex()).err().unwrap().to_string();
    assert!(err.contains("not trained to harmonise"), "{err}");

    // Continuing: the primer is kept note for note and new notes follow its end.
    let options = HarmonizeOptions { sampling: Sampling::Temperature(1.0), seed: 4, ..Default::default() };
    let out = continue_melody(&ckpt.model, &score, 2, &options, &Device::flex()).unwrap();
    let part = score.tracks.iter().position(|t| !t.notes.is_empty()).unwrap();
    let (before, after) = (&score.tracks[part].notes, &out.tracks[part].notes);
    assert_eq!(after[..before.len()], before[..]);
    assert!(after.len() > before.len(), "eight bars added");
    let end = before.iter().map(|n| n.end_tick).max().unwrap();
    assert!(after[before.len()..].iter().all(|n| n.start_tick >= end), "after the primer");
    let again = continue_melody(&ckpt.model, &score, 2, &options, &Device::flex()).unwrap();
    assert_eq!(out, again, "seeded");
    let short = Score {
        tracks: vec![fugato_score::Track { notes: before[..2].to_vec(), ..score.tracks[part].clone() }],
        ..score.clone()
    };
    let err = continue_melody(&ckpt.model, &short, 1, &options, &Device::flex()).err().unwrap().to_string();
    assert!(err.contains("needs at least 4"), "{err}");
}

#[test]
fn similar_finds_a_transposed_copy_and_keeps_its_index() {
    let device = Device::flex();
    device.seed(7);
    let model = small(Task::Harmonize).init(&device);
    let tmp = tempfile::tempdir().unwrap();
    let names = [
        "WinnicksFavoriteJig_0001.mid",
        "YellowStockingsJig_0001.mid",
        "zuccal0_0698.mid",
        "bwv66.6.mid",
        "1781-1800_1794.mid",
    ];
    for name in names {
        std::fs::copy(testdata(name), tmp.path().join(name)).unwrap();
    }
    let files: Vec<PathBuf> = names.iter().map(|n| tmp.path().join(n)).collect();
    let embed_file = |f: &Path| {
        let score = fugato_midi::read_file(f, Default::default()).map_err(|e| e.to_string())?.score;
        embed(&model, &score, &device).map_err(|e| e.to_string())
    };
    let mut index = Index::new("test", 64);
    let update = index.update(tmp.path(), &files, embed_file, || {});
    assert_eq!((update.embedded, update.kept, update.skipped), (5, 0, 0));

    for (i, name) in names.iter().enumerate() {
        let query = read(name).transpose([3, -5, 2, 7, -2][i]).unwrap();
        let v = embed(&model, &query, &device).unwrap().unwrap();
        assert!((v.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-4);
        let top: Vec<&str> = index.nearest(&v, 3).iter().map(|(e, _)| e.path.as_str()).collect();
        assert!(top.contains(name), "{name}: {top:?}");
    }

    let path = tmp.path().join(".index");
    index.write(&path).unwrap();
    let mut back = Index::read(&path).unwrap();
    assert_eq!(back, index);
    let update = back.update(tmp.path(), &files[..4], embed_file, || {});
    assert_eq!((update.embedded, update.kept, update.removed), (0, 4, 1));

    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    let err = Index::read(&path).err().unwrap().to_string();
    assert!(err.contains(".index") && err.contains("truncated"), "{err}");
}
