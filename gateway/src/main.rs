use bianmin_common::config::Env;
use clap::Parser;

/// Bianmin gateway: REST/JSON over the gRPC services.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Serve HTTP (the default).
    Serve,
    /// Print the OpenAPI document.
    Openapi,
    /// Development identity provider helpers.
    #[command(subcommand)]
    Auth(AuthCommand),
}

#[derive(clap::Subcommand)]
enum AuthCommand {
    /// Print an argon2id hash of the password read from stdin, for the
    /// users file.
    HashPassword,
    /// Print a new P-256 signing key (PKCS#8 PEM).
    GenerateKey,
    /// Print the JWKS (public half) of the PEM signing key read from stdin.
    Jwks,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Openapi) = cli.command {
        println!("{}", bianmin_gateway::document().to_pretty_json()?);
        return Ok(());
    }
    match cli.command {
        Some(Command::Auth(AuthCommand::HashPassword)) => {
            let mut password = String::new();
            std::io::stdin().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            anyhow::ensure!(!password.is_empty(), "no password on stdin");
            println!("{}", bianmin_gateway::auth::idp::hash_password(password)?);
            return Ok(());
        }
        Some(Command::Auth(AuthCommand::Jwks)) => {
            let mut pem = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut pem)?;
            let key = bianmin_common::auth::token::SigningKey::from_ec_pem(&pem)?;
            println!("{}", serde_json::to_string_pretty(&key.key_set())?);
            return Ok(());
        }
        Some(Command::Auth(AuthCommand::GenerateKey)) => {
            print!(
                "{}",
                bianmin_common::auth::token::SigningKey::generate_pem()
            );
            return Ok(());
        }
        _ => {}
    }
    let _telemetry = bianmin_common::telemetry::init("gateway")?;
    let mut env = Env::from_process();
    let settings = bianmin_gateway::Settings::read(&mut env);
    let mtls = bianmin_common::mtls::Settings::read(&mut env);
    env.finish()?;
    // Service mTLS before any channel is made: the gateway is a client of
    // every service.
    bianmin_common::mtls::install(mtls?.as_ref())?;
    let listener = tokio::net::TcpListener::bind(&settings.http_addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.http_addr))?;
    let shutdown = bianmin_common::shutdown::on_signal();
    if let Ok(Some(partner)) = &settings.partner {
        bianmin_common::metrics::certificates::register("partner_edge", partner.tls_cert.clone());
        bianmin_common::metrics::certificates::register(
            "partner_client_ca",
            partner.client_ca.clone(),
        );
    }
    bianmin_common::metrics::start(
        "gateway",
        settings.metrics_addr.as_deref(),
        shutdown.clone(),
    )
    .await?;
    bianmin_gateway::run(settings, listener, shutdown).await
}
