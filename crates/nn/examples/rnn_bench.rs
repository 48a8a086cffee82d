//! fugato's side of `bench/rnn`: the workloads of `bench/reference/rnn_torch.py`, run
//! through fugato's own training step (model loss → backward → Adam with the gradient
//! norm clipped to 5, the optimizer `fugato train` uses) and sampler (`sample::generate`).
//!
//!     cargo run --release -p fugato-nn --example rnn_bench -- [STEPS] [RUNS] [FILTER]
//!
//! Prints one JSON object per line, like the reference.
//!
//! Built with `--features phase-timers`, it also prints each training workload's time per
//! step in each phase of the fused kernels ([`fugato_kernels::timers`]).

mod common;

use std::time::Instant;

use burn::optim::GradientsParams;
use burn::tensor::Device;
use fugato_data::Sequences;
use fugato_kernels::timers;
use fugato_nn::batch::{SequenceSet, Window, make_batch};
use fugato_nn::fused::FusedAdam;
use fugato_nn::model::{CellKind, HeadKind, Input, ModelConfig};
use fugato_nn::sample::Sequence;

use common::{emit, sampled_ms};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const UNITS: usize = 88;
const BATCH: usize = 32;
const SEQ: usize = 64;

fn config(cell: CellKind, peephole: bool, hidden: usize, layers: usize, dropout: f64) -> ModelConfig {
    ModelConfig {
        cell,
        peephole,
        hidden,
        layers,
        dropout,
        head: HeadKind::Sigmoid,
        input: Input::Frames { units: UNITS },
        outputs: UNITS,
        nade_hidden: 0,
        attention: None,
    }
}

/// Piano-roll-like data: about four of 88 notes on per frame, 8 batches' worth.
fn data() -> SequenceSet {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut seqs = Sequences::default();
    for _ in 0..8 * BATCH {
        let frames: Vec<u128> =
            (0..=SEQ).map(|_| (0..UNITS).filter(|_| rng.random_bool(0.05)).fold(0u128, |f, k| f | 1 << k)).collect();
        seqs.push(&frames);
    }
    SequenceSet::Frames(seqs)
}

fn train(name: &str, model: ModelConfig, steps: usize, runs: usize) {
    let device = Device::flex().autodiff();
    device.seed(0);
    let set = data();
    let batches: Vec<_> = (0..8)
        .map(|b| {
            let windows: Vec<Window> =
                (0..BATCH).map(|r| Window { sequence: b * BATCH + r, start: 0, len: SEQ + 1, shift: 0 }).collect();
            make_batch(&set, &windows, &device)
        })
        .collect();
    let mut model = model.init(&device);
    let mut optimizer = FusedAdam::module_optimizer(Some(5.0), None);
    let mut run_steps = |model: fugato_nn::model::SequenceModel, n: usize| {
        let mut model = model;
        for i in 0..n {
            let loss = model.loss(&batches[i % batches.len()]);
            let _ = loss.clone().into_scalar::<f32>(); // the loop reads the loss, as training does
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(1e-3, model, grads);
        }
        model
    };
    model = run_steps(model, 5);
    timers::reset();
    let mut values = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        model = run_steps(model, steps);
        values.push((BATCH * SEQ * steps) as f64 / start.elapsed().as_secs_f64());
    }
    let step = values.iter().map(|v| 1e3 * (BATCH * SEQ) as f64 / v).sum::<f64>() / runs as f64;
    emit(name, "train", values, "frames/s");
    if timers::ENABLED {
        let per_step = |d: std::time::Duration| d.as_secs_f64() * 1e3 / (steps * runs) as f64;
        let phases: Vec<String> =
            timers::totals().into_iter().map(|(phase, d)| format!("{phase} {:.2} ms", per_step(d))).collect();
        println!("{name}, per step, first thread: {}; the step {step:.2} ms", phases.join(", "));
    }
}

fn sample(name: &str, model: ModelConfig, runs: usize) {
    let device = Device::flex();
    device.seed(0);
    let model = model.init(&device);
    emit(name, "sample", sampled_ms(&model, &Sequence::Frames(Vec::new()), 1000, runs), "ms/frame");
}

fn main() {
    // As the `fugato` binary does: freed buffers stay in the heap for the next step.
    fugato_kernels::tune_allocator();
    let args: Vec<String> = std::env::args().collect();
    let steps = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(30);
    let runs = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3);
    let only = args.get(3).cloned().unwrap_or_default();
    type Workload = (&'static str, Box<dyn Fn()>);
    let workloads: Vec<Workload> = vec![
        (
            "train LSTM-256",
            Box::new(move || train("train LSTM-256", config(CellKind::Lstm, false, 256, 1, 0.0), steps, runs)),
        ),
        (
            "train GRU-256",
            Box::new(move || train("train GRU-256", config(CellKind::Gru, false, 256, 1, 0.0), steps, runs)),
        ),
        (
            "train RNN-256",
            Box::new(move || train("train RNN-256", config(CellKind::Rnn, false, 256, 1, 0.0), steps, runs)),
        ),
        (
            "train 3xLSTM-128 dropout 0.5",
            Box::new(move || {
                train("train 3xLSTM-128 dropout 0.5", config(CellKind::Lstm, false, 128, 3, 0.5), steps, runs)
            }),
        ),
        (
            "train peephole LSTM-256",
            Box::new(move || train("train peephole LSTM-256", config(CellKind::Lstm, true, 256, 1, 0.0), steps, runs)),
        ),
        (
            "sample LSTM-256",
            Box::new(move || sample("sample LSTM-256", config(CellKind::Lstm, false, 256, 1, 0.0), runs)),
        ),
        ("sample GRU-256", Box::new(move || sample("sample GRU-256", config(CellKind::Gru, false, 256, 1, 0.0), runs))),
    ];
    for (name, run) in workloads {
        if name.contains(&only) {
            run();
        }
    }
}
