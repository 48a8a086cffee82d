//! The piano-roll benchmark files (Boulanger-Lewandowski et al. 2012):
//! `{"train": [seq, ...], "valid": [...], "test": [...]}`, a sequence a list of frames,
//! a frame the ascending MIDI pitches sounding in it. Any of the three splits may be absent.

use std::collections::BTreeMap;
use std::path::Path;

use fugato_repr::pianoroll::{Frame, LOWEST_PITCH, N_KEYS};

use crate::DataError;
use crate::Split;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct PolyphonicSet {
    pub splits: BTreeMap<Split, Vec<Vec<Frame>>>,
    /// The frames' grid, when the file says (fugato writes a "steps_per_quarter" key; the
    /// benchmark files have none).
    pub steps_per_quarter: Option<u32>,
}

impl PolyphonicSet {
    /// Reads a benchmark JSON file. Fails, naming the place, on bad JSON, on a file with
    /// none of the three splits, and on pitches outside the 88 keys.
    pub fn load(path: &Path) -> Result<PolyphonicSet, DataError> {
        let text = std::fs::read_to_string(path).map_err(DataError::io(path))?;
        Self::parse(&text).map_err(|e| match e {
            ParseError::Json(e) => {
                DataError::Json { path: path.into(), line: e.line(), column: e.column(), message: e.to_string() }
            }
            ParseError::Content(message) => DataError::dataset(path, message),
        })
    }

    fn parse(text: &str) -> Result<PolyphonicSet, ParseError> {
        let raw: BTreeMap<String, serde_json::Value> = serde_json::from_str(text).map_err(ParseError::Json)?;
        let mut set = PolyphonicSet::default();
        if let Some(v) = raw.get("steps_per_quarter") {
            let spq = v.as_u64().filter(|s| (1..=960).contains(s));
            set.steps_per_quarter = Some(
                spq.ok_or_else(|| ParseError::Content(format!("\"steps_per_quarter\" must be 1..=960, but was {v}")))?
                    as u32,
            );
        }
        for split in Split::ALL {
            let Some(value) = raw.get(split.name()) else { continue };
            let seqs: Vec<Vec<Vec<i64>>> = serde_json::from_value(value.clone()).map_err(|e| {
                ParseError::Content(format!("split {:?} is not a list of sequences of pitch lists: {e}", split.name()))
            })?;
            let mut out = Vec::with_capacity(seqs.len());
            for (s, seq) in seqs.iter().enumerate() {
                let mut frames = Vec::with_capacity(seq.len());
                for (f, pitches) in seq.iter().enumerate() {
                    let mut frame: Frame = 0;
                    for &p in pitches {
                        if !(i64::from(LOWEST_PITCH)..i64::from(LOWEST_PITCH) + N_KEYS as i64).contains(&p) {
                            return Err(ParseError::Content(format!(
                                "{} sequence {s}, frame {f}: pitch {p} is outside the 88 keys 21..=108",
                                split.name()
                            )));
                        }
                        frame |= 1 << (p - i64::from(LOWEST_PITCH));
                    }
                    frames.push(frame);
                }
                out.push(frames);
            }
            set.splits.insert(split, out);
        }
        if set.splits.is_empty() {
            return Err(ParseError::Content("no \"train\", \"valid\" or \"test\" split".into()));
        }
        Ok(set)
    }

    pub fn split(&self, split: Split) -> Option<&[Vec<Frame>]> {
        self.splits.get(&split).map(Vec::as_slice)
    }

    /// Writes the set in the same JSON layout (plus "steps_per_quarter" when known).
    pub fn to_json(&self) -> String {
        let mut map: BTreeMap<&str, serde_json::Value> = self
            .splits
            .iter()
            .map(|(s, seqs)| {
                let seqs: Vec<Vec<Vec<u8>>> =
                    seqs.iter().map(|seq| seq.iter().map(|&f| fugato_repr::pianoroll::pitches(f)).collect()).collect();
                (s.name(), serde_json::to_value(seqs).expect("plain data"))
            })
            .collect();
        if let Some(spq) = self.steps_per_quarter {
            map.insert("steps_per_quarter", spq.into());
        }
        serde_json::to_string(&map).expect("plain data serialises")
    }
}

enum ParseError {
    Json(serde_json::Error),
    Content(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<PolyphonicSet, String> {
        PolyphonicSet::parse(text).map_err(|e| match e {
            ParseError::Json(e) => e.to_string(),
            ParseError::Content(m) => m,
        })
    }

    #[test]
    fn reads_any_subset_of_splits() {
        let set = parse(r#"{"test": [[[60, 64], [], [21, 108]]]}"#).unwrap();
        assert_eq!(set.split(Split::Test).unwrap()[0], vec![(1 << 39) | (1 << 43), 0, 1 | (1 << 87)]);
        assert!(set.split(Split::Train).is_none());
    }

    #[test]
    fn names_bad_pitches_and_missing_splits() {
        assert_eq!(
            parse(r#"{"train": [[[60]], [[60], [109]]]}"#).unwrap_err(),
            "train sequence 1, frame 1: pitch 109 is outside the 88 keys 21..=108"
        );
        assert!(parse(r#"{"training": []}"#).unwrap_err().contains("no \"train\""));
        assert!(parse(r#"{"train": [[[60]]"#).is_err());
    }

    #[test]
    fn json_round_trips() {
        let text = r#"{"steps_per_quarter":4,"train":[[[60,64],[],[21,108]]],"valid":[[[62]]]}"#;
        assert_eq!(parse(text).unwrap().to_json(), text);
    }
}
