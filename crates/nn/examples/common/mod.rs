//! What the bench examples share: one JSON line per workload, and the sampling loop.

use std::time::Instant;

use fugato_nn::model::SequenceModel;
use fugato_nn::sample::{SampleOptions, Sampling, Sequence, generate};

/// Prints one JSON object: the workload's median and its runs.
pub fn emit(workload: &str, kind: &str, mut values: Vec<f64>, unit: &str) {
    let mut sorted = values.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    values.iter_mut().for_each(|v| *v = (*v * 1000.0).round() / 1000.0);
    println!(
        r#"{{"workload": "{workload}", "kind": "{kind}", "value": {median}, "unit": "{unit}", "runs": {values:?}}}"#
    );
}

/// Milliseconds per item of `runs` samplings of `steps` items after `primer` at
/// temperature 1 (a first, warm-up sampling not counted).
pub fn sampled_ms(model: &SequenceModel, primer: &Sequence, steps: usize, runs: usize) -> Vec<f64> {
    let mut values = Vec::new();
    for run in 0..=runs {
        let options = SampleOptions {
            steps,
            sampling: Sampling::Temperature(1.0),
            seed: run as u64,
            allowed_units: None,
            allowed_tokens: None,
            until: None,
            cancel: None,
            style: None,
        };
        let start = Instant::now();
        let out = generate(model, primer, &options);
        let ms = start.elapsed().as_secs_f64() * 1000.0 / steps as f64;
        assert_eq!(out.len(), steps);
        if run > 0 {
            values.push(ms);
        }
    }
    values
}
