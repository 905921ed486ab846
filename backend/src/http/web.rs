//! The thin web frontend's pages, rendered from askama templates in `web/templates/` and compiled
//! into the binary. For now: the home page.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// `GET /`.
#[derive(Template)]
#[template(path = "index.html")]
pub struct HomePage {
    pub facility_count: u64,
}

/// Render the home page.
pub async fn home(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
) -> Response {
    use sea_orm::{EntityTrait, PaginatorTrait};
    let facility_count = crate::entities::facility::Entity::find()
        .count(&state.db)
        .await
        .unwrap_or(0);
    render(HomePage { facility_count })
}

fn render(page: impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(error = %error, "template failed to render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
