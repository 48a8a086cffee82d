//! `fugato play` end to end: a null sink with a recording, control changes by bar, and
//! clear errors where no MIDI port or sound device exists.

use std::path::Path;
use std::process::{Command, Output};

fn fugato(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fugato")).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn read(path: &Path) -> fugato_score::Score {
    fugato_midi::read_file(path, Default::default()).unwrap().score
}

#[test]
fn eight_bars_into_a_null_sink_are_recorded_the_same_for_the_same_seed() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, fast: bool| {
        let out = dir.path().join(name);
        let mut args = vec!["play", "--bars", "8", "--midi-out", "none", "--seed", "2", "--tempo", "400"];
        args.extend(["--record", out.to_str().unwrap()]);
        if fast {
            args.push("--fast");
        }
        let o = fugato(&args);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert!(text(&o.stdout).contains("bar    8 at"), "{}", text(&o.stdout));
        std::fs::read(out).unwrap()
    };
    // In real time (8 bars at 400 bpm: 4.8 s) and as fast as it goes: the same notes.
    let (live, fast) = (run("live.mid", false), run("fast.mid", true));
    assert_eq!(live, fast);
    let score = read(&dir.path().join("live.mid"));
    assert!(score.n_notes() > 0);
    assert_eq!(score.end_tick, 8 * 4 * u64::from(score.ticks_per_quarter()));
}

#[test]
fn control_lines_change_the_key_from_their_bar_and_bad_lines_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let controls = dir.path().join("controls.txt");
    std::fs::write(&controls, "@5 key=Bb:major\n@5 tempo=very fast\nnonsense\n").unwrap();
    let out = dir.path().join("out.mid");
    let o = fugato(&[
        "play",
        "--bars",
        "8",
        "--midi-out",
        "none",
        "--fast",
        "--seed",
        "2",
        "--key",
        "D:major",
        "--control",
        controls.to_str().unwrap(),
        "--record",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let (stdout, stderr) = (text(&o.stdout), text(&o.stderr));
    assert!(stdout.contains("bar    4 at") && stdout.lines().nth(3).unwrap().contains("key D"), "{stdout}");
    assert!(stdout.lines().nth(4).unwrap().contains("key Bb"), "{stdout}");
    assert!(stderr.contains("control line 2") && stderr.contains("tempo"), "{stderr}");
    assert!(stderr.contains("control line 3") && stderr.contains("name=value"), "{stderr}");
    let score = read(&out);
    let per_bar = 4 * u64::from(score.ticks_per_quarter());
    let (d, bb) = ([2, 4, 6, 7, 9, 11, 1], [10, 0, 2, 3, 5, 7, 9]);
    for note in score.tracks.iter().flat_map(|t| &t.notes) {
        let scale = if note.start_tick < 4 * per_bar { &d } else { &bb };
        assert!(scale.contains(&(note.pitch.get() % 12)), "{note:?} outside its bar's key");
    }
    assert_eq!(score.key_signatures.len(), 2);
}

#[test]
fn no_sink_or_device_gives_a_clear_error() {
    // No sink asked for: the first MIDI port, and where there is none (or no MIDI at all),
    // an error that says so and how to play without one.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mid");
    let o = fugato(&["play", "--bars", "8", "--record", out.to_str().unwrap()]);
    if o.status.success() {
        assert!(out.is_file(), "a MIDI port here: played and recorded");
    } else {
        let stderr = text(&o.stderr);
        assert!(stderr.contains("--midi-out none") && stderr.contains("MIDI"), "{stderr}");
        assert!(!out.exists(), "nothing played, nothing recorded");
    }
    let o = fugato(&["play", "--bars", "2", "--midi-out", "none", "--key", "H:major"]);
    assert!(text(&o.stderr).contains("--key"), "{}", text(&o.stderr));
    let o = fugato(&["play", "--bars", "2", "--midi-out", "synth", "--fast"]);
    assert!(text(&o.stderr).contains("--fast"), "{}", text(&o.stderr));
}

/// A MIDI port: where an ALSA sequencer exists (and fugato was built with `devices`), play
/// into its first port; elsewhere the error names what is missing, and the test says
/// "skipped" with the reason.
#[test]
fn a_midi_port_plays_or_the_error_names_what_is_missing() {
    let o = fugato(&["play", "--list-ports"]);
    let stderr = text(&o.stderr);
    if !o.status.success() {
        let missing = ["built without MIDI ports", "no MIDI system"];
        assert!(missing.iter().any(|m| stderr.contains(m)), "{stderr}");
        eprintln!("skipped: no MIDI output here ({})", stderr.lines().last().unwrap_or_default());
        return;
    }
    let ports = text(&o.stdout);
    let Some(port) = ports.lines().next().filter(|p| !p.starts_with("no MIDI")) else {
        eprintln!("skipped: the ALSA sequencer has no output port");
        return;
    };
    let o = fugato(&["play", "--bars", "2", "--tempo", "400", "--midi-out", port]);
    assert!(o.status.success(), "{}", text(&o.stderr));
}

/// The speakers: where a sound device exists, play two bars; elsewhere a clear error.
#[test]
fn audio_plays_or_the_error_names_what_is_missing() {
    let o = fugato(&["play", "--bars", "2", "--tempo", "400", "--audio"]);
    if o.status.success() {
        return;
    }
    let stderr = text(&o.stderr);
    let missing = ["built without MIDI ports and audio", "no audio output device", "audio output"];
    assert!(missing.iter().any(|m| stderr.contains(m)), "{stderr}");
    eprintln!("skipped: no sound device here ({})", stderr.lines().last().unwrap_or_default());
}

/// `jam` listens to a MIDI input port: where none can exist here, the error names what is
/// missing (the answering and harmonising themselves are tested in `fugato_nn::jam`).
#[test]
fn jam_without_a_midi_input_names_what_is_missing() {
    let o = fugato(&["jam", "--midi-in", "keyboard", "--midi-out", "none", "--answer"]);
    let stderr = text(&o.stderr);
    if o.status.success() {
        return;
    }
    let missing = ["built without MIDI ports", "no MIDI system", "no MIDI input port"];
    assert!(missing.iter().any(|m| stderr.contains(m)), "{stderr}");
    eprintln!("skipped: no MIDI input here ({})", stderr.lines().last().unwrap_or_default());
    let o = fugato(&["jam", "--midi-in", "keyboard", "--midi-out", "none"]);
    assert!(text(&o.stderr).contains("--answer"), "{}", text(&o.stderr));
}
