//! Quickstart: tune a small model trained from scratch, in parallel, reproducibly.
//!
//! The "model" is logistic regression on a synthetic two-moons-like data set, trained by
//! gradient descent; the search tunes the learning rate, the L2 penalty, the number of
//! epochs and the optimizer (with a momentum only SGD has).
//!
//! Run: `cargo run --release --example quickstart`

use hyperflow::{Outcome, Point, PointError, Space, fmin};

/// A reproducible data set: two noisy interleaved classes with a non-linear feature.
fn dataset(n: usize) -> (Vec<[f64; 3]>, Vec<f64>) {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|i| {
            let label = (i % 2) as f64;
            let t = std::f64::consts::PI * uniform();
            let (x, y) = if label == 0.0 {
                (t.cos(), t.sin())
            } else {
                (1.0 - t.cos(), 0.5 - t.sin())
            };
            let (x, y) = (x + 0.2 * (uniform() - 0.5), y + 0.2 * (uniform() - 0.5));
            ([x, y, x * y], label)
        })
        .unzip()
}

/// Trains and returns (validation log-loss, validation accuracy).
fn train(p: &Point, data: &(Vec<[f64; 3]>, Vec<f64>)) -> Result<Outcome, PointError> {
    let lr: f64 = p.get("lr")?;
    let l2: f64 = p.get("l2")?;
    let epochs: usize = p.get("epochs")?;
    let momentum: f64 = if p.get::<String>("optimizer")? == "sgd" {
        p.get("momentum")?
    } else {
        0.0
    };
    let (xs, ys) = data;
    let split = xs.len() * 4 / 5;
    let (mut w, mut v) = ([0.0f64; 4], [0.0f64; 4]);
    let predict = |w: &[f64; 4], x: &[f64; 3]| {
        1.0 / (1.0 + (-(w[0] + w[1] * x[0] + w[2] * x[1] + w[3] * x[2])).exp())
    };
    for _ in 0..epochs {
        let mut grad = [0.0f64; 4];
        for (x, y) in xs[..split].iter().zip(&ys[..split]) {
            let err = predict(&w, x) - y;
            for (g, f) in grad.iter_mut().zip([1.0, x[0], x[1], x[2]]) {
                *g += err * f / split as f64;
            }
        }
        for i in 0..4 {
            v[i] = momentum * v[i] - lr * (grad[i] + l2 * w[i]);
            w[i] += v[i];
        }
    }
    let (mut loss, mut correct) = (0.0, 0.0);
    for (x, y) in xs[split..].iter().zip(&ys[split..]) {
        let q = predict(&w, x).clamp(1e-12, 1.0 - 1e-12);
        loss -= y * q.ln() + (1.0 - y) * (1.0 - q).ln();
        correct += f64::from(u8::from((q > 0.5) == (*y == 1.0)));
    }
    let n = (xs.len() - split) as f64;
    Ok(Outcome::loss(loss / n).with_metric("accuracy", correct / n))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let space = Space::builder()
        .loguniform("lr", 1e-3, 3.0)
        .loguniform("l2", 1e-6, 1e-1)
        .quniform("epochs", 10.0, 200.0, 10.0)
        .choice(
            "optimizer",
            [
                ("sgd", Space::builder().uniform("momentum", 0.0, 0.95)),
                ("gd", Space::builder()),
            ],
        )
        .build()?;
    let data = dataset(400);
    let result = fmin(|p: &Point| train(p, &data), &space)
        .max_evals(100)
        .seed(7)
        .parallelism(4)
        .run()?;

    let best = result.best().ok_or("no trial succeeded")?;
    println!(
        "best validation log-loss {:.4} after {} trials",
        best.loss.unwrap_or(f64::NAN),
        result.trials().len()
    );
    println!("best point: {}", best.point);
    println!("failed trials: {}", result.failures().count());
    Ok(())
}
