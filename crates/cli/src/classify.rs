//! `fugato classify`: a style-trained model's styles ranked by each piece's likelihood
//! ([`fugato_nn::classify::rank_styles`]); over folders, the share of pieces whose own
//! style (their folder's, as `prepare --styles` labels them) ranks first.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use fugato_data::Split;
use fugato_data::folder::{name_and_split, read_piece};
use fugato_data::styles::StyleBook;
use fugato_midi::ReadOptions;
use fugato_nn::classify::{StyleScore, rank_styles};

use crate::args::ClassifyArgs;

/// One piece, ranked.
struct Ranked {
    file: String,
    truth: Option<String>,
    ranking: Vec<StyleScore>,
}

pub fn run(a: ClassifyArgs, read: ReadOptions) -> anyhow::Result<()> {
    let wanted = match a.split.as_str() {
        "all" => None,
        "train" => Some(Split::Train),
        "valid" => Some(Split::Valid),
        "test" => Some(Split::Test),
        other => bail!("--split must be train, valid, test or all, but was {other:?}"),
    };
    let device = fugato_nn::default_device();
    let ckpt = fugato_nn::bundled::load(&a.checkpoint, &device)?.into_sequence(&a.checkpoint)?;
    // (path, shown name, from a folder). Folders are split as `prepare` splits them given
    // together, so `--split valid` with a model's folders is its validation set.
    let folders: Vec<PathBuf> = a.inputs.iter().filter(|i| i.is_dir()).cloned().collect();
    let root = (!folders.is_empty()).then(|| fugato_data::names_root(&folders));
    let mut files: Vec<(PathBuf, String, bool)> = Vec::new();
    for input in &a.inputs {
        if let (true, Some(root)) = (input.is_dir(), &root) {
            for path in fugato_data::midi_files(input)? {
                let (_, split) = name_and_split(root, &path);
                if wanted.is_none_or(|w| w == split) {
                    files.push((path.clone(), path.display().to_string(), true));
                }
            }
        } else {
            files.push((input.clone(), input.display().to_string(), false));
        }
    }
    let single = files.len() == 1 && !files[0].2;
    let mut book = StyleBook::default();
    let mut ranked = Vec::new();
    for (path, file, in_folder) in files {
        let score = match read_piece(&path, read) {
            Ok(score) => score,
            Err(e) if single => bail!("{e}"),
            Err(e) => {
                eprintln!("fugato: skipped {file}: {e}");
                continue;
            }
        };
        let ranking = match rank_styles(&ckpt, &score) {
            Ok((ranking, _)) => ranking,
            Err(e) if single => return Err(e).with_context(|| format!("scoring {file}")),
            Err(e) => {
                eprintln!("fugato: skipped {file}: {e}");
                continue;
            }
        };
        let truth = if in_folder { Some(book.style(&path)?) } else { None };
        ranked.push(Ranked { file, truth, ranking });
    }
    if single {
        let r = &ranked[0].ranking;
        return crate::print(&if a.json {
            serde_json::to_string_pretty(r)? + "\n"
        } else {
            r.iter().map(|s| format!("{:<12} {:>12.1}\n", s.style, s.log_likelihood)).collect()
        });
    }
    report(&ranked, &ckpt.meta.data.styles, a.json)
}

/// Each piece's best style beside its own; the accuracy over pieces whose own style the
/// model knows, overall and per style.
fn report(ranked: &[Ranked], styles: &[String], json: bool) -> anyhow::Result<()> {
    let mut per_style: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for r in ranked {
        if let Some(truth) = r.truth.as_deref().filter(|t| styles.iter().any(|s| s == t)) {
            let entry = per_style.entry(truth).or_default();
            entry.1 += 1;
            entry.0 += usize::from(r.ranking[0].style == truth);
        }
    }
    let (right, scored) = per_style.values().fold((0, 0), |(a, b), (r, n)| (a + r, b + n));
    let accuracy = (scored > 0).then(|| right as f64 / scored as f64);
    // The mean of the styles' accuracies, and what always naming the commonest style scores.
    let balanced = per_style.values().map(|(r, n)| *r as f64 / *n as f64).sum::<f64>() / per_style.len().max(1) as f64;
    let majority = per_style.values().map(|(_, n)| *n).max().unwrap_or(0) as f64 / scored.max(1) as f64;
    if json {
        let files: Vec<serde_json::Value> = ranked
            .iter()
            .map(|r| serde_json::json!({ "file": r.file, "style": r.ranking[0].style, "truth": r.truth, "ranking": r.ranking }))
            .collect();
        let per: BTreeMap<&str, serde_json::Value> = per_style
            .iter()
            .map(|(s, (r, n))| (*s, serde_json::json!({ "right": r, "pieces": n, "accuracy": *r as f64 / *n as f64 })))
            .collect();
        let out = serde_json::json!({
            "files": files, "accuracy": accuracy, "balanced_accuracy": accuracy.map(|_| balanced),
            "majority_baseline": accuracy.map(|_| majority), "pieces_scored": scored, "per_style": per,
        });
        return crate::print(&(serde_json::to_string_pretty(&out)? + "\n"));
    }
    let mut text = String::new();
    for r in ranked {
        let truth = r.truth.as_deref().map(|t| format!("  (its style: {t})")).unwrap_or_default();
        text += &format!("{}: {}{truth}\n", r.file, r.ranking[0].style);
    }
    if let Some(accuracy) = accuracy {
        text += &format!("accuracy {:.3}: {right} of {scored} pieces ranked their own style first\n", accuracy);
        text +=
            &format!("balanced accuracy {balanced:.3} (the styles' mean); always the commonest style: {majority:.3}\n");
        for (style, (r, n)) in &per_style {
            text += &format!("  {style:<12} {r:>5} of {n:<5} {:.3}\n", *r as f64 / *n as f64);
        }
    }
    crate::print(&text)
}
