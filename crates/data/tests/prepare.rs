//! `prepare` over testdata: shards that read back to what the representations encode.

use std::path::{Path, PathBuf};

use fugato_data::{PolyphonicSet, PrepareConfig, Shards, Split, midi_files, prepare_midi, prepare_polyphonic};
use fugato_repr::ReprKind;
use fugato_repr::pianoroll::PianoRoll;
use fugato_score::Score;

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

fn load(path: &Path) -> Result<Score, String> {
    fugato_midi::read_file(path, Default::default()).map(|f| f.score).map_err(|e| e.to_string())
}

fn prepare_folder(root: &Path, repr: ReprKind, out: &Path) -> Shards {
    let files = midi_files(root).unwrap();
    let config = PrepareConfig { repr, steps_per_quarter: 4, styles: false, programs_from_names: false };
    let counter = std::sync::atomic::AtomicUsize::new(0);
    let on_file = || {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    };
    prepare_midi(root, "midi", &files, &load, config, out, &on_file).unwrap();
    assert_eq!(counter.into_inner(), files.len());
    Shards::open(out).unwrap()
}

#[test]
fn tokens_read_back_as_encoded() {
    let tmp = tempfile::tempdir().unwrap();
    let root = testdata().join("midi");
    for repr in [ReprKind::Performance, ReprKind::Remi, ReprKind::Melody] {
        let out = tmp.path().join(repr.name());
        let shards = prepare_folder(&root, repr, &out);
        assert_eq!(shards.meta.files_skipped, 0);
        let mut total = 0;
        for (&split, meta) in &shards.meta.splits {
            let seqs = shards.tokens(split).unwrap();
            let names: Vec<String> = serde_json::from_str(
                &std::fs::read_to_string(out.join(format!("{}.sources.json", split.name()))).unwrap(),
            )
            .unwrap();
            assert_eq!(seqs.len(), meta.sequences);
            for (seq, name) in seqs.iter().zip(&names) {
                let expected = repr.encode_tokens(&load(&root.join(name)).unwrap()).unwrap().unwrap();
                assert_eq!(seq.iter().map(|&t| u32::from(t)).collect::<Vec<_>>(), expected, "{name}");
            }
            total += seqs.len();
        }
        assert_eq!(total, midi_files(&root).unwrap().len());
    }
}

#[test]
fn piano_roll_shards_keep_frames_and_onsets() {
    let tmp = tempfile::tempdir().unwrap();
    let root = testdata().join("midi");
    let shards = prepare_folder(&root, ReprKind::PianoRoll, &tmp.path().join("roll"));
    let (&split, _) = shards.meta.splits.iter().next().unwrap();
    let names: Vec<String> = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("roll").join(format!("{}.sources.json", split.name()))).unwrap(),
    )
    .unwrap();
    let roll = PianoRoll::encode(&load(&root.join(&names[0])).unwrap(), 4).unwrap();
    assert_eq!(shards.frames(split).unwrap().get(0), roll.frames().as_slice());
    assert_eq!(shards.onsets(split).unwrap().get(0), roll.onset_frames().as_slice());
}

#[test]
fn unreadable_files_are_skipped_and_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("data");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::copy(testdata().join("midi/bwv66.6.mid"), root.join("sub/good.mid")).unwrap();
    std::fs::write(root.join("bad.mid"), b"not midi").unwrap();
    let shards = prepare_folder(&root, ReprKind::Melody, &tmp.path().join("out"));
    assert_eq!((shards.meta.files_read, shards.meta.files_skipped), (1, 1));
    assert_eq!(shards.meta.skipped[0].file, "bad.mid");
    assert!(shards.meta.skipped[0].error.contains("not a MIDI file"), "{}", shards.meta.skipped[0].error);
}

#[test]
fn polyphonic_file_prepares_per_split() {
    let tmp = tempfile::tempdir().unwrap();
    let set = PolyphonicSet::load(&testdata().join("polyphonic/jsb_small.json")).unwrap();
    let out = tmp.path().join("jsb");
    prepare_polyphonic(
        &set,
        "jsb_small.json",
        PrepareConfig { repr: ReprKind::PianoRoll, steps_per_quarter: 1, styles: false, programs_from_names: false },
        &out,
    )
    .unwrap();
    let shards = Shards::open(&out).unwrap();
    let frames = shards.frames(Split::Valid).unwrap();
    assert_eq!(frames.len(), 2);
    assert_eq!(frames.get(1), set.split(Split::Valid).unwrap()[1].as_slice());
    // Preparing again replaces the old shards.
    prepare_polyphonic(
        &set,
        "jsb_small.json",
        PrepareConfig { repr: ReprKind::Melody, steps_per_quarter: 1, styles: false, programs_from_names: false },
        &out,
    )
    .unwrap();
    assert_eq!(Shards::open(&out).unwrap().meta.repr, ReprKind::Melody);
}

#[test]
fn refuses_to_overwrite_a_folder_that_is_not_shards() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("precious.txt"), b"keep me").unwrap();
    let set = PolyphonicSet::load(&testdata().join("polyphonic/jsb_small.json")).unwrap();
    let err = prepare_polyphonic(
        &set,
        "x",
        PrepareConfig { repr: ReprKind::PianoRoll, steps_per_quarter: 1, styles: false, programs_from_names: false },
        tmp.path(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("holds something other than shards"), "{err}");
    assert!(tmp.path().join("precious.txt").exists());
}

#[test]
fn styles_come_from_folders_and_manifests() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("midi");
    let midi = testdata().join("midi");
    for (folder, file) in [
        ("bach-chorales", "bwv66.6.mid"),
        ("ryansMammoth", "WinnicksFavoriteJig_0001.mid"),
        ("ryansMammoth", "YellowStockingsJig_0001.mid"),
        ("oneills1850", "1781-1800_1794.mid"),
        ("My Airs", "zuccal0_0698.mid"),
    ] {
        std::fs::create_dir_all(root.join(folder)).unwrap();
        std::fs::copy(midi.join(file), root.join(folder).join(file)).unwrap();
    }
    std::fs::write(
        root.join("ryansMammoth/manifest.csv"),
        "file,title,time_signature\nWinnicksFavoriteJig_0001.mid,\"Winnick's Favorite, Jig\",2/4\n\
         YellowStockingsJig_0001.mid,Yellow Stockings,4/4\n",
    )
    .unwrap();
    std::fs::write(root.join("oneills1850/manifest.csv"), "file,title,time_signature\n1781-1800_1794.mid,X,9/8\n")
        .unwrap();
    let files = midi_files(&root).unwrap();
    let config =
        PrepareConfig { repr: ReprKind::Melody, steps_per_quarter: 4, styles: true, programs_from_names: false };
    let out = tmp.path().join("shards");
    prepare_midi(&root, "midi", &files, &load, config, &out, &|| ()).unwrap();
    let shards = Shards::open(&out).unwrap();
    assert_eq!(shards.meta.styles, ["chorale", "dance", "jig", "my airs"]);
    let mut found = Vec::new();
    for &split in shards.meta.splits.keys() {
        let names: Vec<String> =
            serde_json::from_str(&std::fs::read_to_string(out.join(format!("{}.sources.json", split.name()))).unwrap())
                .unwrap();
        let styles = shards.styles(split).unwrap().unwrap();
        found.extend(names.into_iter().zip(styles.iter().map(|&s| shards.meta.styles[usize::from(s)].clone())));
    }
    found.sort();
    let expected = [
        ("My Airs/zuccal0_0698.mid", "my airs"),
        ("bach-chorales/bwv66.6.mid", "chorale"),
        ("oneills1850/1781-1800_1794.mid", "jig"),
        ("ryansMammoth/WinnicksFavoriteJig_0001.mid", "jig"),
        ("ryansMammoth/YellowStockingsJig_0001.mid", "dance"),
    ];
    assert_eq!(found, expected.map(|(a, b)| (a.to_string(), b.to_string())));

    let roll = PrepareConfig { repr: ReprKind::PianoRoll, ..config };
    assert!(prepare_midi(&root, "midi", &files, &load, roll, &tmp.path().join("roll"), &|| ()).is_err());
}

/// With `programs_from_names`, a chorale's Soprano, Alto, Tenor and Bass (program 0 in the
/// file) are encoded as choir parts, and meta.json counts them; without it nothing
/// changes and meta.json says nothing.
#[test]
fn part_names_give_programs_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("chorale");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::copy(testdata().join("midi/bwv66.6.mid"), root.join("bwv66.6.mid")).unwrap();
    let files = midi_files(&root).unwrap();
    let programs = |named: bool| {
        let out = tmp.path().join(format!("out-{named}"));
        let config =
            PrepareConfig { repr: ReprKind::Remi, steps_per_quarter: 4, styles: false, programs_from_names: named };
        let summary = prepare_midi(&root, "chorale", &files, &load, config, &out, &|| {}).unwrap();
        let shards = Shards::open(&out).unwrap();
        assert_eq!(shards.meta.programs_from_names, summary.meta.programs_from_names);
        let split = *shards.meta.splits.keys().next().unwrap();
        let seqs = shards.tokens(split).unwrap();
        let tokens: Vec<u32> = seqs.get(0).iter().map(|&t| u32::from(t)).collect();
        let score = ReprKind::Remi.decode_tokens(&tokens).unwrap().score;
        let mut programs: Vec<u8> = score.tracks.iter().map(|t| t.program.get()).collect();
        programs.dedup();
        (shards.meta.programs_from_names, programs)
    };
    assert_eq!(programs(true), (Some(4), vec![52]));
    assert_eq!(programs(false), (None, vec![0]));
}
