//! Any bytes into the MIDI reader, lenient and strict: it may refuse, never panic or hang.
//! What it reads must write, read back strictly, and encode in every representation.
#![no_main]

use fugato_midi::{ReadOptions, read, write};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = read(data, ReadOptions { strict: true });
    let Ok(file) = read(data, ReadOptions::default()) else { return };
    let score = &file.score;
    // Absurdly long files (huge delta times) are legal; keep each run fast.
    if score.end_tick > 1 << 22 || score.ticks_per_quarter() > 960 {
        return;
    }
    if let Ok(bytes) = write(score) {
        let again = read(&bytes, ReadOptions { strict: true }).expect("fugato's own output reads strictly");
        assert_eq!(again.score.n_notes(), score.n_notes());
    }
    let _ = fugato_repr::remi::encode(score).map(|t| fugato_repr::remi::decode(&t));
    let _ = fugato_repr::melody::encode(score);
    let _ = fugato_repr::performance::encode(score);
});
