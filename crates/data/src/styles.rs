//! Style labels for the pieces of a MIDI folder: what `fugato prepare --styles` attaches
//! to each piece so that one model learns chorales, songs, jigs and reels and can be
//! asked for any of them.
//!
//! A piece's style comes from the folder it sits in (its collection). For the corpus's
//! two collections of Irish and Scottish dance tunes it comes from the tune itself: a
//! dance named in the title ("… Reel", "… Jig", "… Hornpipe", "… Clog", "… Strathspey"),
//! else a compound meter (6/8, 9/8, 12/8: a jig), else plain "dance". Titles and meters
//! are read from the folder's `manifest.csv` (columns `file`, `title`,
//! `time_signature`), as the corpus ships it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::DataError;

/// Collections whose pieces share one style.
const FIXED: [(&str, &str); 3] = [("bach-chorales", "chorale"), ("essenFolksong", "song"), ("piano", "piano")];
/// Collections of dance tunes, styled tune by tune.
const DANCES: [&str; 2] = ["oneills1850", "ryansMammoth"];
/// Words of a title that name a dance, and the style each gives.
const DANCE_WORDS: [(&str, &str); 5] =
    [("reel", "reel"), ("jig", "jig"), ("hornpipe", "hornpipe"), ("clog", "hornpipe"), ("strathspey", "strathspey")];

/// The style of one piece of `collection` with the given manifest entry.
pub fn style_of(collection: &str, entry: Option<&ManifestEntry>) -> String {
    if let Some((_, style)) = FIXED.iter().find(|(c, _)| *c == collection) {
        return style.to_string();
    }
    if !DANCES.contains(&collection) {
        return collection.to_lowercase();
    }
    let Some(entry) = entry else { return "dance".into() };
    let title = entry.title.to_lowercase();
    let named = title.split(|c: char| !c.is_alphanumeric()).find_map(|word| {
        DANCE_WORDS.iter().find(|(w, _)| word == *w || word.strip_suffix('s') == Some(w)).map(|(_, s)| *s)
    });
    if let Some(style) = named {
        return style.into();
    }
    match entry.time_signature.split_once('/') {
        Some(("6" | "9" | "12", "8")) => "jig".into(),
        _ => "dance".into(),
    }
}

/// What a manifest says about one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestEntry {
    pub title: String,
    pub time_signature: String,
}

/// Each piece's style, reading each folder's manifest once.
#[derive(Default)]
pub struct StyleBook {
    manifests: HashMap<PathBuf, HashMap<String, ManifestEntry>>,
}

impl StyleBook {
    /// The style of the MIDI file at `path`.
    pub fn style(&mut self, path: &Path) -> Result<String, DataError> {
        let folder = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let collection = folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if !self.manifests.contains_key(&folder) {
            let manifest = folder.join("manifest.csv");
            let entries = if manifest.is_file() { read_manifest(&manifest)? } else { HashMap::new() };
            self.manifests.insert(folder.clone(), entries);
        }
        let file = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        Ok(style_of(&collection, self.manifests[&folder].get(&file)))
    }
}

/// The `file`, `title` and `time_signature` columns of a manifest, by file name.
pub fn read_manifest(path: &Path) -> Result<HashMap<String, ManifestEntry>, DataError> {
    let text = std::fs::read_to_string(path).map_err(DataError::io(path))?;
    let mut lines = text.lines();
    let header = split_csv_line(lines.next().unwrap_or_default());
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| DataError::dataset(path, format!("line 1: no {name:?} column in the header")))
    };
    let (file, title, meter) = (column("file")?, column("title")?, column("time_signature")?);
    let mut entries = HashMap::new();
    for (i, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let fields = split_csv_line(line);
        let field = |k: usize| {
            fields.get(k).cloned().ok_or_else(|| {
                DataError::dataset(
                    path,
                    format!("line {}: {} fields, but the header has {}", i + 2, fields.len(), header.len()),
                )
            })
        };
        entries.insert(field(file)?, ManifestEntry { title: field(title)?, time_signature: field(meter)? });
    }
    Ok(entries)
}

/// The fields of one CSV line (RFC 4180: fields in double quotes may hold commas, and
/// `""` inside them is one quote).
fn split_csv_line(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.trim_end_matches('\r').chars().peekable();
    while let Some(c) = chars.next() {
        let field = fields.last_mut().expect("one field at least");
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(String::new()),
            (c, _) => field.push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(title: &str, time_signature: &str) -> ManifestEntry {
        ManifestEntry { title: title.into(), time_signature: time_signature.into() }
    }

    #[test]
    fn styles_come_from_collection_title_and_meter() {
        assert_eq!(style_of("bach-chorales", None), "chorale");
        assert_eq!(style_of("essenFolksong", Some(&entry("Ach Gott", "6/8"))), "song");
        assert_eq!(style_of("ryansMammoth", Some(&entry("42d Highland Regiment -- Strathspey", "4/4"))), "strathspey");
        assert_eq!(style_of("ryansMammoth", Some(&entry("Sailor's Hornpipe", "2/4"))), "hornpipe");
        assert_eq!(style_of("ryansMammoth", Some(&entry("Lancashire Clog", "2/2"))), "hornpipe");
        assert_eq!(style_of("oneills1850", Some(&entry("The Humours of Ennis", "6/8"))), "jig");
        assert_eq!(style_of("oneills1850", Some(&entry("Reels of Mourne", "2/2"))), "reel");
        assert_eq!(style_of("oneills1850", Some(&entry("Reeling Home", "2/2"))), "dance");
        assert_eq!(style_of("oneills1850", Some(&entry("The Enchanted Valley", "2/4"))), "dance");
        assert_eq!(style_of("My Tunes", None), "my tunes");
    }

    #[test]
    fn csv_lines_keep_quoted_commas() {
        assert_eq!(split_csv_line("a,\"b, c\",\"say \"\"hi\"\"\",\r"), vec!["a", "b, c", "say \"hi\"", ""]);
    }

    #[test]
    fn a_manifest_without_a_title_column_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.csv");
        std::fs::write(&path, "file,name\nx.mid,y\n").unwrap();
        let err = read_manifest(&path).unwrap_err().to_string();
        assert!(err.contains("manifest.csv") && err.contains("\"title\""), "{err}");
        std::fs::write(&path, "file,title,time_signature\nx.mid,\"Tune, The\",6/8\ny.mid\n").unwrap();
        let err = read_manifest(&path).unwrap_err().to_string();
        assert!(err.contains("line 3"), "{err}");
    }
}
