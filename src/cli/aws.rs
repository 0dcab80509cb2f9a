//! `otpbot aws create-tables`: creates the DynamoDB tables the AWS backend uses, from the schema
//! in [`crate::store::aws::schema`] (the one `terraform/dynamodb.tf` matches), in whatever
//! endpoint the AWS configuration names. It is how the AWS backend runs on a local emulator;
//! a deployment gets its tables from Terraform.

use anyhow::bail;
use clap::Subcommand;

use crate::config::{Backend, Settings};
use crate::startup::{aws_config, Patience};
use crate::store::aws::schema::{self, Created};

/// AWS backend set-up.
#[derive(Debug, Subcommand)]
pub enum AwsCommand {
    /// Create the access and audit tables (OTPBOT_ACCESS_TABLE, OTPBOT_AUDIT_TABLE) as
    /// terraform/dynamodb.tf defines them, in the endpoint AWS_ENDPOINT_URL names (an emulator)
    /// or the account AWS_REGION / AWS_PROFILE select. Existing tables are left as they are.
    CreateTables,
}

/// Runs an `otpbot aws` command.
pub async fn run(settings: Settings, command: AwsCommand) -> anyhow::Result<()> {
    match command {
        AwsCommand::CreateTables => create_tables(settings).await,
    }
}

async fn create_tables(settings: Settings) -> anyhow::Result<()> {
    if settings.backend != Backend::Aws {
        bail!("`otpbot aws create-tables` creates DynamoDB tables and needs OTPBOT_BACKEND=aws");
    }
    let config = aws_config(Patience::Operator).await?;
    let ddb = aws_sdk_dynamodb::Client::new(&config);
    for (table, name) in [
        (&schema::ACCESS_TABLE, &settings.aws.access_table),
        (&schema::AUDIT_TABLE, &settings.aws.audit_table),
    ] {
        match schema::create_table(&ddb, table, name).await? {
            Created::Created => say!("created table {name}"),
            Created::AlreadyExists => say!("table {name} already exists; left as it is"),
        }
    }
    Ok(())
}
