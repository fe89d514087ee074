//! `tykgen lab-secrets`: the compose lab's `.env` with strong random values, the Dashboard's
//! payload-signing key pair (with a Dashboard) and (when the profile uses TLS) a lab CA with one
//! certificate per machine. None is part of the deterministic render: they are written next to
//! it, never overwritten, keys and `.env` 0600.

use std::path::Path;

use anyhow::Context as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};

use crate::output::SideFiles;
use crate::topology::Topology;

/// Length of a generated secret (alphanumeric: about 238 bits).
const SECRET_LEN: usize = 40;
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A random alphanumeric string of `len` characters (rejection sampling, no modulo bias).
///
/// # Errors
/// The operating system's random source fails.
pub fn random_secret(len: usize) -> anyhow::Result<String> {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        getrandom::fill(&mut buf).map_err(|e| anyhow::anyhow!("no random numbers from the OS: {e}"))?;
        for b in buf {
            // 62 * 4 = 248: bytes above are rejected so every character is equally likely.
            if (b as usize) < ALPHABET.len() * 4 && out.len() < len {
                out.push(ALPHABET[b as usize % ALPHABET.len()] as char);
            }
        }
    }
    Ok(out)
}

/// The `.env` text: every generated secret with a fresh value; user-supplied ones left empty.
///
/// # Errors
/// The random source fails.
pub fn env_file(t: &Topology) -> anyhow::Result<String> {
    let mut out = format!("# .env of the compose lab of profile \"{}\", written by `tykgen lab-secrets`.\n", t.name);
    for s in &t.secrets {
        out.push_str(&format!("\n# {}\n", s.description));
        let value = if s.generated { random_secret(SECRET_LEN)? } else { String::new() };
        if !s.generated {
            out.push_str("# Yours to supply: docker compose refuses to start until it is set.\n");
        }
        out.push_str(&format!("{}={value}\n", super::env_name(&s.name)));
    }
    Ok(out)
}

/// The lab CA's parameters: the same for every run of a profile, so a CA written earlier can sign
/// certificates for machines added since (with its key from `ca.key`).
fn ca_params(t: &Topology) -> anyhow::Result<CertificateParams> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, format!("tykgen lab CA ({})", t.name));
    ca_params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    Ok(ca_params)
}

/// One machine's certificate files, relative to `tls/`: `(path, contents, mode)`.
fn machine_files(
    machine: &str,
    names: &[String],
    issuer: &Issuer<'_, KeyPair>,
) -> anyhow::Result<Vec<(String, String, u32)>> {
    let mut params = CertificateParams::new(names.to_vec())?;
    params.distinguished_name.push(DnType::CommonName, names[0].clone());
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, issuer)?;
    let (cert_pem, key_pem) = (cert.pem(), key.serialize_pem());
    Ok(vec![
        (format!("{machine}/machine.crt"), cert_pem.clone(), 0o644),
        (format!("{machine}/machine.key"), key_pem.clone(), 0o600),
        (format!("{machine}/machine.pem"), format!("{cert_pem}{key_pem}"), 0o600),
    ])
}

/// Lab TLS files, relative to `tls/`: a new CA and one certificate per machine.
///
/// # Errors
/// Key generation or signing fails.
pub fn tls_files(t: &Topology) -> anyhow::Result<Vec<(String, String, u32)>> {
    let ca_params = ca_params(t)?;
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let mut files =
        vec![("ca.crt".to_owned(), ca_cert.pem(), 0o644), ("ca.key".to_owned(), ca_key.serialize_pem(), 0o600)];
    let issuer = Issuer::new(ca_params, ca_key);
    for (machine, names) in super::tls_subjects(t) {
        files.extend(machine_files(&machine, &names, &issuer)?);
    }
    Ok(files)
}

/// Certificates for the machines of `t` that `tls` (a folder of `out` holding a lab CA) has none
/// for, signed by that CA, as files to create; existing certificates are kept. Also returns the
/// machines it made certificates for.
fn missing_certificates(t: &Topology, out: &SideFiles, tls: &str) -> anyhow::Result<(Vec<NewFile>, Vec<String>)> {
    let mut missing = Vec::new();
    for (machine, names) in super::tls_subjects(t) {
        if out.read(&format!("{tls}/{machine}/machine.crt"))?.is_none() {
            missing.push((machine, names));
        }
    }
    if missing.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let key_path = format!("{tls}/ca.key");
    let pem =
        out.read(&key_path)?.context("the lab CA's key (`ca.key`) is needed to sign certificates for new machines")?;
    let pem = String::from_utf8(pem).context("the lab CA key is not text")?;
    let ca_key =
        KeyPair::from_pem(&pem).with_context(|| format!("reading the lab CA key `{}`", out.show(&key_path)))?;
    let issuer = Issuer::new(ca_params(t)?, ca_key);
    let (mut files, mut made) = (Vec::new(), Vec::new());
    for (machine, names) in missing {
        for (rel, contents, mode) in machine_files(&machine, &names, &issuer)? {
            files.push(NewFile { rel: format!("{tls}/{rel}"), contents, mode, replace: false });
        }
        made.push(machine);
    }
    Ok((files, made))
}

/// A file `write` decided to write: created new, or (`replace`) renamed over the old one.
struct NewFile {
    rel: String,
    contents: String,
    mode: u32,
    replace: bool,
}

/// Lines for the generated secrets that an existing `.env` lacks (a profile that gained a
/// machine kind or a secret since `.env` was written), with fresh values.
fn missing_env_lines(t: &Topology, existing: &str) -> anyhow::Result<(String, Vec<String>)> {
    let defined: std::collections::BTreeSet<&str> =
        existing.lines().filter_map(|l| l.split_once('=').map(|(k, _)| k.trim())).collect();
    let mut text = String::new();
    let mut names = Vec::new();
    for s in &t.secrets {
        let var = super::env_name(&s.name);
        if defined.contains(var.as_str()) {
            continue;
        }
        let value = if s.generated { random_secret(SECRET_LEN)? } else { String::new() };
        text.push_str(&format!("\n# {} (added by `tykgen lab-secrets`)\n{var}={value}\n", s.description));
        names.push(var);
    }
    Ok((text, names))
}

/// Bits of the payload-signing RSA key (tyk-docs security-best-practices.mdx: `openssl genrsa 2048`).
const SIGNING_BITS: usize = 2048;

/// The Dashboard's payload-signing key pair, relative to the compose folder: `signing/private.pem`
/// (PKCS#8, 0600) and `signing/public.pem` (SubjectPublicKeyInfo, "PUBLIC KEY"): the PEM types
/// goverify's `parsePrivateKey`/`parsePublicKey` read (TykTechnologies/goverify util.go).
///
/// # Errors
/// The random source or the encoding fails.
pub fn signing_files() -> anyhow::Result<Vec<(String, String, u32)>> {
    use rsa::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, SIGNING_BITS).context("generating the RSA key")?;
    let private = key.to_pkcs8_pem(LineEnding::LF).context("encoding the private key")?;
    let public = key.to_public_key().to_public_key_pem(LineEnding::LF).context("encoding the public key")?;
    Ok(vec![("private.pem".to_owned(), private.to_string(), 0o600), ("public.pem".to_owned(), public, 0o644)])
}

/// `tykgen lab-secrets`: writes `.env`, `signing/` (with a Dashboard) and, with TLS, `tls/` into
/// the folder `dir` (the compose folder, relative to the profile folder `parent/profile`), under
/// the profile folder's lock and never through a link (see `output::SideFiles`).
///
/// # Errors
/// A file cannot be written, or a link, FIFO or device is in the way (named).
pub fn write(t: &Topology, tls: bool, parent: &Path, profile: &str, dir: &str) -> anyhow::Result<Vec<String>> {
    let out = SideFiles::open(parent, profile)?;
    // Everything is read and decided first, so a link or device in any of the places refuses
    // the whole run before a file is written.
    let mut notes = Vec::new();
    let mut files = Vec::new();
    let new = |rel: String, contents: String, mode: u32| NewFile { rel, contents, mode, replace: false };
    let env = format!("{dir}/.env");
    if let Some(existing) = out.read(&env)? {
        let existing = String::from_utf8_lossy(&existing).into_owned();
        let (text, names) = missing_env_lines(t, &existing)?;
        if names.is_empty() {
            notes.push(format!("kept {} (it has every secret; never overwritten)", out.show(&env)));
        } else {
            // The whole file anew, renamed into place: a crash leaves the old `.env` or the new one.
            let sep = if existing.ends_with('\n') || existing.is_empty() { "" } else { "\n" };
            let contents = format!("{existing}{sep}{text}");
            notes.push(format!("added {} to {} (nothing in it was changed)", names.join(", "), out.show(&env)));
            files.push(NewFile { rel: env, contents, mode: 0o600, replace: true });
        }
    } else {
        notes.push(format!("wrote {} (mode 0600)", out.show(&env)));
        if t.secrets.iter().any(|s| !s.generated) {
            notes.push("set DASHBOARD_LICENSE in .env to your Tyk Dashboard licence key".to_owned());
        }
        files.push(new(env, env_file(t)?, 0o600));
    }
    if t.machines.iter().any(|m| m.role == crate::topology::Role::Dashboard) {
        let signing = format!("{dir}/{}", super::SIGNING_SRC);
        if out.read(&format!("{signing}/public.pem"))?.is_some() {
            notes.push(format!("kept {} (remove it to create a new signing key pair)", out.show(&signing)));
        } else {
            for (rel, contents, mode) in signing_files()? {
                files.push(new(format!("{signing}/{rel}"), contents, mode));
            }
            notes.push(format!("wrote the Dashboard's payload-signing key pair into {}", out.show(&signing)));
        }
    }
    if tls {
        let tls_dir = format!("{dir}/tls");
        if out.read(&format!("{tls_dir}/ca.crt"))?.is_some() {
            let (certs, made) = missing_certificates(t, &out, &tls_dir)?;
            files.extend(certs);
            if made.is_empty() {
                notes.push(format!("kept {} (every machine has its certificate)", out.show(&tls_dir)));
            } else {
                notes.push(format!(
                    "added certificates for {} to {}, signed by its lab CA (the others were kept)",
                    made.join(", "),
                    out.show(&tls_dir)
                ));
            }
        } else {
            for (rel, contents, mode) in tls_files(t)? {
                files.push(new(format!("{tls_dir}/{rel}"), contents, mode));
            }
            notes.push(format!("wrote the lab CA and one certificate per machine into {}", out.show(&tls_dir)));
        }
    }
    for f in &files {
        out.check_writable(&f.rel, f.replace)?;
    }
    for f in files {
        if f.replace {
            out.replace(&f.rel, f.contents.as_bytes(), f.mode)?;
        } else {
            out.create_new(&f.rel, f.contents.as_bytes(), f.mode)?;
        }
    }
    Ok(notes)
}
