//! Rendering speed: the built-in `production` profile and generated profiles with 10, 100 and
//! 1,000 Gateways, every target that exists, in memory (no disk writes).
//!
//! Run with `cargo bench --bench render`. Whole-process time and peak memory are measured by
//! `benches/process.sh` (start-up included).

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tykgen::profile::Input;
use tykgen::targets::Target;

fn input(gateways: Option<u32>) -> Input {
    Input {
        profile: Some("production".into()),
        sets: gateways.map(|n| vec![format!("gateway.nodes={n}")]).unwrap_or_default(),
        ..Input::default()
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("render_all_targets");
    group.sample_size(20);
    group.bench_function("production", |b| {
        b.iter(|| tykgen::render_profile(&input(None), Target::All, None).expect("renders"));
    });
    for n in [10_u32, 100, 1000] {
        group.bench_with_input(BenchmarkId::new("gateways", n), &n, |b, &n| {
            b.iter(|| tykgen::render_profile(&input(Some(n)), Target::All, None).expect("renders"));
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
