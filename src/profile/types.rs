//! The profile format: serde types with defaults, and the JSON Schema that `tykgen schema` prints.
//!
//! These types are the contract of the profile. They describe *what* to run, never how a target
//! spells it. Every struct denies unknown keys; the loader (`profile::load`) checks a YAML tree
//! against the JSON Schema generated from these types before deserialising, so every problem is
//! reported with its file, line and column.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A whole topology profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Names the output folder: lower-case letters, digits and `-`.
    #[schemars(regex(pattern = r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$"), extend("x-expected" = "1 to 40 lower-case letters, digits and `-`, not starting or ending with `-`"))]
    pub name: String,
    /// One line on what this profile is for.
    #[serde(default)]
    pub description: String,
    /// DNS domain of the machines' host names (`<machine>.<domain>`).
    #[serde(default = "default_domain")]
    #[schemars(regex(pattern = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$"), extend("x-expected" = "a lower-case DNS domain with at least two labels, like `tyk.internal`"))]
    pub domain: String,
    /// Versions of the Tyk components, and TLS between them.
    pub tyk: TykVersions,
    /// The Gateways.
    #[serde(default)]
    pub gateway: Gateway,
    /// The Dashboard (0 nodes = open-source Gateway only, no licence needed).
    #[serde(default)]
    pub dashboard: Dashboard,
    /// The Pump, which moves analytics from Redis to the database.
    #[serde(default)]
    pub pump: Pump,
    /// The main Redis: API keys, sessions, rate limits, analytics (unless `analytics_redis` is set).
    pub redis: Redis,
    /// A separate Redis for the Gateway cache.
    #[serde(default)]
    pub cache_redis: Option<Redis>,
    /// A separate Redis for analytics (Gateway writes, Pump reads).
    #[serde(default)]
    pub analytics_redis: Option<Redis>,
    /// The Dashboard's and Pump's database.
    #[serde(default)]
    pub database: Option<Database>,
    /// Analytics recording and retention.
    #[serde(default)]
    pub analytics: Analytics,
    /// Per-machine settings, by machine name (`gateway-1`, `redis-2`, ...).
    #[serde(default)]
    pub machines: BTreeMap<String, MachineSettings>,
    /// JSON deep-merged into the generated Tyk configuration, for keys tykgen does not model.
    #[serde(default)]
    pub extra_config: ExtraConfig,
    /// Options of each output target.
    #[serde(default)]
    pub targets: Targets,
    /// How `tykgen check` treats this profile.
    #[serde(default, skip_serializing_if = "CheckSettings::is_empty")]
    pub check: CheckSettings,
}

/// `tykgen check` settings of a profile.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckSettings {
    /// Warnings and notes this profile accepts on purpose: rule id (`TYK-AVAIL-GATEWAYS`) to the
    /// reason. An accepted finding is still reported, as accepted, and does not fail `--strict`;
    /// errors cannot be accepted.
    #[serde(default)]
    #[schemars(extend("propertyNames" = { "pattern": "^TYK-[A-Z0-9-]+$" }))]
    pub accept: BTreeMap<String, String>,
}

impl CheckSettings {
    /// True when nothing is set (the key is then left out of a written profile).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.accept.is_empty()
    }
}

fn default_domain() -> String {
    "tyk.internal".to_owned()
}

/// Versions of the Tyk components.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TykVersions {
    /// Tyk Gateway and Dashboard version: a release ("5.8.15") or a release line ("5.8", its
    /// newest patch release that tykgen knows).
    pub version: Version,
    /// Tyk Pump version ("1.12.2", or a line such as "1.12"); needed only with a Pump.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pump_version: Option<Version>,
    /// TLS on the Tyk control plane: the Dashboard serves HTTPS, the Gateways serve HTTPS on the
    /// proxy and control ports (Tyk has one switch for both) and verify the Dashboard's
    /// certificate.
    #[serde(default)]
    pub tls: TykTls,
}

/// TLS on the HTTP listeners of the Tyk Gateways and Dashboard.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TykTls {
    /// The Dashboard and the Gateways serve HTTPS only (TLS 1.2 or newer); the Gateways verify
    /// the Dashboard's certificate against the system trust store, which holds your CA.
    #[serde(default)]
    pub enabled: bool,
}

impl TykVersions {
    /// The Pump version; `0` when the profile names none (it then has no Pump: `validate` says so
    /// otherwise).
    #[must_use]
    pub fn pump(&self) -> Version {
        self.pump_version.clone().unwrap_or_else(|| Version::new(&[0]))
    }
}

/// The Gateway tier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Gateway {
    /// Number of Gateway machines.
    #[serde(default = "two")]
    #[schemars(range(min = 1, max = 5000))]
    pub nodes: u32,
    /// Put a load balancer in front of the Gateways.
    #[serde(default = "yes")]
    pub load_balancer: bool,
}

impl Default for Gateway {
    fn default() -> Self {
        Self { nodes: 2, load_balancer: true }
    }
}

/// The Dashboard tier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dashboard {
    /// Number of Dashboard machines; 0 = open-source Gateway only.
    #[serde(default = "one")]
    #[schemars(range(max = 16))]
    pub nodes: u32,
}

impl Default for Dashboard {
    fn default() -> Self {
        Self { nodes: 1 }
    }
}

/// The Pump tier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pump {
    /// Number of Pump machines (0 = no analytics are moved out of Redis).
    #[serde(default = "one")]
    #[schemars(range(max = 16))]
    pub nodes: u32,
}

impl Default for Pump {
    fn default() -> Self {
        Self { nodes: 1 }
    }
}

/// How a Redis deployment survives the loss of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RedisMode {
    /// One Redis server, no failover.
    #[default]
    Standalone,
    /// A primary, replicas and Redis Sentinels that promote a replica when the primary fails.
    Sentinel,
    /// Redis Cluster: data sharded across primaries, each with replicas.
    Cluster,
}

/// How Redis persists its data to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub enum Persistence {
    /// Append-only file, fsync every second.
    #[default]
    #[serde(rename = "aof")]
    Aof,
    /// Periodic snapshots.
    #[serde(rename = "rdb")]
    Rdb,
    /// Both: the append-only file plus snapshots.
    #[serde(rename = "aof+rdb")]
    AofRdb,
    /// Nothing is persisted: a restart loses every API key.
    #[serde(rename = "none")]
    None,
}

/// One Redis deployment (main, cache or analytics).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Redis {
    /// `standalone`, `sentinel` or `cluster`.
    #[serde(default)]
    pub mode: RedisMode,
    /// Redis server version, e.g. "7.2" (default: the newest line the Tyk version supports).
    #[serde(default = "Version::unset")]
    #[schemars(transform = no_default)]
    pub version: Version,
    /// Sentinel mode: number of replicas of the primary (default 2).
    #[serde(default)]
    #[schemars(range(max = 16))]
    pub replicas: Option<u32>,
    /// Sentinel mode: number of Sentinel machines (default 3).
    #[serde(default)]
    #[schemars(range(max = 16))]
    pub sentinels: Option<u32>,
    /// Sentinel mode: the name the Sentinels monitor the primary under.
    #[serde(default)]
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"), extend("x-expected" = "a name of letters, digits, `.`, `_` and `-` (at most 64)"))]
    pub master_name: Option<String>,
    /// Cluster mode: number of primaries (default 3).
    #[serde(default)]
    #[schemars(range(max = 256))]
    pub shards: Option<u32>,
    /// Cluster mode: replicas of each primary (default 1).
    #[serde(default)]
    #[schemars(range(max = 8))]
    pub replicas_per_shard: Option<u32>,
    /// `aof`, `rdb`, `aof+rdb` or `none`.
    #[serde(default)]
    pub persistence: Persistence,
    /// Maximum client connections each Redis server accepts.
    #[serde(default = "default_maxclients")]
    #[schemars(range(min = 1, max = 1_000_000))]
    pub maxclients: u32,
    /// TLS between clients and Redis, and between Redis nodes.
    #[serde(default)]
    pub tls: RedisTls,
    /// Connection pool of each Tyk component.
    #[serde(default)]
    pub pool: Pool,
}

/// Drops the `default` schemars derives from `Version::unset` (an empty string, not a version):
/// the real default depends on `tyk.version` (see `versions::resolve`).
fn no_default(schema: &mut Schema) {
    schema.remove("default");
}

fn default_maxclients() -> u32 {
    10_000
}

/// TLS settings of a Redis deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedisTls {
    /// Serve TLS only (plain-text port closed).
    #[serde(default)]
    pub enabled: bool,
    /// Clients verify the server's certificate against the CA.
    #[serde(default = "yes")]
    pub verify: bool,
    /// Clients present a certificate (mutual TLS).
    #[serde(default)]
    pub mutual: bool,
    /// Lowest TLS version accepted (Tyk 5.3+ / Pump 1.9+ to tell Tyk).
    #[serde(default)]
    pub min_version: Option<TlsVersion>,
    /// Highest TLS version accepted (Tyk 5.3+ / Pump 1.9+ to tell Tyk).
    #[serde(default)]
    pub max_version: Option<TlsVersion>,
}

impl Default for RedisTls {
    fn default() -> Self {
        Self { enabled: false, verify: true, mutual: false, min_version: None, max_version: None }
    }
}

/// A TLS protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub enum TlsVersion {
    /// TLS 1.0 (insecure).
    #[serde(rename = "1.0")]
    V1_0,
    /// TLS 1.1 (insecure).
    #[serde(rename = "1.1")]
    V1_1,
    /// TLS 1.2.
    #[serde(rename = "1.2")]
    V1_2,
    /// TLS 1.3.
    #[serde(rename = "1.3")]
    V1_3,
}

impl TlsVersion {
    /// The version as Tyk spells it ("1.2").
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1_0 => "1.0",
            Self::V1_1 => "1.1",
            Self::V1_2 => "1.2",
            Self::V1_3 => "1.3",
        }
    }
}

/// Connection pool sizes of each Tyk component towards one Redis deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    /// Idle connections kept open (Gateway and Pump `optimisation_max_idle`).
    #[serde(default = "default_max_idle")]
    #[schemars(range(max = 100_000))]
    pub max_idle: u32,
    /// Upper limit of open connections (`optimisation_max_active`, Dashboard `redis_max_active`).
    #[serde(default = "default_max_active")]
    #[schemars(range(max = 100_000))]
    pub max_active: u32,
}

fn default_max_idle() -> u32 {
    100
}

fn default_max_active() -> u32 {
    500
}

impl Default for Pool {
    fn default() -> Self {
        Self { max_idle: default_max_idle(), max_active: default_max_active() }
    }
}

/// Database engine of the Dashboard and Pump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// PostgreSQL with streaming replicas.
    Postgres,
    /// MongoDB replica set.
    Mongodb,
}

/// The Dashboard's and Pump's database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Database {
    /// `postgres` or `mongodb`.
    pub engine: Engine,
    /// Server version, e.g. "16" (PostgreSQL) or "7.0" (MongoDB) (default: the newest line the
    /// Tyk and Pump versions support).
    #[serde(default = "Version::unset")]
    #[schemars(transform = no_default)]
    pub version: Version,
    /// Replicas besides the primary.
    #[serde(default = "one")]
    #[schemars(range(max = 16))]
    pub replicas: u32,
    /// MongoDB: the replica set's name.
    #[serde(default)]
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"), extend("x-expected" = "a name of letters, digits, `_` and `-` (at most 64)"))]
    pub replica_set: Option<String>,
    /// TLS between clients and the database, and for replication.
    #[serde(default)]
    pub tls: DatabaseTls,
}

/// TLS settings of the database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatabaseTls {
    /// Require TLS for every connection.
    #[serde(default)]
    pub enabled: bool,
    /// Clients verify the server's certificate and host name.
    #[serde(default = "yes")]
    pub verify: bool,
    /// Clients present a certificate (mutual TLS).
    #[serde(default)]
    pub mutual: bool,
}

impl Default for DatabaseTls {
    fn default() -> Self {
        Self { enabled: false, verify: true, mutual: false }
    }
}

/// Analytics recording and retention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Analytics {
    /// Record full requests and responses (storage grows fast).
    #[serde(default)]
    pub detailed_recording: bool,
    /// How long unprocessed records live in Redis, e.g. "60s" (Gateway `storage_expiration_time`).
    #[serde(default = "default_storage_expiration")]
    pub storage_expiration: Duration,
    /// MongoDB: cap the analytics collection.
    #[serde(default)]
    pub capping: Capping,
    /// PostgreSQL: daily analytics tables, dropped after this many days.
    #[serde(default)]
    #[schemars(range(min = 1, max = 36_500))]
    pub retention_days: Option<u32>,
}

fn default_storage_expiration() -> Duration {
    Duration(60)
}

impl Default for Analytics {
    fn default() -> Self {
        Self {
            detailed_recording: false,
            storage_expiration: default_storage_expiration(),
            capping: Capping::default(),
            retention_days: None,
        }
    }
}

/// MongoDB capped collection for analytics.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Capping {
    /// Size of the capped collection, e.g. "5GiB".
    #[serde(default)]
    pub max_size: Option<ByteSize>,
}

/// Settings of one machine.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MachineSettings {
    /// Pinned address (IP or DNS name). Configuration refers to the machine by it.
    #[serde(default)]
    #[schemars(regex(pattern = r"^[A-Za-z0-9]([A-Za-z0-9.:-]*[A-Za-z0-9])?$"), extend("x-expected" = "an IP address or a DNS name"))]
    pub address: Option<String>,
}

/// JSON merged into the generated Tyk configuration files, for keys tykgen does not model. A
/// key tykgen sets from the profile, or any secret, is an error here (it names the profile key
/// to use instead); `override` is the explicit escape hatch for the first kind.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtraConfig {
    /// Deep-merged into every `tyk.conf`.
    #[serde(default)]
    pub gateway: serde_json::Map<String, serde_json::Value>,
    /// Deep-merged into every `tyk_analytics.conf`.
    #[serde(default)]
    pub dashboard: serde_json::Map<String, serde_json::Value>,
    /// Deep-merged into every `pump.conf`.
    #[serde(default)]
    pub pump: serde_json::Map<String, serde_json::Value>,
    /// Replaces values tykgen sets itself (merged last; `tykgen check` warns about each key).
    /// Secrets are refused here too.
    #[serde(default, rename = "override")]
    pub overrides: ExtraOverride,
}

/// `extra_config.override`: per component, merged after `extra_config`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtraOverride {
    /// Deep-merged into every `tyk.conf`, over tykgen's own values.
    #[serde(default)]
    pub gateway: serde_json::Map<String, serde_json::Value>,
    /// Deep-merged into every `tyk_analytics.conf`, over tykgen's own values.
    #[serde(default)]
    pub dashboard: serde_json::Map<String, serde_json::Value>,
    /// Deep-merged into every `pump.conf`, over tykgen's own values.
    #[serde(default)]
    pub pump: serde_json::Map<String, serde_json::Value>,
}

/// Options of each output target.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    /// Terraform (AWS) options.
    #[serde(default)]
    pub terraform: TerraformOptions,
    /// Ansible options.
    #[serde(default)]
    pub ansible: AnsibleOptions,
    /// docker-compose options.
    #[serde(default)]
    pub compose: ComposeOptions,
}

/// Terraform target options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TerraformOptions {
    /// AWS region the default of the `region` variable names.
    #[serde(default = "default_region")]
    #[schemars(regex(pattern = r"^[a-z]{2}(-[a-z]+)+-[0-9]$"), extend("x-expected" = "an AWS region like `eu-west-1`"))]
    pub region: String,
}

fn default_region() -> String {
    "eu-west-1".to_owned()
}

impl Default for TerraformOptions {
    fn default() -> Self {
        Self { region: default_region() }
    }
}

/// Ansible target options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnsibleOptions {
    /// Gateways restarted at a time during a rolling update.
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 100))]
    pub gateway_serial: u32,
    /// Where the roles install Redis and the database from (Tyk's own packages always come from
    /// Tyk's repositories).
    #[serde(default)]
    pub packages: PackageSource,
}

impl Default for AnsibleOptions {
    fn default() -> Self {
        Self { gateway_serial: 1, packages: PackageSource::default() }
    }
}

/// Package source of the data tier (`targets.ansible.packages`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PackageSource {
    /// The publishers' repositories (packages.redis.io, apt.postgresql.org, MongoDB's), at
    /// exactly the profile's versions.
    #[default]
    Upstream,
    /// The operating system's own packages: only the versions it ships (`tykgen check` says
    /// which operating systems satisfy the profile).
    Distro,
    /// The publishers' package names and versions from the operator's own repository
    /// (`tykgen_repos` in the inventory: URI, suite, components and key per component).
    Mirror,
}

impl PackageSource {
    /// The word used in the profile and in the generated inventory.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upstream => "upstream",
            Self::Distro => "distro",
            Self::Mirror => "mirror",
        }
    }
}

/// docker-compose target options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ComposeOptions {
    /// Host address the published ports bind to.
    #[serde(default = "default_bind")]
    #[schemars(regex(pattern = r"^[0-9.]+$|^\[[0-9a-fA-F:]+\]$"), extend("x-expected" = "an IPv4 address or a bracketed IPv6 address"))]
    pub bind_address: String,
    /// IPv4 subnet of the lab's PostgreSQL network. Every service on it gets a fixed address, and
    /// every PostgreSQL container lists the host names of its clients and peers in `/etc/hosts`
    /// (`extra_hosts`), so `pg_hba.conf`'s host-name entries pass PostgreSQL's reverse and forward
    /// lookups (Docker's DNS would answer the reverse lookup with `<container>.<network>`). A
    /// private range is right here: it is a Docker bridge that exists only on the machine running
    /// the lab. Each Redis Cluster network takes the next block of the same size, so its nodes keep
    /// their addresses (recorded in `nodes.conf`) across `docker compose down`/`up`. Default: a
    /// /24 in 172.30.0.0/15 derived from the profile's name (one of 128 groups of four), so labs of
    /// different profiles rarely collide. Set it when it overlaps a network of that machine or of
    /// another lab running at the same time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        regex(pattern = r"^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}/[0-9]{1,2}$"),
        extend("x-expected" = "an IPv4 subnet like `172.30.0.0/24`")
    )]
    pub subnet: Option<String>,
}

fn default_bind() -> String {
    "127.0.0.1".to_owned()
}

impl Default for ComposeOptions {
    fn default() -> Self {
        Self { bind_address: default_bind(), subnet: None }
    }
}

fn one() -> u32 {
    1
}

fn two() -> u32 {
    2
}

fn yes() -> bool {
    true
}

/// A dotted version such as "5.8.2", "7.2" or "16".
///
/// Written as a string in the profile. Missing parts compare as 0, so "7.2" == "7.2.0".
#[derive(Debug, Clone)]
pub struct Version {
    parts: Vec<u32>,
    text: String,
}

impl Version {
    /// Build a version from its parts.
    #[must_use]
    pub fn new(parts: &[u32]) -> Self {
        let text = parts.iter().map(u32::to_string).collect::<Vec<_>>().join(".");
        Self { parts: parts.to_vec(), text }
    }

    /// The major version.
    #[must_use]
    pub fn major(&self) -> u32 {
        self.part(0)
    }

    /// The minor version (0 when absent).
    #[must_use]
    pub fn minor(&self) -> u32 {
        self.part(1)
    }

    /// Part `i` (0 when absent).
    #[must_use]
    pub fn part(&self, i: usize) -> u32 {
        self.parts.get(i).copied().unwrap_or(0)
    }

    /// True when this version is at least `major.minor.patch`.
    #[must_use]
    pub fn at_least(&self, major: u32, minor: u32, patch: u32) -> bool {
        (self.part(0), self.part(1), self.part(2)) >= (major, minor, patch)
    }

    /// The version as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// A placeholder for a version the profile leaves out; `versions::resolve` replaces it.
    #[must_use]
    pub fn unset() -> Self {
        Self { parts: Vec::new(), text: String::new() }
    }

    /// True for [`Version::unset`].
    #[must_use]
    pub fn is_unset(&self) -> bool {
        self.parts.is_empty()
    }

    /// The number of parts written: 3 for a release ("5.8.15"), fewer for a line ("5.8").
    #[must_use]
    pub fn parts_written(&self) -> usize {
        self.parts.len()
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let n = self.parts.len().max(other.parts.len());
        (0..n).map(|i| self.part(i)).cmp((0..n).map(|i| other.part(i)))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Pattern a version string must match.
pub const VERSION_PATTERN: &str = r"^[0-9]{1,4}(\.[0-9]{1,4}){0,2}$";

impl FromStr for Version {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Result<Vec<u32>, _> = s.split('.').map(str::parse::<u32>).collect();
        match parts {
            Ok(parts) if !parts.is_empty() && parts.len() <= 3 => Ok(Self { parts, text: s.to_owned() }),
            _ => Err(format!("`{s}` is not a version like \"5.8.2\"")),
        }
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Version {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Version".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": VERSION_PATTERN,
            "description": "A dotted version in quotes, e.g. \"5.8.2\", \"7.2\" or \"16\".",
            "x-expected": "a version like \"5.8.2\", \"7.2\" or \"16\""
        })
    }
}

/// A duration in whole seconds; written as a number of seconds or a string like "60s", "5m", "1h".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub u64);

/// Pattern a duration string must match.
pub const DURATION_PATTERN: &str = r"^[0-9]{1,9}(s|m|h|d)$";

impl FromStr for Duration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const UNITS: [(&str, u64); 4] = [("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)];
        number_with_unit(s, &UNITS)
            .map(Self)
            .ok_or_else(|| format!("`{s}` is not a duration like \"60s\", \"5m\", \"1h\" or \"1d\""))
    }
}

/// `<digits><unit>` as a number times the unit's multiplier; `None` when malformed or too large.
fn number_with_unit(s: &str, units: &[(&str, u64)]) -> Option<u64> {
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult = units.iter().find(|(u, _)| *u == unit)?.1;
    n.checked_mul(mult)
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}s", self.0))
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match NumOrStr::deserialize(d)? {
            NumOrStr::Num(n) => Ok(Self(n)),
            NumOrStr::Str(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": ["integer", "string"],
            "minimum": 0,
            "pattern": DURATION_PATTERN,
            "description": "Seconds, or a string like \"60s\", \"5m\", \"1h\", \"1d\".",
            "x-expected": "a number of seconds or a duration like \"60s\", \"5m\", \"1h\", \"1d\""
        })
    }
}

/// A size in bytes; written as a number of bytes or a string like "5GiB", "500MiB", "2GB".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

/// Pattern a size string must match.
pub const BYTESIZE_PATTERN: &str = r"^[0-9]{1,12}(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$";

impl FromStr for ByteSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const UNITS: [(&str, u64); 9] = [
            ("B", 1),
            ("KB", 1000),
            ("MB", 1000_u64.pow(2)),
            ("GB", 1000_u64.pow(3)),
            ("TB", 1000_u64.pow(4)),
            ("KiB", 1 << 10),
            ("MiB", 1 << 20),
            ("GiB", 1 << 30),
            ("TiB", 1 << 40),
        ];
        number_with_unit(s, &UNITS).map(Self).ok_or_else(|| format!("`{s}` is not a size like \"5GiB\" or \"500MB\""))
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match NumOrStr::deserialize(d)? {
            NumOrStr::Num(n) => Ok(Self(n)),
            NumOrStr::Str(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

impl JsonSchema for ByteSize {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ByteSize".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": ["integer", "string"],
            "minimum": 1,
            "pattern": BYTESIZE_PATTERN,
            "description": "Bytes, or a string like \"5GiB\", \"500MiB\", \"2GB\".",
            "x-expected": "a number of bytes or a size like \"5GiB\", \"500MiB\", \"2GB\""
        })
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrStr {
    Num(u64),
    Str(String),
}

/// The JSON Schema (draft-07) of the profile format, generated from the types (`tykgen schema`).
#[must_use]
pub fn json_schema() -> serde_json::Value {
    let settings = schemars::generate::SchemaSettings::draft07();
    let schema = settings.into_generator().into_root_schema_for::<Profile>();
    serde_json::to_value(schema).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_parts() {
        let v: Version = "5.8.2".parse().unwrap();
        assert!(v.at_least(5, 3, 0));
        assert!(!v.at_least(5, 9, 0));
        assert_eq!("7.2".parse::<Version>().unwrap(), "7.2.0".parse::<Version>().unwrap());
        assert!("1.10".parse::<Version>().unwrap() > "1.9".parse::<Version>().unwrap());
        assert!("x.1".parse::<Version>().is_err());
    }

    #[test]
    fn durations_and_sizes_parse() {
        assert_eq!("5m".parse::<Duration>().unwrap(), Duration(300));
        assert_eq!("5GiB".parse::<ByteSize>().unwrap(), ByteSize(5 << 30));
        assert!("5 GiB".parse::<ByteSize>().is_err());
        assert!("99999999999TiB".parse::<ByteSize>().is_err());
    }

    #[test]
    fn committed_schema_is_the_generated_one() {
        let committed: serde_json::Value =
            serde_json::from_str(include_str!("../../docs/profile.schema.json")).expect("docs/profile.schema.json");
        assert!(
            committed == json_schema(),
            "docs/profile.schema.json is stale: run `cargo run -q -- schema > docs/profile.schema.json`"
        );
    }

    #[test]
    fn schema_is_draft07_and_strict() {
        let s = json_schema();
        assert_eq!(s["$schema"], "http://json-schema.org/draft-07/schema#");
        assert_eq!(s["additionalProperties"], false);
        assert!(s["properties"]["redis"].is_object());
    }
}
