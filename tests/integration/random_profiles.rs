//! Property: every valid profile renders, and every file it renders parses back as what it
//! claims to be (JSON, YAML, HCL). Profiles are drawn from the space the schema allows and
//! validation accepts: tier sizes, each Redis mode with its counts, optional cache and analytics
//! Redis, both database engines, TLS on and off, pinned addresses.

use proptest::prelude::*;
use tykgen::profile::Input;
use tykgen::targets::Target;

#[derive(Debug, Clone)]
enum Mode {
    Standalone,
    Sentinel { replicas: u32, sentinels: u32 },
    Cluster { shards: u32, replicas_per_shard: u32 },
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![
        Just(Mode::Standalone),
        (1u32..=3, 1u32..=4).prop_map(|(replicas, sentinels)| Mode::Sentinel { replicas, sentinels }),
        (3u32..=5, 0u32..=2).prop_map(|(shards, replicas_per_shard)| Mode::Cluster { shards, replicas_per_shard }),
    ]
}

fn redis_yaml(key: &str, m: &Mode, tls: bool) -> String {
    let mut s = format!("{key}:\n  version: \"7.2\"\n  tls: {{enabled: {tls}}}\n");
    match m {
        Mode::Standalone => s.push_str("  mode: standalone\n"),
        Mode::Sentinel { replicas, sentinels } => {
            s.push_str(&format!("  mode: sentinel\n  replicas: {replicas}\n  sentinels: {sentinels}\n"));
        }
        Mode::Cluster { shards, replicas_per_shard } => {
            s.push_str(&format!("  mode: cluster\n  shards: {shards}\n  replicas_per_shard: {replicas_per_shard}\n"));
        }
    }
    s
}

prop_compose! {
    fn profile()(
        gateways in 1u32..=4,
        load_balancer in any::<bool>(),
        dashboard in any::<bool>(),
        pump in any::<bool>(),
        main in mode(),
        main_tls in any::<bool>(),
        cache in proptest::option::of(mode()),
        analytics in proptest::option::of(mode()),
        mongo in any::<bool>(),
        db_replicas in 0u32..=2,
        db_tls in any::<bool>(),
        pin in proptest::option::of((1u8..=254, 1u8..=254)),
    ) -> String {
        let pump = pump && dashboard;
        let mut s = format!(
            "name: random\ntyk: {{version: \"5.8.2\", pump_version: \"1.12.0\"}}\n\
             gateway: {{nodes: {gateways}, load_balancer: {load_balancer}}}\n\
             dashboard: {{nodes: {}}}\npump: {{nodes: {}}}\n",
            u32::from(dashboard), u32::from(pump)
        );
        s.push_str(&redis_yaml("redis", &main, main_tls));
        if let Some(c) = &cache {
            s.push_str(&redis_yaml("cache_redis", c, false));
        }
        if let Some(a) = analytics.as_ref().filter(|_| pump) {
            s.push_str(&redis_yaml("analytics_redis", a, false));
        }
        if dashboard {
            let (engine, version) = if mongo { ("mongodb", "7.0") } else { ("postgres", "16") };
            s.push_str(&format!(
                "database:\n  engine: {engine}\n  version: \"{version}\"\n  replicas: {db_replicas}\n  tls: {{enabled: {db_tls}}}\n"
            ));
        }
        if let Some((a, b)) = pin {
            s.push_str(&format!("machines:\n  gateway-1: {{address: \"10.{a}.{b}.10\"}}\n"));
        }
        s
    }
}

fn parses(path: &str, bytes: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("{path}: not UTF-8: {e}"))?;
    let ext = path.rsplit('.').next().unwrap_or("");
    let json = |t: &str| serde_json::from_str::<serde_json::Value>(t).map(drop).map_err(|e| format!("{path}: {e}"));
    match ext {
        "json" => json(text),
        "conf" if text.trim_start().starts_with('{') => json(text),
        "yml" | "yaml" => {
            serde_saphyr::from_str::<serde_json::Value>(text).map(drop).map_err(|e| format!("{path}: {e}"))
        }
        "tf" | "tfvars" | "example" if path.contains("terraform") => {
            hcl::parse(text).map(drop).map_err(|e| format!("{path}: {e}"))
        }
        _ => Ok(()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_valid_profiles_render_and_every_output_parses(text in profile()) {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("random.yaml");
        std::fs::write(&path, &text).unwrap();
        let input = Input { profile: Some(path.display().to_string()), ..Input::default() };
        let rendered = tykgen::render_profile(&input, Target::All, None);
        let rendered = match rendered {
            Ok(r) => r,
            Err(e) => {
                // A profile the structural rules refuse is fine only with a located message.
                let msg = format!("{e:#}");
                prop_assert!(e.downcast_ref::<tykgen::diagnostic::Diagnostics>().is_some(), "{msg}\n{text}");
                return Ok(());
            }
        };
        let mut files = 0;
        for (dir, set) in &rendered.sets {
            for (rel, bytes, _) in set.iter().chain(set.user_files()) {
                let full = if dir.is_empty() { rel.to_owned() } else { format!("{dir}/{rel}") };
                if let Err(e) = parses(&full, bytes) {
                    return Err(TestCaseError::fail(format!("{e}\nprofile:\n{text}")));
                }
                files += 1;
            }
        }
        prop_assert!(files > 20);
    }
}
