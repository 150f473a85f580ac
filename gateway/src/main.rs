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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Openapi) = cli.command {
        use utoipa::OpenApi as _;
        println!("{}", bianmin_gateway::openapi::ApiDoc::openapi().to_pretty_json()?);
        return Ok(());
    }
    let _telemetry = bianmin_common::telemetry::init("gateway")?;
    let mut env = Env::from_process();
    let settings = bianmin_gateway::Settings::read(&mut env);
    env.finish()?;
    let listener = tokio::net::TcpListener::bind(&settings.http_addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.http_addr))?;
    bianmin_gateway::run(settings, listener, bianmin_common::shutdown::on_signal()).await
}
