//! Rendering speed: the built-in `production` profile, `production` with 1, 10, 100, 1,000 and
//! 3,000 Gateways, and the largest Redis Cluster (100 shards x 8 replicas), every target, in
//! memory (no disk writes). Criterion's throughput is per Gateway, so the per-machine cost reads
//! off directly.
//!
//! Run with `cargo bench --bench render`. Whole-process time, peak memory and the ratio to `cp -r`
//! are measured by `benches/process.sh` (start-up and file writing included).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tykgen::profile::Input;
use tykgen::targets::Target;

fn input(profile: &str, sets: &[String]) -> Input {
    Input { profile: Some(profile.into()), sets: sets.to_vec(), ..Input::default() }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("render_all_targets");
    group.sample_size(10);
    group.bench_function("production", |b| {
        b.iter(|| tykgen::render_profile(&input("production", &[]), Target::All, None).expect("renders"));
    });
    for n in [1_u64, 10, 100, 1000, 3000] {
        group.throughput(Throughput::Elements(n));
        let sets = [format!("gateway.nodes={n}")];
        group.bench_with_input(BenchmarkId::new("gateways", n), &sets, |b, sets| {
            b.iter(|| tykgen::render_profile(&input("production", sets), Target::All, None).expect("renders"));
        });
    }
    let cluster: Vec<String> =
        ["redis.shards=100", "redis.replicas_per_shard=8", "gateway.nodes=100", "targets.compose.subnet=172.30.0.0/22"]
            .map(String::from)
            .to_vec();
    group.throughput(Throughput::Elements(900));
    group.bench_function("redis_cluster_100x8", |b| {
        b.iter(|| tykgen::render_profile(&input("redis-cluster", &cluster), Target::All, None).expect("renders"));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
