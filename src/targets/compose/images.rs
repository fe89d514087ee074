//! Container images, each pinned to an exact tag derived from the profile.
//!
//! A profile may name a release line (`redis.version: "7.2"`, `database.version: "16"`); an image
//! tag must be exact, so a line maps to a concrete patch release known to exist on Docker Hub
//! (the tables below). A full `x.y.z` in the profile is used as it is. A line not in the table is
//! an error that asks for the full version.

use anyhow::bail;

use crate::profile::{Engine, Profile, Version};
use crate::topology::{Machine, Role, Store};

/// Redis release line -> the exact `redis:` tag used.
pub const REDIS_PATCH: &[((u32, u32), &str)] =
    &[((6, 0), "6.0.20"), ((6, 2), "6.2.14"), ((7, 0), "7.0.15"), ((7, 2), "7.2.5"), ((7, 4), "7.4.1")];

/// PostgreSQL major -> the exact `postgres:` tag used.
pub const POSTGRES_PATCH: &[(u32, &str)] =
    &[(12, "12.20"), (13, "13.16"), (14, "14.13"), (15, "15.8"), (16, "16.4"), (17, "17.0")];

/// MongoDB release line -> the exact `mongo:` tag used.
pub const MONGO_PATCH: &[((u32, u32), &str)] =
    &[((5, 0), "5.0.28"), ((6, 0), "6.0.16"), ((7, 0), "7.0.12"), ((8, 0), "8.0.0")];

/// HAProxy (the load balancer), an LTS release.
pub const HAPROXY: &str = "haproxy:2.8.10";
/// busybox (static binary for healthchecks in shell-less images, and `tykgen-init`).
pub const BUSYBOX: &str = "busybox:1.36.1";

fn parts(v: &Version) -> usize {
    v.as_str().split('.').count()
}

/// `redis:<tag>` for a profile version.
pub fn redis(v: &Version) -> anyhow::Result<String> {
    if parts(v) == 3 {
        return Ok(format!("redis:{v}"));
    }
    match REDIS_PATCH.iter().find(|(line, _)| *line == (v.major(), v.minor())) {
        Some((_, tag)) => Ok(format!("redis:{tag}")),
        None => bail!("no pinned Redis image for version {v}: write the full version (e.g. \"7.2.5\") in the profile"),
    }
}

/// `postgres:<tag>` for a profile version.
pub fn postgres(v: &Version) -> anyhow::Result<String> {
    if parts(v) >= 2 {
        return Ok(format!("postgres:{v}"));
    }
    match POSTGRES_PATCH.iter().find(|(major, _)| *major == v.major()) {
        Some((_, tag)) => Ok(format!("postgres:{tag}")),
        None => {
            bail!("no pinned PostgreSQL image for version {v}: write the full version (e.g. \"16.4\") in the profile")
        }
    }
}

/// `mongo:<tag>` for a profile version.
pub fn mongo(v: &Version) -> anyhow::Result<String> {
    if parts(v) == 3 {
        return Ok(format!("mongo:{v}"));
    }
    match MONGO_PATCH.iter().find(|(line, _)| *line == (v.major(), v.minor())) {
        Some((_, tag)) => Ok(format!("mongo:{tag}")),
        None => {
            bail!("no pinned MongoDB image for version {v}: write the full version (e.g. \"7.0.12\") in the profile")
        }
    }
}

/// Tyk tags are `v<major>.<minor>.<patch>`; a release line `x.y` means its first release `x.y.0`.
fn tyk_tag(v: &Version) -> String {
    format!("v{}.{}.{}", v.major(), v.minor(), v.part(2))
}

/// The busybox image.
#[must_use]
pub fn busybox() -> String {
    BUSYBOX.to_owned()
}

/// The HAProxy image.
#[must_use]
pub fn haproxy() -> String {
    HAPROXY.to_owned()
}

/// The image of machine `m`.
pub fn for_machine(p: &Profile, m: &Machine) -> anyhow::Result<String> {
    Ok(match m.role {
        Role::Gateway => format!("tykio/tyk-gateway:{}", tyk_tag(&p.tyk.version)),
        Role::Dashboard => format!("tykio/tyk-dashboard:{}", tyk_tag(&p.tyk.version)),
        Role::Pump => format!("tykio/tyk-pump-docker-pub:{}", tyk_tag(&p.tyk.pump_version)),
        Role::Redis | Role::Sentinel => {
            let settings = match m.store.unwrap_or(Store::Main) {
                Store::Main => &p.redis,
                Store::Cache => p.cache_redis.as_ref().unwrap_or(&p.redis),
                Store::Analytics => p.analytics_redis.as_ref().unwrap_or(&p.redis),
            };
            redis(&settings.version)?
        }
        Role::Postgres | Role::Mongodb => {
            let Some(db) = &p.database else { bail!("{} without a database in the profile", m.name) };
            match db.engine {
                Engine::Postgres => postgres(&db.version)?,
                Engine::Mongodb => mongo(&db.version)?,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_lines_map_to_exact_tags() {
        let v = |s: &str| s.parse::<Version>().unwrap();
        assert_eq!(redis(&v("7.2")).unwrap(), "redis:7.2.5");
        assert_eq!(redis(&v("7.2.7")).unwrap(), "redis:7.2.7");
        assert_eq!(postgres(&v("16")).unwrap(), "postgres:16.4");
        assert_eq!(postgres(&v("15.2")).unwrap(), "postgres:15.2");
        assert_eq!(mongo(&v("7.0")).unwrap(), "mongo:7.0.12");
        assert!(redis(&v("9.9")).is_err());
        assert_eq!(tyk_tag(&v("5.8")), "v5.8.0");
    }
}
