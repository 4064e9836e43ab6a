//! The one mapping of request errors to HTTP responses, shared by every HTTP application riskrelay
//! hosts (the Graph webhook, in Lambda or on the local server) and by the local server itself.
//! Bodies carry a fixed code, never internal error text.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

/// Largest request body read at all. Graph batches notifications but each is well under 1 KiB;
/// the Lambda front end already caps buffered payloads at 6 MB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Every way a request can fail. [`ApiError::into_response`] is the one place that maps them to
/// HTTP; bodies carry a fixed code, never internal error text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("bad request")]
    BadRequest,
    #[error("bad validation token")]
    BadValidationToken,
    #[error("queue unavailable")]
    QueueUnavailable,
    /// A bearer token was required and not given, or not the right one.
    #[error("unauthorized")]
    Unauthorized,
    /// Not from where this endpoint answers (loopback only).
    #[error("forbidden")]
    Forbidden,
}

impl ApiError {
    fn code(self) -> (StatusCode, &'static str) {
        match self {
            Self::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::BadRequest => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::BadValidationToken => (StatusCode::BAD_REQUEST, "bad_validation_token"),
            // 503 so that Graph retries the delivery (it does for up to 4 hours).
            Self::QueueUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
        }
    }

    pub fn into_response(self) -> Response<Bytes> {
        let (status, code) = self.code();
        let mut res = json_response(status, format!("{{\"error\":\"{code}\"}}"));
        if self == Self::MethodNotAllowed {
            res.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        if self == Self::Unauthorized {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

fn json_response(status: StatusCode, body: String) -> Response<Bytes> {
    let mut res = Response::new(Bytes::from(body));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}
