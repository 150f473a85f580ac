use bianmin_common::cli::OpsCommand;
use bianmin_common::config::Env;
use clap::Parser;

/// Bianmin review: review cases and their working-day time limits.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Serve gRPC (the default).
    Serve,
    #[command(flatten)]
    Ops(OpsCommand),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let _telemetry = bianmin_common::telemetry::init("review")?;
    let mut env = Env::from_process();
    let settings = bianmin_review::Settings::read(&mut env);
    env.finish()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let listener = tokio::net::TcpListener::bind(&settings.service.grpc_addr)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.service.grpc_addr))?;
            let shutdown = bianmin_common::shutdown::on_signal();
            bianmin_review::run(settings, listener, shutdown).await
        }
        Command::Ops(command) => bianmin_common::cli::run(command, &settings.service, &bianmin_review::MIGRATIONS).await,
    }
}
