//! `arus user create`: adds a person straight to the `users` table, with
//! any role (the way to bootstrap the first admin), and records it in the
//! audit trail. Works without a broker or a running server.

use std::io::Read;

use anyhow::{bail, Context, Result};
use arus_lakehouse::{AppendLog, Lake};
use arus_schemas::{tables, AuditOutcome, AuditRecord, Config, Role, UserRecord, SCHEMA_VERSION};
use arus_serving::api::auth::{create_user, validate_registration};
use arus_serving::auth::store::AuthStore;
use base64::Engine;

/// What `arus user create` was asked for.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// user, officer, analyst or admin.
    #[arg(long, default_value = "user")]
    pub role: String,
    #[arg(long)]
    pub email: Option<String>,
    /// Indonesian mobile number (0812…, +62812…).
    #[arg(long)]
    pub phone: Option<String>,
    #[arg(long)]
    pub name: String,
    /// Read the password from standard input; otherwise a random one is generated and printed once.
    #[arg(long)]
    pub password_stdin: bool,
}

/// Creates the person; returns them and the generated password, if one was generated.
pub async fn create(config: &Config, args: CreateArgs) -> Result<(UserRecord, Option<String>)> {
    let Some(role) = Role::parse(&args.role) else { bail!("--role must be one of user, officer, analyst, admin") };
    let (password, generated) = if args.password_stdin {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).context("reading the password from standard input")?;
        (text.trim_end_matches(['\n', '\r']).to_owned(), false)
    } else {
        (base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 15]>()), true)
    };
    let valid = match validate_registration(args.email.as_deref(), args.phone.as_deref(), &password, &args.name) {
        Ok(valid) => valid,
        Err(errors) => bail!("{}", errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")),
    };
    let lake = Lake::new(config)?;
    let store = AuthStore::open(&lake).await?;
    let user = create_user(&store, valid, role, Some("cli".into())).await?;
    let mut audit = AppendLog::<AuditRecord>::open(&lake, &tables::AUDIT_LOG).await?;
    let record = AuditRecord {
        schema_version: SCHEMA_VERSION,
        id: uuid::Uuid::new_v4().to_string(),
        at: chrono::Utc::now(),
        actor_id: None,
        actor_role: Some("cli".into()),
        action: "user.created".into(),
        target: Some(user.user_id.clone()),
        outcome: AuditOutcome::Success,
        remote_addr: None,
        request_id: None,
        detail: Some(format!("role {role} via arus user create")),
    };
    // Blind appends never conflict with the audit job's commits; retry only
    // if another `user create` raced this one.
    for attempt in 0.. {
        match audit.append(std::slice::from_ref(&record)).await {
            Ok(_) => break,
            Err(arus_lakehouse::LakeError::Conflict { .. }) if attempt < 5 => {
                audit.refresh().await?;
            }
            Err(e) => return Err(e).context("writing the audit record"),
        }
    }
    Ok((user, generated.then_some(password)))
}
