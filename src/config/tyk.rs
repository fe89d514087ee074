//! `tyk.conf`, `tyk_analytics.conf` and `pump.conf`, as typed values serialised with serde_json.
//!
//! One Redis model is spelt three ways, because each component reads its own keys
//! (`tyk-reference.md` §1.4): the Gateway's `storage` block, the Pump's `analytics_storage_config`
//! (`ssl_*` names) and the Dashboard's flat `redis_*` keys. Certificate and TLS-version keys are
//! only emitted where the version reads them (Tyk 5.3+, Pump 1.9+). Secrets never appear: each
//! component reads them from its documented environment variables (`SecretUse::Env`).

use serde::Serialize;
use serde_json::{Map, Value};

use super::database::{ANALYTICS_COLLECTION, DATABASE, DB_USER as DATABASE_USER};
use super::{ConfigFile, signing_paths, tls_paths};
use crate::output::FileMode;
use crate::profile::{Engine, Profile, RedisMode};
use crate::topology::{
    DASHBOARD_PORT, GATEWAY_CONTROL_PORT, GATEWAY_PORT, MONGODB_PORT, Machine, POSTGRES_PORT, PUMP_HEALTH_PORT,
    REDIS_PORT, RedisDeployment, Role, SENTINEL_PORT, SecretUse, Store, Topology,
};

/// Files and secrets of a Gateway, Dashboard or Pump machine: the same for every machine of
/// `role` (each finds the others by their names in the topology, and no file names the machine
/// it is on).
pub(super) fn machine(p: &Profile, t: &Topology, role: Role) -> anyhow::Result<(Vec<ConfigFile>, Vec<SecretUse>)> {
    let (name, install_path, secrets) = match role {
        Role::Gateway => ("tyk.conf", "/opt/tyk-gateway/tyk.conf", gateway_secrets(t)),
        Role::Dashboard => ("tyk_analytics.conf", "/opt/tyk-dashboard/tyk_analytics.conf", dashboard_secrets(p, t)),
        Role::Pump => ("pump.conf", "/opt/tyk-pump/pump.conf", pump_secrets(p, t)),
        _ => anyhow::bail!("{} is not a Tyk component", role.as_str()),
    };
    let mut value = generated(p, t, role)?;
    let (extra, over) = extra_of(p, role);
    deep_merge(&mut value, &Value::Object(extra.clone()));
    deep_merge(&mut value, &Value::Object(over.clone()));
    let mut contents = serde_json::to_string_pretty(&value)?;
    contents.push('\n');
    let file = ConfigFile {
        name: name.to_owned(),
        install_path: install_path.to_owned(),
        contents: contents.into(),
        mode: FileMode::Normal,
    };
    Ok((vec![file], secrets))
}

/// The configuration tykgen writes for a Tyk `role`, before `extra_config` (validation compares
/// `extra_config` with it).
///
/// # Errors
/// A role that is not Tyk's, or a value that does not serialize.
pub(crate) fn generated(p: &Profile, t: &Topology, role: Role) -> anyhow::Result<Value> {
    match role {
        Role::Gateway => to_value(&gateway(p, t)),
        Role::Dashboard => to_value(&dashboard(p, t)),
        Role::Pump => to_value(&pump(p, t)),
        _ => anyhow::bail!("{} is not a Tyk component", role.as_str()),
    }
}

/// `extra_config.<role>` and `extra_config.override.<role>`.
pub(crate) fn extra_of(p: &Profile, role: Role) -> (&Map<String, Value>, &Map<String, Value>) {
    let e = &p.extra_config;
    match role {
        Role::Dashboard => (&e.dashboard, &e.overrides.dashboard),
        Role::Pump => (&e.pump, &e.overrides.pump),
        _ => (&e.gateway, &e.overrides.gateway),
    }
}

fn to_value(v: &impl Serialize) -> anyhow::Result<Value> {
    Ok(serde_json::to_value(v)?)
}

/// Merges `extra` into `base`: objects merge key by key, anything else replaces, `null` removes.
pub(crate) fn deep_merge(base: &mut Value, extra: &Value) {
    match (base, extra) {
        (Value::Object(b), Value::Object(e)) => {
            for (k, v) in e {
                match (b.get_mut(k), v) {
                    (_, Value::Null) => {
                        b.remove(k);
                    }
                    (Some(existing), Value::Object(_)) if existing.is_object() => deep_merge(existing, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, e) => *b = e.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// Redis, once, then in each component's spelling.

/// How a component reaches one Redis deployment, independent of spelling.
struct RedisConn {
    addrs: Vec<String>,
    master_name: Option<String>,
    cluster: bool,
    tls: Option<TlsConn>,
    max_idle: u32,
    max_active: u32,
}

struct TlsConn {
    skip_verify: bool,
    /// CA, client certificate and key, TLS versions: only for versions that read them.
    ca: Option<&'static str>,
    cert_key: Option<(&'static str, &'static str)>,
    min: Option<&'static str>,
    max: Option<&'static str>,
}

/// `files_supported`: the component reads CA/cert/key/version settings (Tyk 5.3+, Pump 1.9+).
fn redis_conn(t: &Topology, dep: &RedisDeployment, files_supported: bool) -> RedisConn {
    let s = &dep.settings;
    let addrs = match s.mode {
        RedisMode::Sentinel => dep.sentinels.iter().map(|n| t.addr(n, SENTINEL_PORT)).collect(),
        RedisMode::Standalone | RedisMode::Cluster => dep.nodes.iter().map(|n| t.addr(n, REDIS_PORT)).collect(),
    };
    let tls = s.tls.enabled.then(|| TlsConn {
        skip_verify: !s.tls.verify,
        ca: (files_supported && s.tls.verify).then_some(tls_paths::CA),
        cert_key: (files_supported && s.tls.mutual).then_some((tls_paths::CERT, tls_paths::KEY)),
        min: s.tls.min_version.filter(|_| files_supported).map(|v| v.as_str()),
        max: s.tls.max_version.filter(|_| files_supported).map(|v| v.as_str()),
    });
    RedisConn {
        addrs,
        master_name: dep.master_name.clone(),
        cluster: s.mode == RedisMode::Cluster,
        tls,
        max_idle: s.pool.max_idle,
        max_active: s.pool.max_active,
    }
}

/// The Gateway's `storage`, `cache_storage` and `analytics_storage` block (and the Pump's shape
/// with `ssl_` names, see `PumpStorage`).
#[derive(Serialize)]
struct GatewayStorage {
    #[serde(rename = "type")]
    kind: &'static str,
    addrs: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    master_name: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    enable_cluster: bool,
    database: u32,
    optimisation_max_idle: u32,
    optimisation_max_active: u32,
    timeout: u32,
    use_ssl: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    ssl_insecure_skip_verify: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ca_file: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cert_file: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_file: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_min_version: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_max_version: Option<&'static str>,
}

impl From<RedisConn> for GatewayStorage {
    fn from(c: RedisConn) -> Self {
        let tls = c.tls.as_ref();
        Self {
            kind: "redis",
            addrs: c.addrs,
            master_name: c.master_name,
            enable_cluster: c.cluster,
            database: 0,
            optimisation_max_idle: c.max_idle,
            optimisation_max_active: c.max_active,
            timeout: 5,
            use_ssl: tls.is_some(),
            ssl_insecure_skip_verify: tls.map(|t| t.skip_verify),
            ca_file: tls.and_then(|t| t.ca),
            cert_file: tls.and_then(|t| t.cert_key.map(|c| c.0)),
            key_file: tls.and_then(|t| t.cert_key.map(|c| c.1)),
            tls_min_version: tls.and_then(|t| t.min),
            tls_max_version: tls.and_then(|t| t.max),
        }
    }
}

/// The Pump's `analytics_storage_config`: the same model, `ssl_` names (Pump 1.9+).
#[derive(Serialize)]
struct PumpStorage {
    #[serde(rename = "type")]
    kind: &'static str,
    addrs: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    master_name: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    enable_cluster: bool,
    database: u32,
    optimisation_max_idle: u32,
    optimisation_max_active: u32,
    timeout: u32,
    use_ssl: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    ssl_insecure_skip_verify: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ssl_ca_file: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ssl_cert_file: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ssl_key_file: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ssl_min_version: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ssl_max_version: Option<&'static str>,
}

impl From<RedisConn> for PumpStorage {
    fn from(c: RedisConn) -> Self {
        let g = GatewayStorage::from(c);
        Self {
            kind: g.kind,
            addrs: g.addrs,
            master_name: g.master_name,
            enable_cluster: g.enable_cluster,
            database: g.database,
            optimisation_max_idle: g.optimisation_max_idle,
            optimisation_max_active: g.optimisation_max_active,
            timeout: g.timeout,
            use_ssl: g.use_ssl,
            ssl_insecure_skip_verify: g.ssl_insecure_skip_verify,
            ssl_ca_file: g.ca_file,
            ssl_cert_file: g.cert_file,
            ssl_key_file: g.key_file,
            ssl_min_version: g.tls_min_version,
            ssl_max_version: g.tls_max_version,
        }
    }
}

/// The Dashboard's flat `redis_*` keys (no idle-pool setting exists for the Dashboard).
#[derive(Serialize)]
struct DashboardRedis {
    redis_addrs: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    redis_master_name: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    enable_cluster: bool,
    redis_database: u32,
    redis_timeout: u32,
    redis_max_active: u32,
    redis_use_ssl: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    redis_ssl_insecure_skip_verify: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    redis_ca_file: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    redis_cert_file: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    redis_key_file: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    redis_tls_min_version: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    redis_tls_max_version: Option<&'static str>,
}

impl From<RedisConn> for DashboardRedis {
    fn from(c: RedisConn) -> Self {
        let g = GatewayStorage::from(c);
        Self {
            redis_addrs: g.addrs,
            redis_master_name: g.master_name,
            enable_cluster: g.enable_cluster,
            redis_database: g.database,
            redis_timeout: g.timeout,
            redis_max_active: g.optimisation_max_active,
            redis_use_ssl: g.use_ssl,
            redis_ssl_insecure_skip_verify: g.ssl_insecure_skip_verify,
            redis_ca_file: g.ca_file,
            redis_cert_file: g.cert_file,
            redis_key_file: g.key_file,
            redis_tls_min_version: g.tls_min_version,
            redis_tls_max_version: g.tls_max_version,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Gateway

#[derive(Serialize)]
struct GatewayConf {
    listen_port: u16,
    /// The Gateway API on its own port, which only the Dashboard (and the load balancer's
    /// health checks) can reach: tyk-docs planning-for-production.mdx "Change your Control Port",
    /// tyk@v5.8.2 config/config.go:716.
    control_api_port: u16,
    log_level: &'static str,
    health_check_endpoint_name: &'static str,
    storage: GatewayStorage,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    enable_separate_cache_store: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_storage: Option<GatewayStorage>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    enable_separate_analytics_store: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    analytics_storage: Option<GatewayStorage>,
    enable_analytics: bool,
    analytics_config: AnalyticsConfig,
    use_db_app_configs: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    db_app_conf_options: Option<DbAppConfOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    app_path: Option<&'static str>,
    policies: Policies,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    enable_custom_domains: bool,
    hash_keys: bool,
    enable_hashed_keys_listing: bool,
    /// Change notifications from the Dashboard must carry a signature of its private key
    /// (tyk@v5.8.2 config/config.go:730-733, gateway/redis_signals.go `isPayloadSignatureValid`).
    allow_insecure_configs: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    public_key_path: Option<&'static str>,
    allow_master_keys: bool,
    enable_key_logging: bool,
    http_server_options: HttpServerOptions,
    // "Planning for Production" optimisations (tyk-reference.md §1.1).
    close_connections: bool,
    proxy_close_connections: bool,
    enforce_org_quotas: bool,
    enforce_org_data_detail_logging: bool,
    experimental_process_org_off_thread: bool,
    enable_non_transactional_rate_limiter: bool,
    enable_sentinel_rate_limiter: bool,
    local_session_cache: LocalSessionCache,
    max_idle_connections_per_host: u32,
}

#[derive(Serialize)]
struct AnalyticsConfig {
    enable_detailed_recording: bool,
    storage_expiration_time: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    enable_multiple_analytics_keys: bool,
}

#[derive(Serialize)]
struct DbAppConfOptions {
    connection_string: String,
    node_is_segmented: bool,
    tags: Vec<String>,
}

#[derive(Serialize)]
struct Policies {
    policy_source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy_connection_string: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy_record_name: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy_path: Option<&'static str>,
    allow_explicit_policy_id: bool,
}

#[derive(Serialize)]
struct HttpServerOptions {
    enable_websockets: bool,
    #[serde(flatten)]
    tls: ServerTls,
    /// Never skip verifying the Dashboard: the Gateway's Dashboard client takes this flag
    /// (tyk@v5.8.15 gateway/dashboard_register.go:82-90).
    #[serde(skip_serializing_if = "Option::is_none")]
    ssl_insecure_skip_verify: Option<bool>,
}

/// TLS of an HTTP listener (`profile.tyk.tls`), spelt alike by the Gateway and the Dashboard:
/// `use_ssl`, `ssl_certificates` (paths of PEM files holding certificate and key) and
/// `min_version` (a Go `tls.VersionTLS*` number). Gateway: tyk@v5.8.15 config/config.go:464
/// (`use_ssl`), :529 (`ssl_certificates`), :535 (`min_version`); Dashboard: tyk-docs
/// 95922c952e67 snippets/dashboard-config.mdx:826, :848, :854, api-management/implement-tls.mdx:503-518.
#[derive(Serialize)]
struct ServerTls {
    use_ssl: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ssl_certificates: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_version: Option<u16>,
}

/// `tls.VersionTLS12` (Go crypto/tls), the floor tyk-charts sets too (`TYK_DB_HTTPSERVEROPTIONS_MINVERSION: "771"`,
/// components/tyk-dashboard/templates/deployment-dashboard.yaml:236).
const TLS12: u16 = 771;

fn server_tls(p: &Profile) -> ServerTls {
    let on = p.tyk.tls.enabled;
    ServerTls {
        use_ssl: on,
        ssl_certificates: if on { vec![tls_paths::PEM] } else { Vec::new() },
        min_version: on.then_some(TLS12),
    }
}

/// `http` or `https`: the scheme of the Tyk listeners.
pub(crate) fn scheme(p: &Profile) -> &'static str {
    if p.tyk.tls.enabled { "https" } else { "http" }
}

#[derive(Serialize)]
struct LocalSessionCache {
    disable_cached_session_state: bool,
}

/// The Dashboard's URL for the Gateways. Over HTTPS, the Gateway's Dashboard client (used for
/// registration, APIs and policies: tyk@v5.8.15 gateway/dashboard_register.go:67-95,
/// dashboard_recovery.go:36) sets no `RootCAs`, so it verifies the Dashboard's certificate and
/// host name against the system roots, where every target puts the CA
/// (`tls_paths::TRUSTED_CA`). `security.certificates.dashboard_api` is declared
/// (config/config.go:647) but read nowhere at that tag.
fn dashboard_url(p: &Profile, t: &Topology) -> Option<String> {
    t.with_role(Role::Dashboard).next().map(|d| format!("{}://{}", scheme(p), t.addr(&d.name, DASHBOARD_PORT)))
}

fn gateway(p: &Profile, t: &Topology) -> GatewayConf {
    let files = p.tyk.version.at_least(5, 3, 0);
    let separate = |store| t.has_store(store).then(|| GatewayStorage::from(redis_conn(t, t.redis_for(store), files)));
    let analytics_dep = t.redis_for(Store::Analytics);
    let dashboard = dashboard_url(p, t);
    GatewayConf {
        listen_port: GATEWAY_PORT,
        control_api_port: GATEWAY_CONTROL_PORT,
        log_level: "info",
        health_check_endpoint_name: "hello",
        storage: redis_conn(t, t.redis_for(Store::Main), files).into(),
        enable_separate_cache_store: t.has_store(Store::Cache),
        cache_storage: separate(Store::Cache),
        enable_separate_analytics_store: t.has_store(Store::Analytics),
        analytics_storage: separate(Store::Analytics),
        enable_analytics: p.pump.nodes > 0,
        analytics_config: AnalyticsConfig {
            enable_detailed_recording: p.analytics.detailed_recording,
            storage_expiration_time: p.analytics.storage_expiration.0,
            // One analytics list per Gateway shard key spreads the load over the cluster (tyk#2541).
            enable_multiple_analytics_keys: analytics_dep.settings.mode == RedisMode::Cluster,
        },
        use_db_app_configs: dashboard.is_some(),
        db_app_conf_options: dashboard.clone().map(|url| DbAppConfOptions {
            connection_string: url,
            node_is_segmented: false,
            tags: Vec::new(),
        }),
        app_path: dashboard.is_none().then_some("/opt/tyk-gateway/apps"),
        policies: match &dashboard {
            Some(url) => Policies {
                policy_source: "service",
                policy_connection_string: Some(url.clone()),
                policy_record_name: Some("tyk_policies"),
                policy_path: None,
                allow_explicit_policy_id: true,
            },
            None => Policies {
                policy_source: "",
                policy_connection_string: None,
                policy_record_name: None,
                policy_path: Some("/opt/tyk-gateway/policies"),
                allow_explicit_policy_id: true,
            },
        },
        enable_custom_domains: dashboard.is_some(),
        hash_keys: true,
        enable_hashed_keys_listing: true,
        allow_insecure_configs: false,
        public_key_path: dashboard.is_some().then_some(signing_paths::PUBLIC),
        allow_master_keys: false,
        enable_key_logging: false,
        http_server_options: HttpServerOptions {
            enable_websockets: true,
            tls: server_tls(p),
            ssl_insecure_skip_verify: p.tyk.tls.enabled.then_some(false),
        },
        close_connections: false,
        proxy_close_connections: false,
        enforce_org_quotas: false,
        enforce_org_data_detail_logging: false,
        experimental_process_org_off_thread: true,
        enable_non_transactional_rate_limiter: true,
        enable_sentinel_rate_limiter: false,
        local_session_cache: LocalSessionCache { disable_cached_session_state: false },
        max_idle_connections_per_host: 500,
    }
}

fn redis_secret_env(out: &mut Vec<SecretUse>, prefix: &str, dep: &RedisDeployment) {
    out.push(SecretUse::Env { var: format!("{prefix}PASSWORD"), secret: dep.password_secret.clone() });
    if let Some(s) = &dep.sentinel_secret {
        out.push(SecretUse::Env { var: format!("{prefix}SENTINELPASSWORD"), secret: s.clone() });
    }
}

fn gateway_secrets(t: &Topology) -> Vec<SecretUse> {
    let mut out = vec![SecretUse::Env { var: "TYK_GW_SECRET".into(), secret: "gateway_api_secret".into() }];
    if t.with_role(Role::Dashboard).next().is_some() {
        out.push(SecretUse::Env { var: "TYK_GW_NODESECRET".into(), secret: "node_secret".into() });
    }
    redis_secret_env(&mut out, "TYK_GW_STORAGE_", t.redis_for(Store::Main));
    if t.has_store(Store::Cache) {
        redis_secret_env(&mut out, "TYK_GW_CACHESTORAGE_", t.redis_for(Store::Cache));
    }
    if t.has_store(Store::Analytics) {
        redis_secret_env(&mut out, "TYK_GW_ANALYTICSSTORAGE_", t.redis_for(Store::Analytics));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Dashboard

#[derive(Serialize)]
struct DashboardConf {
    tyk_api_config: TykApiConfig,
    #[serde(flatten)]
    redis: DashboardRedis,
    #[serde(flatten)]
    mongo: Option<DashboardMongo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    storage: Option<DashboardStorage>,
    host_config: HostConfig,
    http_server_options: DashboardHttp,
    // Key hashing as on the Gateway (`hash_keys`, `enable_hashed_keys_listing`), aggregate
    // analytics read from what `sql_aggregate`/`mongo-pump-aggregate` write, and hot reloads
    // pushed to the Gateways: tyk-docs snippets/dashboard-config.mdx (see the key table test).
    hash_keys: bool,
    enable_hashed_keys_listing: bool,
    enable_aggregate_lookups: bool,
    notify_on_change: bool,
    /// Signs change notifications for the Gateways' `public_key_path` (dashboard-config.mdx
    /// `private_key_path`).
    private_key_path: &'static str,
}

#[derive(Serialize)]
#[allow(non_snake_case)] // the Dashboard reads these capitalised keys
struct TykApiConfig {
    Host: String,
    Port: String,
}

#[derive(Serialize)]
struct DashboardMongo {
    mongo_url: String,
    mongo_driver: &'static str,
    mongo_use_ssl: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    mongo_ssl_insecure_skip_verify: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mongo_ssl_ca_file: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mongo_ssl_pem_keyfile: Option<&'static str>,
}

#[derive(Serialize)]
struct DashboardStorage {
    main: StorageLayer,
    analytics: StorageLayer,
    logs: StorageLayer,
    uptime: StorageLayer,
}

#[derive(Serialize)]
struct StorageLayer {
    #[serde(rename = "type")]
    kind: &'static str,
    connection_string: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    table_sharding: bool,
}

#[derive(Serialize)]
struct HostConfig {
    hostname: String,
    /// The Gateway host name the Dashboard shows users (tyk-docs dashboard-config.mdx
    /// `host_config.override_hostname`; there is no `gateway_hostname`).
    override_hostname: String,
    generate_secure_paths: bool,
}

#[derive(Serialize)]
struct DashboardHttp {
    #[serde(flatten)]
    tls: ServerTls,
}

/// libpq keyword/value connection string without the password: the Dashboard and the Pump get
/// the whole string again, password included, from their connection-string variables
/// (`postgres_secret_env`).
///
/// Every member is listed with `target_session_attrs=read-write`, so after a replica is promoted
/// the clients find the new primary without a configuration change.
pub(crate) fn postgres_conninfo(p: &Profile, t: &Topology) -> String {
    let Some(db) = &t.database else { return String::new() };
    let hosts: Vec<&str> = db.members.iter().filter_map(|n| t.machine(n)).map(Machine::endpoint).collect();
    let ports = vec![POSTGRES_PORT.to_string(); hosts.len()];
    let mut s = format!(
        "host={} port={} dbname={DATABASE} user={DATABASE_USER} target_session_attrs=read-write",
        hosts.join(","),
        ports.join(",")
    );
    let tls = p.database.as_ref().map(|d| &d.tls);
    match tls {
        Some(tls) if tls.enabled => {
            let mode = if tls.verify { "verify-full" } else { "require" };
            s.push_str(&format!(" sslmode={mode}"));
            if tls.verify {
                s.push_str(&format!(" sslrootcert={}", tls_paths::CA));
            }
            if tls.mutual {
                s.push_str(&format!(" sslcert={} sslkey={}", tls_paths::CERT, tls_paths::KEY));
            }
        }
        _ => s.push_str(" sslmode=disable"),
    }
    s
}

/// MongoDB URL of the replica set; `credentials` is `user:password@` or empty.
pub(crate) fn mongo_url(t: &Topology, credentials: &str) -> String {
    let Some(db) = &t.database else { return String::new() };
    let hosts: Vec<String> = db.members.iter().map(|n| t.addr(n, MONGODB_PORT)).collect();
    let rs = db.replica_set.as_deref().unwrap_or("tyk");
    // The `tyk` user lives in the `tyk_analytics` database, the URL's default authSource.
    format!("mongodb://{credentials}{}/{DATABASE}?replicaSet={rs}", hosts.join(","))
}

fn dashboard(p: &Profile, t: &Topology) -> DashboardConf {
    let files = p.tyk.version.at_least(5, 3, 0);
    let engine = p.database.as_ref().map(|d| d.engine);
    let gateway = t.with_role(Role::Gateway).next();
    let db_tls = p.database.as_ref().map(|d| d.tls.clone()).unwrap_or_default();
    let mongo = (engine == Some(Engine::Mongodb)).then(|| DashboardMongo {
        mongo_url: mongo_url(t, ""),
        mongo_driver: "mongo-go",
        mongo_use_ssl: db_tls.enabled,
        mongo_ssl_insecure_skip_verify: db_tls.enabled.then_some(!db_tls.verify),
        mongo_ssl_ca_file: (db_tls.enabled && db_tls.verify).then_some(tls_paths::CA),
        mongo_ssl_pem_keyfile: (db_tls.enabled && db_tls.mutual).then_some(tls_paths::PEM),
    });
    let storage = (engine == Some(Engine::Postgres)).then(|| {
        let conn = postgres_conninfo(p, t);
        let layer =
            |sharding| StorageLayer { kind: "postgres", connection_string: conn.clone(), table_sharding: sharding };
        // Analytics tables are sharded by day exactly when the Pump writes them so, and every layer
        // that reads the Pump's tables shards to match: `analytics` (aggregates), `logs` (the Log
        // Browser reads the raw records) and `uptime` (tyk-docs analytics-storage-management.mdx:
        // "the equivalent `table_sharding` ... (`main`, `analytics`, `logs`, `uptime`) matches").
        // `main` holds API definitions, policies and users, which the Pump never writes.
        let sharding = pump_shards(p);
        DashboardStorage {
            main: layer(false),
            analytics: layer(sharding),
            logs: layer(sharding),
            uptime: layer(sharding),
        }
    });
    DashboardConf {
        tyk_api_config: TykApiConfig {
            // Any Gateway will do ("only requires visibility to one node", dashboard-config.mdx
            // `tyk_api_config`): a name with every Gateway's address, as tyk-charts aims it at
            // the Gateway Service (components/tyk-dashboard/templates/_helpers.tpl tykApiHost).
            // Over HTTPS the Dashboard's Gateway client never verifies the certificate (tyk-docs
            // api-management/implement-tls.mdx:530-534, "hardcoded to always skip"): encrypted,
            // but only the network rules keep others off the control port.
            Host: gateway.map(|_| format!("{}://{}", scheme(p), t.gateway_control_host())).unwrap_or_default(),
            Port: GATEWAY_CONTROL_PORT.to_string(),
        },
        redis: redis_conn(t, t.redis_for(Store::Main), files).into(),
        mongo,
        storage,
        host_config: HostConfig {
            hostname: t.with_role(Role::Dashboard).next().map(|d| d.endpoint().to_owned()).unwrap_or_default(),
            override_hostname: t.gateway_public_host(),
            // URLs the Dashboard generates start with https (implement-tls.mdx:528).
            generate_secure_paths: p.tyk.tls.enabled,
        },
        http_server_options: DashboardHttp { tls: server_tls(p) },
        hash_keys: true,
        enable_hashed_keys_listing: true,
        enable_aggregate_lookups: true,
        notify_on_change: true,
        private_key_path: signing_paths::PRIVATE,
    }
}

/// True when the SQL pumps write daily tables (`table_sharding`).
fn pump_shards(p: &Profile) -> bool {
    p.analytics.retention_days.is_some()
}

/// The database password, inside the whole connection string or URL, through each documented
/// variable in `vars`: PostgreSQL `connection_string`s or MongoDB URLs. Tyk documents no separate
/// password setting for either, and tyk-charts passes the Dashboard's PostgreSQL password the
/// same way (`TYK_DB_STORAGE_<LAYER>_CONNECTIONSTRING` from a secret).
fn database_secret_env(p: &Profile, t: &Topology, postgres_vars: &[&str], mongo_vars: &[&str]) -> Vec<SecretUse> {
    match t.database.as_ref().map(|d| d.engine) {
        Some(Engine::Postgres) => postgres_vars
            .iter()
            .map(|var| SecretUse::EnvTemplate {
                var: (*var).to_owned(),
                template: format!("{} password={{postgres_tyk_password}}", postgres_conninfo(p, t)),
                secrets: vec!["postgres_tyk_password".into()],
            })
            .collect(),
        Some(Engine::Mongodb) => mongo_vars
            .iter()
            .map(|var| SecretUse::EnvTemplate {
                var: (*var).to_owned(),
                template: mongo_url(t, &format!("{DATABASE_USER}:{{mongodb_tyk_password}}@")),
                secrets: vec!["mongodb_tyk_password".into()],
            })
            .collect(),
        None => Vec::new(),
    }
}

fn dashboard_secrets(p: &Profile, t: &Topology) -> Vec<SecretUse> {
    let env = |var: &str, secret: &str| SecretUse::Env { var: var.into(), secret: secret.into() };
    let mut out = vec![
        env("TYK_DB_ADMINSECRET", "dashboard_admin_secret"),
        env("TYK_DB_LICENSEKEY", "dashboard_license"),
        // From the Dashboard's Go field names, not its JSON keys (tyk-docs 95922c952e67
        // snippets/dashboard-config.mdx: `shared_node_secret` is TYK_DB_NODESECRET,
        // `tyk_api_config.Secret` is TYK_DB_TYKAPI_SECRET).
        env("TYK_DB_NODESECRET", "node_secret"),
        env("TYK_DB_TYKAPI_SECRET", "gateway_api_secret"),
    ];
    redis_secret_env(&mut out, "TYK_DB_REDIS", t.redis_for(Store::Main));
    out.extend(database_secret_env(
        p,
        t,
        &[
            "TYK_DB_STORAGE_MAIN_CONNECTIONSTRING",
            "TYK_DB_STORAGE_ANALYTICS_CONNECTIONSTRING",
            "TYK_DB_STORAGE_LOGS_CONNECTIONSTRING",
            "TYK_DB_STORAGE_UPTIME_CONNECTIONSTRING",
        ],
        &["TYK_DB_MONGOURL"],
    ));
    out
}

// ---------------------------------------------------------------------------------------------
// Pump

#[derive(Serialize)]
struct PumpConf {
    analytics_storage_type: &'static str,
    analytics_storage_config: PumpStorage,
    purge_delay: u32,
    health_check_endpoint_name: &'static str,
    health_check_endpoint_port: u16,
    pumps: Map<String, Value>,
    uptime_pump_config: Value,
    dont_purge_uptime_data: bool,
}

fn pump(p: &Profile, t: &Topology) -> PumpConf {
    let files = p.tyk.pump().at_least(1, 9, 0);
    let mut pumps = Map::new();
    let db_tls = p.database.as_ref().map(|d| d.tls.clone()).unwrap_or_default();
    let uptime = match p.database.as_ref().map(|d| d.engine) {
        Some(Engine::Postgres) => {
            let conn = postgres_conninfo(p, t);
            let sharding = pump_shards(p);
            let meta = serde_json::json!({"type": "postgres", "connection_string": conn, "table_sharding": sharding});
            // Pump names are single words so that TYK_PMP_PUMPS_<NAME>_* environment overrides work.
            pumps.insert("sql".into(), serde_json::json!({"type": "sql", "meta": meta}));
            pumps.insert("sqlaggregate".into(), serde_json::json!({"type": "sql_aggregate", "meta": meta}));
            serde_json::json!({"uptime_type": "sql", "type": "postgres", "connection_string": conn, "table_sharding": sharding})
        }
        Some(Engine::Mongodb) => {
            let mut base = Map::new();
            base.insert("mongo_url".into(), mongo_url(t, "").into());
            base.insert("mongo_use_ssl".into(), db_tls.enabled.into());
            if db_tls.enabled {
                base.insert("mongo_ssl_insecure_skip_verify".into(), (!db_tls.verify).into());
                if db_tls.verify {
                    base.insert("mongo_ssl_ca_file".into(), tls_paths::CA.into());
                }
                if db_tls.mutual {
                    base.insert("mongo_ssl_pem_keyfile".into(), tls_paths::PEM.into());
                }
            }
            let mut mongo = base.clone();
            mongo.insert("collection_name".into(), ANALYTICS_COLLECTION.into());
            if let Some(size) = p.analytics.capping.max_size {
                mongo.insert("collection_cap_enable".into(), true.into());
                mongo.insert("collection_cap_max_size_bytes".into(), size.0.into());
            }
            let mut aggregate = base.clone();
            aggregate.insert("use_mixed_collection".into(), true.into());
            pumps.insert("mongo".into(), serde_json::json!({"type": "mongo", "meta": mongo}));
            pumps.insert(
                "mongoaggregate".into(),
                serde_json::json!({"type": "mongo-pump-aggregate", "meta": aggregate}),
            );
            let mut up = base;
            up.insert("collection_name".into(), "tyk_uptime_analytics".into());
            Value::Object(up)
        }
        None => Value::Object(Map::new()),
    };
    PumpConf {
        analytics_storage_type: "redis",
        analytics_storage_config: redis_conn(t, t.redis_for(Store::Analytics), files).into(),
        purge_delay: 2,
        health_check_endpoint_name: "health",
        health_check_endpoint_port: PUMP_HEALTH_PORT,
        pumps,
        uptime_pump_config: uptime,
        dont_purge_uptime_data: false,
    }
}

fn pump_secrets(p: &Profile, t: &Topology) -> Vec<SecretUse> {
    let mut out = Vec::new();
    redis_secret_env(&mut out, "TYK_PMP_ANALYTICSSTORAGECONFIG_", t.redis_for(Store::Analytics));
    out.extend(database_secret_env(
        p,
        t,
        // tyk-docs snippets/pump-config.mdx; the SQL pumps read `TYK_PMP_PUMPS_<NAME>_META_*`
        // (tyk-pump@v1.12.0 pumps/sql.go `SQLDefaultENV`, pumps/sql_aggregate.go).
        &[
            "TYK_PMP_PUMPS_SQL_META_CONNECTIONSTRING",
            "TYK_PMP_PUMPS_SQLAGGREGATE_META_CONNECTIONSTRING",
            "TYK_PMP_UPTIMEPUMPCONFIG_CONNECTIONSTRING",
        ],
        &[
            "TYK_PMP_PUMPS_MONGO_META_MONGOURL",
            "TYK_PMP_PUMPS_MONGOAGGREGATE_META_MONGOURL",
            "TYK_PMP_UPTIMEPUMPCONFIG_MONGOURL",
        ],
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{Input, load};
    use crate::topology::build;

    fn conf(profile: &str, sets: &[&str], machine: &str) -> Value {
        let loaded = load(&Input {
            profile: Some(profile.into()),
            sets: sets.iter().map(|s| (*s).to_owned()).collect(),
            ..Input::default()
        })
        .unwrap();
        let t = build(&loaded.profile);
        let role = t.machine(machine).unwrap().role;
        let (files, _) = super::machine(&loaded.profile, &t, role).unwrap();
        serde_json::from_str(&files[0].contents).unwrap()
    }

    #[test]
    fn sentinel_mode_points_at_sentinels_with_master_name() {
        let gw = conf("production", &[], "gateway-1");
        let s = &gw["storage"];
        assert_eq!(s["master_name"], "tyk-main");
        assert_eq!(s["addrs"][0], "sentinel-1.tyk.internal:26379");
        assert!(s.get("enable_cluster").is_none());
        assert_eq!(s["tls_min_version"], "1.2");
        assert_eq!(s["cert_file"], tls_paths::CERT);
        assert!(s.get("password").is_none() && gw.get("secret").is_none());
    }

    #[test]
    fn cluster_mode_lists_all_nodes_and_spreads_analytics() {
        let gw = conf("redis-cluster", &[], "gateway-1");
        assert_eq!(gw["storage"]["enable_cluster"], true);
        assert_eq!(gw["storage"]["addrs"].as_array().unwrap().len(), 6);
        assert_eq!(gw["storage"]["database"], 0);
        assert_eq!(gw["enable_separate_cache_store"], true);
        assert_eq!(gw["cache_storage"]["master_name"], "tyk-cache");
        assert_eq!(gw["analytics_storage"]["master_name"], "tyk-analytics");
        let pump = conf("redis-cluster", &[], "pump-1");
        assert_eq!(pump["analytics_storage_config"]["master_name"], "tyk-analytics");
        assert_eq!(pump["analytics_storage_config"]["ssl_ca_file"], tls_paths::CA);
        let dash = conf("redis-cluster", &[], "dashboard-1");
        assert_eq!(dash["enable_cluster"], true);
    }

    #[test]
    fn old_tyk_gets_only_use_ssl() {
        let gw = conf(
            "production",
            &[
                "tyk.version=5.2.0",
                "redis.tls.mutual=false",
                "redis.tls.min_version=null",
                "redis.tls.max_version=null",
            ],
            "gateway-1",
        );
        assert_eq!(gw["storage"]["use_ssl"], true);
        assert!(gw["storage"].get("ca_file").is_none());
    }

    #[test]
    fn extra_config_deep_merges() {
        let gw = conf(
            "production",
            &["extra_config.gateway.storage.timeout=9", "extra_config.gateway.log_level=debug"],
            "gateway-1",
        );
        assert_eq!(gw["storage"]["timeout"], 9);
        assert_eq!(gw["storage"]["master_name"], "tyk-main");
        assert_eq!(gw["log_level"], "debug");
    }

    #[test]
    fn postgres_pumps_and_dashboard_share_sharding() {
        let pump = conf("production", &[], "pump-1");
        assert_eq!(pump["pumps"]["sql"]["type"], "sql");
        assert_eq!(pump["pumps"]["sqlaggregate"]["type"], "sql_aggregate");
        assert_eq!(pump["pumps"]["sql"]["meta"]["table_sharding"], true);
        assert_eq!(pump["uptime_pump_config"]["uptime_type"], "sql");
        let dash = conf("production", &[], "dashboard-1");
        assert_eq!(dash["storage"]["analytics"]["table_sharding"], true);
        let conn = dash["storage"]["main"]["connection_string"].as_str().unwrap();
        assert!(conn.contains("sslmode=verify-full") && !conn.contains("password"), "{conn}");
    }

    #[test]
    fn mongo_caps_the_analytics_collection() {
        let pump = conf("production-mongo", &[], "pump-1");
        assert_eq!(pump["pumps"]["mongo"]["meta"]["collection_cap_enable"], true);
        assert_eq!(pump["pumps"]["mongo"]["meta"]["collection_cap_max_size_bytes"], 5_u64 << 30);
        assert_eq!(pump["pumps"]["mongoaggregate"]["type"], "mongo-pump-aggregate");
    }
}
