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

#[test]
fn a_live_font_sounds_a_note_from_its_message_to_its_note_off() {
    let Some(path) = installed_soundfont() else {
        return eprintln!("no SoundFont in {}: skipped", fugato_synth::DEBIAN_SF2_DIR);
    };
    let font = Font::load(&path).unwrap();
    let mut live = fugato_synth::LiveFont::new(&font, 22_050).unwrap();
    let mut out = vec![0f32; 2 * 2205];
    live.render(&mut out, 2);
    assert!(out.iter().all(|&s| s == 0.0), "silence before any note");
    live.midi(&[0xC0, 40]);
    live.midi(&[0x90, 69, 100]);
    live.render(&mut out, 2);
    let loud = out.iter().map(|s| s * s).sum::<f32>();
    assert!(loud > 0.0);
    live.midi(&[0x80, 69, 0]);
    live.midi(&[0xF8]);
    for _ in 0..40 {
        live.render(&mut out, 2);
    }
    assert!(out.iter().map(|s| s * s).sum::<f32>() < loud / 100.0, "the note ends");
}
