//! Intake's REST routes: applications and their progress, the service
//! catalog, materials. Each route is declared with its OpenAPI
//! documentation (utoipa-axum's `routes!`), so the document cannot list a
//! route that is not served, nor miss one that is.

pub mod applications;
pub mod catalog;
pub mod materials;

use crate::AppState;
use crate::backends::{Backend, RouteLayers, Routes};
use bianmin_common::propagation::ClientContext;
use bianmin_proto::intake::v1::intake_service_client::IntakeServiceClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub const BACKEND: Backend = Backend {
    name: "intake",
    default_port: 50061,
    routes,
};

pub type Client = IntakeServiceClient<InterceptedService<Channel, ClientContext>>;

/// A client of intake carrying the trace context; a material download
/// carries the whole file in one message, so the limits leave room for it.
pub fn client(state: &AppState) -> Client {
    let max_message = state.material_max_bytes.saturating_add(64 * 1024);
    IntakeServiceClient::with_interceptor(state.channels.get(BACKEND.name), ClientContext)
        .max_decoding_message_size(max_message)
        .max_encoding_message_size(max_message)
}

fn routes(state: &RouteLayers) -> Routes {
    // The one route whose body may be a whole file.
    let (schemas, paths, upload) = routes!(materials::upload);
    let upload = (
        schemas,
        paths,
        upload.route_layer(axum::extract::DefaultBodyLimit::max(
            state.material_max_bytes,
        )),
    );
    // Each guess at the public page is a guess at a number and a phone.
    let (schemas, paths, public_progress) = routes!(applications::public_progress);
    let public_progress = (
        schemas,
        paths,
        public_progress.route_layer(axum::middleware::from_fn_with_state(
            state.limits.clone(),
            crate::limits::public,
        )),
    );
    Routes {
        protected: OpenApiRouter::new()
            .routes(routes!(applications::submit))
            .routes(routes!(applications::get))
            .routes(routes!(applications::applicant_in_full))
            .routes(routes!(applications::by_id_number))
            .routes(routes!(applications::supplement))
            .routes(routes!(applications::withdraw))
            .routes(routes!(catalog::create))
            .routes(routes!(catalog::update))
            .routes(routes!(catalog::retire))
            .routes(routes!(catalog::history))
            .routes(upload)
            .routes(routes!(materials::download)),
        public: OpenApiRouter::new()
            .routes(public_progress)
            .routes(routes!(catalog::centers))
            .routes(routes!(catalog::services)),
    }
}
