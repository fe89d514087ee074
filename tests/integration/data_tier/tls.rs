//! Redis TLS and mutual TLS from the generated `redis.conf`, with test certificates: the
//! plain-text port is closed, a client without a certificate is refused when `mutual` is on (and
//! let in when it is off), a certificate from another CA is refused, and TLS below the profile's
//! minimum version is refused (checked with `openssl s_client`, as redis-cli cannot pick versions).

use std::path::Path;
use std::process::Output;

use super::redis::{Cli, ClientTls, RedisNode};
use super::{CMD_TIMEOUT, Pki, RedisTools, pin, render, text};
use crate::tools::{command, run};

/// `openssl s_client` to `host:6379` forcing TLS `version` (`1.1`, `1.2`, `1.3`), with `tls`'s
/// CA and client certificate. Security level 0 so that the client itself still offers TLS 1.1.
fn s_client(tools: &RedisTools, host: &str, version: &str, tls: &Path) -> Output {
    let flag = format!("-tls{}", version.replace('.', "_"));
    let p = |f: &str| tls.join(f).display().to_string();
    run(
        command(&tools.openssl).args([
            "s_client",
            "-connect",
            &format!("{host}:6379"),
            &flag,
            "-cipher",
            "DEFAULT:@SECLEVEL=0",
            "-CAfile",
            &p("ca.crt"),
            "-cert",
            &p("machine.crt"),
            "-key",
            &p("machine.key"),
            "-verify_return_error",
            "-brief",
        ]),
        CMD_TIMEOUT,
    )
}

fn assert_version(tools: &RedisTools, host: &str, version: &str, accepted: bool, tls: &Path) {
    let out = s_client(tools, host, version, tls);
    let t = text(&out);
    if accepted {
        assert!(out.status.success(), "TLS {version} to {host} must be accepted:\n{t}");
        assert!(t.contains(&format!("Protocol version: TLSv{version}")), "{t}");
    } else {
        assert!(!out.status.success(), "TLS {version} to {host} must be refused:\n{t}");
        // The server's alert, not a client that could not offer the version.
        assert!(
            t.contains("alert protocol version") || t.contains("unsupported protocol"),
            "TLS {version} to {host}: {t}"
        );
        assert!(!t.contains("no protocols available"), "the client could not offer TLS {version}: {t}");
    }
}

#[test]
fn redis_tls_and_mutual_tls() {
    let Some(tools) = RedisTools::find(false) else { return };
    let _range = super::claim_range(25);
    let version = tools.version();
    let tmp = tempfile::tempdir().expect("tempdir");
    let pki = Pki::new(&tools.openssl, &tmp.path().join("pki"));
    let other_ca = Pki::new(&tools.openssl, &tmp.path().join("other-pki"));

    // The production profile as it is (mutual TLS, TLS 1.2 to 1.3), and with mutual off and
    // TLS 1.3 as the minimum.
    let cases = [("127.0.25.1", true, "1.2"), ("127.0.25.2", false, "1.3")];
    for (addr, mutual, min) in cases {
        let mut sets = pin(&[("redis-1", addr), ("gateway-1", "127.0.25.21")]);
        sets.push(format!("redis.version={version}"));
        sets.push(format!("redis.tls.mutual={mutual}"));
        sets.push(format!("redis.tls.min_version={min}"));
        let r = render("production", &sets);
        let dep = &r.topology.redis[0];
        assert!(dep.settings.tls.enabled);
        let certs = pki.machines(&r, &["redis-1", "gateway-1"]);
        let mut node = RedisNode::prepare(&tools, &r, "redis-1", &tmp.path().join(addr), &certs["redis-1"]);
        node.start();
        let pw = Some(super::password(&dep.password_secret));
        let with_cert = node.cli(&tools, Some(ClientTls::of(&certs["gateway-1"], true)), pw.clone());
        with_cert.wait_ready(|| node.log());
        let ctx = format!("(mutual {mutual}, min {min})");

        // A client with the CA and a certificate signed by it gets through.
        assert_eq!(with_cert.ok(&["PING"]).unwrap(), "PONG", "{ctx}");
        // Plain text: the port speaks TLS only.
        let plain = Cli { tls: None, ..with_cert.clone() };
        let err = plain.ok(&["PING"]).expect_err("a plain-text client must be refused");
        assert!(!err.contains("PONG"), "{ctx} {err}");
        // No client certificate.
        let no_cert = Cli { tls: Some(ClientTls::of(&certs["gateway-1"], false)), ..with_cert.clone() };
        match (mutual, no_cert.ok(&["PING"])) {
            (true, Ok(reply)) => panic!("{ctx}: a client without a certificate got through: {reply}"),
            (true, Err(e)) => assert!(
                e.contains("SSL")
                    || e.contains("I/O error")
                    || e.contains("Connection reset")
                    || e.contains("certificate"),
                "{e}"
            ),
            (false, reply) => assert_eq!(reply.as_deref(), Ok("PONG"), "{ctx}: mutual is off"),
        }
        // A certificate from another CA.
        let stranger = other_ca.machine("stranger", "stranger.tyk.internal", "127.0.25.99");
        let err = Cli {
            tls: Some(ClientTls { ca: with_cert.tls.clone().unwrap().ca, cert: ClientTls::of(&stranger, true).cert }),
            ..with_cert.clone()
        }
        .ok(&["PING"]);
        if mutual {
            assert!(err.is_err(), "{ctx}: a certificate from another CA got through");
        }
        // The password is still required over TLS.
        let err = Cli { password: None, ..with_cert.clone() }.ok(&["GET", "k"]).unwrap_err();
        assert!(err.contains("NOAUTH"), "{ctx} {err}");

        // TLS versions: below the minimum refused, the minimum and up accepted.
        for v in ["1.1", "1.2", "1.3"] {
            assert_version(&tools, addr, v, v >= min, &certs["gateway-1"]);
        }
        node.stop();
    }
}
