//! Hostile input through the `fugato` binary: each test is one finding of the issue
//! "Hostile input" and failed before its fix. Commands run under a 4 GB address-space cap
//! and a 60 s timeout, and must answer with a result or one clear line — never an abort,
//! a panic or a hang.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata").join(name)
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `fugato ARGS` under `ulimit -v 4000000` (4 GB) and `timeout 60`.
fn capped(args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -v 4000000; exec timeout 60 "$0" "$@""#)
        .arg(env!("CARGO_BIN_EXE_fugato"))
        .args(args)
        .output()
        .unwrap()
}

fn fugato(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fugato")).args(args).output().unwrap()
}

/// Exit 1 with one line that names `file` and says `what`: a refusal, not a crash.
fn refused(o: &Output, file: &str, what: &str, args: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(err.contains(file) && err.contains(what), "{args:?}: {err}");
}

/// The issue's 37-byte file (one note whose delta time is the largest a VLQ holds, at
/// division 1) once made every command allocate 25 GB and abort: each refuses it, naming
/// the file and the limit that stops it, and the flag that raises it.
#[test]
fn a_37_byte_file_is_refused_by_every_command_that_reads_it() {
    let file = testdata("hostile/huge-delta.mid");
    let tmp = tempfile::tempdir().unwrap();
    let out = |name: &str| tmp.path().join(name).to_str().unwrap().to_string();
    let (json, mid, wav) = (out("x.json"), out("x.mid"), out("x.wav"));
    let commands: Vec<Vec<&str>> = vec![
        vec!["inspect", path(&file)],
        vec!["convert", path(&file), &json],
        vec!["metrics", path(&file)],
        vec!["harmonize", path(&file), "--out", &mid],
        vec!["generate", "--checkpoint", "jsb-chorales", "--primer", path(&file), "--out", &mid],
        vec!["generate", "--checkpoint", "chorale-parts", "--primer", path(&file), "--out", &mid],
        vec!["render", path(&file), "--out", &wav],
    ];
    for args in commands {
        let o = capped(&args);
        refused(&o, "huge-delta.mid", "over the limit of 1000000 (--max-quarters raises it)", &args);
    }
    assert!(!Path::new(&json).exists() && !Path::new(&mid).exists() && !Path::new(&wav).exists());
    // Raising the limit past what a grid holds: each grid refuses it before allocating.
    for args in [
        vec!["--max-quarters", "1000000000", "--max-seconds", "1000000000", "convert", path(&file), &json],
        vec!["--max-quarters", "1000000000", "--max-seconds", "1000000000", "harmonize", path(&file), "--out", &mid],
    ] {
        let o = capped(&args);
        refused(&o, "", "too long to lay on a grid", &args);
    }
}

/// A folder with the hostile file among good ones: `prepare`, `similar` and `metrics`
/// skip it with a warning and go on (`prepare` once wrote a 1.2 GB shard).
#[test]
fn folder_commands_skip_a_hostile_file_and_go_on() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("music");
    std::fs::create_dir(&folder).unwrap();
    for name in ["bwv66.6.mid", "WinnicksFavoriteJig_0001.mid"] {
        std::fs::copy(testdata("midi").join(name), folder.join(name)).unwrap();
    }
    std::fs::copy(testdata("hostile/huge-delta.mid"), folder.join("huge-delta.mid")).unwrap();
    let shards = tmp.path().join("shards");
    let o = capped(&["prepare", path(&folder), "--repr", "pianoroll", "--out", path(&shards)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let meta = std::fs::read_to_string(shards.join("meta.json")).unwrap();
    assert!(meta.contains("huge-delta.mid") && meta.contains("--max-quarters"), "listed as skipped: {meta}");
    let size: u64 = std::fs::read_dir(&shards).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum();
    assert!(size < 1 << 20, "{size} bytes of shards");

    let index = tmp.path().join("index");
    let query = testdata("midi/bwv66.6.mid");
    let o = capped(&["similar", path(&query), "--index", path(&folder), "--index-file", path(&index), "-k", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("bwv66.6.mid"));
    assert!(stderr(&o).contains("1 skipped"), "{}", stderr(&o));

    let o = capped(&["metrics", path(&folder)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("1 unreadable"), "{}", String::from_utf8_lossy(&o.stdout));
}

/// `--primer /dev/zero` once read until memory ran out: at most the byte limit is read.
#[test]
fn a_primer_that_never_ends_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x.mid");
    let start = Instant::now();
    let args = ["--max-bytes", "1000000", "generate", "--checkpoint", "jsb-chorales", "--primer", "/dev/zero"];
    let o = capped(&[&args[..], &["--out", path(&out)]].concat());
    refused(&o, "/dev/zero", "over the limit of 1000000 (--max-bytes raises it)", &args);
    assert!(start.elapsed() < Duration::from_secs(20));
}

/// A melody whose notes are shorter than a sixteenth once panicked `harmonize`.
#[test]
fn a_melody_shorter_than_a_sixteenth_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("h.mid");
    let melody = testdata("hostile/short-notes.mid");
    let args = ["harmonize", path(&melody), "--out", path(&out)];
    let o = capped(&args);
    refused(&o, "short-notes.mid", "shorter than one sixteenth note", &args);
    assert!(!out.exists());
}

/// `--out` onto a FIFO or a character device once replaced it with a regular file (as root,
/// `--out /dev/full` replaced the device): they are written in place and stay what they
/// were; a symbolic link is followed, not replaced.
#[test]
fn out_onto_a_fifo_a_device_or_a_link_leaves_it_what_it_was() {
    use std::os::unix::fs::FileTypeExt;
    let tmp = tempfile::tempdir().unwrap();
    let input = testdata("midi/bwv66.6.mid");

    let fifo = tmp.path().join("fifo.mid");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    let o = fugato(&["convert", path(&input), path(&fifo)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(&reader.join().unwrap()[..4], b"MThd", "the MIDI went through the FIFO");
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "still a FIFO");

    // A device node of our own (the null device's numbers), where this user may make one.
    let null = tmp.path().join("null.mid");
    if Command::new("mknod").arg(&null).args(["c", "1", "3"]).status().is_ok_and(|s| s.success()) {
        let o = fugato(&["convert", path(&input), path(&null)]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(std::fs::symlink_metadata(&null).unwrap().file_type().is_char_device(), "still a device");
    }

    let real = tmp.path().join("real.mid");
    let link = tmp.path().join("link.mid");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let o = fugato(&["convert", path(&input), path(&link)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "still a link");
    assert_eq!(&std::fs::read(&real).unwrap()[..4], b"MThd", "the file it names is written");
}

/// Two `train --out DIR` at once both ran, their log lines interleaved: the second is
/// refused, naming the first's process; the lock goes with the process that held it.
#[test]
fn a_second_training_in_a_run_folder_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let data = testdata("polyphonic/jsb_small.json");
    let args = [
        "train",
        "--data",
        path(&data),
        "--hidden",
        "64",
        "--layers",
        "2",
        "--batch",
        "2",
        "--epochs",
        "100000",
        "--patience",
        "100000",
    ];
    let mut first = Command::new(env!("CARGO_BIN_EXE_fugato"))
        .args(args)
        .args(["--out", path(&run)])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = run.join(".lock");
    let start = Instant::now();
    while !std::fs::read_to_string(&lock).is_ok_and(|t| t.ends_with('\n')) {
        assert!(start.elapsed() < Duration::from_secs(30), "the first run never took its lock");
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = fugato(&["train", "--data", path(&data), "--resume", path(&run)]);
    let holder = format!("(process {})", first.id());
    refused(&o, "run", &holder, &["train", "--resume"]);
    // Killed before it wrote its settings, a run has nothing to resume from: wait for them.
    while !run.join("run.json").is_file() {
        assert!(start.elapsed() < Duration::from_secs(30), "the first run never wrote its settings");
        std::thread::sleep(Duration::from_millis(20));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    // The killed run's lock is gone with it: --resume continues the run.
    let o = fugato(&["train", "--data", path(&data), "--resume", path(&run), "--epochs", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// A kill during the first write of `latest/` once left a run no `--resume` could
/// continue; `--resume` took a missing or another run's optimizer state in silence.
#[test]
fn resume_works_from_any_kill_and_checks_the_optimizer_state() {
    let tmp = tempfile::tempdir().unwrap();
    let data = testdata("polyphonic/jsb_small.json");
    let train = |run: &Path, epochs: &str| {
        let args =
            ["train", "--data", path(&data), "--hidden", "16", "--layers", "1", "--batch", "4", "--seq-len", "16"];
        let o = fugato(&[&args[..], &["--epochs", epochs, "--out", path(run)]].concat());
        assert!(o.status.success(), "{}", stderr(&o));
    };
    let resume =
        |run: &Path, epochs: &str| fugato(&["train", "--data", path(&data), "--resume", path(run), "--epochs", epochs]);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    train(&a, "1");
    train(&b, "1");

    // Killed before any checkpoint was whole: only the settings the run started with.
    std::fs::remove_dir_all(a.join("latest")).unwrap();
    std::fs::remove_dir_all(a.join("best")).unwrap();
    std::fs::write(a.join("metrics.jsonl"), "").unwrap();
    let o = resume(&a, "2");
    assert!(o.status.success(), "{}", stderr(&o));
    let lines = std::fs::read_to_string(a.join("metrics.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 2, "{lines}");

    // Another run's optimizer state in latest/.
    std::fs::copy(b.join("latest/optimizer.bpk"), a.join("latest/optimizer.bpk")).unwrap();
    let o = resume(&a, "3");
    refused(&o, "optimizer.bpk", "not the optimizer state written with this checkpoint", &["resume"]);
    // None at all.
    std::fs::remove_file(a.join("latest/optimizer.bpk")).unwrap();
    let o = resume(&a, "3");
    refused(&o, "optimizer.bpk", "the optimizer state is missing", &["resume"]);
}

/// An edited `checkpoint.json` once panicked, allocated gigabytes or was accepted in
/// silence: each edit is refused, naming the file and the value.
#[test]
fn edited_checkpoints_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/jsb-chorales");
    let text = std::fs::read_to_string(model.join("checkpoint.json")).unwrap();
    let edits: [(&str, &str, &str, &str); 4] = [
        ("\"layers\": 1,", "\"layers\": 1000000,", "layers must be 1..=64", "layers"),
        ("\"hidden\": 256", "\"hidden\": 100000000", "hidden must be 1..=8192", "hidden"),
        (
            "\"steps_per_quarter\": null",
            "\"steps_per_quarter\": 1000000000",
            "steps_per_quarter must be 1..=960",
            "spq",
        ),
        ("\"repr\": \"pianoroll\"", "\"repr\": \"remi\"", "reads piano-roll frames", "repr"),
    ];
    for (from, to, why, name) in edits {
        assert!(text.contains(from), "{from} not in the bundled checkpoint.json");
        let dir = tmp.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        std::fs::copy(model.join("model.bpk"), dir.join("model.bpk")).unwrap();
        std::fs::write(dir.join("checkpoint.json"), text.replacen(from, to, 1)).unwrap();
        let out = tmp.path().join("x.mid");
        let args = ["generate", "--checkpoint", path(&dir), "--out", path(&out), "--bars", "1"];
        let o = capped(&args);
        refused(&o, "checkpoint.json", why, &args);
    }
}
