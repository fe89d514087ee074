//! Output targets: each wraps the same per-machine configuration for its world.
//!
//! A target is a pure function from the rendering `Context` to a `FileSet`; only `output`
//! writes. Each target renders into its own folder `out/<profile>/<target>/`.

pub mod ansible;
pub mod compose;
mod config;
pub mod terraform;

use std::cell::RefCell;
use std::rc::Rc;

use clap::ValueEnum;
use serde::Serialize;

use crate::config::Bundle;
use crate::output::FileSet;
use crate::profile::Profile;
use crate::render::{Prepared, Renderer};
use crate::topology::Topology;

/// What `render -t` produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum Target {
    /// The per-machine configuration bundle (`out/<profile>/config/`).
    Config,
    /// The docker-compose lab (`out/<profile>/compose/`).
    Compose,
    /// The Terraform AWS module (`out/<profile>/terraform/`).
    Terraform,
    /// The Ansible project for bare metal or VMs (`out/<profile>/ansible/`).
    Ansible,
    /// Every target above.
    All,
}

impl Target {
    /// The concrete targets this selection stands for.
    #[must_use]
    pub fn expand(self) -> Vec<Target> {
        match self {
            Self::All => vec![Self::Config, Self::Compose, Self::Terraform, Self::Ansible],
            t => vec![t],
        }
    }

    /// The folder name under `out/<profile>/`.
    #[must_use]
    pub fn dir(self) -> &'static str {
        match self {
            Self::Config | Self::All => "config",
            Self::Compose => "compose",
            Self::Terraform => "terraform",
            Self::Ansible => "ansible",
        }
    }
}

/// Everything a target renders from.
#[derive(Serialize)]
pub struct Context<'a> {
    /// The validated profile.
    pub profile: &'a Profile,
    /// Its topology.
    pub topology: &'a Topology,
    /// The per-machine configuration.
    pub bundle: &'a Bundle,
    /// The templates.
    #[serde(skip)]
    pub renderer: &'a Renderer,
    /// This context as template values, converted on first use (the READMEs that take the
    /// whole context share one conversion) and released by [`Context::release_prepared`].
    #[serde(skip)]
    prepared: RefCell<Option<Rc<Prepared>>>,
}

impl<'a> Context<'a> {
    /// The context of one render.
    #[must_use]
    pub fn new(profile: &'a Profile, topology: &'a Topology, bundle: &'a Bundle, renderer: &'a Renderer) -> Self {
        Self { profile, topology, bundle, renderer, prepared: RefCell::new(None) }
    }

    /// This context as template values, converted once until released.
    ///
    /// # Errors
    /// A value Tera cannot hold.
    pub fn prepared(&self) -> anyhow::Result<Rc<Prepared>> {
        if let Some(p) = &*self.prepared.borrow() {
            return Ok(Rc::clone(p));
        }
        let prepared = Rc::new(Prepared::new(self)?);
        *self.prepared.borrow_mut() = Some(Rc::clone(&prepared));
        Ok(prepared)
    }

    /// Drops the converted context (it holds a copy of every configuration file): the render
    /// calls this after each target, so it is not kept while the next targets render.
    pub fn release_prepared(&self) {
        self.prepared.borrow_mut().take();
    }
}

/// Renders one concrete target.
///
/// # Errors
/// A template that fails to render.
pub fn render(target: Target, ctx: &Context<'_>) -> anyhow::Result<FileSet> {
    match target {
        Target::Config | Target::All => config::render(ctx),
        Target::Compose => compose::render(ctx),
        Target::Terraform => terraform::render(ctx),
        Target::Ansible => ansible::render(ctx),
    }
}
