//! Extractors that validate input and answer a 400 in our envelope naming the field at fault,
//! instead of axum's plain-text rejections.

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::{AppError, FieldError, codes};

/// Query parameters deserialized into `T` (which should `deny_unknown_fields`).
pub struct ValidQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ValidQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let raw = parts.uri.query().unwrap_or_default();
        // Empty values (`?ward=`) mean "no filter", as a search form submits them.
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str::<Vec<(String, String)>>(raw)
            .map_err(|e| AppError::invalid_field("query", e.to_string()))?
            .into_iter()
            .filter(|(_, value)| !value.is_empty())
            .collect();
        let cleaned = serde_urlencoded::to_string(&pairs)
            .map_err(|e| AppError::invalid_field("query", e.to_string()))?;
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded_parse(&cleaned));
        serde_path_to_error::deserialize(deserializer)
            .map(ValidQuery)
            .map_err(|error| {
                let message = error.inner().to_string();
                if let Some(name) = unknown_field(&message) {
                    return AppError::Client {
                        status: StatusCode::BAD_REQUEST,
                        code: codes::UNKNOWN_PARAMETER,
                        message: format!("unknown query parameter `{name}`"),
                        fields: vec![FieldError {
                            field: name,
                            message: "not a parameter of this endpoint".into(),
                        }],
                    };
                }
                AppError::invalid_field(error.path().to_string(), tidy_serde_message(&message))
            })
    }
}

fn form_urlencoded_parse(raw: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(raw.as_bytes())
}

/// The field name in serde's "unknown field `x`, expected …" message.
fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next().map(str::to_owned)
}

/// serde's messages name Rust types ("invalid digit found in string", "unknown variant `x`,
/// expected one of …"); keep them, they are specific enough, minus internal type names.
fn tidy_serde_message(message: &str) -> String {
    message
        .replace("u64", "a whole number")
        .replace("i32", "a whole number")
}

/// A path's `{id}`, so that a malformed one is reported as the field `id`.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
pub struct IdParam {
    pub id: i32,
}

/// Path parameters deserialized into `T`; a malformed one is a 400 naming it.
pub struct ValidPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ValidPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ValidPath(value)),
            Err(PathRejection::FailedToDeserializePathParams(error)) => {
                use axum::extract::path::ErrorKind;
                let kind = error.into_kind();
                let (field, message) = match &kind {
                    ErrorKind::ParseErrorAtKey {
                        key,
                        value,
                        expected_type,
                    } => (
                        key.clone(),
                        format!("`{value}` is not a valid {}", friendly_type(expected_type)),
                    ),
                    ErrorKind::ParseErrorAtIndex {
                        index,
                        value,
                        expected_type,
                    } => (
                        format!("path[{index}]"),
                        format!("`{value}` is not a valid {}", friendly_type(expected_type)),
                    ),
                    ErrorKind::ParseError {
                        value,
                        expected_type,
                    } => (
                        "path".into(),
                        format!("`{value}` is not a valid {}", friendly_type(expected_type)),
                    ),
                    other => ("path".into(), other.to_string()),
                };
                Err(AppError::invalid_field(field, message))
            }
            Err(other) => Err(AppError::invalid_field("path", other.body_text())),
        }
    }
}

fn friendly_type(rust_type: &str) -> &'static str {
    match rust_type {
        "i32" | "i64" | "u32" | "u64" => "id (a positive whole number)",
        _ => "value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unknown_field_is_read_from_serdes_message() {
        assert_eq!(
            unknown_field("unknown field `colour`, expected one of `ward`, `kind`").as_deref(),
            Some("colour")
        );
        assert_eq!(unknown_field("invalid digit found in string"), None);
    }
}

/// A JSON body deserialized into `T`; a malformed one is a 400 naming the field at fault.
pub struct ValidJson<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for ValidJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(
        request: axum::extract::Request,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !is_json {
            return Err(AppError::client(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                codes::INVALID_JSON,
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|e| {
                AppError::client(StatusCode::BAD_REQUEST, codes::INVALID_JSON, e.body_text())
            })?;
        let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(&mut deserializer)
            .map(ValidJson)
            .map_err(|error| {
                let path = error.path().to_string();
                let inner = error.into_inner();
                let message = inner.to_string();
                if inner.is_syntax() || inner.is_eof() {
                    return AppError::client(
                        StatusCode::BAD_REQUEST,
                        codes::INVALID_JSON,
                        format!("the body is not valid JSON: {message}"),
                    );
                }
                let field = unknown_field(&message)
                    .or_else(|| missing_field(&message))
                    .unwrap_or(if path == "." { "body".to_owned() } else { path });
                AppError::invalid_field(field, strip_position(&message))
            })
    }
}

/// The field name in serde's "missing field `x`" message.
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next().map(str::to_owned)
}

/// serde_json appends " at line 1 column 42"; people do not need it.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

/// The signed-in person, from `Authorization: Bearer <access token>`, or in a browser from the
/// session cookie (http::web_session), where a request that changes something must also carry
/// the CSRF token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthUser {
    pub id: i32,
    pub role: crate::domain::roles::Role,
}

impl FromRequestParts<crate::state::AppState> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &crate::state::AppState,
    ) -> Result<Self, Self::Rejection> {
        use super::web_session::{ACCESS_COOKIE, check_csrf, cookie_value, is_unsafe};
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let token = match header {
            Some(header) => header
                .strip_prefix("Bearer ")
                .ok_or_else(|| {
                    AppError::client(
                        StatusCode::UNAUTHORIZED,
                        codes::UNAUTHORIZED,
                        "use Authorization: Bearer <token>",
                    )
                })?
                .trim()
                .to_owned(),
            None => {
                let token = cookie_value(&parts.headers, ACCESS_COOKIE)
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| {
                        AppError::client(
                            StatusCode::UNAUTHORIZED,
                            codes::UNAUTHORIZED,
                            "sign in first",
                        )
                    })?;
                if is_unsafe(&parts.method) {
                    check_csrf(state, &parts.headers, None)?;
                }
                token
            }
        };
        let claims = state.keys.verify_access(&token).map_err(|e| match e {
            crate::auth::TokenError::Expired => AppError::client(
                StatusCode::UNAUTHORIZED,
                codes::TOKEN_EXPIRED,
                "the access token has expired; refresh it",
            ),
            crate::auth::TokenError::Invalid => AppError::client(
                StatusCode::UNAUTHORIZED,
                codes::UNAUTHORIZED,
                "the access token is not valid",
            ),
        })?;
        let id = claims.sub.parse().map_err(|_| {
            AppError::client(
                StatusCode::UNAUTHORIZED,
                codes::UNAUTHORIZED,
                "the access token is not valid",
            )
        })?;
        Ok(AuthUser {
            id,
            role: claims.role,
        })
    }
}
