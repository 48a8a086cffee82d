//! General MIDI program names (programs 0..=127) and their families.

use crate::Program;

#[rustfmt::skip]
pub const PROGRAM_NAMES: [&str; 128] = [
    "Acoustic Grand Piano", "Bright Acoustic Piano", "Electric Grand Piano", "Honky-tonk Piano",
    "Electric Piano 1", "Electric Piano 2", "Harpsichord", "Clavinet",
    "Celesta", "Glockenspiel", "Music Box", "Vibraphone", "Marimba", "Xylophone", "Tubular Bells", "Dulcimer",
    "Drawbar Organ", "Percussive Organ", "Rock Organ", "Church Organ",
    "Reed Organ", "Accordion", "Harmonica", "Tango Accordion",
    "Acoustic Guitar (nylon)", "Acoustic Guitar (steel)", "Electric Guitar (jazz)", "Electric Guitar (clean)",
    "Electric Guitar (muted)", "Overdriven Guitar", "Distortion Guitar", "Guitar Harmonics",
    "Acoustic Bass", "Electric Bass (finger)", "Electric Bass (pick)", "Fretless Bass",
    "Slap Bass 1", "Slap Bass 2", "Synth Bass 1", "Synth Bass 2",
    "Violin", "Viola", "Cello", "Contrabass", "Tremolo Strings", "Pizzicato Strings", "Orchestral Harp", "Timpani",
    "String Ensemble 1", "String Ensemble 2", "Synth Strings 1", "Synth Strings 2",
    "Choir Aahs", "Voice Oohs", "Synth Voice", "Orchestra Hit",
    "Trumpet", "Trombone", "Tuba", "Muted Trumpet", "French Horn", "Brass Section", "Synth Brass 1", "Synth Brass 2",
    "Soprano Sax", "Alto Sax", "Tenor Sax", "Baritone Sax", "Oboe", "English Horn", "Bassoon", "Clarinet",
    "Piccolo", "Flute", "Recorder", "Pan Flute", "Blown Bottle", "Shakuhachi", "Whistle", "Ocarina",
    "Lead 1 (square)", "Lead 2 (sawtooth)", "Lead 3 (calliope)", "Lead 4 (chiff)",
    "Lead 5 (charang)", "Lead 6 (voice)", "Lead 7 (fifths)", "Lead 8 (bass + lead)",
    "Pad 1 (new age)", "Pad 2 (warm)", "Pad 3 (polysynth)", "Pad 4 (choir)",
    "Pad 5 (bowed)", "Pad 6 (metallic)", "Pad 7 (halo)", "Pad 8 (sweep)",
    "FX 1 (rain)", "FX 2 (soundtrack)", "FX 3 (crystal)", "FX 4 (atmosphere)",
    "FX 5 (brightness)", "FX 6 (goblins)", "FX 7 (echoes)", "FX 8 (sci-fi)",
    "Sitar", "Banjo", "Shamisen", "Koto", "Kalimba", "Bagpipe", "Fiddle", "Shanai",
    "Tinkle Bell", "Agogo", "Steel Drums", "Woodblock", "Taiko Drum", "Melodic Tom", "Synth Drum", "Reverse Cymbal",
    "Guitar Fret Noise", "Breath Noise", "Seashore", "Bird Tweet", "Telephone Ring", "Helicopter", "Applause", "Gunshot",
];

/// The sixteen families of eight programs each.
#[rustfmt::skip]
pub const FAMILIES: [&str; 16] = [
    "Piano", "Chromatic Percussion", "Organ", "Guitar", "Bass", "Strings", "Ensemble", "Brass",
    "Reed", "Pipe", "Synth Lead", "Synth Pad", "Synth Effects", "Ethnic", "Percussive", "Sound Effects",
];

pub fn program_name(program: Program) -> &'static str {
    PROGRAM_NAMES[usize::from(program.get())]
}

pub fn family(program: Program) -> &'static str {
    FAMILIES[usize::from(program.get() / 8)]
}

/// A program by name, ignoring case, spaces and punctuation: "violin", "Acoustic Grand
/// Piano", "electric-guitar-jazz"; a unique prefix is enough ("trump" → Trumpet).
pub fn program_by_name(name: &str) -> Option<Program> {
    let key = |s: &str| s.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_ascii_lowercase();
    let wanted = key(name);
    if wanted.is_empty() {
        return None;
    }
    let keys: Vec<String> = PROGRAM_NAMES.iter().map(|n| key(n)).collect();
    let index = keys.iter().position(|k| *k == wanted).or_else(|| {
        let mut prefixed = keys.iter().enumerate().filter(|(_, k)| k.starts_with(&wanted));
        match (prefixed.next(), prefixed.next()) {
            (Some((i, _)), None) => Some(i),
            _ => None,
        }
    })?;
    Program::new(index as u8).ok()
}

/// The General MIDI program a part's name implies, for the parts of scores exported
/// with program 0 throughout: string parts (Violin I → 40, Viola → 41, Violoncello → 42,
/// Contrabass → 43) and voices (Soprano, Cantus, Alto, Tenor, Bassus, Quinto… → 52, Choir
/// Aahs). Words are matched whole, ignoring case; other names give none.
pub fn program_for_part(name: &str) -> Option<Program> {
    let lower = name.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let has = |w: &str| words.contains(&w);
    let program = if has("contrabass") || has("violone") || (has("double") && has("bass")) {
        43
    } else if has("violoncello") || has("cello") || has("violoncelli") {
        42
    } else if has("viola") || has("viole") {
        41
    } else if has("violin") || has("violino") || has("violini") {
        40
    } else if [
        "soprano",
        "cantus",
        "canto",
        "superius",
        "alto",
        "altus",
        "contratenor",
        "tenor",
        "tenore",
        "bassus",
        "basso",
        "bass",
        "quintus",
        "quinto",
        "sextus",
        "sesto",
        "septimus",
        "voice",
        "voce",
    ]
    .iter()
    .any(|w| has(w))
    {
        52
    } else {
        return None;
    };
    Program::new(program).ok()
}

/// Gives each pitched part of `score` that says program 0 the program its name implies
/// ([`program_for_part`]); returns how many parts changed.
pub fn programs_from_part_names(score: &mut crate::Score) -> usize {
    let mut changed = 0;
    for track in score.tracks.iter_mut().filter(|t| !t.is_drum && t.program.get() == 0) {
        if let Some(program) = program_for_part(&track.name) {
            track.program = program;
            changed += 1;
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_names_imply_programs() {
        let p = |n: &str| program_for_part(n).map(Program::get);
        for (name, want) in [
            ("Violin I", Some(40)),
            ("Violino II", Some(40)),
            ("Viola", Some(41)),
            ("Violoncello", Some(42)),
            ("Double Bass", Some(43)),
            ("Soprano", Some(52)),
            ("Cantus", Some(52)),
            ("Quinto", Some(52)),
            ("Bass", Some(52)),
            ("Bassus", Some(52)),
            ("Horn 2", None),
            ("MusicXML Part", None),
            ("Piano", None),
        ] {
            assert_eq!(p(name), want, "{name}");
        }
        let mut score = crate::Score::new(480);
        for name in ["Violin I", "Viola", "Piano"] {
            score.tracks.push(crate::Track::new(name));
        }
        score.tracks[1].program = Program::new(41).unwrap();
        assert_eq!(programs_from_part_names(&mut score), 1, "only the program-0 part with a known name");
        assert_eq!(score.tracks.iter().map(|t| t.program.get()).collect::<Vec<_>>(), [40, 41, 0]);
    }

    #[test]
    fn names_and_lookup() {
        let p = |n: u8| Program::new(n).unwrap();
        assert_eq!(program_name(p(40)), "Violin");
        assert_eq!(family(p(40)), "Strings");
        assert_eq!(program_by_name("violin"), Some(p(40)));
        assert_eq!(program_by_name("electric guitar (jazz)"), Some(p(26)));
        assert_eq!(program_by_name("trump"), Some(p(56)));
        assert_eq!(program_by_name("piano"), None); // ambiguous
        assert_eq!(program_by_name("kazoo"), None);
    }
}
