//! The whole path a user's file takes: any bytes → the MIDI reader (with small limits, as a
//! server would set them) → a score → every representation and back → a primer that a
//! bundled model continues for a few steps. Each stage may refuse the input with an error,
//! never panic, hang or allocate without bound.
#![no_main]

use std::sync::OnceLock;

use fugato_midi::{ReadOptions, SizeLimits, read};
use fugato_nn::bundled::Model;
use fugato_nn::compose::{ComposeOptions, compose};
use fugato_nn::checkpoint::Checkpoint;
use fugato_repr::pianoroll::PianoRoll;
use fugato_repr::{performance, remi};
use libfuzzer_sys::fuzz_target;

/// Small limits: the fuzzer's files are small, and grids of them stay quick.
const LIMITS: SizeLimits = SizeLimits {
    max_bytes: 1 << 16,
    max_quarters: 4096,
    max_seconds: 3600,
    max_notes: 20_000,
    max_tracks: 64,
    max_events: 4096,
};

/// Two bundled models, loaded once: piano-roll frames (RNN-NADE) and REMI tokens.
fn models() -> &'static [Checkpoint; 2] {
    static MODELS: OnceLock<[Checkpoint; 2]> = OnceLock::new();
    MODELS.get_or_init(|| {
        let device = fugato_nn::default_device();
        let load = |name: &str| match fugato_nn::bundled::load(name.as_ref(), &device) {
            Ok(Model::Sequence(c)) => c,
            _ => panic!("{name} is a bundled sequence model"),
        };
        [load("jsb-chorales"), load("chorale-parts")]
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(file) = read(data, ReadOptions { limits: LIMITS, ..Default::default() }) else { return };
    let score = file.score;
    for spq in [1, 4] {
        if let Ok(roll) = PianoRoll::encode(&score, spq) {
            let _ = roll.decode();
            let _ = PianoRoll::from_frames(&roll.frames(), spq).and_then(|r| r.decode());
        }
    }
    if let Ok(tokens) = remi::encode(&score) {
        let _ = remi::decode(&tokens);
    }
    if let Ok(tokens) = performance::encode(&score) {
        let _ = performance::decode(&tokens);
    }
    if let Ok(tokens) = fugato_repr::melody::encode(&score) {
        let _ = fugato_repr::melody::decode(&tokens);
    }
    for model in models() {
        let options = ComposeOptions { steps: Some(2), seed: 1, primer: Some(score.clone()), ..Default::default() };
        let _ = compose(model, &options);
    }
});
