//! Who may use the console, and proof that an action came from its own pages.
//!
//! A session is a cookie `id.issued.mac` (HttpOnly, SameSite=Strict, path `/ui`), where `mac`
//! is an HMAC under a key derived from a per-process secret and the admin token in effect
//! *now* ([`session_key`]): the token is read on every request through
//! [`AdminState::current_token`], never cached here, so a changed token ends every session made
//! under the old one, and a restart ends them all. Sessions last [`SESSION_TTL`]. Without
//! `admin.token_env` the admin listener is open (loopback by default) and the console hands a
//! session to whoever asks; every action still needs the session's CSRF token.
//!
//! The CSRF token is an HMAC of the session id under the same key: a form field `csrf` on every
//! POST, compared in constant time. SameSite=Strict already keeps the cookie off cross-site
//! requests; the token is the second, independent guard the issue asks for.

use crate::admin::AdminState;
use crate::console::error::ConsoleError;
use crate::console::html::{self, esc, Section};
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use subtle::ConstantTimeEq;

/// The session cookie's name.
pub const COOKIE: &str = "hookroute_console";
/// How long a session lasts after log-in.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// A valid session, as the pages and actions see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    csrf: String,
}

impl Session {
    /// The token every form of this session carries.
    pub fn csrf(&self) -> &str {
        &self.csrf
    }

    /// Refuses an action whose `csrf` field is not this session's token.
    pub fn check_csrf(&self, given: Option<&str>) -> Result<(), ConsoleError> {
        let given = given.unwrap_or_default();
        if bool::from(given.as_bytes().ct_eq(self.csrf.as_bytes())) && !given.is_empty() {
            Ok(())
        } else {
            Err(ConsoleError::Csrf)
        }
    }
}

fn process_secret() -> &'static [u8; 32] {
    static SECRET: OnceLock<[u8; 32]> = OnceLock::new();
    SECRET.get_or_init(rand::random)
}

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// The key sessions are signed with while `token` is the admin token (`None`: no token).
fn session_key(token: Option<&str>) -> Vec<u8> {
    let token = token.map(|t| [b"token:", t.as_bytes()].concat());
    mac(
        process_secret(),
        &[b"hookroute console", token.as_deref().unwrap_or(b"open")],
    )
}

fn session_of(key: &[u8], id: &str) -> Session {
    Session {
        csrf: hex::encode(&mac(key, &[b"csrf", id.as_bytes()])[..16]),
    }
}

/// A new session's cookie value, issued at `now_s` (unix seconds) under `token`.
pub fn mint(token: Option<&str>, now_s: u64) -> String {
    let id = hex::encode(rand::random::<[u8; 16]>());
    let issued = now_s.to_string();
    let key = session_key(token);
    let tag = hex::encode(mac(&key, &[b"session", id.as_bytes(), issued.as_bytes()]));
    format!("{id}.{issued}.{tag}")
}

/// The session a cookie value proves under `token` at `now_s`, if it does.
pub fn verify(cookie: &str, token: Option<&str>, now_s: u64) -> Option<Session> {
    let mut parts = cookie.split('.');
    let (id, issued, tag) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let issued_s: u64 = issued.parse().ok()?;
    if now_s.saturating_sub(issued_s) > SESSION_TTL.as_secs() || issued_s > now_s + 60 {
        return None;
    }
    let key = session_key(token);
    let expected = hex::encode(mac(&key, &[b"session", id.as_bytes(), issued.as_bytes()]));
    bool::from(expected.as_bytes().ct_eq(tag.as_bytes())).then(|| session_of(&key, id))
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// The `Set-Cookie` value for a session cookie (`None`: clear it).
fn set_cookie(value: Option<&str>) -> HeaderValue {
    let text = match value {
        Some(v) => format!(
            "{COOKIE}={v}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}",
            SESSION_TTL.as_secs()
        ),
        None => format!("{COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0"),
    };
    HeaderValue::from_str(&text).expect("cookie values are hex and digits")
}

/// The value of our cookie in a request's `Cookie` headers.
fn cookie_value(headers: &actix_web::http::header::HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE).then(|| value.to_string())
        })
}

/// Paths under `/ui` that need no session: the log-in page and the static assets.
fn is_public(path: &str) -> bool {
    path == "/ui/login" || path.starts_with("/ui/assets/")
}

/// Middleware on the `/ui` scope: puts the request's [`Session`] in its extensions, or answers
/// for it (a redirect to the log-in page for a page, 401 for anything else).
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if is_public(req.path()) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let token = req
        .app_data::<web::Data<AdminState>>()
        .and_then(|s| s.current_token());
    let now = now_s();
    let session = cookie_value(req.headers()).and_then(|c| verify(&c, token.as_deref(), now));
    if let Some(session) = session {
        req.extensions_mut().insert(session);
        return Ok(next.call(req).await?.map_into_left_body());
    }
    if token.is_none() {
        // An open admin listener: a fresh session for whoever reached it.
        let cookie = mint(None, now);
        let session = verify(&cookie, None, now).expect("a fresh cookie verifies");
        req.extensions_mut().insert(session);
        let mut res = next.call(req).await?;
        res.headers_mut()
            .append(header::SET_COOKIE, set_cookie(Some(&cookie)));
        return Ok(res.map_into_left_body());
    }
    let answer = if req.method() == actix_web::http::Method::GET {
        let target = match req.query_string() {
            "" => req.path().to_string(),
            q => format!("{}?{q}", req.path()),
        };
        HttpResponse::SeeOther()
            .insert_header((
                header::LOCATION,
                format!("/ui/login?next={}", html::url_part(&target)),
            ))
            .finish()
    } else {
        actix_web::ResponseError::error_response(&ConsoleError::NoSession)
    };
    Ok(req.into_response(answer).map_into_right_body())
}

impl FromRequest for Session {
    type Error = ConsoleError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            req.extensions()
                .get::<Session>()
                .cloned()
                .ok_or(ConsoleError::NoSession),
        )
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    token: Option<String>,
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

/// Where to go after logging in: only a console path (no open redirect).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with("/ui/") && !n.starts_with("/ui//") && !n.contains('\\') => n,
        _ => "/ui/events",
    }
}

fn login_page(next: &str, error: Option<&str>) -> String {
    let error = error
        .map(|e| {
            format!(
                r#"<p class="error" role="alert" id="login-error">{}</p>"#,
                esc(e)
            )
        })
        .unwrap_or_default();
    let body = format!(
        r#"{error}<form method="post" action="/ui/login" class="login">
<input type="hidden" name="next" value="{next}">
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<p class="hint">The value of the environment variable named by <code>admin.token_env</code>.</p>
<button type="submit">Log in</button>
</form>"#,
        next = esc(next)
    );
    html::page("Log in", Section::Login, None, "", &body)
}

/// `GET /ui/login`: the form (or straight in when the admin listener has no token).
pub async fn login_form(
    state: web::Data<AdminState>,
    query: web::Query<LoginQuery>,
) -> HttpResponse {
    let next = safe_next(query.next.as_deref());
    if state.current_token().is_none() {
        return redirect(next);
    }
    html_response(actix_web::http::StatusCode::OK, login_page(next, None))
}

/// `POST /ui/login`: the token, compared in constant time, buys a session cookie.
pub async fn login(state: web::Data<AdminState>, form: web::Form<LoginForm>) -> HttpResponse {
    let next = safe_next(form.next.as_deref());
    let token = state.current_token();
    let given = form.token.as_deref().unwrap_or_default();
    let matches = token
        .as_deref()
        .is_none_or(|t| bool::from(given.trim().as_bytes().ct_eq(t.as_bytes())));
    if !matches {
        tracing::warn!("console log-in refused: wrong admin token");
        return html_response(
            actix_web::http::StatusCode::UNAUTHORIZED,
            login_page(next, Some("That is not the admin token.")),
        );
    }
    let cookie = mint(token.as_deref(), now_s());
    let mut res = redirect(next);
    res.headers_mut()
        .append(header::SET_COOKIE, set_cookie(Some(&cookie)));
    res
}

/// `POST /ui/logout`: clears the cookie.
pub async fn logout(
    session: Session,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    session.check_csrf(form.csrf.as_deref())?;
    let mut res = redirect("/ui/login");
    res.headers_mut()
        .append(header::SET_COOKIE, set_cookie(None));
    Ok(res)
}

/// 303 See Other to a console path.
pub fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_string()))
        .finish()
}

/// An HTML answer with the console's headers ([`html::PAGE_HEADERS`]).
pub fn html_response(status: actix_web::http::StatusCode, body: String) -> HttpResponse {
    let mut res = HttpResponse::build(status);
    res.content_type("text/html; charset=utf-8");
    for h in html::PAGE_HEADERS {
        res.insert_header(h);
    }
    res.body(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_valid_only_under_the_token_it_was_made_with() {
        let cookie = mint(Some("first"), 1000);
        let session = verify(&cookie, Some("first"), 1010).expect("valid under its token");
        assert!(
            verify(&cookie, Some("second"), 1010).is_none(),
            "token changed"
        );
        assert!(verify(&cookie, None, 1010).is_none(), "token removed");
        let open = mint(None, 1000);
        assert!(verify(&open, Some("first"), 1010).is_none(), "token added");
        assert_eq!(
            verify(&cookie, Some("first"), 1020).unwrap().csrf(),
            session.csrf(),
            "the CSRF token is stable for a session"
        );
    }

    #[test]
    fn a_session_expires_and_cannot_be_altered() {
        let cookie = mint(Some("t"), 1000);
        assert!(verify(&cookie, Some("t"), 1000 + SESSION_TTL.as_secs() + 1).is_none());
        let (id, rest) = cookie.split_once('.').unwrap();
        let mut other_id = id.to_string();
        other_id.replace_range(0..1, if id.starts_with('0') { "1" } else { "0" });
        assert!(verify(&format!("{other_id}.{rest}"), Some("t"), 1001).is_none());
        let later = rest.replacen("1000", "1500", 1);
        assert!(verify(&format!("{id}.{later}"), Some("t"), 1501).is_none());
        assert!(verify("garbage", Some("t"), 1001).is_none());
    }

    #[test]
    fn csrf_tokens_differ_between_sessions_and_must_match_exactly() {
        let a = verify(&mint(Some("t"), 1), Some("t"), 2).unwrap();
        let b = verify(&mint(Some("t"), 1), Some("t"), 2).unwrap();
        assert_ne!(a.csrf(), b.csrf());
        assert!(a.check_csrf(Some(a.csrf())).is_ok());
        assert!(a.check_csrf(Some(b.csrf())).is_err());
        assert!(a.check_csrf(Some("")).is_err());
        assert!(a.check_csrf(None).is_err());
    }

    #[test]
    fn log_in_only_sends_back_to_console_paths() {
        assert_eq!(safe_next(Some("/ui/dlq?after=3")), "/ui/dlq?after=3");
        assert_eq!(safe_next(Some("https://evil.example/")), "/ui/events");
        assert_eq!(safe_next(Some("/ui//evil.example")), "/ui/events");
        assert_eq!(safe_next(None), "/ui/events");
    }
}
