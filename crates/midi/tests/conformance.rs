//! The reader against reference listings (mido 1.3.3 + pretty_midi 0.2.11.post0, made by
//! the dataset's maintainers; see ../shared/datasets/midi/README.md), the edge cases, and
//! MIDI → Score → MIDI round trips.
//!
//! Files in testdata/ always run. The whole shared corpus runs with `--ignored` and skips
//! (passing) where ../shared is absent.

use std::path::{Path, PathBuf};

use fugato_midi::{Listing, ReadOptions, read, read_file, write};
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shared() -> Option<PathBuf> {
    let p = repo().join("../shared/datasets/midi");
    p.is_dir().then_some(p)
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    out.sort();
    out
}

/// Compares what fugato reads from `midi` with a reference listing: ticks exactly,
/// seconds to 1e-6. Returns a description of the first difference.
fn check_against_reference(midi: &Path, reference: &Path) -> Result<(), String> {
    let file = read_file(midi, ReadOptions::default()).map_err(|e| e.to_string())?;
    let ours = serde_json::to_value(Listing::new(&file)).unwrap();
    let theirs: Value = serde_json::from_str(&std::fs::read_to_string(reference).unwrap()).unwrap();
    let name = midi.file_name().unwrap().to_string_lossy();
    let ints = |v: &Value, keys: &[&str]| -> Vec<i64> { keys.iter().map(|k| v[*k].as_i64().unwrap_or(-1)).collect() };
    let close = |a: &Value, b: &Value, key: &str| (a[key].as_f64().unwrap() - b[key].as_f64().unwrap()).abs() <= 1e-6;

    if ours["ticks_per_beat"] != theirs["ticks_per_beat"] {
        return Err(format!("{name}: ticks_per_beat {} vs {}", ours["ticks_per_beat"], theirs["ticks_per_beat"]));
    }
    let lists: [(&str, &[&str]); 3] = [
        ("tempo_changes", &["tick", "us_per_quarter"]),
        ("time_signatures", &["tick", "numerator", "denominator"]),
        ("key_signatures", &["tick"]),
    ];
    for (list, keys) in lists {
        let (a, b) = (ours[list].as_array().unwrap(), theirs[list].as_array().unwrap());
        if a.len() != b.len() {
            return Err(format!("{name}: {} {list} vs {}", a.len(), b.len()));
        }
        for (x, y) in a.iter().zip(b) {
            if ints(x, keys) != ints(y, keys) || !close(x, y, "time_s") || x.get("key") != y.get("key") {
                return Err(format!("{name}: {list} {x} vs {y}"));
            }
        }
    }
    let note_keys = ["start_tick", "track", "pitch", "end_tick", "channel", "program", "velocity"];
    let sorted = |v: &Value| {
        let mut n: Vec<Value> = v["notes"].as_array().unwrap().clone();
        n.sort_by_key(|x| ints(x, &note_keys));
        n
    };
    let (a, b) = (sorted(&ours), sorted(&theirs));
    if a.len() != b.len() {
        return Err(format!("{name}: {} notes vs {}", a.len(), b.len()));
    }
    for (x, y) in a.iter().zip(&b) {
        if ints(x, &note_keys) != ints(y, &note_keys) || !close(x, y, "start_s") || !close(x, y, "end_s") {
            return Err(format!("{name}: note {x} vs {y}"));
        }
    }
    Ok(())
}

/// Notes as (channel, program, pitch, velocity, start, end), sorted: what must survive a write.
/// (channel, program, pitch, velocity, start_tick, end_tick)
type NoteKey = (u8, u8, u8, u8, u64, u64);

fn note_set(bytes: &[u8]) -> Result<Vec<NoteKey>, String> {
    let file = read(bytes, ReadOptions::default()).map_err(|e| e.to_string())?;
    let mut notes: Vec<_> = file
        .score
        .tracks
        .iter()
        .flat_map(|t| {
            t.notes
                .iter()
                .map(|n| (t.channel.get(), t.program.get(), n.pitch.get(), n.velocity.get(), n.start_tick, n.end_tick))
        })
        .collect();
    notes.sort();
    Ok(notes)
}

fn check_round_trip(path: &Path) -> Result<(), String> {
    let bytes = std::fs::read(path).unwrap();
    let before = note_set(&bytes)?;
    let file = read(&bytes, ReadOptions::default()).unwrap();
    let written = write(&file.score).map_err(|e| e.to_string())?;
    let again = read(&written, ReadOptions { strict: true, ..Default::default() })
        .map_err(|e| format!("{}: rereading: {e}", path.display()))?;
    let after = note_set(&written)?;
    if before != after {
        return Err(format!("{}: {} notes before, {} after writing", path.display(), before.len(), after.len()));
    }
    if again.score.tempo_map.changes() != file.score.tempo_map.changes()
        || again.score.time_signatures != file.score.time_signatures
        || again.score.key_signatures != file.score.key_signatures
    {
        return Err(format!("{}: tempo or signatures changed by writing", path.display()));
    }
    Ok(())
}

#[test]
fn testdata_matches_reference_listings() {
    let dir = repo().join("testdata/midi");
    let mids = files(&dir, "mid");
    assert!(mids.len() >= 8);
    for midi in mids {
        let reference =
            repo().join("testdata/reference").join(format!("{}.json", midi.file_name().unwrap().to_string_lossy()));
        check_against_reference(&midi, &reference).unwrap();
    }
}

#[test]
fn edge_case_expected_listings() {
    let dir = repo().join("testdata/edge-cases");
    for reference in files(&dir.join("expected"), "json") {
        let stem = reference.file_stem().unwrap().to_string_lossy().into_owned();
        check_against_reference(&dir.join("own").join(stem), &reference).unwrap();
    }
}

#[test]
fn testdata_round_trips() {
    for path in files(&repo().join("testdata/midi"), "mid") {
        check_round_trip(&path).unwrap();
    }
}

/// What each edge case must give: `Ok(n_notes)` or `Err(part of the message)`.
fn expected_edge_case(name: &str) -> Result<usize, &'static str> {
    match name {
        "own-truncated-header.mid" => Err("truncated header"),
        // The header's track count is honoured: chunks beyond it are ignored, with a warning.
        "own-header-only-no-tracks.mid" | "own-ntracks-fewer-than-present.mid" => Ok(0),
        "own-5-byte-vlq.mid" => Err("longer than 4 bytes"),
        "own-running-status-at-track-start.mid" => Err("no running status"),
        "own-format-3-invalid.mid" => Err("unsupported SMF format 3"),
        "own-division-zero.mid" => Err("invalid division 0"),
        "own-huge-delta-time.mid" | "own-unmatched-note-on.mid" | "own-unmatched-note-off.mid" => Ok(1),
        "own-zero-duration-note.mid" => Ok(1),
        "own-eot-not-last.mid" => Ok(1),
        "own-overlapping-same-pitch.mid" | "own-running-status-velocity0-off.mid" | "own-type2-two-patterns.mid" => {
            Ok(2)
        }
        "own-channel-10-drums-and-programs.mid" => Ok(4),
        "own-sysex-and-escape.mid" | "own-meta-length-overflows-track.mid" => Ok(1),
        "own-truncated-mid-event.mid" => Ok(7),
        "own-track-length-too-short.mid" => Ok(7),
        "test-empty-file.mid" => Err("empty file"),
        "test-illegal-message-f4.mid" => Err("illegal status byte 0xF4"),
        "test-running-status-metaevent.mid" | "test-non-midi-track.mid" | "test-illegal-message-fe.mid" => Ok(8),
        "test-2-tracks-type-2.mid" => Ok(16),
        "Beethoven.rmi" => Ok(usize::MAX), // any number of notes > 0
        _ => Ok(8),
    }
}

#[test]
fn edge_cases_read_or_fail_clearly() {
    let dir = repo().join("testdata/edge-cases");
    let mut paths = files(&dir.join("own"), "mid");
    paths.extend(files(&dir, "mid"));
    paths.extend(files(&dir, "rmi"));
    for path in paths {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let got = read_file(&path, ReadOptions::default());
        match (expected_edge_case(&name), got) {
            (Ok(usize::MAX), Ok(f)) => assert!(f.score.n_notes() > 0, "{name}"),
            (Ok(n), Ok(f)) => assert_eq!(f.score.n_notes(), n, "{name}: {:?}", f.warnings),
            (Err(part), Err(e)) => {
                let msg = e.to_string();
                assert!(msg.contains(part) && msg.contains(&name), "{name}: {msg}");
            }
            (want, got) => panic!("{name}: expected {want:?}, got {:?}", got.map(|f| f.score.n_notes())),
        }
    }
}

#[test]
fn type2_tracks_play_one_after_another() {
    let f = read_file(&repo().join("testdata/edge-cases/test-2-tracks-type-2.mid"), ReadOptions::default()).unwrap();
    let ends: Vec<u64> = f.score.tracks.iter().map(|t| t.notes.last().unwrap().end_tick).collect();
    let second_start = f.score.tracks[1].notes[0].start_tick;
    assert!(second_start >= ends[0], "second pattern starts at {second_start}, first ends at {}", ends[0]);
}

#[test]
fn smpte_division_counts_real_time() {
    let f =
        read_file(&repo().join("testdata/edge-cases/own/own-smpte-division-25fps-40sub.mid"), ReadOptions::default())
            .unwrap();
    let starts: Vec<f64> = f.score.notes_in_order().iter().map(|(_, n)| f.score.seconds(n.start_tick)).collect();
    for (i, s) in starts.iter().enumerate() {
        assert!((s - 0.48 * i as f64).abs() < 1e-9, "note {i} at {s}");
    }
}

#[test]
fn tempo_in_any_track_applies_to_all() {
    let f = read_file(&repo().join("testdata/edge-cases/own/own-tempo-in-second-track.mid"), ReadOptions::default())
        .unwrap();
    assert!((f.score.duration_s() - 7.0).abs() < 1e-9, "{}", f.score.duration_s());
}

#[test]
fn strict_mode_refuses_damaged_files() {
    for name in ["own-no-end-of-track.mid", "own-track-length-too-long.mid", "own-ntracks-more-than-present.mid"] {
        let path = repo().join("testdata/edge-cases/own").join(name);
        assert!(read_file(&path, ReadOptions::default()).is_ok(), "{name} lenient");
        let err = read_file(&path, ReadOptions { strict: true, ..Default::default() }).unwrap_err().to_string();
        assert!(err.contains(name) && err.contains("at byte"), "{err}");
    }
}

#[test]
#[ignore = "reads ../shared (30 reference files); run with --ignored"]
fn shared_reference_listings() {
    let Some(dir) = shared() else {
        return eprintln!("../shared absent: skipped");
    };
    let index = std::fs::read_to_string(dir.join("reference/index.csv")).unwrap();
    let mut checked = 0;
    for line in index.lines().skip(1) {
        let mut cols = line.split(',');
        let (json, midi) = (cols.next().unwrap(), cols.next().unwrap());
        check_against_reference(&dir.join(midi), &dir.join("reference").join(json)).unwrap();
        checked += 1;
    }
    assert_eq!(checked, 30);
}

#[test]
#[ignore = "reads every edge case in ../shared; run with --ignored"]
fn shared_edge_cases_never_panic() {
    let Some(dir) = shared() else {
        return eprintln!("../shared absent: skipped");
    };
    let mut n = 0;
    for sub in ["jazz-soft", "shkyrockett", "midly", "own"] {
        for entry in std::fs::read_dir(dir.join("edge-cases").join(sub)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy();
            if name.starts_with("LICENSE") || name.ends_with(".py") {
                continue;
            }
            for strict in [false, true] {
                if let Err(e) = read_file(&path, ReadOptions { strict, ..Default::default() }) {
                    assert!(e.to_string().starts_with(&path.display().to_string()), "{e}");
                }
            }
            n += 1;
        }
    }
    assert_eq!(n, 73);
}

#[test]
#[ignore = "reads all ~10,600 corpus files in ../shared; run with --ignored"]
fn shared_corpus_round_trips() {
    let Some(dir) = shared() else {
        return eprintln!("../shared absent: skipped");
    };
    let mut n = 0;
    for collection in ["bach-chorales", "essenFolksong", "oneills1850", "ryansMammoth", "piano"] {
        for path in files(&dir.join(collection), "mid") {
            check_round_trip(&path).unwrap();
            n += 1;
        }
    }
    eprintln!("round-tripped {n} files");
    assert!(n > 10_000);
}
