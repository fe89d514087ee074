//! `tykgen lab-secrets`: the compose lab's `.env` with strong random values, the Dashboard's
//! payload-signing key pair (with a Dashboard) and (when the profile uses TLS) a lab CA with one
//! certificate per machine. None is part of the deterministic render: they are written next to
//! it, never overwritten, keys and `.env` 0600.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use anyhow::Context as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};

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

/// Writes `path` with `contents`, mode `mode`, failing if it exists.
fn create_new(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        fs_err::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot create `{}` (never overwritten)", path.display()))?;
    f.write_all(contents).with_context(|| format!("writing `{}`", path.display()))?;
    Ok(())
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

/// Certificates for the machines of `t` that `tls_dir` (holding a lab CA) has none for, signed by
/// that CA; existing certificates are kept. Returns the machines it made certificates for.
fn add_missing_certificates(t: &Topology, tls_dir: &Path) -> anyhow::Result<Vec<String>> {
    let missing: Vec<(String, Vec<String>)> = super::tls_subjects(t)
        .into_iter()
        .filter(|(machine, _)| !tls_dir.join(machine).join("machine.crt").exists())
        .collect();
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    let key_path = tls_dir.join("ca.key");
    let pem = fs_err::read_to_string(&key_path)
        .context("the lab CA's key is needed to sign certificates for new machines")?;
    let ca_key = KeyPair::from_pem(&pem).with_context(|| format!("reading the lab CA key `{}`", key_path.display()))?;
    let issuer = Issuer::new(ca_params(t)?, ca_key);
    let mut made = Vec::new();
    for (machine, names) in missing {
        for (rel, contents, mode) in machine_files(&machine, &names, &issuer)? {
            create_new(&tls_dir.join(rel), contents.as_bytes(), mode)?;
        }
        made.push(machine);
    }
    Ok(made)
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
/// `dir` (the compose folder).
///
/// # Errors
/// A file cannot be written.
pub fn write(t: &Topology, tls: bool, dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut notes = Vec::new();
    let env = dir.join(".env");
    if env.exists() {
        let existing = fs_err::read_to_string(&env)?;
        let (text, names) = missing_env_lines(t, &existing)?;
        if names.is_empty() {
            notes.push(format!("kept {} (it has every secret; never overwritten)", env.display()));
        } else {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&env)
                .with_context(|| format!("appending to `{}`", env.display()))?;
            let sep = if existing.ends_with('\n') || existing.is_empty() { "" } else { "\n" };
            f.write_all(format!("{sep}{text}").as_bytes())
                .with_context(|| format!("appending to `{}`", env.display()))?;
            notes.push(format!("added {} to {} (nothing in it was changed)", names.join(", "), env.display()));
        }
    } else {
        create_new(&env, env_file(t)?.as_bytes(), 0o600)?;
        notes.push(format!("wrote {} (mode 0600)", env.display()));
        if t.secrets.iter().any(|s| !s.generated) {
            notes.push("set DASHBOARD_LICENSE in .env to your Tyk Dashboard licence key".to_owned());
        }
    }
    if t.machines.iter().any(|m| m.role == crate::topology::Role::Dashboard) {
        let signing = dir.join(super::SIGNING_SRC);
        if signing.join("public.pem").exists() {
            notes.push(format!("kept {} (remove it to create a new signing key pair)", signing.display()));
        } else {
            for (rel, contents, mode) in signing_files()? {
                create_new(&signing.join(rel), contents.as_bytes(), mode)?;
            }
            notes.push(format!("wrote the Dashboard's payload-signing key pair into {}", signing.display()));
        }
    }
    if tls {
        let tls_dir = dir.join("tls");
        if tls_dir.join("ca.crt").exists() {
            let made = add_missing_certificates(t, &tls_dir)?;
            if made.is_empty() {
                notes.push(format!("kept {} (every machine has its certificate)", tls_dir.display()));
            } else {
                notes.push(format!(
                    "added certificates for {} to {}, signed by its lab CA (the others were kept)",
                    made.join(", "),
                    tls_dir.display()
                ));
            }
        } else {
            for (rel, contents, mode) in tls_files(t)? {
                create_new(&tls_dir.join(rel), contents.as_bytes(), mode)?;
            }
            notes.push(format!("wrote the lab CA and one certificate per machine into {}", tls_dir.display()));
        }
    }
    Ok(notes)
}
