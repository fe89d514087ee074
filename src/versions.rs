//! Versions as facts: the Tyk, Pump and data-tier releases tykgen knows, what each supports, and
//! the defects and features of particular releases that the generated files depend on.
//!
//! A profile may name a release line (`tyk.version: "5.8"`); [`resolve`] turns it into the newest
//! patch release of that line in these tables once, right after loading, so every target (compose
//! image tags, Ansible package pins, READMEs) uses the same exact release. A `redis.version` or
//! `database.version` left out becomes the newest line the Tyk (and Pump) version supports.
//!
//! Sources (tyk-docs at commit 95922c952e67, "TD" below):
//! - Tyk releases: one `### x.y.z Release Notes` heading each in both TD
//!   `developer-support/release-notes/gateway.mdx` and `dashboard.mdx` (Gateway and Dashboard
//!   share version numbers; each section links the `tykio/tyk-gateway:vx.y.z` and
//!   `tykio/tyk-dashboard:vx.y.z` image and the `tyk-gateway`/`tyk-dashboard` packages).
//! - Pump releases: TD `developer-support/release-notes/pump.mdx` (`tykio/tyk-pump-docker-pub:vx.y.z`).
//! - Supported Redis/PostgreSQL/MongoDB: the "3rd Party Dependencies" tables of those notes
//!   (summarised in the shared `docs/tyk-reference.md` §3).
//! - Data-tier image tags: docker-library/official-images at 37079fb336f5, `library/{redis,
//!   postgres,mongo,haproxy,busybox}` (lines no longer there: the last tag the file listed, from its
//!   history).

use crate::diagnostic::Diagnostic;
use crate::profile::{Engine, Loaded, Version};

/// `(major, minor, patch)`.
pub type Triple = (u32, u32, u32);

/// Tyk Gateway and Dashboard releases, oldest first (both notes list each; 5.1 is Dashboard-only
/// and left out).
#[rustfmt::skip]
pub const TYK: &[Triple] = &[
    (5, 0, 0), (5, 0, 1), (5, 0, 2), (5, 0, 3), (5, 0, 4), (5, 0, 5), (5, 0, 6), (5, 0, 7), (5, 0, 8),
    (5, 0, 9), (5, 0, 10), (5, 0, 11), (5, 0, 12), (5, 0, 13), (5, 0, 14), (5, 0, 15),
    (5, 2, 0), (5, 2, 1), (5, 2, 2), (5, 2, 3), (5, 2, 4), (5, 2, 5),
    (5, 3, 0), (5, 3, 1), (5, 3, 2), (5, 3, 3), (5, 3, 4), (5, 3, 5), (5, 3, 6), (5, 3, 7), (5, 3, 8),
    (5, 3, 9), (5, 3, 10), (5, 3, 11), (5, 3, 12), (5, 3, 13),
    (5, 4, 0), (5, 5, 0), (5, 5, 1), (5, 5, 2),
    (5, 6, 0), (5, 6, 1), (5, 7, 0), (5, 7, 1), (5, 7, 2), (5, 7, 3),
    (5, 8, 0), (5, 8, 1), (5, 8, 2), (5, 8, 3), (5, 8, 4), (5, 8, 5), (5, 8, 6), (5, 8, 7), (5, 8, 8),
    (5, 8, 9), (5, 8, 10), (5, 8, 11), (5, 8, 12), (5, 8, 13), (5, 8, 14), (5, 8, 15),
    (5, 9, 0), (5, 9, 1), (5, 9, 2), (5, 10, 0), (5, 10, 1), (5, 10, 2),
    (5, 11, 0), (5, 11, 1), (5, 12, 0), (5, 12, 1),
    (5, 13, 0), (5, 13, 1), (5, 14, 0),
];

/// Tyk Pump releases, oldest first.
#[rustfmt::skip]
pub const PUMP: &[Triple] = &[
    (1, 8, 0), (1, 8, 1), (1, 8, 2), (1, 8, 3),
    (1, 9, 0), (1, 10, 0), (1, 11, 0), (1, 11, 1), (1, 11, 2),
    (1, 12, 0), (1, 12, 1), (1, 12, 2), (1, 13, 0), (1, 13, 1), (1, 13, 2), (1, 13, 3),
    (1, 14, 0), (1, 14, 1), (1, 15, 0), (1, 16, 0),
];

/// The long-term-support line the built-in profiles use. TD `developer-support/release-types/
/// long-term-support.mdx`: 5.8 LTS is in maintenance support from July 2026 to June 2027 (5.13 is
/// the newer LTS, in full support); every compatibility fact in this module is verified for 5.8.
pub const LTS: (u32, u32) = (5, 8);

/// Redis release line -> the newest `redis:` image tag of it.
pub const REDIS_IMAGE: &[((u32, u32), &str)] = &[
    ((6, 0), "6.0.20"),
    ((6, 2), "6.2.24"),
    ((7, 0), "7.0.15"),
    ((7, 2), "7.2.16"),
    ((7, 4), "7.4.11"),
    ((8, 0), "8.0.6"),
    ((8, 2), "8.2.9"),
    ((8, 4), "8.4.6"),
];

/// PostgreSQL major -> the newest `postgres:` image tag of it.
pub const POSTGRES_IMAGE: &[(u32, &str)] =
    &[(12, "12.22"), (13, "13.23"), (14, "14.24"), (15, "15.19"), (16, "16.15"), (17, "17.11")];

/// MongoDB release line -> the newest `mongo:` image tag of it.
pub const MONGO_IMAGE: &[((u32, u32), &str)] =
    &[((5, 0), "5.0.33"), ((6, 0), "6.0.28"), ((7, 0), "7.0.40"), ((8, 0), "8.0.29")];

fn triple(v: &Version) -> Triple {
    (v.major(), v.minor(), v.part(2))
}

fn line(v: &Version) -> (u32, u32) {
    (v.major(), v.minor())
}

/// The newest release of `v`'s line in `table` (a line written with its major only, like "5",
/// is not resolved).
fn newest(table: &[Triple], v: &Version) -> Option<Triple> {
    table.iter().rev().copied().find(|&(a, b, _)| (a, b) == line(v))
}

/// The newest Tyk LTS release (the built-in profiles' `tyk.version`).
#[must_use]
pub fn newest_lts() -> Triple {
    TYK.iter().rev().copied().find(|&(a, b, _)| (a, b) == LTS).unwrap_or((5, 8, 0))
}

// ------------------------------------------------------------------------------ known defects

/// Gateway `/ready` (503 until Redis is connected and the APIs are loaded; `/hello` answers 200
/// even when its status is "fail"): tyk v5.8.3 `gateway/health_check.go` `readinessHandler`,
/// served by `loadControlAPIEndpoints` in `gateway/server.go`; absent from every v5.8.2 and older
/// tag, present in every 5.9+ tag (checked tag by tag). TD gateway.mdx 5.8.3 "readiness (`/ready`)".
#[must_use]
pub fn gateway_has_ready(tyk: &Version) -> bool {
    tyk.at_least(5, 9, 0) || (line(tyk) == (5, 8) && tyk.part(2) >= 3)
}

/// The Gateway health endpoint a load balancer or orchestrator should probe.
#[must_use]
pub fn gateway_health_path(tyk: &Version) -> &'static str {
    if gateway_has_ready(tyk) { "/ready" } else { "/hello" }
}

/// Where the Gateway's separate rate-limiter Redis client (`internal/rate/storage.go`
/// `NewStorage`, tyk v5.3.0 and later) builds its TLS config with only `InsecureSkipVerify`: no
/// CA, no client certificate, no TLS versions, so with a verified or mutual TLS Redis low rate
/// limits fail (HTTP 429). Fixed by `createTLSConfig` in v5.8.6 and v5.10.0 (TT-14564; TD
/// gateway.mdx 5.8.6 and 5.10.0 "Fixed TLS configuration not being applied for Redis rate
/// limiting"); v5.9.0-v5.9.2 still have it (checked tag by tag). `Some(fixed release)` when `tyk`
/// has the defect.
#[must_use]
pub fn rate_limiter_tls_fixed_in(tyk: &Version) -> Option<Triple> {
    match triple(tyk) {
        t if !((5, 3, 0)..(5, 10, 0)).contains(&t) => None,
        (5, 8, p) if p >= 6 => None,
        (5, 9, _) => Some((5, 10, 0)),
        _ => Some((5, 8, 6)),
    }
}

/// Where the Dashboard's Log Browser queries the unsharded `tyk_analytics` table although SQL
/// table sharding is on (`TYK_DB_STORAGE_LOGS_TABLESHARDING=true`): fixed in Dashboard 5.8.7 and
/// 5.10.1 (TD dashboard.mdx 5.8.7 "Fixed incorrect data tables being queried when SQL table
/// sharding is enabled", 5.10.1 "Fixed Log Browser querying wrong tables ..."). `Some(fixed
/// release)` when `tyk` has the defect.
#[must_use]
pub fn sharded_log_browser_fixed_in(tyk: &Version) -> Option<Triple> {
    match triple(tyk) {
        t if t >= (5, 10, 1) => None,
        (5, 8, p) if p >= 7 => None,
        (5, 9, _) | (5, 10, _) => Some((5, 10, 1)),
        _ => Some((5, 8, 7)),
    }
}

/// `x.y.z` of a triple.
#[must_use]
pub fn show((a, b, c): Triple) -> String {
    format!("{a}.{b}.{c}")
}

// ------------------------------------------------------------------------------ compatibility

/// A version range `(major, minor)` to `(major, minor)`, inclusive; minor [`ANY`] means "any minor".
pub type Range = ((u32, u32), (u32, u32));

/// "Any minor" in a [`Range`].
pub const ANY: u32 = 99;

/// True when `v`'s line is in `range`.
#[must_use]
pub fn in_range(v: &Version, (lo, hi): Range) -> bool {
    (lo..=hi).contains(&line(v))
}

/// Redis versions each Tyk Gateway/Dashboard version supports (tyk-reference.md §3).
#[must_use]
pub fn tyk_redis(tyk: &Version) -> Range {
    if !tyk.at_least(5, 3, 0) {
        ((6, 0), (6, 2))
    } else if !tyk.at_least(5, 9, 0) {
        ((6, 2), (7, ANY))
    } else if !tyk.at_least(5, 12, 0) {
        ((6, 2), (8, 2))
    } else {
        ((6, 2), (8, 4))
    }
}

/// Redis versions a Pump supports, where §3 says (Pump 1.11 and later).
#[must_use]
pub fn pump_redis(pump: &Version) -> Option<Range> {
    if !pump.at_least(1, 11, 0) {
        None
    } else if !pump.at_least(1, 12, 1) {
        Some(((6, 0), (7, ANY)))
    } else if !pump.at_least(1, 14, 0) {
        Some(((6, 0), (8, 2)))
    } else {
        Some(((6, 0), (8, 4)))
    }
}

/// PostgreSQL majors each Tyk Dashboard version supports (tyk-reference.md §3).
#[must_use]
pub fn tyk_postgres(tyk: &Version) -> Range {
    let (lo, hi) = if !tyk.at_least(5, 3, 2) {
        (11, 15)
    } else if !tyk.at_least(5, 3, 11) {
        (12, 16)
    } else if !tyk.at_least(5, 4, 0) {
        (13, 17)
    } else if !tyk.at_least(5, 8, 0) {
        (12, 16)
    } else {
        (13, 17)
    };
    ((lo, 0), (hi, ANY))
}

/// PostgreSQL majors a Pump supports (Pump 1.11 and later).
#[must_use]
pub fn pump_postgres(pump: &Version) -> Option<Range> {
    if !pump.at_least(1, 11, 0) {
        None
    } else if !pump.at_least(1, 12, 0) {
        Some(((12, 0), (16, ANY)))
    } else {
        Some(((13, 0), (17, ANY)))
    }
}

/// MongoDB versions each Tyk Dashboard version supports (tyk-reference.md §3).
#[must_use]
pub fn tyk_mongodb(tyk: &Version) -> Range {
    if !tyk.at_least(5, 3, 0) {
        ((4, 4), (6, 0))
    } else if !tyk.at_least(5, 9, 0) {
        ((5, 0), (7, 0))
    } else if !tyk.at_least(5, 13, 0) {
        ((5, 0), (8, ANY))
    } else {
        ((6, 0), (8, ANY))
    }
}

/// MongoDB versions a Pump supports, where §3 says (Pump 1.11.x only).
#[must_use]
pub fn pump_mongodb(pump: &Version) -> Option<Range> {
    (pump.at_least(1, 11, 0) && !pump.at_least(1, 12, 0)).then_some(((4, 4), (7, 0)))
}

/// The newest of `lines` in every range of `ranges`.
fn newest_line(lines: impl DoubleEndedIterator<Item = (u32, u32)>, ranges: &[Range]) -> Option<Version> {
    lines.rev().map(|(a, b)| Version::new(&[a, b])).find(|v| ranges.iter().all(|r| in_range(v, *r)))
}

// ------------------------------------------------------------------------------ resolution

/// Resolves release lines and fills in left-out versions, in place (see the module comment).
///
/// # Errors
/// A line tykgen knows no release of, or a Pump without `tyk.pump_version`, located.
pub fn resolve(loaded: &mut Loaded) -> Result<(), Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let locs: Vec<_> = ["tyk.version", "tyk.pump_version", "tyk"].iter().map(|k| loaded.loc(k)).collect();
    let p = &mut loaded.profile;
    let mut exact = |v: &mut Version, table: &[Triple], loc: &crate::diagnostic::Loc, what: &str| {
        if v.parts_written() == 3 {
            return;
        }
        match (v.parts_written(), newest(table, v)) {
            (2, Some(t)) => *v = Version::new(&[t.0, t.1, t.2]),
            _ => errors.push(
                Diagnostic::error(format!("tykgen knows no {what} release of the line `{v}`"), Some(loc.clone()))
                    .with_help(format!(
                        "write a release line tykgen knows (newest: {}) or a full version like \"{}\"",
                        show(*table.last().unwrap_or(&(0, 0, 0))),
                        show(*table.last().unwrap_or(&(0, 0, 0)))
                    )),
            ),
        }
    };
    exact(&mut p.tyk.version, TYK, &locs[0], "Tyk");
    match p.tyk.pump_version.as_mut() {
        Some(v) => exact(v, PUMP, &locs[1], "Pump"),
        None if p.pump.nodes > 0 => errors.push(
            Diagnostic::error(
                "the profile has a Pump (`pump.nodes` > 0) but no `tyk.pump_version`".to_owned(),
                Some(locs[2].clone()),
            )
            .with_help(format!(
                "add `pump_version: \"{}.{}\"` under `tyk`, or set `pump.nodes: 0`",
                PUMP[PUMP.len() - 1].0,
                PUMP[PUMP.len() - 1].1
            )),
        ),
        None => {}
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let tyk = p.tyk.version.clone();
    let pump = (p.pump.nodes > 0).then(|| p.tyk.pump());
    for r in [Some(&mut p.redis), p.cache_redis.as_mut(), p.analytics_redis.as_mut()].into_iter().flatten() {
        if r.version.is_unset() {
            let ranges: Vec<Range> =
                std::iter::once(tyk_redis(&tyk)).chain(pump.as_ref().and_then(pump_redis)).collect();
            r.version = newest_line(REDIS_IMAGE.iter().map(|(l, _)| *l), &ranges)
                .unwrap_or_else(|| Version::new(&[tyk_redis(&tyk).1.0, tyk_redis(&tyk).1.1]));
        }
    }
    if let Some(db) = p.database.as_mut().filter(|d| d.version.is_unset()) {
        db.version = match db.engine {
            Engine::Postgres => {
                let ranges: Vec<Range> =
                    std::iter::once(tyk_postgres(&tyk)).chain(pump.as_ref().and_then(pump_postgres)).collect();
                newest_line(POSTGRES_IMAGE.iter().map(|(m, _)| (*m, 0)), &ranges)
                    .map(|v| Version::new(&[v.major()]))
                    .unwrap_or_else(|| Version::new(&[tyk_postgres(&tyk).1.0]))
            }
            Engine::Mongodb => {
                let ranges: Vec<Range> =
                    std::iter::once(tyk_mongodb(&tyk)).chain(pump.as_ref().and_then(pump_mongodb)).collect();
                newest_line(MONGO_IMAGE.iter().map(|(l, _)| *l), &ranges).unwrap_or_else(|| Version::new(&[7, 0]))
            }
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{Input, load};

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    fn loaded(sets: &[&str]) -> Result<Loaded, crate::diagnostic::Diagnostics> {
        load(&Input {
            profile: Some("lab".into()),
            sets: sets.iter().map(|s| (*s).to_owned()).collect(),
            ..Input::default()
        })
    }

    #[test]
    fn tables_are_sorted_and_the_lts_is_the_newest_5_8() {
        assert!(TYK.windows(2).all(|w| w[0] < w[1]));
        assert!(PUMP.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(newest_lts(), (5, 8, 15));
    }

    #[test]
    fn a_release_line_resolves_to_its_newest_patch() {
        let l = loaded(&["tyk.version=\"5.8\"", "tyk.pump_version=\"1.12\""]).unwrap();
        assert_eq!(l.profile.tyk.version.as_str(), "5.8.15");
        assert_eq!(l.profile.tyk.pump().as_str(), "1.12.2");
        let l = loaded(&["tyk.version=5.8.4"]).unwrap();
        assert_eq!(l.profile.tyk.version.as_str(), "5.8.4");
        let e = loaded(&["tyk.version=\"5.99\""]).unwrap_err();
        assert!(format!("{e:?}").contains("knows no Tyk release of the line `5.99`"), "{e:?}");
    }

    #[test]
    fn pump_version_is_needed_only_with_a_pump() {
        let e = loaded(&["tyk.pump_version=null"]).unwrap_err();
        assert!(format!("{e:?}").contains("no `tyk.pump_version`"), "{e:?}");
        let l = loaded(&["tyk.pump_version=null", "pump.nodes=0"]).unwrap();
        assert!(l.profile.tyk.pump_version.is_none());
    }

    #[test]
    fn left_out_data_tier_versions_are_the_newest_supported_line() {
        let l = loaded(&["redis.version=null", "database.version=null"]).unwrap();
        assert_eq!(l.profile.redis.version.as_str(), "7.4");
        assert_eq!(l.profile.database.as_ref().unwrap().version.as_str(), "17");
        let l = loaded(&["redis.version=null", "tyk.version=5.12.0", "tyk.pump_version=1.14.1"]).unwrap();
        assert_eq!(l.profile.redis.version.as_str(), "8.4");
        // Pump 1.12.0 reads Redis up to 7.x only.
        let l = loaded(&["redis.version=null", "tyk.version=5.12.0", "tyk.pump_version=1.12.0"]).unwrap();
        assert_eq!(l.profile.redis.version.as_str(), "7.4");
    }

    #[test]
    fn defects_name_the_release_that_fixed_them() {
        assert!(!gateway_has_ready(&v("5.8.2")));
        assert!(gateway_has_ready(&v("5.8.3")));
        assert!(gateway_has_ready(&v("5.9.0")));
        assert!(!gateway_has_ready(&v("5.3.13")));
        assert_eq!(rate_limiter_tls_fixed_in(&v("5.8.2")), Some((5, 8, 6)));
        assert_eq!(rate_limiter_tls_fixed_in(&v("5.8.6")), None);
        assert_eq!(rate_limiter_tls_fixed_in(&v("5.9.2")), Some((5, 10, 0)));
        assert_eq!(rate_limiter_tls_fixed_in(&v("5.10.0")), None);
        assert_eq!(sharded_log_browser_fixed_in(&v("5.8.6")), Some((5, 8, 7)));
        assert_eq!(sharded_log_browser_fixed_in(&v("5.8.7")), None);
        assert_eq!(sharded_log_browser_fixed_in(&v("5.10.0")), Some((5, 10, 1)));
    }
}
