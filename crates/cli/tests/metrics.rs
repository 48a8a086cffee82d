//! `fugato metrics` against MusPy's own figures, and its set, reference and report modes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fugato(args: &[&str]) -> Output {
    // Paths in the golden file are relative to the repository root.
    Command::new(env!("CARGO_BIN_EXE_fugato")).current_dir(repo()).args(args).output().unwrap()
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Golden values: testdata/metrics/muspy.json, made by `scripts/muspy-golden` with muspy
/// 0.5.0 (mido backend) on the 22 files of testdata/midi and testdata/metrics.
#[test]
fn every_muspy_metric_matches_muspy_on_22_files() {
    let golden: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("testdata/metrics/muspy.json")).unwrap()).unwrap();
    let files = golden["files"].as_object().unwrap();
    assert!(files.len() >= 20);
    let mut checked = 0;
    for (file, expected) in files {
        let got = json(&fugato(&["metrics", "--json", file]));
        for (metric, want) in expected.as_object().unwrap() {
            let have = &got[metric];
            match (want.as_f64(), have.as_f64()) {
                (None, None) => assert!(want.is_null() && have.is_null(), "{file} {metric}: {want} vs {have}"),
                (Some(w), Some(h)) => assert!((w - h).abs() <= 1e-6, "{file} {metric}: muspy {w}, fugato {h}"),
                _ => panic!("{file} {metric}: muspy {want}, fugato {have}"),
            }
            checked += 1;
        }
    }
    assert_eq!(checked, files.len() * 14);
}

#[test]
fn drums_count_only_in_drum_metrics() {
    let v = json(&fugato(&["metrics", "--json", "testdata/metrics/drums_and_bass.mid"]));
    // One snare of 16 is pushed off the grid by 8 ticks at 96 per quarter.
    assert!(v["drum_in_pattern_rate"].as_f64().unwrap() < 1.0);
    assert!(v["drum_pattern_consistency"].as_f64().unwrap() > 0.9);
    assert!(v["tonal_distance"].as_f64().unwrap() >= 0.0);
    assert_eq!(v["features"]["pitch_class_histogram"].as_array().unwrap().len(), 12);
}

#[test]
fn a_folder_against_a_reference_with_a_report() {
    let out = tempfile::tempdir().unwrap();
    let report = out.path().join("report");
    let v = json(&fugato(&[
        "metrics",
        "testdata/metrics",
        "--reference",
        "testdata/midi",
        "--json",
        "--report",
        report.to_str().unwrap(),
    ]));
    assert_eq!(v["files"].as_array().unwrap().len(), 14);
    assert_eq!(v["reference"]["files"], 8);
    let polyphony = &v["summary"]["polyphony"];
    assert!(polyphony["mean"].as_f64().unwrap() > 1.0 && polyphony["n"] == 14);
    let comparison = v["comparison"].as_array().unwrap();
    assert_eq!(comparison.len(), 6);
    for c in comparison {
        let overlap = c["overlap"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&overlap), "{c}");
    }
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(md.contains("| polyphony |") && md.contains("pitch_class_histogram"), "{md}");
    assert!(md.contains("| voice_crossings_per_100_beats |"), "{md}");
    for png in ["pitch_classes.png", "piano_roll.png", "metric_polyphony.png"] {
        let bytes = std::fs::read(report.join(png)).unwrap();
        assert_eq!(&bytes[1..4], b"PNG", "{png}");
    }
}

#[test]
fn voice_leading_of_part_writing_and_none_for_a_tune() {
    let v = json(&fugato(&["metrics", "--json", "testdata/midi/bwv66.6.mid"]));
    let vl = &v["voice_leading"];
    for name in ["parallel_fifths", "parallel_octaves", "voice_crossings", "wide_spacings", "out_of_range"] {
        let rate = vl[name].as_f64().unwrap_or_else(|| panic!("{name}: {vl}"));
        // Bach avoids every one of these; a few per hundred beats at most.
        assert!((0.0..10.0).contains(&rate), "{name}: {rate}");
    }
    // A one-part tune has no voice leading: null, not zero.
    let v = json(&fugato(&["metrics", "--json", "testdata/midi/WinnicksFavoriteJig_0001.mid"]));
    assert!(v["voice_leading"]["parallel_fifths"].is_null(), "{v}");
}

#[test]
fn text_output_names_every_metric() {
    let o = fugato(&["metrics", "testdata/midi/bwv66.6.mid"]);
    let text = String::from_utf8_lossy(&o.stdout);
    for name in [
        "pitch_class_entropy",
        "groove_consistency",
        "qualified_note_rate",
        "empty_measure_rate",
        "parallel_fifths_per_100_beats",
        "out_of_range_per_100_beats",
    ] {
        assert!(text.contains(name), "{text}");
    }
}

#[test]
fn missing_and_unreadable_files_are_named() {
    let o = fugato(&["metrics", "no/such.mid"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no/such.mid: no such file"));
    let o = fugato(&["metrics", "testdata/polyphonic/jsb_small.json"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("jsb_small.json"), "{}", String::from_utf8_lossy(&o.stderr));
}
