//! Tidies where a plain form post sends the browser back to. A server function posted by a
//! form without JavaScript redirects to the page it came from, with any earlier error taken
//! out of the query; that leaves an empty `?` behind (`/r/general?`), which then shows in the
//! address bar. The redirect is the same without it.

use axum::http::header::LOCATION;
use axum::http::HeaderValue;
use axum::response::Response;

pub async fn without_empty_query(mut response: Response) -> Response {
    let tidied = response
        .headers()
        .get(LOCATION)
        .and_then(|location| location.to_str().ok())
        .and_then(|location| location.strip_suffix('?'))
        .and_then(|location| HeaderValue::from_str(location).ok());
    if let Some(location) = tidied {
        response.headers_mut().insert(LOCATION, location);
    }
    response
}
