//! The bundled models' music for fixed seeds, byte for byte: what `generate`, `harmonize`
//! and `demo` write must not change when the code around the models is reorganised. The
//! expected files in `testdata/golden/` were written by the commands below on commit
//! 1469994 (before the crates were split); `FUGATO_BLESS=1` rewrites them after a change
//! that is meant to alter the music (say why in the commit).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `fugato` with `args` (`{out}` stands for the output file) and compares the file it
/// writes with `testdata/golden/NAME`.
fn check(name: &str, args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(name);
    let args: Vec<String> = args.iter().map(|a| a.replace("{out}", out.to_str().unwrap())).collect();
    let o = Command::new(env!("CARGO_BIN_EXE_fugato")).args(&args).current_dir(root()).output().unwrap();
    assert!(o.status.success(), "fugato {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    let written = std::fs::read(&out).unwrap();
    let golden = root().join("testdata/golden").join(name);
    if std::env::var_os("FUGATO_BLESS").is_some() {
        std::fs::write(&golden, &written).unwrap();
        return;
    }
    let expected = std::fs::read(&golden).unwrap_or_else(|e| panic!("{}: {e}", golden.display()));
    assert!(written == expected, "fugato {args:?} wrote other bytes than {}", golden.display());
}

#[test]
fn jsb_chorales_writes_the_same_chorale() {
    check(
        "jsb-chorales.mid",
        &["generate", "--checkpoint", "jsb-chorales", "--bars", "4", "--seed", "7", "--out", "{out}"],
    );
}

#[test]
fn folk_melody_writes_the_same_tune() {
    let args = ["generate", "--checkpoint", "folk-melody", "--bars", "8", "--seed", "2", "--key", "D:major"];
    check("folk-melody.mid", &[&args[..], &["--out", "{out}"]].concat());
}

#[test]
fn styles_melody_writes_the_same_jig() {
    let args = ["generate", "--checkpoint", "styles-melody", "--style", "jig", "--bars", "8", "--seed", "3"];
    check("styles-melody.mid", &[&args[..], &["--temperature", "0.8", "--out", "{out}"]].concat());
}

#[test]
fn chorale_parts_writes_the_same_quartet() {
    let args = ["generate", "--checkpoint", "chorale-parts", "--bars", "2", "--seed", "7", "--top-k", "8"];
    check("chorale-parts.mid", &[&args[..], &["--out", "{out}"]].concat());
}

#[test]
fn chorale_transformer_writes_the_same_quartet() {
    let args = ["generate", "--checkpoint", "chorale-transformer", "--bars", "2", "--seed", "7", "--top-k", "8"];
    check("chorale-transformer.mid", &[&args[..], &["--out", "{out}"]].concat());
}

#[test]
fn chorale_gan_writes_the_same_segments_and_interpolation() {
    check(
        "chorale-gan.mid",
        &["generate", "--checkpoint", "chorale-gan", "--bars", "8", "--seed", "3", "--out", "{out}"],
    );
    let args = ["generate", "--checkpoint", "chorale-gan", "--seed", "3", "--interpolate", "3", "--out", "{out}"];
    check("chorale-gan-interpolated.mid", &args);
}

#[test]
fn chorale_harmonizer_writes_the_same_voices() {
    let melody = "testdata/midi/WinnicksFavoriteJig_0001.mid";
    check("chorale-harmonizer.mid", &["harmonize", melody, "--out", "{out}"]);
    check(
        "chorale-harmonizer-sampled.mid",
        &["harmonize", melody, "--temperature", "0.7", "--seed", "2", "--out", "{out}"],
    );
}

#[test]
fn folk_continuation_writes_the_same_bars() {
    let primer = "testdata/midi/YellowStockingsJig_0001.mid";
    let args = ["generate", "--checkpoint", "folk-continuation", "--primer", primer, "--bars", "4", "--seed", "5"];
    check("folk-continuation.mid", &[&args[..], &["--temperature", "0.8", "--out", "{out}"]].concat());
}

#[test]
fn demo_writes_the_same_midi_and_wav() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_fugato"))
        .args(["demo", "--seed", "4", "--bars", "2", "--out-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The MIDI file itself; the WAV (a megabyte) by its FNV-1a hash.
    let midi = std::fs::read(dir.path().join("fugato-demo.mid")).unwrap();
    let wav = format!("{:016x}\n", fnv1a(&std::fs::read(dir.path().join("fugato-demo.wav")).unwrap()));
    let golden = root().join("testdata/golden");
    if std::env::var_os("FUGATO_BLESS").is_some() {
        std::fs::write(golden.join("fugato-demo.mid"), &midi).unwrap();
        std::fs::write(golden.join("fugato-demo.wav.fnv"), &wav).unwrap();
        return;
    }
    assert!(midi == std::fs::read(golden.join("fugato-demo.mid")).unwrap(), "the demo wrote another MIDI file");
    assert_eq!(wav, std::fs::read_to_string(golden.join("fugato-demo.wav.fnv")).unwrap(), "the demo's WAV differs");
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}
