//! A program for `hyperflow sweep` to tune (see `examples/sweeps/rust/sweep.toml`):
//! minibatch SGD with momentum on a generated, badly conditioned least-squares problem.
//!
//! ```text
//! cargo run --release --example sweep_target -- --lr 0.01 --momentum 0.9 --batch-size 32
//! ```
//!
//! It prints `hyperflow: metric=val_loss value=... step=<epoch>` after every epoch and a
//! final JSON line `{"val_loss": ..., "train_loss": ...}`; a run that diverges says so on
//! stderr and exits with status 2, which the sweep records as a failed trial.

use std::process::ExitCode;

const FEATURES: usize = 20;
const EPOCHS: usize = 20;

/// A small deterministic generator (SplitMix64), so every trial sees the same data.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.next_f64().max(1e-300), self.next_f64());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

struct Data {
    x: Vec<[f64; FEATURES]>,
    y: Vec<f64>,
}

fn make_data(n: usize, weights: &[f64; FEATURES], rng: &mut Rng) -> Data {
    let mut data = Data {
        x: Vec::with_capacity(n),
        y: Vec::with_capacity(n),
    };
    for _ in 0..n {
        let mut x = [0.0; FEATURES];
        for (j, xj) in x.iter_mut().enumerate() {
            // Feature scales from 0.1 to 5: the condition number makes the learning rate
            // and momentum matter.
            *xj = rng.normal() * (0.1 + 4.9 * j as f64 / (FEATURES - 1) as f64);
        }
        let y = x.iter().zip(weights).map(|(a, b)| a * b).sum::<f64>() + 0.1 * rng.normal();
        data.x.push(x);
        data.y.push(y);
    }
    data
}

fn mse(w: &[f64; FEATURES], data: &Data) -> f64 {
    let total: f64 = data
        .x
        .iter()
        .zip(&data.y)
        .map(|(x, y)| {
            let pred: f64 = x.iter().zip(w).map(|(a, b)| a * b).sum();
            (pred - y).powi(2)
        })
        .sum();
    total / data.y.len() as f64
}

struct Args {
    lr: f64,
    momentum: f64,
    batch_size: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        lr: 0.01,
        momentum: 0.0,
        batch_size: 32,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--lr" => args.lr = value.parse().map_err(|e| bad(&e))?,
            "--momentum" => args.momentum = value.parse().map_err(|e| bad(&e))?,
            "--batch-size" => args.batch_size = value.parse().map_err(|e| bad(&e))?,
            _ => {
                return Err(format!(
                    "unknown flag {flag}; expected --lr, --momentum, --batch-size"
                ));
            }
        }
    }
    if args.batch_size == 0 {
        return Err("--batch-size must be at least 1".into());
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(64);
        }
    };
    let mut rng = Rng(42);
    let mut truth = [0.0; FEATURES];
    for t in truth.iter_mut() {
        *t = rng.normal();
    }
    let train = make_data(512, &truth, &mut rng);
    let val = make_data(256, &truth, &mut rng);

    let mut w = [0.0; FEATURES];
    let mut velocity = [0.0; FEATURES];
    let mut order: Vec<usize> = (0..train.y.len()).collect();
    for epoch in 1..=EPOCHS {
        // Fisher-Yates with the data generator's stream: same shuffles in every trial.
        for i in (1..order.len()).rev() {
            let j = (rng.next_f64() * (i + 1) as f64) as usize;
            order.swap(i, j.min(i));
        }
        for batch in order.chunks(args.batch_size) {
            let mut grad = [0.0; FEATURES];
            for &i in batch {
                let x = &train.x[i];
                let err: f64 = x.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>() - train.y[i];
                for (g, xj) in grad.iter_mut().zip(x) {
                    *g += 2.0 * err * xj / batch.len() as f64;
                }
            }
            for j in 0..FEATURES {
                velocity[j] = args.momentum * velocity[j] - args.lr * grad[j];
                w[j] += velocity[j];
            }
        }
        let val_loss = mse(&w, &val);
        if !val_loss.is_finite() || val_loss > 1e12 {
            eprintln!(
                "diverged at epoch {epoch}: val_loss = {val_loss:e}; lower --lr or --momentum"
            );
            return ExitCode::from(2);
        }
        println!("hyperflow: metric=val_loss value={val_loss} step={epoch}");
    }
    println!(
        "{{\"val_loss\": {}, \"train_loss\": {}}}",
        mse(&w, &val),
        mse(&w, &train)
    );
    ExitCode::SUCCESS
}
