//! Container images, each pinned to an exact tag derived from the profile.
//!
//! A profile may name a release line (`redis.version: "7.2"`, `database.version: "16"`); an image
//! tag must be exact, so a line maps to a concrete patch release known to exist on Docker Hub
//! (the tables in `versions`). A full `x.y.z` in the profile is used as it is. A line not in the
//! table is an error that asks for the full version.

use anyhow::bail;

use crate::profile::{Engine, Profile, Version};
use crate::topology::{Machine, Role, Store};
use crate::versions::{MONGO_IMAGE, POSTGRES_IMAGE, REDIS_IMAGE};

/// HAProxy (the load balancer), the newest 2.8 LTS release (official-images at 37079fb336f5,
/// `library/haproxy`).
pub const HAPROXY: &str = "haproxy:2.8.27";
/// busybox for the healthchecks of the shell-less Tyk and HAProxy images, copied in by
/// `tykgen-init`. The `-musl` variant: its binary is static (`CONFIG_STATIC=y` in
/// docker-library/busybox `latest-1/musl/Dockerfile.builder`), so it runs in the *static*
/// distroless Pump image (`gcr.io/distroless/static-debian12`, tyk-pump v1.12.2
/// `ci/Dockerfile.distroless`), which has no libc. The default variant is glibc and dynamically
/// linked since docker-library/official-images #13664 (busybox #155). Tag: official-images at
/// 37079fb336f5, `library/busybox` (`1.37.0-musl`, the stable line).
pub const BUSYBOX: &str = "busybox:1.37.0-musl";

fn parts(v: &Version) -> usize {
    v.as_str().split('.').count()
}

/// `redis:<tag>` for a profile version.
pub fn redis(v: &Version) -> anyhow::Result<String> {
    if parts(v) == 3 {
        return Ok(format!("redis:{v}"));
    }
    match REDIS_IMAGE.iter().find(|(line, _)| *line == (v.major(), v.minor())) {
        Some((_, tag)) => Ok(format!("redis:{tag}")),
        None => bail!("no pinned Redis image for version {v}: write the full version (e.g. \"7.2.5\") in the profile"),
    }
}

/// `postgres:<tag>` for a profile version.
pub fn postgres(v: &Version) -> anyhow::Result<String> {
    if parts(v) >= 2 {
        return Ok(format!("postgres:{v}"));
    }
    match POSTGRES_IMAGE.iter().find(|(major, _)| *major == v.major()) {
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
    match MONGO_IMAGE.iter().find(|(line, _)| *line == (v.major(), v.minor())) {
        Some((_, tag)) => Ok(format!("mongo:{tag}")),
        None => {
            bail!("no pinned MongoDB image for version {v}: write the full version (e.g. \"7.0.12\") in the profile")
        }
    }
}

/// Tyk tags are `v<major>.<minor>.<patch>` (a line was resolved to its newest release on loading).
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
        Role::Pump => format!("tykio/tyk-pump-docker-pub:{}", tyk_tag(&p.tyk.pump())),
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
        assert_eq!(redis(&v("7.2")).unwrap(), "redis:7.2.16");
        assert_eq!(redis(&v("7.2.7")).unwrap(), "redis:7.2.7");
        assert_eq!(postgres(&v("16")).unwrap(), "postgres:16.15");
        assert_eq!(postgres(&v("15.2")).unwrap(), "postgres:15.2");
        assert_eq!(mongo(&v("7.0")).unwrap(), "mongo:7.0.40");
        assert!(redis(&v("9.9")).is_err());
        assert_eq!(tyk_tag(&v("5.8.15")), "v5.8.15");
    }
}
