//! The topology: every machine, who talks to whom on which port, and the secrets by name.
//!
//! Derived once from a valid profile and then the single source of truth for every target:
//! configuration files name machines by their host names (or pinned addresses), and network rules
//! (security groups, compose networks, host firewalls) come from `links` alone.
//!
//! **Links name server groups, so they grow linearly.** A [server group](Machine::server_group) is
//! every machine of one role within one Redis deployment (`gateway`, `dashboard`, `redis`,
//! `cache-sentinel`, `postgres`, ...): the machine names without `-<n>`, Terraform's tier (one
//! security group each). Most rules of the stack hold between whole groups ("every Gateway may
//! reach every main Redis node on 6379", "every Cluster node reaches every other on the bus"), so
//! such a rule is one [`Link`] whose ends are [`Peer::Group`]s, not one link per machine pair
//! (a 256 x 9 Cluster with 5,000 Gateways had 22 million of those). A group link admits every
//! member of `from` to every member of `to` on `port`, a machine never to itself (its own
//! connections stay on the loopback interface), so a group linked to itself is a mesh; it is only
//! made when the pairs it stands for exist (a mesh needs two members). Per-machine links remain
//! where the rule is about one machine: a PostgreSQL replica streams from the primary. Consumers
//! that need machines expand a peer with [`Topology::members`]; [`Topology::links_to`] and
//! [`Topology::links_from`] include the links of the machine's group. The link count is thus a
//! constant plus the PostgreSQL replicas.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::profile::{Engine, Profile, Redis, RedisMode};

/// Gateway HTTP port (the proxy only: the Gateway API is on [`GATEWAY_CONTROL_PORT`]).
pub const GATEWAY_PORT: u16 = 8080;
/// Gateway `control_api_port`: the Gateway API (`/tyk/`) and, in Tyk 5.8, the health endpoints,
/// which move with it (tyk@v5.8.9 gateway/server.go:692-715 registers them on the control-port
/// router). 9696 is tyk-charts' `gateway.control.containerPort`.
pub const GATEWAY_CONTROL_PORT: u16 = 9696;
/// Dashboard HTTP port.
pub const DASHBOARD_PORT: u16 = 3000;
/// Pump health-check port.
pub const PUMP_HEALTH_PORT: u16 = 8083;
/// Redis port (TLS-only when the deployment has TLS).
pub const REDIS_PORT: u16 = 6379;
/// Redis Cluster bus port.
pub const REDIS_BUS_PORT: u16 = 16379;
/// Redis Sentinel port.
pub const SENTINEL_PORT: u16 = 26379;
/// PostgreSQL port.
pub const POSTGRES_PORT: u16 = 5432;
/// MongoDB port.
pub const MONGODB_PORT: u16 = 27017;

/// First label of the load balancer's host name (`load-balancer.<domain>`).
pub const LB_HOST: &str = "load-balancer";
/// First label of the name that resolves to every Gateway, for the Dashboard's `tyk_api_config`.
pub const GATEWAY_CONTROL_HOST: &str = "gateway-control";

/// Where every machine keeps its TLS files (the same paths on every target).
pub const TLS_DIR: &str = "/etc/tykgen/tls";

/// What a machine runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Tyk Gateway.
    Gateway,
    /// Tyk Dashboard.
    Dashboard,
    /// Tyk Pump.
    Pump,
    /// A Redis server.
    Redis,
    /// A Redis Sentinel.
    Sentinel,
    /// A PostgreSQL server.
    Postgres,
    /// A MongoDB replica-set member.
    Mongodb,
}

impl Role {
    /// The role as written in machine names.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gateway => "gateway",
            Self::Dashboard => "dashboard",
            Self::Pump => "pump",
            Self::Redis => "redis",
            Self::Sentinel => "sentinel",
            Self::Postgres => "postgres",
            Self::Mongodb => "mongodb",
        }
    }

    /// True for machines that keep data (Redis, Sentinel state, databases).
    #[must_use]
    pub fn is_data_tier(self) -> bool {
        matches!(self, Self::Redis | Self::Sentinel | Self::Postgres | Self::Mongodb)
    }
}

/// Which Redis deployment a Redis or Sentinel machine belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Store {
    /// Keys, sessions, rate limits (and analytics unless split).
    Main,
    /// The Gateway cache.
    Cache,
    /// Analytics records between Gateway and Pump.
    Analytics,
}

impl Store {
    /// Prefix of machine names and secret names (`""`, `"cache-"`, `"analytics-"`).
    #[must_use]
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Main => "",
            Self::Cache => "cache-",
            Self::Analytics => "analytics-",
        }
    }

    /// The profile key of this deployment.
    #[must_use]
    pub fn profile_key(self) -> &'static str {
        match self {
            Self::Main => "redis",
            Self::Cache => "cache_redis",
            Self::Analytics => "analytics_redis",
        }
    }
}

/// What a data-tier machine does in its replication group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "of")]
pub enum Replication {
    /// Not replicated (Tyk machines, standalone Redis).
    None,
    /// The first primary.
    Primary,
    /// A replica of the named machine.
    ReplicaOf(String),
    /// A Redis Cluster node (primaries and replicas are assigned when the cluster is created).
    ClusterNode,
    /// A Sentinel.
    Sentinel,
    /// A MongoDB replica-set member.
    Member,
}

/// One machine of the topology.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Machine {
    /// `<role>-<n>` with the store prefix for Redis (`cache-redis-1`).
    pub name: String,
    /// What it runs.
    pub role: Role,
    /// The Redis deployment of a Redis or Sentinel machine.
    pub store: Option<Store>,
    /// 1-based index within its role and store.
    pub index: u32,
    /// `<name>.<domain>`.
    pub host: String,
    /// The pinned address from `machines.<name>.address`.
    pub address: Option<String>,
    /// Its part in replication.
    pub replication: Replication,
}

impl Machine {
    /// How other machines reach this one: the pinned address, else the host name.
    #[must_use]
    pub fn endpoint(&self) -> &str {
        self.address.as_deref().unwrap_or(&self.host)
    }

    /// The server group of this machine (`gateway`, `redis`, `cache-sentinel`, `postgres`):
    /// its name without `-<n>`, the group [`Peer::Group`] names.
    #[must_use]
    pub fn server_group(&self) -> String {
        server_group(self.role, self.store)
    }

    /// True when `group` is this machine's server group, without building its name (a check
    /// made for every pair of a Redis Cluster's hundreds of nodes).
    #[must_use]
    pub fn in_group(&self, group: &str) -> bool {
        group.strip_prefix(self.store.map_or("", Store::prefix)).is_some_and(|role| role == self.role.as_str())
    }

    /// The Ansible inventory group of this machine.
    #[must_use]
    pub fn group(&self) -> String {
        let base = match (self.role, &self.replication) {
            (Role::Gateway, _) => "tyk_gateway",
            (Role::Dashboard, _) => "tyk_dashboard",
            (Role::Pump, _) => "tyk_pump",
            (Role::Redis, _) => "redis",
            (Role::Sentinel, _) => "redis_sentinel",
            (Role::Postgres, Replication::Primary) => "postgres_primary",
            (Role::Postgres, _) => "postgres_replica",
            (Role::Mongodb, _) => "mongodb",
        };
        match self.store {
            Some(Store::Cache) => format!("cache_{base}"),
            Some(Store::Analytics) => format!("analytics_{base}"),
            _ => base.to_owned(),
        }
    }
}

/// The server group of machines with `role` in the Redis deployment `store` (see
/// [`Machine::server_group`]).
#[must_use]
pub fn server_group(role: Role, store: Option<Store>) -> String {
    format!("{}{}", store.map_or("", Store::prefix), role.as_str())
}

/// One end of a link.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum Peer {
    /// A machine of the topology, by name.
    Machine(String),
    /// Every machine of a server group, by the group's name ([`Machine::server_group`]).
    Group(String),
    /// The load balancer in front of the Gateways.
    LoadBalancer,
    /// API consumers (the internet or the user's network).
    Clients,
    /// Operators (Dashboard users).
    Admins,
}

/// What is spoken over a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    /// Gateway HTTP (the proxy).
    Gateway,
    /// The Gateway's control port: the Gateway API for the Dashboard, health checks for the
    /// load balancer (which never forwards client traffic to it).
    GatewayControl,
    /// Dashboard HTTP.
    Dashboard,
    /// Redis protocol.
    Redis,
    /// Redis Cluster bus.
    RedisBus,
    /// Redis Sentinel.
    Sentinel,
    /// PostgreSQL.
    Postgres,
    /// MongoDB.
    Mongodb,
}

/// `from` opens connections to `to` on `port`. With a [`Peer::Group`] at an end: every member of
/// it, except a machine towards itself.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Link {
    /// The client side.
    pub from: Peer,
    /// The server side.
    pub to: Peer,
    /// TCP port on `to`.
    pub port: u16,
    /// The protocol.
    pub service: Service,
}

/// A secret, by name only: each target supplies the value its own way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Secret {
    /// Lower-snake name, e.g. `redis_password`.
    pub name: String,
    /// What it is, for `.env` comments, vault examples and error messages.
    pub description: String,
    /// False for values the user must supply (the Dashboard licence).
    pub generated: bool,
}

/// How a machine's program receives one secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum SecretUse {
    /// An environment variable set to the secret's value.
    Env {
        /// The variable.
        var: String,
        /// The secret.
        secret: String,
    },
    /// An environment variable set to `template`, with `{secret_name}` replaced by the value.
    EnvTemplate {
        /// The variable.
        var: String,
        /// The value with `{name}` placeholders.
        template: String,
        /// The secrets the template uses.
        secrets: Vec<String>,
    },
    /// A file the target writes (mode 0600) with `template`, placeholders as above.
    File {
        /// Absolute path on the machine.
        path: String,
        /// The contents with `{name}` placeholders.
        template: String,
        /// The secrets the template uses.
        secrets: Vec<String>,
    },
}

/// One Redis deployment and its machines.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RedisDeployment {
    /// Main, cache or analytics.
    pub store: Store,
    /// The profile's settings.
    pub settings: Redis,
    /// Redis server machines, primary first.
    pub nodes: Vec<String>,
    /// Sentinel machines (sentinel mode).
    pub sentinels: Vec<String>,
    /// The monitored name (sentinel mode).
    pub master_name: Option<String>,
    /// Secret name of the Redis password.
    pub password_secret: String,
    /// Secret name of the Sentinel password (sentinel mode).
    pub sentinel_secret: Option<String>,
    /// Sentinel quorum (sentinel mode).
    pub quorum: u32,
}

/// The database cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatabaseCluster {
    /// PostgreSQL or MongoDB.
    pub engine: Engine,
    /// Every member, primary first.
    pub members: Vec<String>,
    /// MongoDB replica-set name.
    pub replica_set: Option<String>,
}

/// The whole topology.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Topology {
    /// The profile name.
    pub name: String,
    /// The DNS domain.
    pub domain: String,
    /// Every machine, in a stable order (Tyk tiers, then Redis deployments, then the database).
    #[serde(serialize_with = "crate::render::shared_each")]
    pub machines: Vec<Machine>,
    /// Every link, sorted.
    pub links: Vec<Link>,
    /// Every secret, sorted by name.
    pub secrets: Vec<Secret>,
    /// Redis deployments, main first.
    pub redis: Vec<RedisDeployment>,
    /// The database, when there is a Dashboard.
    pub database: Option<DatabaseCluster>,
    /// A load balancer fronts the Gateways.
    pub load_balancer: bool,
    /// Lookups by machine name, built once so targets stay linear in the number of machines.
    #[serde(skip)]
    index: Index,
}

/// Positions of machines by name, role and group, and of links by their ends.
#[derive(Debug, Clone, Default, PartialEq)]
struct Index {
    machine: BTreeMap<String, usize>,
    role: BTreeMap<Role, Vec<usize>>,
    group: BTreeMap<String, Vec<usize>>,
    links_from: BTreeMap<Peer, Vec<usize>>,
    links_to: BTreeMap<Peer, Vec<usize>>,
}

impl Index {
    fn new(t: &Topology) -> Self {
        let mut index = Self::default();
        for (i, m) in t.machines.iter().enumerate() {
            index.machine.insert(m.name.clone(), i);
            index.role.entry(m.role).or_default().push(i);
            index.group.entry(m.server_group()).or_default().push(i);
        }
        for (i, l) in t.links.iter().enumerate() {
            index.links_from.entry(l.from.clone()).or_default().push(i);
            index.links_to.entry(l.to.clone()).or_default().push(i);
        }
        index
    }
}

impl Topology {
    /// The machine called `name`.
    #[must_use]
    pub fn machine(&self, name: &str) -> Option<&Machine> {
        self.index.machine.get(name).map(|&i| &self.machines[i])
    }

    /// Machines with `role`, in order (looked up, not filtered: asking for the Dashboard once per
    /// Gateway must not walk every Gateway each time).
    pub fn with_role(&self, role: Role) -> impl Iterator<Item = &Machine> {
        self.index.role.get(&role).into_iter().flatten().map(|&i| &self.machines[i])
    }

    /// The Redis deployment for `store`, falling back to main (cache and analytics are optional).
    #[must_use]
    pub fn redis_for(&self, store: Store) -> &RedisDeployment {
        self.redis
            .iter()
            .find(|r| r.store == store)
            .or_else(|| self.redis.first())
            // INVARIANT: `build` always creates the main deployment first.
            .expect("the main Redis deployment exists")
    }

    /// True when a separate deployment exists for `store`.
    #[must_use]
    pub fn has_store(&self, store: Store) -> bool {
        self.redis.iter().any(|r| r.store == store)
    }

    /// Endpoint (`host:port` or `address:port`) of machine `name` on `port`.
    #[must_use]
    pub fn addr(&self, name: &str, port: u16) -> String {
        let endpoint = self.machine(name).map_or(name, Machine::endpoint);
        if endpoint.contains(':') { format!("[{endpoint}]:{port}") } else { format!("{endpoint}:{port}") }
    }

    /// The host name API consumers call: the load balancer's (`load-balancer.<domain>`, which
    /// every target resolves) when there is one, else the first Gateway's endpoint.
    #[must_use]
    pub fn gateway_public_host(&self) -> String {
        if self.load_balancer {
            return format!("{LB_HOST}.{}", self.domain);
        }
        self.with_role(Role::Gateway).next().map(|g| g.endpoint().to_owned()).unwrap_or_default()
    }

    /// The name that resolves to every Gateway (`gateway-control.<domain>`: one address record
    /// per Gateway), which the Dashboard calls the Gateway API by, so losing one Gateway loses
    /// no key management: the client tries the next address.
    #[must_use]
    pub fn gateway_control_host(&self) -> String {
        format!("{GATEWAY_CONTROL_HOST}.{}", self.domain)
    }

    /// The links whose server side is machine `name`: to it, or to its server group.
    pub fn links_to<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a Link> + 'a {
        self.ends(&self.index.links_to, name)
    }

    /// The links whose client side is machine `name`: from it, or from its server group.
    pub fn links_from<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a Link> + 'a {
        self.ends(&self.index.links_from, name)
    }

    fn ends<'a>(&'a self, by: &'a BTreeMap<Peer, Vec<usize>>, name: &str) -> impl Iterator<Item = &'a Link> + 'a {
        let group = self.machine(name).map(Machine::server_group);
        let own = by.get(&Peer::Machine(name.to_owned()));
        let of_group = group.and_then(|g| by.get(&Peer::Group(g)));
        own.into_iter().chain(of_group).flatten().map(|&i| &self.links[i])
    }

    /// The machines a peer stands for: the machine, every member of the group, or none (the
    /// load balancer, clients and admins are not machines of the topology).
    pub fn members(&self, peer: &Peer) -> impl Iterator<Item = &Machine> + use<'_> {
        // Not collected: a caller that needs one member (every member of a group shares its
        // settings) takes the first without walking a group of thousands.
        let (machine, group) = match peer {
            Peer::Machine(name) => (self.machine(name), None),
            Peer::Group(g) => (None, self.index.group.get(g)),
            Peer::LoadBalancer | Peer::Clients | Peer::Admins => (None, None),
        };
        machine.into_iter().chain(group.into_iter().flatten().map(|&i| &self.machines[i]))
    }

    /// True when `peer` stands for machine `m` (is it, or its group).
    #[must_use]
    pub fn covers(peer: &Peer, m: &Machine) -> bool {
        match peer {
            Peer::Machine(name) => *name == m.name,
            Peer::Group(g) => m.in_group(g),
            Peer::LoadBalancer | Peer::Clients | Peer::Admins => false,
        }
    }

    /// True when some link lets machine `from` open connections to machine `to`.
    #[must_use]
    pub fn reaches(&self, from: &Machine, to: &Machine) -> bool {
        self.reached_by(to)(from)
    }

    /// Whether a machine reaches `to` (see [`Topology::reaches`]), for many machines: the links
    /// to `to` are looked up once, not each machine's links for each.
    pub fn reached_by<'a>(&'a self, to: &'a Machine) -> impl Fn(&Machine) -> bool + 'a {
        let links: Vec<&Link> = self.links_to(&to.name).collect();
        move |from| from.name != to.name && links.iter().any(|l| Self::covers(&l.from, from))
    }
}

/// Most machines one profile may describe. Past this a render no longer fits the memory and
/// time budget tykgen promises (a 5,000-Gateway render stays under 1 GB).
pub const MAX_MACHINES: u64 = 10_000;
/// Most Redis endpoints all Tyk machines' configuration may list together (each Gateway's
/// `tyk.conf` names every node of a Cluster, each compose service waits for them). Links are
/// linear, but these files are not: 5,000 Gateways on a 900-node Cluster (4.5 million) rendered
/// 821 MB of files in 2.8 GB of memory, past the 1 GB budget; 1 million stays well within it.
pub const MAX_CLIENT_ENDPOINTS: u64 = 1_000_000;
/// Most nodes of one Redis Cluster: Redis Cluster is specified to scale "up to 1000 nodes"
/// (redis.io, Redis cluster specification, "Main properties and rationales of the design").
pub const MAX_CLUSTER_NODES: u64 = 1_000;

/// Machine counts of the topology `build` would make, in 64 bits (saturating), so a profile can
/// be refused before anything is built. (Links need no cap: they are linear, see the module doc.)
#[must_use]
pub fn size(p: &Profile) -> Size {
    let g = u64::from(p.gateway.nodes);
    let d = u64::from(p.dashboard.nodes);
    let pu = u64::from(p.pump.nodes);
    // (servers, sentinels) of each deployment.
    let dep = |r: &crate::profile::Redis| -> (u64, u64) {
        match r.mode {
            RedisMode::Standalone => (1, 0),
            RedisMode::Sentinel => (1 + u64::from(r.replicas.unwrap_or(2)), u64::from(r.sentinels.unwrap_or(3))),
            RedisMode::Cluster => {
                (u64::from(r.shards.unwrap_or(3)).saturating_mul(1 + u64::from(r.replicas_per_shard.unwrap_or(1))), 0)
            }
        }
    };
    let main = dep(&p.redis);
    let cache = p.cache_redis.as_ref().map(dep);
    let analytics = p.analytics_redis.as_ref().map(dep);
    let db = p.database.as_ref().filter(|_| d > 0).map_or(0, |db| 1 + u64::from(db.replicas));
    let both = |(n, s): (u64, u64)| n.saturating_add(s);
    let machines = [g, d, pu, both(main), cache.map_or(0, both), analytics.map_or(0, both), db]
        .into_iter()
        .fold(0u64, u64::saturating_add);

    // Every Tyk machine's configuration lists every node (and Sentinel) of each deployment it uses.
    let listed = |x: Option<(u64, u64)>| x.map_or(0, both);
    let pump_store = if analytics.is_some() { analytics } else { Some(main) };
    let client_endpoints = [
        g.saturating_mul(listed(Some(main)).saturating_add(listed(cache)).saturating_add(listed(analytics))),
        d.saturating_mul(listed(Some(main))),
        pu.saturating_mul(listed(pump_store)),
    ]
    .into_iter()
    .fold(0u64, u64::saturating_add);
    Size { machines, client_endpoints, redis: [Some(main.0), cache.map(|c| c.0), analytics.map(|a| a.0)] }
}

/// What [`size`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    /// Machines.
    pub machines: u64,
    /// Redis endpoints listed by the Tyk machines' configuration, summed over the machines.
    pub client_endpoints: u64,
    /// Server nodes of the main, cache and analytics Redis deployments.
    pub redis: [Option<u64>; 3],
}

/// Builds the topology of a profile that passed validation.
#[must_use]
pub fn build(p: &Profile) -> Topology {
    let mut t = Topology {
        name: p.name.clone(),
        domain: p.domain.clone(),
        machines: Vec::new(),
        links: Vec::new(),
        secrets: Vec::new(),
        redis: Vec::new(),
        database: None,
        load_balancer: p.gateway.load_balancer,
        index: Index::default(),
    };
    let add = |t: &mut Topology, role: Role, store: Option<Store>, index: u32, replication: Replication| {
        let prefix = store.map_or("", Store::prefix);
        let name = format!("{prefix}{}-{index}", role.as_str());
        let address = p.machines.get(&name).and_then(|m| m.address.clone());
        t.machines.push(Machine {
            host: format!("{name}.{}", p.domain),
            name: name.clone(),
            role,
            store,
            index,
            address,
            replication,
        });
        name
    };

    let gateways: Vec<String> =
        (1..=p.gateway.nodes).map(|i| add(&mut t, Role::Gateway, None, i, Replication::None)).collect();
    let dashboards: Vec<String> =
        (1..=p.dashboard.nodes).map(|i| add(&mut t, Role::Dashboard, None, i, Replication::None)).collect();
    let pumps: Vec<String> = (1..=p.pump.nodes).map(|i| add(&mut t, Role::Pump, None, i, Replication::None)).collect();

    let deployments = [
        (Store::Main, Some(&p.redis)),
        (Store::Cache, p.cache_redis.as_ref()),
        (Store::Analytics, p.analytics_redis.as_ref()),
    ];
    for (store, settings) in deployments {
        let Some(settings) = settings else { continue };
        let prefix = store.prefix();
        let mut nodes = Vec::new();
        let mut sentinels = Vec::new();
        match settings.mode {
            RedisMode::Standalone => nodes.push(add(&mut t, Role::Redis, Some(store), 1, Replication::None)),
            RedisMode::Sentinel => {
                let primary = add(&mut t, Role::Redis, Some(store), 1, Replication::Primary);
                nodes.push(primary.clone());
                for i in 0..settings.replicas.unwrap_or(2) {
                    nodes.push(add(&mut t, Role::Redis, Some(store), i + 2, Replication::ReplicaOf(primary.clone())));
                }
                for i in 1..=settings.sentinels.unwrap_or(3) {
                    sentinels.push(add(&mut t, Role::Sentinel, Some(store), i, Replication::Sentinel));
                }
            }
            RedisMode::Cluster => {
                let count = settings.shards.unwrap_or(3) * (1 + settings.replicas_per_shard.unwrap_or(1));
                for i in 1..=count {
                    nodes.push(add(&mut t, Role::Redis, Some(store), i, Replication::ClusterNode));
                }
            }
        }
        let secret_prefix = prefix.replace('-', "_");
        let password_secret = format!("{secret_prefix}redis_password");
        t.secrets.push(Secret {
            name: password_secret.clone(),
            description: format!("password of the {} Redis (`requirepass`, `masterauth`)", store_word(store)),
            generated: true,
        });
        let sentinel_secret = (settings.mode == RedisMode::Sentinel).then(|| {
            let name = format!("{secret_prefix}sentinel_password");
            t.secrets.push(Secret {
                name: name.clone(),
                description: format!("password of the {} Redis Sentinels", store_word(store)),
                generated: true,
            });
            name
        });
        let count = u32::try_from(sentinels.len()).unwrap_or(u32::MAX);
        t.redis.push(RedisDeployment {
            store,
            settings: settings.clone(),
            master_name: (settings.mode == RedisMode::Sentinel)
                .then(|| settings.master_name.clone().unwrap_or_else(|| format!("tyk-{}", store_word(store)))),
            nodes,
            sentinels,
            password_secret,
            sentinel_secret,
            quorum: count / 2 + 1,
        });
    }

    if let Some(db) = p.database.as_ref().filter(|_| p.dashboard.nodes > 0) {
        let role = match db.engine {
            Engine::Postgres => Role::Postgres,
            Engine::Mongodb => Role::Mongodb,
        };
        let mut members = Vec::new();
        let first_replication = if db.engine == Engine::Mongodb { Replication::Member } else { Replication::Primary };
        let primary = add(&mut t, role, None, 1, first_replication);
        members.push(primary.clone());
        for i in 0..db.replicas {
            let replication = if db.engine == Engine::Mongodb {
                Replication::Member
            } else {
                Replication::ReplicaOf(primary.clone())
            };
            members.push(add(&mut t, role, None, i + 2, replication));
        }
        let replica_set =
            (db.engine == Engine::Mongodb).then(|| db.replica_set.clone().unwrap_or_else(|| "tyk".to_owned()));
        t.database = Some(DatabaseCluster { engine: db.engine, members, replica_set });
    }

    links(&mut t, &gateways, &dashboards, &pumps);
    tyk_secrets(&mut t, p);
    t.links.sort();
    t.links.dedup();
    t.secrets.sort_by(|a, b| a.name.cmp(&b.name));
    t.index = Index::new(&t);
    t
}

fn store_word(store: Store) -> &'static str {
    match store {
        Store::Main => "main",
        Store::Cache => "cache",
        Store::Analytics => "analytics",
    }
}

fn link(t: &mut Topology, from: Peer, to: Peer, port: u16, service: Service) {
    t.links.push(Link { from, to, port, service });
}

/// Every connection the stack opens, group to group where the rule is (module doc).
fn links(t: &mut Topology, gateways: &[String], dashboards: &[String], pumps: &[String]) {
    let group = |role: Role, store: Option<Store>| Peer::Group(server_group(role, store));
    let (gateway, dashboard, pump) =
        (group(Role::Gateway, None), group(Role::Dashboard, None), group(Role::Pump, None));
    if !gateways.is_empty() {
        if t.load_balancer {
            link(t, Peer::LoadBalancer, gateway.clone(), GATEWAY_PORT, Service::Gateway);
            // Health checks only: no listener of the load balancer forwards to the control port.
            link(t, Peer::LoadBalancer, gateway.clone(), GATEWAY_CONTROL_PORT, Service::GatewayControl);
        } else {
            link(t, Peer::Clients, gateway.clone(), GATEWAY_PORT, Service::Gateway);
        }
        if !dashboards.is_empty() {
            link(t, gateway.clone(), dashboard.clone(), DASHBOARD_PORT, Service::Dashboard);
            // Through `gateway-control`, which resolves to every Gateway.
            link(t, dashboard.clone(), gateway.clone(), GATEWAY_CONTROL_PORT, Service::GatewayControl);
        }
    }
    if !dashboards.is_empty() {
        link(t, Peer::Admins, dashboard.clone(), DASHBOARD_PORT, Service::Dashboard);
    }

    // Who uses which Redis deployment.
    let analytics_store = if t.has_store(Store::Analytics) { Store::Analytics } else { Store::Main };
    let mut clients: Vec<(Peer, Store)> = Vec::new();
    if !gateways.is_empty() {
        clients.push((gateway.clone(), Store::Main));
        for store in [Store::Cache, Store::Analytics].into_iter().filter(|s| t.has_store(*s)) {
            clients.push((gateway.clone(), store));
        }
    }
    if !dashboards.is_empty() {
        clients.push((dashboard.clone(), Store::Main));
    }
    if !pumps.is_empty() {
        clients.push((pump.clone(), analytics_store));
    }
    let deployments = t.redis.clone();
    for (peer, store) in clients {
        let dep = deployments.iter().find(|r| r.store == store).unwrap_or(&deployments[0]);
        if !dep.sentinels.is_empty() {
            link(t, peer.clone(), group(Role::Sentinel, Some(dep.store)), SENTINEL_PORT, Service::Sentinel);
        }
        // With Sentinel or Cluster any Redis node may become the one a client must reach.
        link(t, peer, group(Role::Redis, Some(dep.store)), REDIS_PORT, Service::Redis);
    }
    for dep in &deployments {
        let nodes = group(Role::Redis, Some(dep.store));
        let sentinels = group(Role::Sentinel, Some(dep.store));
        // Replication (any node may be promoted) and the Cluster bus: every node to every other.
        if dep.nodes.len() > 1 && dep.settings.mode != RedisMode::Standalone {
            link(t, nodes.clone(), nodes.clone(), REDIS_PORT, Service::Redis);
        }
        if dep.nodes.len() > 1 && dep.settings.mode == RedisMode::Cluster {
            link(t, nodes.clone(), nodes.clone(), REDIS_BUS_PORT, Service::RedisBus);
        }
        if !dep.sentinels.is_empty() {
            link(t, sentinels.clone(), nodes, REDIS_PORT, Service::Redis);
        }
        if dep.sentinels.len() > 1 {
            link(t, sentinels.clone(), sentinels, SENTINEL_PORT, Service::Sentinel);
        }
    }

    if let Some(db) = t.database.clone() {
        let (role, port, service) = match db.engine {
            Engine::Postgres => (Role::Postgres, POSTGRES_PORT, Service::Postgres),
            Engine::Mongodb => (Role::Mongodb, MONGODB_PORT, Service::Mongodb),
        };
        let members = group(role, None);
        for (client, machines) in [(dashboard, dashboards), (pump, pumps)] {
            if !machines.is_empty() {
                link(t, client, members.clone(), port, service);
            }
        }
        match db.engine {
            // MongoDB members all talk to each other.
            Engine::Mongodb if db.members.len() > 1 => link(t, members.clone(), members, port, service),
            Engine::Mongodb => {}
            // PostgreSQL replicas stream from the primary.
            Engine::Postgres => {
                for replica in &db.members[1..] {
                    let (from, to) = (Peer::Machine(replica.clone()), Peer::Machine(db.members[0].clone()));
                    link(t, from, to, port, service);
                }
            }
        }
    }
}

/// The secrets of the Tyk tiers and the database.
fn tyk_secrets(t: &mut Topology, p: &Profile) {
    let mut add = |name: &str, description: &str, generated: bool| {
        t.secrets.push(Secret { name: name.to_owned(), description: description.to_owned(), generated });
    };
    if p.dashboard.nodes > 0 {
        add("gateway_api_secret", "Gateway API secret (Gateway `secret` = Dashboard `tyk_api_config.Secret`)", true);
        add("node_secret", "Gateway `node_secret` = Dashboard `shared_node_secret`", true);
        add("dashboard_admin_secret", "Dashboard `admin_secret` for the Admin API", true);
        add("dashboard_license", "Tyk Dashboard licence key (yours to supply)", false);
    } else {
        add("gateway_api_secret", "Gateway API secret (`secret`, the `x-tyk-authorization` header)", true);
    }
    match t.database.as_ref().map(|d| d.engine) {
        Some(Engine::Postgres) => {
            add("postgres_tyk_password", "password of the PostgreSQL role `tyk` used by the Dashboard and Pump", true);
            add(
                "postgres_replication_password",
                "password of the PostgreSQL role `replicator` (streaming replication)",
                true,
            );
            add("postgres_superuser_password", "password of the PostgreSQL superuser `postgres`", true);
        }
        Some(Engine::Mongodb) => {
            add("mongodb_tyk_password", "password of the MongoDB user `tyk` used by the Dashboard and Pump", true);
            add("mongodb_admin_password", "password of the MongoDB user `admin` (replica-set initiation)", true);
            add("mongodb_keyfile", "shared key file of the replica set's members (internal authentication)", true);
        }
        None => {}
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::profile::{Input, load};

    /// The topology of a built-in profile (shared by other modules' tests).
    pub(crate) fn topo(name: &str) -> Topology {
        let loaded = load(&Input { profile: Some(name.into()), ..Input::default() }).unwrap();
        build(&loaded.profile)
    }

    #[test]
    fn production_has_one_machine_per_component() {
        let t = topo("production");
        let names: Vec<&str> = t.machines.iter().map(|m| m.name.as_str()).collect();
        assert!(names.contains(&"gateway-1") && names.contains(&"gateway-2"), "{names:?}");
        assert!(names.contains(&"sentinel-3") && names.contains(&"postgres-2"), "{names:?}");
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
    }

    #[test]
    fn with_role_is_every_machine_of_the_role_in_order() {
        use Role::*;
        for (name, _) in crate::profile::builtins() {
            let t = topo(&name);
            for role in [Gateway, Dashboard, Pump, Redis, Sentinel, Postgres, Mongodb] {
                let looked_up: Vec<&str> = t.with_role(role).map(|m| m.name.as_str()).collect();
                let filtered: Vec<&str> =
                    t.machines.iter().filter(|m| m.role == role).map(|m| m.name.as_str()).collect();
                assert_eq!(looked_up, filtered, "{name}, {role:?}");
            }
        }
    }

    #[test]
    fn gateways_never_reach_the_database() {
        let t = topo("production");
        let (gateway, pump, postgres) =
            (t.machine("gateway-1").unwrap(), t.machine("pump-1").unwrap(), t.machine("postgres-1").unwrap());
        assert!(!t.reaches(gateway, postgres));
        assert!(t.links_from("gateway-1").all(|l| l.service != Service::Postgres));
        assert!(t.reaches(pump, postgres));
    }

    /// A topology of `sets` applied to production.
    fn topo_with(sets: &[String]) -> Topology {
        let input = Input { profile: Some("production".into()), sets: sets.to_vec(), ..Input::default() };
        build(&load(&input).unwrap().profile)
    }

    #[test]
    fn links_grow_linearly_with_machines() {
        // Doubling every tier (and a Redis Cluster's shards) at most doubles the links, plus a
        // constant: no link kind grows with the product of two tiers.
        let sized = |n: u32| {
            let sets = [
                format!("gateway.nodes={n}"),
                format!("dashboard.nodes={}", n.div_ceil(64)),
                format!("pump.nodes={}", n.div_ceil(32)),
                format!("database.replicas={}", n.div_ceil(128)),
                "redis.mode=cluster".to_owned(),
                "redis.replicas=null".to_owned(),
                "redis.sentinels=null".to_owned(),
                "redis.master_name=null".to_owned(),
                format!("redis.shards={n}"),
                "redis.replicas_per_shard=2".to_owned(),
                "cache_redis={mode: sentinel, replicas: 2, sentinels: 3}".to_owned(),
            ];
            topo_with(&sets)
        };
        for n in [4, 16, 64, 128] {
            let (small, big) = (sized(n), sized(2 * n));
            assert!(big.machines.len() > small.machines.len() + n as usize, "{n}: machines did not grow");
            assert!(
                big.links.len() <= 2 * small.links.len() + 8,
                "{n}: {} -> {} links",
                small.links.len(),
                big.links.len()
            );
        }
        // And in absolute terms, the largest Redis Cluster with 5,000 Gateways is a few dozen links.
        let t = topo_with(&[
            "gateway.nodes=5000".into(),
            "redis.mode=cluster".into(),
            "redis.replicas=null".into(),
            "redis.sentinels=null".into(),
            "redis.master_name=null".into(),
            "redis.shards=100".into(),
            "redis.replicas_per_shard=8".into(),
        ]);
        assert!(t.links.len() < 50, "{} links", t.links.len());
    }

    #[test]
    fn a_group_link_stands_for_every_pair_but_a_machine_to_itself() {
        let t = topo("production");
        let (r1, r2) = (t.machine("redis-1").unwrap(), t.machine("redis-2").unwrap());
        assert!(t.reaches(r1, r2) && t.reaches(r2, r1));
        assert!(!t.reaches(r1, r1));
        let g = Peer::Group("gateway".into());
        assert_eq!(t.members(&g).map(|m| m.name.as_str()).collect::<Vec<_>>(), ["gateway-1", "gateway-2"]);
        assert!(t.links_to("redis-2").any(|l| l.from == g && l.port == REDIS_PORT));
    }

    #[test]
    fn reaching_from_either_side_agrees_with_the_links_from_each_machine() {
        let stores = [
            "cache_redis={mode: sentinel, replicas: 1, sentinels: 3}".to_owned(),
            "analytics_redis={mode: standalone}".to_owned(),
        ];
        for t in [topo("production"), topo("redis-cluster"), topo("production-mongo"), topo_with(&stores)] {
            for to in &t.machines {
                let reached = t.reached_by(to);
                for from in &t.machines {
                    // The definition: a link from `from` (or its group) to `to` (or its group).
                    let expected =
                        from.name != to.name && t.links_from(&from.name).any(|l| Topology::covers(&l.to, to));
                    assert_eq!(reached(from), expected, "{} -> {}", from.name, to.name);
                }
                for m in &t.machines {
                    assert_eq!(m.in_group(&to.server_group()), m.server_group() == to.server_group());
                }
                assert!(!to.in_group("") && !to.in_group(&format!("{}x", to.server_group())));
            }
        }
    }
}
