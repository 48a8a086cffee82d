//! SoundFont playback. Uses a General MIDI font from Debian's sf2 folder and passes
//! without checking anything where none is installed (`apt-get install timgm6mb-soundfont`).

use std::path::Path;

use fugato_synth::{Font, installed_soundfont, render_soundfont};

fn chorale() -> fugato_score::Score {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/midi/bwv66.6.mid");
    fugato_midi::read_file(&path, Default::default()).unwrap().score
}

#[test]
fn renders_a_chorale_with_an_installed_soundfont() {
    let Some(path) = installed_soundfont() else {
        return eprintln!("no SoundFont in {}: skipped", fugato_synth::DEBIAN_SF2_DIR);
    };
    let font = Font::load(&path).unwrap();
    let a = render_soundfont(&chorale(), &font, 22_050).unwrap();
    let b = render_soundfont(&chorale(), &font, 22_050).unwrap();
    assert_eq!(a, b);
    assert!(a.duration_s() > 23.0);
    assert!(a.rms() > 0.02, "rms {}", a.rms());
    assert!((a.peak() - fugato_synth::PEAK).abs() < 1e-6);
}

#[test]
fn a_file_that_is_not_a_soundfont_is_refused_by_name() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let err = Font::load(&path).err().unwrap().to_string();
    assert!(err.contains("Cargo.toml") && err.contains("not a usable SoundFont"), "{err}");
}
