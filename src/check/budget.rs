//! The Redis connection budget: how many connections the Tyk machines' pools may open towards a
//! Redis deployment, against its `maxclients`. One computation behind the `TYK-CAP-MAXCLIENTS`
//! rule and `tykgen explain`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::topology::{Role, Service, Store, Topology};

/// The pools of one kind of Tyk machine towards one Redis deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ClientPools {
    /// `gateway`, `dashboard` or `pump`.
    pub role: String,
    /// How many such machines connect.
    pub machines: u32,
    /// Pools each machine opens towards the deployment.
    pub pools: u32,
    /// Connections one pool may open (`pool.max_active`).
    pub max_active: u32,
}

impl ClientPools {
    /// Connections these machines may open together.
    #[must_use]
    pub fn connections(&self) -> u64 {
        u64::from(self.machines) * u64::from(self.pools) * u64::from(self.max_active)
    }
}

/// The budget of one Redis deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Budget {
    /// Who connects, by role.
    pub clients: Vec<ClientPools>,
    /// Connections they may open together.
    pub total: u64,
    /// The deployment's `maxclients`.
    pub maxclients: u32,
}

impl Budget {
    /// True when every pool can be full at once without Redis refusing a connection.
    #[must_use]
    pub fn fits(&self) -> bool {
        self.total <= u64::from(self.maxclients)
    }
}

/// Tyk machines (by role) that open connections to the Redis deployment `store`.
#[must_use]
pub fn clients(t: &Topology, store: Store) -> BTreeMap<Role, u32> {
    let mut clients: BTreeMap<Role, u32> = BTreeMap::new();
    let Some(dep) = t.redis.iter().find(|r| r.store == store) else { return clients };
    let Some(first) = dep.nodes.first() else { return clients };
    // Every machine once, whether a link names it or its group.
    let mut seen = std::collections::BTreeSet::new();
    for link in t.links_to(first).filter(|l| l.service == Service::Redis) {
        for m in t.members(&link.from) {
            if matches!(m.role, Role::Gateway | Role::Dashboard | Role::Pump) && seen.insert(&m.name) {
                *clients.entry(m.role).or_default() += 1;
            }
        }
    }
    clients
}

/// Connection pools one Gateway opens towards `store`, each of up to `pool.max_active`
/// connections (per node of a Redis Cluster). tyk v5.8.15 `storage/connection_handler.go`
/// `initConnection` opens three (default, cache, analytics; `NewConnector` puts cache and
/// analytics on `storage` unless `enable_separate_cache_store`, resp. `enable_analytics` and
/// `enable_separate_analytics_store`), and `gateway/session_manager.go` `NewSessionLimiter` a
/// fourth, the rate limiter's (`internal/rate/storage.go` `NewStorage`, on `storage` in release
/// builds: `config/development_off.go`). `optimisation_max_idle` is not a limit.
fn gateway_pools(t: &Topology, store: Store) -> u32 {
    let cache = t.has_store(Store::Cache);
    let analytics = t.has_store(Store::Analytics) && t.with_role(Role::Pump).next().is_some();
    match store {
        Store::Main => 2 + u32::from(!cache) + u32::from(!analytics),
        Store::Cache => u32::from(cache),
        Store::Analytics => u32::from(analytics),
    }
}

/// The connection budget of the Redis deployment `store`, or `None` when the profile has none.
#[must_use]
pub fn budget(t: &Topology, store: Store) -> Option<Budget> {
    let dep = t.redis.iter().find(|r| r.store == store)?;
    let max_active = dep.settings.pool.max_active;
    let clients: Vec<ClientPools> = clients(t, store)
        .into_iter()
        .map(|(role, machines)| {
            let pools = if role == Role::Gateway { gateway_pools(t, store) } else { 1 };
            ClientPools { role: role.as_str().to_owned(), machines, pools, max_active }
        })
        .collect();
    let total = clients.iter().map(ClientPools::connections).sum();
    Some(Budget { clients, total, maxclients: dep.settings.maxclients })
}
