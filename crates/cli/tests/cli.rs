//! The `fugato` binary end to end: what a user sees on stdout, stderr and in exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

fn fugato(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fugato")).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn inspect_summarises_a_chorale() {
    let o = fugato(&["inspect", path(&testdata().join("midi/bwv66.6.mid"))]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for expected in ["163 notes in 4 parts", "96 bpm", "4/4", "F#m", "Soprano", "Acoustic Grand Piano"] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

#[test]
fn inspect_json_has_the_reference_fields() {
    let o = fugato(&["inspect", "--json", path(&testdata().join("midi/bwv66.6.mid"))]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["n_notes"], 163);
    assert_eq!(v["ticks_per_beat"], 10080);
    assert_eq!(v["key_signatures"][0]["key"], "F#m");
    let note = &v["notes"][0];
    for key in ["track", "channel", "program", "pitch", "velocity", "start_tick", "end_tick", "start_s", "end_s"] {
        assert!(note.get(key).is_some(), "note lacks {key}");
    }
    assert_eq!(v["tempo_changes"][0]["time_s"], 0.0);
}

/// Every edge case, lenient and strict: success, or exit 1 with one line naming the file.
#[test]
fn unreadable_input_gives_one_line_and_no_panic() {
    let dir = testdata().join("edge-cases");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir.join("own")).unwrap().map(|e| e.unwrap().path()).collect();
    paths.extend(std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_file()));
    let mut failures = 0;
    for p in paths {
        for strict in [false, true] {
            let mut args = vec!["inspect", path(&p)];
            if strict {
                args.push("--strict");
            }
            let o = fugato(&args);
            let err = stderr(&o);
            assert!(!err.contains("panicked"), "{}: {err}", p.display());
            if !o.status.success() {
                failures += 1;
                assert_eq!(o.status.code(), Some(1));
                assert_eq!(err.lines().count(), 1, "{err}");
                assert!(err.starts_with("fugato: error: ") && err.contains(path(&p)), "{err}");
            }
        }
    }
    assert!(failures >= 10, "only {failures} failures: the edge cases should include refusals");
}

#[test]
fn missing_file_and_bad_arguments_fail_cleanly() {
    let o = fugato(&["inspect", "no/such/file.mid"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no/such/file.mid"));
    let o = fugato(&["prepare", path(&testdata().join("midi")), "--repr", "abc", "--out", "x"]);
    assert!(stderr(&o).contains("invalid value 'abc' for '--repr <REPR>'"), "{}", stderr(&o));
    assert!(stderr(&o).contains("pianoroll, performance, remi, melody"), "the values are listed: {}", stderr(&o));
    let o = fugato(&["convert", path(&testdata().join("midi/bwv66.6.mid")), "out.txt"]);
    assert!(stderr(&o).contains("unknown file ending"), "{}", stderr(&o));
}

#[test]
fn convert_midi_json_png_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let src = testdata().join("midi/zuccal0_0698.mid");
    let (mid, json, back, png) =
        (tmp.path().join("a.mid"), tmp.path().join("a.json"), tmp.path().join("b.mid"), tmp.path().join("a.png"));
    for (from, to) in [(&src, &mid), (&mid, &json), (&json, &back), (&src, &png)] {
        let o = fugato(&["convert", path(from), path(to)]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let notes = |p: &Path| {
        let v: serde_json::Value = serde_json::from_str(&stdout(&fugato(&["inspect", "--json", path(p)]))).unwrap();
        v["n_notes"].as_u64().unwrap()
    };
    assert_eq!(notes(&mid), notes(&src));
    // A monophonic tune on the sixteenth grid keeps its notes through the piano-roll,
    // except where one note is immediately repeated (frames hold no onsets).
    assert!(notes(&back) > 0 && notes(&back) <= notes(&src));
    assert_eq!(&std::fs::read(&png).unwrap()[1..4], b"PNG");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["steps_per_quarter"], 4);
    assert_eq!(v["test"].as_array().unwrap().len(), 1);
}

#[test]
fn failed_convert_leaves_no_file() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out.mid");
    let o = fugato(&["convert", path(&testdata().join("edge-cases/test-empty-file.mid")), path(&out)]);
    assert!(!o.status.success());
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn prepare_prints_splits() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("shards");
    let o = fugato(&[
        "prepare",
        path(&testdata().join("polyphonic/jsb_small.json")),
        "--repr",
        "pianoroll",
        "--out",
        path(&out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("train") && stdout(&o).contains("3 sequences"), "{}", stdout(&o));
    assert!(out.join("meta.json").is_file());
}

#[test]
fn train_resume_evaluate() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let data = testdata().join("polyphonic/jsb_small.json");
    let small = ["--hidden", "16", "--layers", "1", "--batch", "4", "--seq-len", "16"];
    let mut args = vec!["train", "--data", path(&data), "--out", path(&run), "--epochs", "2", "--model", "gru"];
    args.extend(small);
    let o = fugato(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("epoch   2"), "{}", stderr(&o));
    let epochs = |run: &Path| std::fs::read_to_string(run.join("metrics.jsonl")).unwrap().lines().count();
    assert_eq!(epochs(&run), 2);
    assert!(run.join("loss.png").is_file() && run.join("best/model.bpk").is_file());

    // A second run into the same folder is refused; --resume continues it.
    let o = fugato(&args);
    assert!(stderr(&o).contains("already holds a training run"), "{}", stderr(&o));
    // A resumed run keeps its settings: a flag that would change them is refused, named.
    let o = fugato(&["train", "--data", path(&data), "--resume", path(&run), "--epochs", "3", "--hidden", "64"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--hidden: a resumed run keeps the settings"), "{}", stderr(&o));
    let o = fugato(&["train", "--data", path(&data), "--resume", path(&run), "--epochs", "3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(epochs(&run), 3);
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("latest/checkpoint.json")).unwrap()).unwrap();
    assert_eq!(meta["epoch"], 3);
    assert_eq!(meta["model"]["cell"], "gru");

    // Evaluation on a file that holds only a test split.
    let test = testdata().join("polyphonic/jsb_test_only.json");
    let o = fugato(&["evaluate", "--checkpoint", path(&run), "--data", path(&test), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["frames"], 112); // sequences of 65 and 49 frames, the first of each not scored
    assert!(v["nll"].as_f64().unwrap() > 0.0);

    // A damaged checkpoint is refused with the file named.
    std::fs::write(run.join("best/model.bpk"), b"garbage").unwrap();
    let o = fugato(&["evaluate", "--checkpoint", path(&run), "--data", path(&test)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("model.bpk"), "{}", stderr(&o));
}

/// `--model lstm --cell gru` once trained an LSTM in silence: a flag of another family is
/// refused, named, before any data is read.
#[test]
fn a_flag_of_another_family_is_refused_by_name() {
    let data = testdata().join("polyphonic/jsb_small.json");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    for (args, flag) in [
        (&["--model", "lstm", "--cell", "gru"][..], "--cell does not apply to sequence models"),
        (&["--model", "gan", "--head", "nade"][..], "--head does not apply to --model gan"),
        (&["--model", "seq2seq", "--generator", "mlp"][..], "--generator does not apply to --model seq2seq"),
        (&["--model", "gan", "--seq-len", "32"][..], "--seq-len does not apply to --model gan"),
        (&["--preset", "jsb-lstm", "--task", "continue"][..], "--task does not apply to sequence models"),
    ] {
        let mut all = vec!["train", "--data", path(&data), "--out", path(&out)];
        all.extend(args);
        let o = fugato(&all);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(stderr(&o).contains(flag), "{args:?}: {}", stderr(&o));
        assert!(!out.exists(), "{args:?}: nothing written");
    }
}

/// The GAN's resume once threw away the log lines of the epochs before it: trained for 2
/// epochs and resumed to 4, its log has 4 lines, epochs 1 to 4.
#[test]
fn a_resumed_gan_keeps_its_first_epochs_log_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("g");
    let data = testdata().join("midi");
    let small = ["--hidden", "16", "--layers", "1"];
    let mut args = vec!["train", "--model", "gan", "--data", path(&data), "--epochs", "2", "--batch", "8"];
    args.extend(small);
    args.extend(["--out", path(&run)]);
    let o = fugato(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = fugato(&["train", "--model", "gan", "--data", path(&data), "--resume", path(&run), "--epochs", "4"]);
    assert_eq!(o.status.code(), Some(1), "--model on a resumed run is a changed setting too");
    let o = fugato(&["train", "--data", path(&data), "--resume", path(&run), "--epochs", "4"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let epochs: Vec<u64> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["epoch"].as_u64().unwrap())
        .collect();
    assert_eq!(epochs, [1, 2, 3, 4]);
}

#[test]
fn generate_is_seeded_and_keeps_to_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let data = testdata().join("polyphonic/jsb_small.json");
    let o = fugato(&[
        "train",
        "--data",
        path(&data),
        "--out",
        path(&run),
        "--epochs",
        "1",
        "--hidden",
        "16",
        "--layers",
        "1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let generate = |name: &str, seed: &str, extra: &[&str]| {
        let out = tmp.path().join(name);
        let mut args = vec!["generate", "--checkpoint", path(&run), "--out", path(&out), "--bars", "4", "--seed", seed];
        args.extend(extra);
        let o = fugato(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        std::fs::read(out).unwrap()
    };
    assert_eq!(generate("a.mid", "7", &[]), generate("b.mid", "7", &[]));
    assert_ne!(generate("a.mid", "7", &[]), generate("c.mid", "8", &[]));
    // The output's folder is made when missing.
    assert_eq!(generate("new/folder/a.mid", "7", &[]), generate("a.mid", "7", &[]));

    generate("d.mid", "1", &["--key", "D:major", "--tempo", "100", "--instrument", "violin"]);
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&fugato(&["inspect", "--json", path(&tmp.path().join("d.mid"))]))).unwrap();
    let d_major = [2, 4, 6, 7, 9, 11, 1];
    let notes = v["notes"].as_array().unwrap();
    assert!(!notes.is_empty());
    for n in notes {
        assert!(d_major.contains(&(n["pitch"].as_u64().unwrap() % 12)), "{n}");
        assert_eq!(n["program"], 40);
    }
    assert_eq!(v["tempo_changes"][0]["bpm"], 100.0);

    let o = fugato(&["generate", "--checkpoint", path(&run), "--out", "x.mid", "--temperature=-1"]);
    assert!(stderr(&o).contains("--temperature must be"), "{}", stderr(&o));

    // --seconds: 10 s at 100 bpm is 17 quarter notes (16.7 rounded up).
    let timed = tmp.path().join("timed.mid");
    let o =
        fugato(&["generate", "--checkpoint", path(&run), "--out", path(&timed), "--seconds", "10", "--tempo", "100"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains(" 17 frames") || stdout(&o).contains("(17 frames"), "{}", stdout(&o));
    let o = fugato(&["generate", "--checkpoint", path(&run), "--out", "x.mid", "--seconds=-3"]);
    assert!(stderr(&o).contains("--seconds must be"), "{}", stderr(&o));
}

#[test]
fn demo_writes_the_same_midi_and_an_audible_wav() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for dir in [&a, &b] {
        let o = fugato(&["demo", "--out-dir", path(dir), "--bars", "4"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let mid = std::fs::read(a.join("fugato-demo.mid")).unwrap();
    assert_eq!(mid, std::fs::read(b.join("fugato-demo.mid")).unwrap());
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&fugato(&["inspect", "--json", path(&a.join("fugato-demo.mid"))]))).unwrap();
    assert!(v["n_notes"].as_u64().unwrap() > 10);
    let wav = std::fs::read(a.join("fugato-demo.wav")).unwrap();
    assert_eq!(&wav[..4], b"RIFF");
    // 16-bit samples after the 44-byte header: clearly above silence, below full scale.
    let samples: Vec<i16> = wav[44..].chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect();
    let rms = (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64).sqrt();
    assert!(rms > 1000.0, "rms {rms}");
    assert!(samples.iter().all(|&s| s.unsigned_abs() < 32767));
}

#[test]
fn render_writes_wav_and_refuses_bad_voices() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x.wav");
    let midi = testdata().join("midi/zuccal0_0698.mid");
    let o = fugato(&["render", path(&midi), "--out", path(&out), "--voice", "pluck", "--sample-rate", "22050"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let wav = std::fs::read(&out).unwrap();
    assert_eq!(u32::from_le_bytes(wav[24..28].try_into().unwrap()), 22050);
    let o = fugato(&["render", path(&midi), "--out", path(&out), "--voice", "kazoo"]);
    assert!(stderr(&o).contains("invalid value 'kazoo' for '--voice <VOICE>'"), "{}", stderr(&o));
    let o = fugato(&["generate", "--checkpoint", "no-such-model", "--out", path(&out)]);
    assert!(stderr(&o).contains("bundled: jsb-chorales"), "{}", stderr(&o));
}

#[test]
fn token_models_play_styles_and_keep_to_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("midi");
    for (folder, file) in [
        ("bach-chorales", "bwv66.6.mid"),
        ("bach-chorales", "bwv41.6.mid"),
        ("ryansMammoth", "WinnicksFavoriteJig_0001.mid"),
        ("ryansMammoth", "YellowStockingsJig_0001.mid"),
    ] {
        std::fs::create_dir_all(root.join(folder)).unwrap();
        std::fs::copy(testdata().join("midi").join(file), root.join(folder).join(file)).unwrap();
    }
    std::fs::write(
        root.join("ryansMammoth/manifest.csv"),
        "file,title,time_signature\nWinnicksFavoriteJig_0001.mid,Winnick's Favorite Jig,6/8\n\
         YellowStockingsJig_0001.mid,Yellow Stockings,6/8\n",
    )
    .unwrap();
    let (chorales, jigs) = (root.join("bach-chorales"), root.join("ryansMammoth"));
    let shards = tmp.path().join("shards");
    let o = fugato(&["prepare", path(&chorales), path(&jigs), "--repr", "melody", "--styles", "--out", path(&shards)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("styles chorale, jig"), "{}", stdout(&o));
    let run = tmp.path().join("run");
    let small = ["--epochs", "1", "--hidden", "16", "--layers", "1"];
    let o = fugato(&[&["train", "--data", path(&shards), "--out", path(&run)][..], &small].concat());
    assert!(o.status.success(), "{}", stderr(&o));

    let out = tmp.path().join("jig.mid");
    let wav = tmp.path().join("jig.wav");
    let o = fugato(&[
        "generate",
        "--checkpoint",
        path(&run),
        "--out",
        path(&out),
        "--wav",
        path(&wav),
        "--style",
        "jig",
        "--n",
        "2",
        "--bars",
        "2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).matches("style jig").count(), 2, "{}", stdout(&o));
    for name in ["jig-1.mid", "jig-2.mid", "jig-1.wav", "jig-2.wav"] {
        assert!(tmp.path().join(name).is_file(), "{name}");
    }
    let o = fugato(&["generate", "--checkpoint", path(&run), "--out", path(&out), "--style", "waltz"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("\"waltz\" is not one of this model's styles: chorale, jig"), "{}", stderr(&o));

    // --key for a REMI model: every new pitch in the scale.
    let remi = tmp.path().join("remi");
    let o = fugato(&["prepare", path(&chorales), "--repr", "remi", "--out", path(&remi)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = tmp.path().join("remi-run");
    let o = fugato(&[&["train", "--data", path(&remi), "--out", path(&run)][..], &small].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let keyed = tmp.path().join("keyed.mid");
    let o = fugato(&[
        "generate",
        "--checkpoint",
        path(&run),
        "--out",
        path(&keyed),
        "--steps",
        "600",
        "--key",
        "Eb:major",
        "--seed",
        "3",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&fugato(&["inspect", "--json", path(&keyed)]))).unwrap();
    let notes = v["notes"].as_array().unwrap();
    assert!(!notes.is_empty());
    let e_flat_major = [3, 5, 7, 8, 10, 0, 2];
    for n in notes {
        assert!(e_flat_major.contains(&(n["pitch"].as_u64().unwrap() % 12)), "{n}");
    }
}

/// The bundled multi-track model writes each part as a track; `--bars` counts REMI bars
/// and `--instrument` names an instrument per part.
#[test]
fn the_bundled_chorale_parts_come_out_as_tracks() {
    let tmp = tempfile::tempdir().unwrap();
    let generate = |name: &str| {
        let out = tmp.path().join(name);
        let args = ["generate", "--checkpoint", "chorale-parts", "--bars", "4", "--seed", "5", "--out", path(&out)];
        let o = fugato(&[&args[..], &["--instrument", "violin, viola, cello, contrabass"]].concat());
        assert!(o.status.success(), "{}", stderr(&o));
        out
    };
    let (a, b) = (generate("a.mid"), generate("b.mid"));
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let v: serde_json::Value = serde_json::from_str(&stdout(&fugato(&["inspect", "--json", path(&a)]))).unwrap();
    assert_eq!(v["end_time_s"].as_f64(), Some(8.0), "four bars of 4/4 at 120 bpm");
    let mut programs: Vec<(u64, u64)> = v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["track"].as_u64().unwrap(), n["program"].as_u64().unwrap()))
        .collect();
    programs.sort();
    programs.dedup();
    assert!(programs.len() >= 3, "parts: {programs:?}");
    for (i, (_, program)) in programs.iter().enumerate() {
        assert_eq!(*program, 40 + (i as u64).min(3), "part {i} of {programs:?}");
    }
}

/// The bundled harmoniser on a melody alone: the melody comes back note for note, with
/// three more voices; a non-harmoniser checkpoint is refused.
#[test]
fn harmonize_keeps_the_melody_and_adds_three_voices() {
    let tmp = tempfile::tempdir().unwrap();
    // A melody-only file: the jig's single part.
    let melody = testdata().join("midi/WinnicksFavoriteJig_0001.mid");
    let out = tmp.path().join("harmony.mid");
    let o = fugato(&["harmonize", path(&melody), "--out", path(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("melody kept"), "{}", stdout(&o));
    let input = fugato_midi::read_file(&melody, Default::default()).unwrap().score;
    let written = fugato_midi::read_file(&out, Default::default()).unwrap().score;
    let parts: Vec<_> = written.tracks.iter().filter(|t| !t.notes.is_empty()).collect();
    assert_eq!(parts.len(), 4);
    let original = input.tracks.iter().find(|t| !t.notes.is_empty()).unwrap();
    assert_eq!(parts[0].notes, original.notes);
    for (part, name) in parts[1..].iter().zip(["Alto", "Tenor", "Bass"]) {
        assert_eq!(part.name, name);
    }

    let o = fugato(&["harmonize", path(&melody), "--out", path(&out), "--checkpoint", "folk-melody"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("folk-melody: a sequence model, not an encoder–decoder"), "{}", stderr(&o));
    let o = fugato(&["harmonize", path(&testdata().join("midi/nope.mid")), "--out", path(&out)]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("nope.mid"), "{}", stderr(&o));
}

/// `similar` builds its index once, finds a transposed copy, and reuses the index.
#[test]
fn similar_finds_a_transposed_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("pieces");
    std::fs::create_dir(&folder).unwrap();
    for name in ["WinnicksFavoriteJig_0001.mid", "YellowStockingsJig_0001.mid", "zuccal0_0698.mid", "bwv41.6.mid"] {
        std::fs::copy(testdata().join("midi").join(name), folder.join(name)).unwrap();
    }
    let score = fugato_midi::read_file(&folder.join("zuccal0_0698.mid"), Default::default()).unwrap().score;
    let query = tmp.path().join("query.mid");
    fugato_midi::write_file(&score.transpose(-3).unwrap(), &query).unwrap();
    let o = fugato(&["similar", path(&query), "--index", path(&folder), "-k", "3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("4 pieces embedded"), "{}", stderr(&o));
    let first = stdout(&o).lines().next().unwrap_or_default().to_string();
    assert!(first.contains("zuccal0_0698.mid"), "{}", stdout(&o));
    assert_eq!(stdout(&o).lines().count(), 3);
    let o = fugato(&["similar", path(&query), "--index", path(&folder), "-k", "1"]);
    assert!(o.status.success());
    assert!(!stderr(&o).contains("embedded"), "the index is reused: {}", stderr(&o));
}

/// Over the shared chorales and folk tunes: a transposed copy of a piece finds the
/// original in its top 3. Skips where ../shared is absent.
#[test]
#[ignore = "reads ../shared/datasets/midi; run with --ignored"]
fn similar_on_the_corpus_finds_transposed_copies() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/midi");
    if !shared.is_dir() {
        eprintln!("skipped: {} is absent", shared.display());
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for collection in ["bach-chorales", "oneills1850"] {
        let folder = shared.join(collection);
        let index = tmp.path().join(format!("{collection}.index"));
        let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "mid"))
            .collect();
        files.sort();
        let (mut found, mut tried) = (0, 0);
        for (i, file) in files.iter().step_by(files.len() / 25).enumerate() {
            let score = fugato_midi::read_file(file, Default::default()).unwrap().score;
            let shift = [-6, -5, -3, -2, -1, 1, 2, 3, 4, 5][i % 10];
            let query = tmp.path().join("query.mid");
            fugato_midi::write_file(&score.transpose(shift).unwrap(), &query).unwrap();
            let o =
                fugato(&["similar", path(&query), "--index", path(&folder), "--index-file", path(&index), "-k", "3"]);
            assert!(o.status.success(), "{}", stderr(&o));
            let name = file.file_name().unwrap().to_str().unwrap();
            tried += 1;
            let hit = stdout(&o).lines().any(|l| l.ends_with(&format!("  {name}")));
            if !hit {
                println!("{name} moved {shift}:\n{}", stdout(&o));
            }
            found += usize::from(hit);
        }
        println!("{collection}: {found}/{tried} transposed copies found their original in the top 3");
        assert_eq!(found, tried, "{collection}");
    }
}

/// The bundled chorale GAN samples the same piece for the same seed and is measured
/// against a folder's segments.
#[test]
fn the_bundled_gan_generates_and_is_evaluated() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a.mid"), tmp.path().join("b.mid"));
    for out in [&a, &b] {
        let o = fugato(&["generate", "--checkpoint", "chorale-gan", "--seed", "2", "--bars", "8", "--out", path(out)]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap(), "seeded");
    let score = fugato_midi::read_file(&a, Default::default()).unwrap().score;
    assert!(score.n_notes() > 0);

    let folder = tmp.path().join("chorales");
    std::fs::create_dir(&folder).unwrap();
    for name in ["bwv29.8.mid", "bwv304.mid", "bwv37.6.mid"] {
        std::fs::copy(testdata().join("metrics").join(name), folder.join(name)).unwrap();
    }
    let o = fugato(&["evaluate", "--checkpoint", "chorale-gan", "--data", path(&folder), "--split", "train", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(report["corpus_segments"].as_u64().unwrap() > 0, "{report}");
    assert!(report["samples"]["pairwise_distance"].as_f64().unwrap() > 0.0, "not collapsed: {report}");
    assert!(report["corpus"]["polyphony"].as_f64().unwrap() > 2.0, "{report}");
}

/// A melody-token GAN trains from a folder of tunes (pretraining, then adversarial
/// epochs), writes one line, and is measured against the folder's top lines.
#[test]
fn a_melody_gan_trains_generates_and_is_evaluated() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("tunes");
    std::fs::create_dir(&folder).unwrap();
    // Four folk tunes: an adversarial epoch with --feedback costs half a second a batch.
    for name in ["FerryBridgeHornpipe_0001", "HangFireJig_0001", "altdeu10_0272", "zuccal0_0635"] {
        let file = format!("{name}.mid");
        std::fs::copy(testdata().join("metrics").join(&file), folder.join(&file)).unwrap();
    }
    let run = tmp.path().join("run");
    let o = fugato(&[
        "train",
        "--model",
        "gan",
        "--melody",
        "--chroma",
        "--feedback",
        "--pretrain",
        "1",
        "--epochs",
        "2",
        "--data",
        path(&folder),
        "--out",
        path(&run),
        "--batch",
        "4",
        "--hop",
        "16",
        "--hidden",
        "16",
        "--layers",
        "1",
        "--binary",
        "stochastic",
        "--sample-every",
        "2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(run.join("samples/epoch-002.mid").is_file());
    let out = tmp.path().join("tune.mid");
    let o = fugato(&[
        "generate",
        "--checkpoint",
        path(&run.join("best")),
        "--seed",
        "1",
        "--bars",
        "4",
        "--out",
        path(&out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let score = fugato_midi::read_file(&out, Default::default()).unwrap().score;
    let notes: Vec<_> = score.tracks.iter().flat_map(|t| &t.notes).collect();
    assert!(notes.windows(2).all(|w| w[0].end_tick <= w[1].start_tick), "one line");
    // The file holds the sampled tokens read as a melody (read as a piano-roll, HOLD and
    // REST would be notes at A0 and A#0, and a repeated note one long one).
    let device = fugato_nn::default_device();
    let ckpt = fugato_nn::gan::train::load(&run.join("best"), &device).unwrap();
    let how = ckpt.meta.train.binary.binarize();
    let frames = fugato_nn::gan::train::sample(&ckpt.gan.generator, 1, 1, None, how, &device);
    let want = fugato_nn::gan::train::score_of(&frames.concat(), true).unwrap();
    let pitches = |notes: Vec<&fugato_score::Note>| notes.iter().map(|n| n.pitch.get()).collect::<Vec<_>>();
    assert_eq!(pitches(notes.clone()), pitches(want.tracks.iter().flat_map(|t| &t.notes).collect()));
    let o = fugato(&[
        "evaluate",
        "--checkpoint",
        path(&run.join("best")),
        "--data",
        path(&folder),
        "--split",
        "train",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(report["corpus"]["polyphony"].as_f64(), Some(1.0), "top lines: {report}");

    let o = fugato(&[
        "train",
        "--model",
        "gan",
        "--pretrain",
        "1",
        "--data",
        path(&folder),
        "--out",
        path(&tmp.path().join("r2")),
    ]);
    assert!(!o.status.success() && stderr(&o).contains("feedback"), "{}", stderr(&o));
}

#[test]
fn the_bundled_continuation_extends_a_tune() {
    let tmp = tempfile::tempdir().unwrap();
    let primer = testdata().join("metrics/HangFireJig_0001.mid");
    let generate = |name: &str| {
        let out = tmp.path().join(name);
        let args = ["generate", "--checkpoint", "folk-continuation", "--primer", path(&primer), "--out", path(&out)];
        let o = fugato(&[&args[..], &["--seed", "3"]].concat());
        assert!(o.status.success(), "{}", stderr(&o));
        out
    };
    let (a, b) = (generate("a.mid"), generate("b.mid"));
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let notes = |p: &Path| -> usize {
        let v: serde_json::Value = serde_json::from_str(&stdout(&fugato(&["inspect", "--json", path(p)]))).unwrap();
        v["notes"].as_array().unwrap().len()
    };
    assert!(notes(&a) > notes(&primer), "{} notes after a primer of {}", notes(&a), notes(&primer));
    // evaluate draws bars 5-8 of the folder's validation tunes (the split goes by file
    // name: of twenty copies of the jig, some land in it).
    let folder = tmp.path().join("tunes");
    std::fs::create_dir(&folder).unwrap();
    for i in 0..20 {
        std::fs::copy(&primer, folder.join(format!("tune-{i:02}.mid"))).unwrap();
    }
    let o = fugato(&["evaluate", "--checkpoint", "folk-continuation", "--data", path(&folder), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(report["tunes"].as_u64().unwrap() >= 1, "{report}");
    let (drawn, real) = (&report["generated"], &report["real"]);
    assert!(drawn["notes"].as_f64().unwrap() > 0.0 && real["notes"].as_f64().unwrap() > 0.0, "{report}");
    assert!((0.0..=1.0).contains(&report["step_agreement"].as_f64().unwrap()), "{report}");
}

/// A chorale and a jig, each ranked by the styles model: their own style first; a folder
/// gives each file's best style; a model without styles is refused.
#[test]
fn classify_ranks_a_pieces_own_style_first() {
    let o = fugato(&["classify", "--json", path(&testdata().join("midi/YellowStockingsJig_0001.mid"))]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ranking: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(ranking[0]["style"], "jig", "{ranking}");
    assert_eq!(ranking.as_array().unwrap().len(), 7);
    assert!(ranking[0]["log_likelihood"].as_f64().unwrap() > ranking[1]["log_likelihood"].as_f64().unwrap());
    let o = fugato(&["classify", path(&testdata().join("midi/bwv66.6.mid"))]);
    assert!(stdout(&o).starts_with("chorale"), "{}", stdout(&o));
    let o = fugato(&["classify", "--json", path(&testdata().join("midi"))]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(v["files"].as_array().unwrap().len() >= 2);
    assert!(v["accuracy"].is_null(), "testdata's own folder names no style the model knows");
    let o = fugato(&["classify", "--checkpoint", "jsb-chorales", path(&testdata().join("midi/bwv66.6.mid"))]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("without styles"), "{}", stderr(&o));
}

#[test]
fn infill_rewrites_the_bars_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("new.mid");
    let tune = testdata().join("midi/YellowStockingsJig_0001.mid");
    let o = fugato(&["infill", path(&tune), "--bars", "3-4", "--out", path(&out), "--seed", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("bars 3-4 rewritten"), "{}", stdout(&o));
    assert!(out.is_file());
    let o = fugato(&["infill", path(&tune), "--bars", "4-3", "--out", path(&out)]);
    assert!(stderr(&o).contains("--bars"), "{}", stderr(&o));
    let chorale = testdata().join("midi/bwv66.6.mid");
    let o = fugato(&["infill", path(&chorale), "--bars", "2", "--out", path(&dir.path().join("x.mid"))]);
    assert!(stderr(&o).contains("one-part"), "{}", stderr(&o));
    assert!(!dir.path().join("x.mid").exists());
}

/// A Transformer trains on a MIDI folder of chorales (REMI), writes the same bytes for
/// the same seed, and is scored on every file of a MIDI folder with `--split all` —
/// prepared on the fly, nothing written into the folder; a folder with no readable MIDI
/// is refused by name.
#[test]
fn a_transformer_trains_generates_and_scores_a_midi_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let chorales = tmp.path().join("bach-chorales");
    std::fs::create_dir_all(&chorales).unwrap();
    for file in ["bwv66.6.mid", "bwv41.6.mid", "bwv248.23-2.mid"] {
        std::fs::copy(testdata().join("midi").join(file), chorales.join(file)).unwrap();
    }
    let listing = |dir: &Path| {
        let mut names: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        names
    };
    let before = listing(&chorales);
    let run = tmp.path().join("run");
    let small = ["--model", "transformer", "--repr", "remi", "--epochs", "1", "--hidden", "16", "--layers", "1"];
    let o = fugato(&[&["train", "--data", path(&chorales), "--out", path(&run)][..], &small].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("Transformer 1×16"), "{}", stderr(&o));

    let generate = |name: &str| {
        let out = tmp.path().join(name);
        let o = fugato(&["generate", "--checkpoint", path(&run), "--bars", "2", "--seed", "4", "--out", path(&out)]);
        assert!(o.status.success(), "{}", stderr(&o));
        std::fs::read(out).unwrap()
    };
    assert_eq!(generate("a.mid"), generate("b.mid"));

    let o = fugato(&["evaluate", "--checkpoint", path(&run), "--data", path(&chorales), "--split", "all", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["split"], "all");
    let one =
        fugato(&["evaluate", "--checkpoint", path(&run), "--data", path(&chorales), "--split", "train", "--json"]);
    let one: serde_json::Value = serde_json::from_str(&stdout(&one)).unwrap();
    assert!(v["frames"].as_u64().unwrap() >= one["frames"].as_u64().unwrap(), "{v} vs {one}");
    assert!(v["nll"].as_f64().unwrap().is_finite() && v["perplexity"].as_f64().unwrap() > 1.0, "{v}");
    assert_eq!(listing(&chorales), before, "nothing written into the MIDI folder");

    let empty = tmp.path().join("no-midi");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("notes.txt"), "not music").unwrap();
    let o = fugato(&["evaluate", "--checkpoint", path(&run), "--data", path(&empty), "--split", "all"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("no-midi"), "the folder is named: {}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
}
