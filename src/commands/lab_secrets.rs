//! `tykgen lab-secrets`: the compose lab's `.env` and lab certificates, beside the rendered lab.

use std::process::ExitCode;

use crate::cli::LabSecretsArgs;
use crate::targets::{Target, compose};

pub(super) fn run(args: &LabSecretsArgs) -> anyhow::Result<ExitCode> {
    let resolved = super::origin::resolve(&args.input)?;
    let out = resolved.out(args.out.as_deref());
    let planned = crate::plan(&resolved.input)?;
    let notes = crate::with_context(&planned, None, |ctx| {
        compose::lab::write(ctx.topology, compose::tls_in_use(ctx), &out, &ctx.profile.name, Target::Compose.dir())
    })?;
    for note in notes {
        eprintln!("{note}");
    }
    Ok(ExitCode::SUCCESS)
}
