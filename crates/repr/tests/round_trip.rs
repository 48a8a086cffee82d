//! decode(encode(score)) == canonical(score) for every representation over every MIDI
//! file in testdata/, and canonical forms are fixed points.

use std::path::{Path, PathBuf};

use fugato_repr::{melody, performance, pianoroll::PianoRoll, remi};
use fugato_score::Score;

fn testdata_scores() -> Vec<(PathBuf, Score)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/midi");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    let scores: Vec<_> = paths
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "mid"))
        .map(|p| {
            let score = fugato_midi::read_file(&p, Default::default()).unwrap().score;
            (p, score)
        })
        .collect();
    assert!(scores.len() >= 8);
    scores
}

#[test]
fn pianoroll_round_trips() {
    for (path, score) in testdata_scores() {
        for spq in [1, 4, 12] {
            let canonical = fugato_repr::pianoroll::canonical(&score, spq).unwrap();
            let roll = PianoRoll::encode(&score, spq).unwrap();
            assert_eq!(roll.decode().unwrap(), canonical, "{} at {spq} steps per quarter", path.display());
            assert_eq!(fugato_repr::pianoroll::canonical(&canonical, spq).unwrap(), canonical);
        }
    }
}

#[test]
fn performance_round_trips() {
    for (path, score) in testdata_scores() {
        let canonical = performance::canonical(&score).unwrap();
        let decoded = performance::decode(&performance::encode(&score).unwrap());
        assert_eq!(decoded.repairs, 0, "{}", path.display());
        assert_eq!(decoded.score, canonical, "{}", path.display());
        assert_eq!(performance::canonical(&canonical).unwrap(), canonical, "{}", path.display());
        assert!(canonical.n_notes() > 0);
    }
}

#[test]
fn remi_round_trips() {
    for (path, score) in testdata_scores() {
        let canonical = remi::canonical(&score).unwrap();
        let decoded = remi::decode(&remi::encode(&score).unwrap());
        assert_eq!(decoded.repairs, 0, "{}", path.display());
        assert_eq!(decoded.score, canonical, "{}", path.display());
        assert_eq!(remi::canonical(&canonical).unwrap(), canonical, "{}", path.display());
    }
}

#[test]
fn melody_round_trips() {
    for (path, score) in testdata_scores() {
        let canonical = melody::canonical(&score).unwrap();
        let decoded = melody::decode(&melody::encode(&score).unwrap());
        assert_eq!(decoded.repairs, 0);
        assert_eq!(decoded.score, canonical, "{}", path.display());
        assert_eq!(melody::canonical(&canonical).unwrap(), canonical, "{}", path.display());
    }
}

#[test]
fn canonical_keeps_the_music_of_a_monophonic_tune() {
    // A folk tune on a sixteenth grid loses nothing in melody or REMI form but its key.
    let (_, score) = testdata_scores().into_iter().find(|(p, _)| p.ends_with("zuccal0_0698.mid")).unwrap();
    let grid = score.quantize(4).unwrap();
    let pitches =
        |s: &Score| s.notes_in_order().iter().map(|(_, n)| (n.pitch, n.start_tick, n.end_tick)).collect::<Vec<_>>();
    assert_eq!(pitches(&melody::canonical(&score).unwrap()), pitches(&grid));
    assert_eq!(pitches(&remi::canonical(&score).unwrap()), pitches(&grid));
}

#[test]
#[ignore = "encodes all ~10,600 corpus files in ../shared; run with --ignored"]
fn shared_corpus_round_trips() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/midi");
    if !dir.is_dir() {
        return eprintln!("../shared absent: skipped");
    }
    let mut n = 0;
    for collection in ["bach-chorales", "essenFolksong", "oneills1850", "ryansMammoth", "piano"] {
        for entry in std::fs::read_dir(dir.join(collection)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "mid") {
                continue;
            }
            let score = fugato_midi::read_file(&path, Default::default()).unwrap().score;
            let p = path.display();
            assert_eq!(
                PianoRoll::encode(&score, 4).unwrap().decode().unwrap(),
                fugato_repr::pianoroll::canonical(&score, 4).unwrap(),
                "{p}"
            );
            assert_eq!(
                performance::decode(&performance::encode(&score).unwrap()).score,
                performance::canonical(&score).unwrap(),
                "{p}"
            );
            assert_eq!(remi::decode(&remi::encode(&score).unwrap()).score, remi::canonical(&score).unwrap(), "{p}");
            assert_eq!(
                melody::decode(&melody::encode(&score).unwrap()).score,
                melody::canonical(&score).unwrap(),
                "{p}"
            );
            n += 1;
        }
    }
    eprintln!("{n} files round-tripped in all four representations");
}
